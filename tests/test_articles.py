from pathlib import Path

import pytest

from conftest import EXAMPLES
from helpers import ATOM, RSS, minimal_pdf
from qa.articles import ArticleError, discover, load_file, normalize_date, parse_plain_text
from qa.schema import Article


def test_sample_with_date_marker_has_date_and_no_guessed_title():
    article = load_file(EXAMPLES / "000_8e03b75251222fb2.txt").articles[0]
    assert article.published == "2021-05-12"
    assert article.title is None  # the first line is a paragraph, not a title: never guessed
    assert article.text.startswith("US Secretary of State Antony Blinken spoke on Tuesday")
    assert "date 2021" not in article.text


def test_sample_with_title_and_photo_caption():
    article = load_file(EXAMPLES / "001_0029e68a5cbbc7e8.txt").articles[0]
    assert article.title == "US Secretary of State Antony Blinken"
    assert article.caption == "US Secretary of State Antony Blinken State Department Photo by Ron Przysucha"
    assert article.published is None
    assert article.text.startswith("US Secretary of State Antony Blinken spoke on Wednesday night")
    assert "Przysucha" not in article.text


def test_article_id_is_a_stable_content_hash():
    a = Article(text="Body.", title="T", published="2020-01-01")
    assert a.id == Article(text="Body.", title="T", published="2020-01-01", source="elsewhere").id
    assert a.id != Article(text="Body!", title="T", published="2020-01-01").id


def test_header_lines_and_markdown_front_matter(tmp_path: Path):
    txt = tmp_path / "a.txt"
    txt.write_text("Title: Bridge reopens\nDate: March 3, 2024\nAuthor: Ann Lee\n\nThe bridge reopened today.\n")
    article = load_file(txt).articles[0]
    assert (article.title, article.published, article.author) == ("Bridge reopens", "2024-03-03", "Ann Lee")
    assert article.text == "The bridge reopened today."

    md = tmp_path / "b.md"
    md.write_text("---\ntitle: \"Dam report\"\ndate: 2023-07-09\n---\n\nThe dam is safe, engineers said.\n")
    article = load_file(md).articles[0]
    assert (article.title, article.published, article.text) == ("Dam report", "2023-07-09", "The dam is safe, engineers said.")

    md2 = tmp_path / "c.md"
    md2.write_text("# Council votes\n\nThe council voted 5-2 to fund the library.\n")
    article = load_file(md2).articles[0]
    assert article.title == "Council votes" and article.published is None


def test_unparseable_date_stays_none():
    assert normalize_date("sometime last spring") is None
    assert normalize_date("2021-05-12T08:00:00Z") == "2021-05-12"
    assert normalize_date("Tue, 04 Mar 2025 10:00:00 GMT") == "2025-03-04"
    article = parse_plain_text("Date: next Tuesday\n\nShort note about the fair.\n")
    assert article.published is None


def test_html_main_text_without_boilerplate(tmp_path: Path):
    page = tmp_path / "story.html"
    paragraphs = "".join(
        f"<p>The river festival drew record crowds on Saturday, organisers said in statement number {i}.</p>"
        for i in range(6)
    )
    page.write_text(
        "<html><head><title>River festival | Town Times</title>"
        '<meta property="article:published_time" content="2022-08-14"></head><body>'
        "<nav><a href='/'>Home</a> <a href='/sports'>Sports</a> Subscribe now</nav>"
        f"<article><h1>River festival breaks record</h1>{paragraphs}</article>"
        "<footer>Copyright Town Times. All rights reserved. Cookie policy.</footer></body></html>"
    )
    article = load_file(page).articles[0]
    assert "record crowds" in article.text
    assert "Subscribe" not in article.text and "Cookie policy" not in article.text
    assert article.title and "River festival" in article.title
    assert article.published == "2022-08-14"


def test_pdf(tmp_path: Path):
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(minimal_pdf(["The mayor opened the new tram line.", "It carries 9,000 riders a day."], "Tram opens"))
    article = load_file(pdf).articles[0]
    assert article.title == "Tram opens"
    assert "tram line" in article.text and "9,000 riders" in article.text


def test_jsonl_good_lines_kept_bad_line_reported(tmp_path: Path):
    f = tmp_path / "batch.jsonl"
    f.write_text(
        '{"id": "a1", "title": "Wheat prices", "text": "Wheat prices rose 4%.", "published": "2024-02-01", '
        '"url": "http://x.test/a1", "author": "Kim"}\n'
        "{not json}\n"
        '{"id": "a3", "title": "No text"}\n'
        '{"id": "a4", "text": "Rain is expected on Friday."}\n'
    )
    parsed = load_file(f)
    assert [a.external_id for a in parsed.articles] == ["a1", "a4"]
    assert parsed.articles[0].published == "2024-02-01" and parsed.articles[0].author == "Kim"
    reasons = [str(e) for e in parsed.errors]
    assert any("batch.jsonl:2" in r and "invalid JSON" in r for r in reasons)
    assert any("batch.jsonl:3" in r and "'text'" in r for r in reasons)


def test_rss_and_atom(tmp_path: Path):
    rss = tmp_path / "harbor.rss"
    rss.write_text(RSS)
    articles = load_file(rss).articles
    assert [a.title for a in articles] == ["Ferry service resumes", "Lighthouse repainted"]
    assert articles[0].published == "2025-03-04" and "Lina Ortiz" in articles[0].text
    assert "<p>" not in articles[0].text
    atom = tmp_path / "valley.xml"
    atom.write_text(ATOM)
    (entry,) = load_file(atom).articles
    assert entry.title == "Orchard wins award" and entry.published == "2024-11-01" and entry.author == "Sam Reed"


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("empty.txt", b"", "empty file"),
        ("blank.txt", b"  \n\n ", "empty file"),
        ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "binary file"),
        ("latin1.txt", "Caf\u00e9 au lait".encode("latin-1"), "invalid UTF-8 at byte 3"),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj garbage\n", "PDF"),
        ("allbad.jsonl", b"{oops\n", "invalid JSON"),
        ("notafeed.rss", b"hello, not xml at all", "feed"),
    ],
)
def test_bad_input_names_file_and_reason(tmp_path: Path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ArticleError) as info:
        load_file(path)
    assert name in str(info.value) and reason in str(info.value)


def test_discover_walks_folders_and_rejects_unknown_named_files(tmp_path: Path):
    (tmp_path / "nested" / "deeper").mkdir(parents=True)
    (tmp_path / "nested" / "deeper" / "one.txt").write_text("One.")
    (tmp_path / "nested" / "two.md").write_text("Two.")
    (tmp_path / "nested" / "photo.png").write_bytes(b"\x89PNG")
    (tmp_path / "nested" / ".hidden.txt").write_text("hidden")
    (tmp_path / "notes.docx").write_bytes(b"PK")
    found = discover([tmp_path / "nested", tmp_path / "notes.docx", tmp_path / "missing.txt"])
    assert sorted(p.name for p in found.files) == ["one.txt", "two.md"]
    assert [p.name for p in found.skipped] == ["photo.png"]
    messages = [str(e) for e in found.errors]
    assert any("notes.docx" in m and "unsupported file type '.docx'" in m for m in messages)
    assert any("missing.txt" in m and "no such file" in m for m in messages)
