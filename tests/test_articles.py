from pathlib import Path

import pytest

from conftest import EXAMPLES
from helpers import ATOM, RSS, minimal_pdf
from qa.sources.articles import ArticleError, discover, load_file, normalize_date, parse_plain_text
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


def test_header_lines_without_a_body_are_an_error(tmp_path: Path):
    txt = tmp_path / "only-headers.txt"
    txt.write_text("Title: Bridge reopens\nDate: 2024-03-03\n\n")
    with pytest.raises(ArticleError, match="only-headers.txt: no article text"):
        load_file(txt)


def test_header_line_with_a_long_run_of_spaces_is_read():
    # the old pattern (`(.+?)\s*$`) rescanned the run once per character: minutes for this line
    article = parse_plain_text("Title: Harbor" + " " * 50_000 + "news\n\nThe ferry resumed service today.\n")
    assert article.title == "Harbor" + " " * 50_000 + "news" and article.text == "The ferry resumed service today."


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


# ---------------------------------------------------------------- JSONL, streamed and strict

import hashlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402

import qa.sources.articles as articles  # noqa: E402
from qa.sources.articles import date_problem, file_sha256, iter_jsonl_articles  # noqa: E402


def _jsonl(path: Path, *lines: str | bytes) -> Path:
    path.write_bytes(b"\n".join(line.encode() if isinstance(line, str) else line for line in lines) + b"\n")
    return path


def _messages(items) -> list[str]:
    return [str(item) for item in items if isinstance(item, ArticleError)]


def test_jsonl_is_streamed_line_by_line(tmp_path: Path, monkeypatch):
    """The file is read in small pieces as lines are asked for, never whole."""
    f = tmp_path / "big.jsonl"
    line = json.dumps({"title": "Wheat", "text": "Wheat prices rose 4% on Monday. " * 20})
    f.write_text((line + "\n") * 2000)
    reads: list[int] = []

    class CountingFile(io.FileIO):
        def readinto(self, buffer):
            n = super().readinto(buffer)
            reads.append(n or 0)
            return n

    monkeypatch.setattr(articles, "open", lambda p, mode: io.BufferedReader(CountingFile(p, mode)), raising=False)
    items = iter_jsonl_articles(f)
    first = next(items)
    assert isinstance(first, Article) and first.title == "Wheat"
    assert sum(reads) < 64 * 1024 < f.stat().st_size
    assert sum(1 for _ in items) == 1999
    assert sum(reads) <= f.stat().st_size + 8192  # read once (the first block twice: sniffed, then parsed)


def test_jsonl_bad_lines_are_reported_one_by_one(tmp_path: Path):
    f = _jsonl(
        tmp_path / "batch.jsonl",
        '{"id": "a1", "text": "Wheat prices rose 4%."}',
        "{not json}",
        '{"text": "Big number", "n": ' + "9" * 5000 + "}",
        "[" * 100_000,
        '"just text"',
        b'{"text": "caf\xe9"}',  # Latin-1, not UTF-8
        "   ",
        '{"text": "Line and paragraph separators \u2028 \u0085 stay inside a string."}',
        '{"id": "a9", "text": "Rain is expected on Friday."}\r',
    )
    items = list(iter_jsonl_articles(f))
    assert [a.external_id for a in items if isinstance(a, Article)] == ["a1", None, "a9"]
    assert "\u2028" in items[6].text
    messages = _messages(items)
    assert messages == [
        f"{f}:2: invalid JSON (Expecting property name enclosed in double quotes at column 2)",
        f"{f}:3: invalid JSON (a number longer than 4300 digits)",
        f"{f}:4: invalid JSON (nested too deeply)",
        f"{f}:5: expected a JSON object, got text",
        f"{f}:6: invalid UTF-8 at byte {f.read_bytes().index(b'caf') + 3}",
    ]
    parsed = load_file(f)  # the same lines, the same verdicts
    assert [a.external_id for a in parsed.articles] == ["a1", None, "a9"]
    assert [str(e) for e in parsed.errors] == messages


