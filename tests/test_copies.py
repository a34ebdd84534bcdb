"""Syndicated copies at ingest (qa.ingest with qa.sources.syndication): the same story with small edits from
another file or URL is stored once and cited as "also published by ..."; exact re-ingest stays free; stories
from one template (other names, other numbers) are never merged."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import EXAMPLES, ROOT, make_settings
from news_site import NewsSite
from qa.engine import Engine
from qa.faces.render import sources_html
from qa.faces.slack_bot import answer_blocks

ORIGINAL = sorted(EXAMPLES.glob("*.txt"))[0]  # Blinken's call with Ashkenazi, 12 May 2021
QUESTION = "What did Blinken tweet about his call with Ashkenazi?"


def wire_copy(text: str) -> str:
    """The sample article as another outlet runs it: a dateline, a few words changed, a sentence dropped,
    a credit line at the end."""
    body = text.split("\n", 1)[1] if text.startswith(" date") else text
    body = body.replace("spoke on Tuesday to", "talked on Tuesday with").replace("ongoing", "continuing", 1)
    paragraphs = body.strip().split("\n\n")
    del paragraphs[3]
    return "WASHINGTON (Reuters) - " + "\n\n".join(paragraphs) + "\n\nReporting by Jane Doe; Editing by Tom Lee\n"


def blinken_citation(answer):
    return next(c for c in answer.citations if "Blinken" in c.quote)


def test_a_wire_copy_file_is_stored_once_and_cited_as_also_published(tmp_path: Path):
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "herald.txt").write_text(ORIGINAL.read_text())
    alone = Engine(make_settings(tmp_path / "alone"))
    alone.ingest([folder], progress=False)

    (folder / "wire.txt").write_text("Title: Blinken <b>calls</b> Ashkenazi\nDate: 2021-05-12\n\n"
                                     + wire_copy(ORIGINAL.read_text()))
    engine = Engine(make_settings(tmp_path / "index"))
    report = engine.ingest([folder], progress=False)
    assert report.errors == [] and report.copies == 1 and report.files_ingested == 2
    catalog = engine.store.catalog
    assert catalog.count_articles() == 1
    assert catalog.count_chunks() == alone.store.catalog.count_chunks()  # nothing of the copy was embedded
    assert engine.store.vectors.count() == alone.store.vectors.count()

    citation = blinken_citation(engine.ask(QUESTION))
    assert [c.source for c in citation.also_published_by] == [str(folder / "wire.txt")]
    copy = citation.also_published_by[0]
    assert copy.title == "Blinken <b>calls</b> Ashkenazi" and 0.5 <= copy.similarity < 1
    assert citation.to_dict()["also_published_by"][0]["publisher"] == "wire.txt"
    # Every face shows it, escaped.
    answer = engine.ask(QUESTION)
    page = sources_html(answer)
    assert "Also published by wire.txt" in page and "<b>calls" not in page
    assert "also published by wire.txt" in str(answer_blocks(answer, None))
    env = dict(os.environ, QA_INDEX_DIR=str(tmp_path / "index"), QA_AUTO_INDEX_EXAMPLES="false")
    shown = subprocess.run([sys.executable, "-m", "qa.faces.cli", "ask", QUESTION], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0 and "Also published by wire.txt" in shown.stdout, shown.stderr

    # Exact re-ingest is free; the story survives its first publisher's file going away.
    again = engine.ingest([folder], progress=False)
    assert (again.files_unchanged, again.chunks_embedded, again.copies, again.version) == (2, 0, 0, None)
    (folder / "herald.txt").unlink()
    pruned = engine.ingest([folder], prune=True, progress=False)
    assert pruned.sources_pruned == 1 and pruned.articles_removed == 0
    after = blinken_citation(engine.ask(QUESTION))
    assert after.article_id == citation.article_id and after.quote == citation.quote


def test_a_copy_under_another_url_shows_its_publisher(tmp_path: Path):
    body = ORIGINAL.read_text().split("\n", 1)[1].strip().split("\n\n")
    with NewsSite() as site:
        first = site.put_article("/herald/blinken.html", "Blinken speaks with Ashkenazi", body,
                                 published="2021-05-12", site_name="The Herald")
        second = site.put_article("/wire/2021/05/12/blinken.html", "US top diplomat calls Israeli minister",
                                  wire_copy("\n\n".join(body)).split("\n\n"), published="2021-05-12",
                                  site_name="Coast Times")
        engine = Engine(make_settings(tmp_path / "index"))
        report = engine.ingest([first, second], progress=False)
        assert report.errors == [] and report.copies == 1 and engine.store.catalog.count_articles() == 1
        citation = blinken_citation(engine.ask(QUESTION))
        assert citation.url == first and citation.site == "The Herald"
        assert [(c.publisher, c.url) for c in citation.also_published_by] == [("Coast Times", second)]
        assert 'href="' + second + '"' in sources_html(engine.ask(QUESTION))
        # Fetched again (the site answers 304, or the same article): free.
        again = engine.ingest([first, second], progress=False)
        assert (again.pages_unchanged, again.chunks_embedded, again.version) == (2, 0, None)


def test_template_stories_and_the_switch_off(tmp_path: Path):
    """Weekly reports from one template (other town, other figures) share most of their words but are
    other stories: each is stored. With QA_NEAR_DUPLICATES off a wire copy is stored again."""
    folder = tmp_path / "reports"
    folder.mkdir()
    for town, (people, trees) in {"Arlen": (120, 400), "Brisk": (95, 250), "Corvo": (310, 75)}.items():
        (folder / f"{town}.txt").write_text(
            f"Title: Weekly report from {town}\n\n"
            + " ".join(f"In {town}, the council met in week {w} and {people + w} residents came to hear about the "
                       f"plan to plant {trees} trees along the {town} river." for w in range(6)))
    engine = Engine(make_settings(tmp_path / "index"))
    report = engine.ingest([folder], progress=False)
    assert report.copies == 0 and engine.store.catalog.count_articles() == 3

    wire = tmp_path / "wire"
    wire.mkdir()
    (wire / "a.txt").write_text(ORIGINAL.read_text())
    (wire / "b.txt").write_text(wire_copy(ORIGINAL.read_text()))
    off = Engine(make_settings(tmp_path / "off", near_duplicates=False))
    report = off.ingest([wire], progress=False)
    assert report.copies == 0 and off.store.catalog.count_articles() == 2


def test_links_are_only_http_and_always_escaped():
    from qa.faces.render import safe_href
    from qa.schema import Answer, Citation, Copy

    copy = Copy("https://x.test/a", title="t", url="javascript:alert(1)", site='<img src=x onerror="alert(1)">')
    citation = Citation(1, "a1", "Title", "2021-05-12", "A quote.", 0, 9, url='https://ok.test/"><script>',
                        also_published_by=(copy,))
    page = sources_html(Answer("q", "A quote. [1]", False, citations=[citation]))
    assert "javascript:" not in page and "<img" not in page and "<script>" not in page
    assert safe_href("https://ok.test/story") == "https://ok.test/story" and safe_href("data:text/html,x") is None
