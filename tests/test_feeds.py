"""Article URLs and feeds (qa.sources.web, qa.sources.feeds) against a real HTTP server on 127.0.0.1: full
articles from a feed's items, conditional polls, new / changed / removed / failing items, and every way a
server can misbehave, each a clear error naming the URL that never stops the batch."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, make_settings
from news_site import FeedItem, NewsSite
from qa.engine import Engine
from qa.sources.web import Fetcher, FetchError

PARAGRAPHS = {
    "harbour": ["The port of Kelvington reopened on Monday after a storm closed it for three days, officials said.",
                "Harbour master Ines Okafor said forty ships had waited offshore during the closure.",
                "Repairs to the northern breakwater will cost about two million euros, the council estimated."],
    "mine": ["The regional council approved the expansion of the Dunmore copper mine on Tuesday.",
             "Environmental groups led by Petra Vasquez said they would appeal the decision in court.",
             "The mine employs eight hundred people and plans to hire two hundred more next year."],
    "bridge": ["Engineers closed the Altmark suspension bridge on Wednesday after finding cracks in a cable.",
               "Chief engineer Tomas Reyes said the inspection would take at least six weeks.",
               "Commuters were told to use the ferry from Lindholm pier until the bridge reopens."],
    "festival": ["The Brennick summer festival drew a record ninety thousand visitors over the weekend.",
                 "Organiser Maya Lindqvist said the new lakeside stage had been the main attraction.",
                 "Next year the festival will add a fourth day of concerts, the organisers announced."],
}
TITLES = {"harbour": "Kelvington harbour reopens after storm", "mine": "Dunmore mine expansion approved",
          "bridge": "Altmark bridge closed for inspection", "festival": "Brennick festival breaks record"}
DATES = {"harbour": "2025-03-03", "mine": "2025-03-04", "bridge": "2025-03-05", "festival": "2025-03-06"}


def put(site: NewsSite, name: str, paragraphs: list[str] | None = None, **meta) -> str:
    meta.setdefault("author", "Jo Reporter")
    meta.setdefault("published", DATES[name])
    meta.setdefault("site_name", "Kelvington Herald")
    return site.put_article(f"/news/{name}.html", TITLES[name], paragraphs or PARAGRAPHS[name], **meta)


def item(site: NewsSite, name: str, summary: str = "A short summary only.") -> FeedItem:
    return FeedItem(f"guid-{name}", site.url(f"/news/{name}.html"), TITLES[name], DATES[name], summary)


def cited(engine: Engine, question: str, needle: str):
    """The citation whose quote holds `needle`, or None (the question abstained or cited something else)."""
    answer = engine.ask(question)
    return next((c for c in answer.citations if needle in c.quote), None) if not answer.abstained else None


@pytest.fixture
def site():
    with NewsSite(slow_seconds=4, trickle_seconds=0.5) as news:
        yield news


@pytest.fixture
def web_engine(tmp_path: Path) -> Engine:
    return Engine(make_settings(tmp_path / "index", fetch_timeout=2.0))


def test_an_article_url_is_stored_with_its_metadata_and_reingesting_it_is_free(site, web_engine):
    url = put(site, "harbour", canonical="https://herald.example/2025/harbour")
    report = web_engine.ingest([url], progress=False)
    assert report.errors == [] and report.pages_ingested == 1 and report.chunks_embedded >= 1
    citation = cited(web_engine, "How many ships waited offshore during the closure?", "forty ships")
    assert citation is not None
    assert citation.title == TITLES["harbour"] and citation.published == "2025-03-03"
    assert citation.url == "https://herald.example/2025/harbour" and citation.site == "Kelvington Herald"
    stored = web_engine.store.catalog.article(citation.article_id)
    assert stored.author == "Jo Reporter" and stored.source == url
    assert "Related stories" not in stored.text and "cookies" not in stored.text.lower()  # main text only

    again = web_engine.ingest([url], progress=False)
    assert (again.pages_unchanged, again.chunks_embedded, again.version) == (1, 0, None)


def test_a_feed_url_ingests_each_items_full_article_not_its_summary(site, web_engine):
    for name in ("harbour", "mine"):
        put(site, name)
    feed = site.set_feed("/feed.xml", [item(site, "harbour", "Storm summary teaser."), item(site, "mine")])
    report = web_engine.ingest([feed], progress=False)
    assert report.errors == [] and (report.feeds_polled, report.items_new, report.pages_ingested) == (1, 2, 2)
    # Facts that only the pages hold are answered; the feed's summary is stored nowhere.
    assert cited(web_engine, "Who said they would appeal the mine decision?", "Petra Vasquez")
    texts = [web_engine.store.catalog.article(a.id).text for a in web_engine.store.catalog.articles()]
    assert len(texts) == 2 and not any("teaser" in t for t in texts)
    citation = cited(web_engine, "How much will repairs to the breakwater cost?", "two million euros")
    assert citation.published == "2025-03-03" and citation.url == site.url("/news/harbour.html")


def test_atom_feeds_work_too(site, web_engine):
    put(site, "bridge")
    feed = site.set_feed("/atom.xml", [item(site, "bridge")], kind="atom")
    report = web_engine.ingest([feed], progress=False)
    assert report.errors == [] and report.pages_ingested == 1
    assert cited(web_engine, "How long will the bridge inspection take?", "six weeks")


def test_polls_fetch_only_what_is_new_or_changed(site, web_engine):
    for name in ("harbour", "mine"):
        put(site, name)
    feed = site.set_feed("/feed.xml", [item(site, "harbour"), item(site, "mine")])
    assert web_engine.ingest([feed], progress=False).pages_ingested == 2

    # 2. Nothing changed: one conditional request, answered 304; no page is fetched.
    site.clear_log()
    quiet = web_engine.ingest([feed], progress=False)
    assert (quiet.feeds_not_modified, quiet.pages_fetched, quiet.version) == (1, 0, None)
    assert [(path, status) for _, path, _, status in site.requests] == [("/feed.xml", 304)]
    assert "if-none-match" in site.requests[0][2]

    # 3. A new item, a changed item (its page now says something else), a removed item.
    put(site, "bridge")
    put(site, "harbour", PARAGRAPHS["harbour"][:1] + ["Harbour master Ines Okafor said sixty ships had waited "
                                                      "offshore, more than first reported."])
    changed = item(site, "harbour", "Updated: more ships than first reported.")
    site.set_feed("/feed.xml", [changed, item(site, "bridge")])
    site.clear_log()
    poll = web_engine.ingest([feed], progress=False)
    assert poll.errors == [] and (poll.items_new, poll.items_changed, poll.items_gone) == (1, 1, 1)
    assert sorted(path for _, path, _, _ in site.requests) == ["/feed.xml", "/news/bridge.html", "/news/harbour.html"]
    assert cited(web_engine, "How long will the bridge inspection take?", "six weeks")
    assert cited(web_engine, "How many ships waited offshore?", "sixty ships")
    assert not any("forty ships" in web_engine.store.catalog.article(a.id).text
                   for a in web_engine.store.catalog.articles()), "the old version of the changed item stays"
    # The removed item's article is kept (an item leaving a feed is not a retraction)...
    assert cited(web_engine, "Who said they would appeal the mine decision?", "Petra Vasquez")

    # ...unless asked: --prune drops articles whose items left the feed.
    site.set_feed("/feed.xml", [changed])
    pruned = web_engine.ingest([feed], prune=True, progress=False)
    assert pruned.items_gone == 1 and pruned.sources_pruned == 1 and pruned.articles_removed == 1
    assert not cited(web_engine, "How long will the bridge inspection take?", "six weeks")


def test_a_failing_item_is_reported_and_fetched_again_even_when_the_feed_is_unchanged(site, web_engine):
    put(site, "harbour")
    site.put_page("/news/mine.html", "<html><body>oops</body></html>", status=500)
    feed = site.set_feed("/feed.xml", [item(site, "harbour"), item(site, "mine")])
    first = web_engine.ingest([feed], progress=False)
    assert first.pages_ingested == 1 and len(first.errors) == 1
    assert first.errors[0].path == site.url("/news/mine.html") and "HTTP 500" in first.errors[0].reason

    put(site, "mine")  # the page works now; the feed itself is unchanged (304)
    second = web_engine.ingest([feed], progress=False)
    assert second.errors == [] and second.feeds_not_modified == 1 and second.pages_ingested == 1
    assert cited(web_engine, "Who said they would appeal the mine decision?", "Petra Vasquez")
    assert web_engine.ingest([feed], progress=False).pages_fetched == 0  # nothing left to retry


def test_a_changed_page_replaces_its_old_version_not_taken_for_a_copy_of_it(site, web_engine):
    url = put(site, "festival")
    web_engine.ingest([url], progress=False)
    edited = PARAGRAPHS["festival"][:2] + ["Next year the festival will add a fifth day of concerts, the organisers "
                                           "announced."]
    put(site, "festival", edited)
    report = web_engine.ingest([url], progress=False)
    assert report.copies == 0 and report.pages_ingested == 1 and report.articles_removed == 1
    assert cited(web_engine, "How many days will the festival add next year?", "fifth day")


def test_bad_urls_each_get_a_clear_error_and_never_stop_the_batch(site, tmp_path: Path):
    good = put(site, "harbour")
    site.put_page("/not-html.json", b'{"a": 1}', content_type="application/json")
    cases = {
        site.url("/loop/a"): "redirect loop",
        site.url("/error500"): "HTTP 500",
        site.url("/missing.html"): "HTTP 404",
        site.url("/slow"): "timed out after 2 s",
        site.url("/slow-body"): "timed out after 2 s",
        site.url("/image.png"): "not an article page or a feed (content type image/png)",
        site.url("/not-html.json"): "content type application/json",
        site.url("/paywall"): "paywall",
        site.url("/huge"): "too large",
        site.url("/not-a-feed.xml"): "content type application/xml",
        "http://127.0.0.1:1/closed-port.html": "cannot connect to 127.0.0.1:1",
        "ftp://example.com/story.html": "unsupported URL scheme 'ftp'",
        "http:///no-host": "no host",
    }
    index = tmp_path / "index"
    env = dict(os.environ, QA_INDEX_DIR=str(index), QA_AUTO_INDEX_EXAMPLES="false", QA_FETCH_TIMEOUT="2",
               QA_FETCH_MAX_BYTES="5000000")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "qa.faces.cli", "ingest", "--json", "--quiet", *cases, good],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    took = time.monotonic() - started
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    by_url = {e["path"]: e["reason"] for e in report["errors"]}
    for url, reason in cases.items():
        assert url in by_url, (url, done.stderr)
        assert reason in by_url[url], (url, by_url[url])
        assert f"error: {url}: " in done.stderr
    assert report["pages_ingested"] == 1  # the good page, after all the bad ones
    # Timeouts are bounded: two slow servers at 2 s each, not their 4 s (or a trickle for ever).
    assert took < 120
    engine = Engine(make_settings(index))
    assert cited(engine, "How many ships waited offshore during the closure?", "forty ships")


def test_fetcher_sends_validators_and_reports_a_304(site):
    url = put(site, "harbour")
    with Fetcher(timeout=5) as fetcher:
        first = fetcher.get(url)
        assert first.status == 200 and first.etag and first.last_modified and first.content_type == "text/html"
        again = fetcher.get(url, etag=first.etag)
        assert again.not_modified and again.body == b""
        by_date = fetcher.get(url, last_modified=first.last_modified)
        assert by_date.not_modified
        site.put_redirect("/moved.html", "/news/harbour.html")
        moved = fetcher.get(site.url("/moved.html"))
        assert moved.status == 200 and moved.final_url == url and moved.url == site.url("/moved.html")
        with pytest.raises(FetchError, match="too many redirects"):
            Fetcher(timeout=5, max_redirects=2).get(site.url("/redirect/4"))


def test_watch_polls_until_stopped_and_the_cli_rejects_bad_intervals(site, tmp_path: Path):
    put(site, "harbour")
    feed = site.set_feed("/feed.xml", [item(site, "harbour")])
    index = tmp_path / "index"
    env = dict(os.environ, QA_INDEX_DIR=str(index), QA_AUTO_INDEX_EXAMPLES="false")
    for bad in ("0.2s", "soon", "-5m"):
        done = subprocess.run([sys.executable, "-m", "qa.faces.cli", "watch", feed, "--every", bad], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and "--every" in done.stderr and "Traceback" not in done.stderr, done.stderr
    done = subprocess.run([sys.executable, "-m", "qa.faces.cli", "watch", feed, "--every", "1s", "--rounds", "3",
                           "--json", "--quiet"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rounds = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["pages_ingested"] for r in rounds] == [1, 0, 0]
    assert [r["feeds_not_modified"] for r in rounds] == [0, 1, 1]


def test_a_hostile_feed_over_http_is_refused_and_nothing_is_read_from_disk(site, web_engine, tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-TOKEN " * 20)
    xxe = (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file://{secret}">]><rss version="2.0">'
           "<channel><title>t</title><item><guid>1</guid><title>&x;</title><description>&x;</description>"
           "</item></channel></rss>")
    feed = site.url("/evil.xml")
    site.put_page("/evil.xml", xxe, content_type="application/rss+xml")
    report = web_engine.ingest([feed], progress=False)
    assert "declares XML entities" in report.errors[0].reason and report.errors[0].path == feed
    assert web_engine.store.catalog.count_articles() == 0


def test_an_item_without_a_link_keeps_the_feeds_own_text(site, web_engine):
    text = " ".join(PARAGRAPHS["bridge"])
    feed = site.url("/nolink.xml")
    site.put_page("/nolink.xml", '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
                  f"<guid isPermaLink=\"false\">only-text</guid><title>Bridge</title><description>{text}</description></item>"
                  "</channel></rss>", content_type="application/rss+xml")
    report = web_engine.ingest([feed], progress=False)
    assert report.errors == [] and report.pages_ingested == 1
    assert cited(web_engine, "How long will the bridge inspection take?", "six weeks")


def test_repair_finishes_a_half_ingested_page(site, web_engine):
    url = put(site, "harbour")
    web_engine.ingest([url], progress=False)
    store = web_engine.store
    with store.catalog._transaction() as db:  # as if killed after its rows, before its vectors
        db.execute("UPDATE sources SET state = 'pending' WHERE path = ?", (url,))
    store.vectors.delete(sorted(store.vectors.all_ids()))
    assert not web_engine.check().ok
    repaired = web_engine.repair()
    assert repaired.ok and any("fetched page" in line for line in repaired.repaired), repaired.repaired
    assert cited(web_engine, "How many ships waited offshore during the closure?", "forty ships")