def test_jsonl_fields_of_the_wrong_type_are_errors_not_reprs(tmp_path: Path):
    f = _jsonl(
        tmp_path / "types.jsonl",
        '{"title": ["a", "b"], "text": "Body."}',
        '{"author": 5, "url": {"href": "x"}, "text": "Body."}',
        '{"id": true, "text": "Body."}',
        '{"id": 1.5, "text": "Body."}',
        '{"id": [1], "text": "Body."}',
        '{"text": 42}',
        '{"text": "Body.", "title": "bad \\ud800 surrogate"}',
        '{"id": 42, "title": "  Kept  ", "text": "An integer id is taken as text."}',
    )
    items = list(iter_jsonl_articles(f))
    (kept,) = [a for a in items if isinstance(a, Article)]
    assert (kept.external_id, kept.title) == ("42", "Kept")
    assert _messages(items) == [
        f'{f}:1: "title": expected text, got list',
        f'{f}:2: "url": expected text, got object; "author": expected text, got number',
        f'{f}:3: "id": expected text, got boolean',
        f'{f}:4: "id": expected text, got number',
        f'{f}:5: "id": expected text, got list',
        f'{f}:6: "text": expected text, got number',
        f'{f}:7: "title": contains an unpaired surrogate (\\ud800-\\udfff), not valid Unicode text',
    ]


def test_jsonl_unreal_published_date_keeps_the_article_and_reports_the_line(tmp_path: Path):
    """Choice: the article is stored without a date (never guessed) and the line is reported, so the
    ingest report has an error and exits non-zero; fixing the date and ingesting again updates it."""
    f = _jsonl(
        tmp_path / "dates.jsonl",
        '{"id": "a", "text": "Body a.", "published": "2021-13-45"}',
        '{"id": "b", "text": "Body b.", "published": "Feb 30, 2021"}',
        '{"id": "c", "text": "Body c.", "published": 20210512}',
        '{"id": "d", "text": "Body d.", "published": "next Tuesday"}',
        '{"id": "e", "text": "Body e.", "published": "2021-05-12T08:00:00Z"}',
        '{"id": "f", "text": "Body f.", "published": ""}',
    )
    items = list(iter_jsonl_articles(f))
    stored = {a.external_id: a.published for a in items if isinstance(a, Article)}
    assert stored == {"a": None, "b": None, "c": None, "d": None, "e": "2021-05-12", "f": None}
    errors = [e for e in items if isinstance(e, ArticleError)]
    assert all(e.kept for e in errors)
    assert [str(e) for e in errors] == [
        f"{f}:1: published: '2021-13-45' is not a real calendar date (the article is kept, without a date)",
        f"{f}:2: published: 'Feb 30, 2021' is not a real calendar date (the article is kept, without a date)",
        f"{f}:3: published: expected a date as text (YYYY-MM-DD), got number (the article is kept, without a date)",
        f"{f}:4: published: 'next Tuesday' is not a date that can be read (use YYYY-MM-DD) "
        "(the article is kept, without a date)",
    ]
    assert len(load_file(f).articles) == 6 and len(load_file(f).errors) == 4


def test_jsonl_whole_file_problems(tmp_path: Path):
    missing = tmp_path / "missing.jsonl"
    (error,) = iter_jsonl_articles(missing)
    assert str(missing) in str(error) and "cannot read file" in str(error)
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b'{"text": "a"}\x00\x00\x01')
    assert [str(e) for e in iter_jsonl_articles(binary)] == [f"{binary}: binary file (contains NUL bytes), not text"]
    with pytest.raises(ArticleError, match="binary file"):
        load_file(binary)
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n  \n")
    assert [e.reason for e in iter_jsonl_articles(blank)] == ["empty file (no JSON lines)"]


def test_jsonl_line_over_the_limit_is_skipped(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(articles, "MAX_JSONL_LINE_BYTES", 1000)
    f = _jsonl(tmp_path / "long.jsonl", '{"text": "short"}', json.dumps({"text": "x" * 5000}), '{"text": "after"}')
    items = list(iter_jsonl_articles(f))
    assert [a.text for a in items if isinstance(a, Article)] == ["short", "after"]
    assert _messages(items) == [f"{f}:2: line longer than 0 MB: skipped"]


def test_file_sha256_hashes_in_blocks(tmp_path: Path):
    f = tmp_path / "data.bin"
    f.write_bytes(bytes(range(256)) * 1000)
    assert file_sha256(f) == file_sha256(f, block_size=7) == hashlib.sha256(f.read_bytes()).hexdigest()


# ---------------------------------------------------------------- encodings

STORY = "Title: Bridge reopens\nDate: 2024-03-03\n\nThe bridge reopened today, officials said.\n"


@pytest.mark.parametrize("codec, bom", [
    ("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"),
    ("utf-32-le", b"\xff\xfe\x00\x00"), ("utf-32-be", b"\x00\x00\xfe\xff"),
])
def test_utf16_and_utf32_files_with_a_bom_are_decoded(tmp_path: Path, codec, bom):
    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_bytes(bom + text.encode(codec))
        return path

    article = load_file(write("story.txt", STORY)).articles[0]
    assert (article.title, article.published) == ("Bridge reopens", "2024-03-03")
    assert article.text == "The bridge reopened today, officials said."
    assert load_file(write("note.md", "# Dam\n\nThe dam is safe.\n")).articles[0].title == "Dam"
    rows = '{"text": "Wheat rose.", "title": "Wheat"}\n{"text": "Rain \u00e9t\u00e9."}\n'
    assert [a.text for a in load_file(write("rows.jsonl", rows)).articles] == ["Wheat rose.", "Rain \u00e9t\u00e9."]
    assert [a.title for a in iter_jsonl_articles(write("rows2.jsonl", rows))] == ["Wheat", None]
    # feedparser alone reads UTF-16 only when the XML declaration says so: both must work
    assert len(load_file(write("feed.rss", RSS)).articles) == 2
    assert len(load_file(write("nodecl.rss", RSS.split("\n", 1)[1])).articles) == 2


def test_bad_utf16_and_latin1_feed(tmp_path: Path):
    odd = tmp_path / "odd.txt"
    odd.write_bytes(b"\xff\xfe" + "Some text".encode("utf-16-le") + b"\x00\xd8")  # a lone surrogate at the end
    with pytest.raises(ArticleError, match="invalid UTF-16 at byte"):
        load_file(odd)
    latin = tmp_path / "latin.rss"  # a feed names its own encoding: it need not be UTF-8
    feed = RSS.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').replace("Ferry", "Caf\u00e9 ferry")
    latin.write_bytes(feed.encode("latin-1"))
    assert load_file(latin).articles[0].title == "Caf\u00e9 ferry service resumes"


def test_non_utf8_file_name_is_a_clear_error(tmp_path: Path):
    import os

    name = os.fsdecode(b"caf\xe9.txt")  # as Python decodes a Latin-1 name on a UTF-8 system
    path = tmp_path / name
    try:
        path.write_text("The bridge reopened.")
    except (OSError, UnicodeEncodeError):
        pytest.skip("the file system refuses the name")
    with pytest.raises(ArticleError, match="file name is not valid UTF-8") as info:
        load_file(path)
    str(info.value).encode("utf-8")  # the message itself can be printed


# ---------------------------------------------------------------- hostile feeds and HTML

_ITEM = "<item><title>T</title><description>{}</description></item>"


def _feed(doctype: str, body: str) -> str:
    return f'<?xml version="1.0"?>{doctype}<rss version="2.0"><channel>{_ITEM.format(body)}</channel></rss>'


LAUGHS = '<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">' + "".join(
    f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8)
) + "]>"


@pytest.mark.parametrize("name, doc, detail", [
    ("laughs.rss", _feed(LAUGHS, "&i;"), "entity 'a'"),
    ("quadratic.rss", _feed(f'<!DOCTYPE rss [<!ENTITY a "{"x" * 50_000}">]>', "&a;" * 50_000), "entity 'a'"),
    ("passwd.rss", _feed('<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>', "&x;"),
     "external entity 'x' → file:///etc/passwd"),
    ("param.xml", _feed('<!DOCTYPE rss [<!ENTITY % p SYSTEM "http://evil.test/p.dtd"> %p;]>', "hi"), "entity 'p'"),
    ("broken.atom", '<feed><!DOCTYPE x [<!ENTITY a "b">]><entry>&a; & x</entry></feed>', "not well-formed"),
])
def test_feeds_declaring_entities_are_refused(tmp_path: Path, name, doc, detail):
    path = tmp_path / name
    path.write_text(doc)
    with pytest.raises(ArticleError) as info:
        load_file(path)
    assert str(info.value).startswith(f"{path}: refused: the feed declares XML entities (")
    assert detail in str(info.value)


def test_plain_doctype_and_lenient_feeds_still_parse(tmp_path: Path):
    dtd = tmp_path / "dtd.rss"
    dtd.write_text(_feed('<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
                         '"http://my.netscape.com/publish/formats/rss-0.91.dtd">', "Hello there."))
    assert [a.text for a in load_file(dtd).articles] == ["Hello there."]
    loose = tmp_path / "loose.rss"  # an unescaped "&": not XML, but feedparser reads it, as before
    loose.write_text("<rss><channel><item><title>A & B</title><description>Tom & Jerry went up.</description>"
                     "</item></channel></rss>")
    assert [a.text for a in load_file(loose).articles] == ["Tom & Jerry went up."]


def test_feed_content_is_never_taken_for_a_file_name(tmp_path: Path):
    real = tmp_path / "real.rss"
    real.write_text(RSS)
    pointer = tmp_path / "pointer.rss"
    pointer.write_text(str(real))  # feedparser.parse(bytes) would open this path and read that feed
    with pytest.raises(ArticleError, match="not a valid RSS/Atom feed"):
        load_file(pointer)


def test_hostile_html_becomes_an_error_or_text(tmp_path: Path, monkeypatch):
    deep = tmp_path / "deep.html"
    deep.write_text("<html><body>" + "<div>" * 50_000 + "Deep text." + "</body></html>")
    try:
        load_file(deep)
    except ArticleError as exc:
        assert "deep.html" in str(exc)
    monkeypatch.setattr(articles, "MAX_HTML_BYTES", 1000)
    big = tmp_path / "big.html"
    big.write_text("<html><body>" + "<p>The river festival drew crowds.</p>" * 100 + "</body></html>")
    with pytest.raises(ArticleError, match=r"big.html: HTML file too large \(0.0 MB; at most 0 MB\)"):
        load_file(big)
    monkeypatch.setattr(articles, "MAX_HTML_BYTES", 20_000_000)
    import trafilatura

    def explode(*args, **kwargs):
        raise ValueError("All strings must be XML compatible")

    monkeypatch.setattr(trafilatura, "bare_extraction", explode)
    with pytest.raises(ArticleError, match=r"big.html: cannot parse the HTML \(ValueError: All strings"):
        load_file(big)


# ---------------------------------------------------------------- dates that are not dates

def test_unreal_dates_in_metadata_are_none(tmp_path: Path):
    txt = tmp_path / "a.txt"
    txt.write_text("Title: Bridge\nDate: 2021-02-30\n\nThe bridge reopened.\n")
    assert load_file(txt).articles[0].published is None
    md = tmp_path / "b.md"
    md.write_text("---\ntitle: Dam\ndate: 2021-13-45\n---\n\nThe dam is safe.\n")
    assert load_file(md).articles[0].published is None
    page = tmp_path / "c.html"
    page.write_text('<html><head><meta property="article:published_time" content="2021-13-45"></head><body>'
                    "<article><p>" + "The river festival drew record crowds on Saturday. " * 8 + "</p></article></body></html>")
    assert load_file(page).articles[0].published is None
    for value in ["2021-13-45", "2021-02-29", "Tue, 31 Feb 2025 10:00:00 GMT", "1 Jan 99999999999999999999 00:00",
                  "9" * 5000, "Date 2021", [], {}, True, 12.5]:
        assert normalize_date(value) is None
    assert normalize_date("0999-01-01") == "0999-01-01"  # zero-padded (strftime("%Y") is not, on glibc)
    assert date_problem("2021-02-03") is None and date_problem(None) is None and date_problem(" ") is None
    assert date_problem("2021-02-29") == "'2021-02-29' is not a real calendar date"


# ---------------------------------------------------------------- fuzz: garbage in, ArticleError out

def _samples() -> dict[str, bytes]:
    html_page = ("<html><head><title>River festival</title><meta property='article:published_time' "
                 "content='2022-08-14'></head><body><article><h1>River</h1>"
                 + "<p>The river festival drew record crowds on Saturday, organisers said.</p>" * 6
                 + "</article></body></html>")
    return {
        ".txt": STORY.encode(),
        ".md": b"---\ntitle: Dam\ndate: 2023-07-09\n---\n\n# Dam\n\nThe dam is safe, engineers said.\n",
        ".html": html_page.encode(),
        ".pdf": minimal_pdf(["The mayor opened the new tram line.", "It carries 9,000 riders a day."], "Tram"),
        ".jsonl": b'{"id": "a1", "title": "Wheat", "text": "Wheat rose.", "published": "2024-02-01"}\n'
                  b'{"id": 2, "text": "Rain on Friday.", "author": "Kim"}\n',
        ".rss": RSS.encode(),
        ".atom": ATOM.encode(),
    }


def _mutations(rng: random.Random, sample: bytes):
    yield bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))  # random bytes
    pieces = [sample[i : i + 7] for i in range(0, len(sample), 7)]  # valid-looking text, shuffled
    yield b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 60))).decode("utf-8", "ignore").encode()
    yield sample[: rng.randint(1, len(sample) - 1)]  # truncated
    data = bytearray(sample)
    for _ in range(rng.randint(1, 8)):  # flipped, inserted, deleted bytes
        at = rng.randrange(len(data))
        choice = rng.random()
        if choice < 0.4:
            data[at] = rng.getrandbits(8)
        elif choice < 0.7:
            data[at:at] = rng.choice([b"\x00", b"<", b"&", b"\xff", b"]]>", b"<!ENTITY", b"{", b"\\u", b"\n\n"])
        else:
            del data[at : at + rng.randint(1, 20)]
    yield bytes(data)


def test_fuzzed_files_give_articles_or_article_errors(tmp_path: Path):
    rng = random.Random(20240607)
    cases = 0
    for suffix, sample in _samples().items():
        for i in range(14):
            for j, data in enumerate(_mutations(rng, sample)):
                path = tmp_path / f"f{i}-{j}{suffix}"
                cases += 1
                try:
                    parsed = load_file(path, data)
                except ArticleError as exc:
                    assert path.name in str(exc)
                    continue
                for article in parsed.articles:
                    assert isinstance(article.text, str) and article.text.strip()
                    for value in (article.title, article.published, article.url, article.author, article.external_id):
                        assert value is None or isinstance(value, str)
                    assert article.published is None or normalize_date(article.published) == article.published
                    article.id  # hashable as UTF-8: no lone surrogates
                for error in parsed.errors:
                    assert path.name in str(error)
    assert cases == 7 * 14 * 4
