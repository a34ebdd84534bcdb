"""The local news site (tests/news_site.py) itself: every route, the cache validators, feed replacement,
what trafilatura and feedparser read from its pages, and a clean stop with a request in flight."""
from __future__ import annotations

import hashlib
import io
import struct
import threading
import time
import zlib
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime

import feedparser
import httpx
import pytest
import trafilatura

from news_site import HUGE_SIZE, PAYWALL_TEASER, FeedItem, NewsSite, article_html, feed_xml

PARAGRAPHS = [
    "Rain fell on the city for the third straight day, flooding streets near the river & the old <mill>.",
    'Officials said the pumps were "working at full capacity", but warned that more rain was expected.',
    "Residents were urged to avoid the riverside path until Friday.",
]
# the options qa/sources/articles.py passes
PROJECT_OPTIONS = {"include_comments": False, "include_tables": False,
                   "date_extraction_params": {"extensive_search": False, "original_date": True}}


@pytest.fixture
def site():
    with NewsSite(slow_seconds=0.3, trickle_seconds=0.1) as s:
        yield s


@pytest.fixture
def client():
    with httpx.Client(timeout=5) as c:
        yield c


def body_etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


# ---------------------------------------------------------------- article_html and trafilatura

@pytest.mark.parametrize("options", [{}, PROJECT_OPTIONS], ids=["defaults", "project-options"])
def test_trafilatura_extracts_exactly_the_paragraphs_and_metadata(options):
    page = article_html("Floods hit the riverside", PARAGRAPHS, author="Jane Doe", published="2024-05-01",
                        canonical="https://news.example.com/2024/floods", site_name="Daily Test")
    doc = trafilatura.bare_extraction(page, with_metadata=True, url="http://127.0.0.1:9/news/1", **options)
    assert doc.text == "\n".join(PARAGRAPHS)
    assert doc.title == "Floods hit the riverside"
    assert doc.author == "Jane Doe"
    assert doc.date == "2024-05-01"
    assert doc.url == "https://news.example.com/2024/floods"
    assert doc.sitename == "Daily Test"


def test_article_html_structure_and_escaping():
    page = article_html("Cats & <dogs>", PARAGRAPHS, author="Jane Doe", published="2024-05-01T08:30:00Z",
                        canonical="https://news.example.com/a?x=1&y=2", site_name="Daily Test")
    assert page.startswith("<!DOCTYPE html>") and '<html lang="en">' in page
    for part in ("<title>Cats &amp; &lt;dogs&gt; | Daily Test</title>",
                 '<meta property="og:title" content="Cats &amp; &lt;dogs&gt;">',
                 '<meta name="author" content="Jane Doe">',
                 '<meta property="article:published_time" content="2024-05-01T08:30:00Z">',
                 '<meta property="og:site_name" content="Daily Test">',
                 '<link rel="canonical" href="https://news.example.com/a?x=1&amp;y=2">',
                 "<nav", "<h1>Cats &amp; &lt;dogs&gt;</h1>", '<p class="byline">', "<article>",
                 "Related stories", "<footer", "cookies",
                 ("<p>Rain fell on the city for the third straight day, flooding streets near the river &amp; "
                  "the old &lt;mill&gt;.</p>"),
                 "<p>Officials said the pumps were &quot;working at full capacity&quot;"):
        assert part in page
    assert page.index("</head>") < page.index("<body>") < page.index("<article>") < page.index("</article>")


def test_article_without_metadata_falls_back_to_the_fetch_url():
    doc = trafilatura.bare_extraction(article_html("Plain story", PARAGRAPHS), with_metadata=True,
                                      url="http://127.0.0.1:9/news/plain")
    assert doc.text == "\n".join(PARAGRAPHS)
    assert doc.title == "Plain story"
    assert doc.author is None
    assert doc.url == "http://127.0.0.1:9/news/plain"


def test_served_article_extracts_the_same(site, client):
    url = site.put_article("/news/floods", "Floods hit the riverside", PARAGRAPHS, author="Jane Doe",
                           published="2024-05-01", canonical="https://news.example.com/floods")
    assert url == site.url("/news/floods") == site.base_url + "/news/floods"
    r = client.get(url)
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    doc = trafilatura.bare_extraction(r.text, with_metadata=True, url=url)
    assert (doc.text, doc.title, doc.author, doc.date, doc.url) == (
        "\n".join(PARAGRAPHS), "Floods hit the riverside", "Jane Doe", "2024-05-01", "https://news.example.com/floods")


# ---------------------------------------------------------------- feed_xml and feedparser

ITEMS = [
    FeedItem("urn:test:1", "https://news.example.com/one", "First & best", "2024-05-01", "A short summary."),
    FeedItem("https://news.example.com/two", "https://news.example.com/two", "Second <story>",
             "2024-05-02T08:30:00+02:00", "Another summary."),
    FeedItem("urn:test:3", "https://news.example.com/three", "Third", "2024-05-03T12:00:00Z"),
]
EXPECTED_UTC = [(2024, 5, 1, 0, 0), (2024, 5, 2, 6, 30), (2024, 5, 3, 12, 0)]


@pytest.mark.parametrize("kind, version", [("rss", "rss20"), ("atom", "atom10")])
def test_feed_xml_parses_with_feedparser(kind, version):
    feed = feedparser.parse(io.BytesIO(feed_xml(ITEMS, title="Daily Test", kind=kind).encode()))
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == version
    assert feed.feed.title == "Daily Test"
    assert [e.id for e in feed.entries] == [i.guid for i in ITEMS]
    assert [e.link for e in feed.entries] == [i.link for i in ITEMS]
    assert [e.title for e in feed.entries] == ["First & best", "Second <story>", "Third"]
    assert [tuple(e.published_parsed[:5]) for e in feed.entries] == EXPECTED_UTC
    assert [e.get("summary", "") for e in feed.entries] == [i.summary for i in ITEMS]


def test_feed_xml_rejects_an_unknown_kind():
    with pytest.raises(ValueError):
        feed_xml(ITEMS, kind="json")


def test_set_feed_serves_and_replaces_between_polls(site, client):
    url = site.set_feed("/feed.xml", ITEMS[:1])
    r1 = client.get(url)
    assert r1.status_code == 200 and r1.headers["content-type"].startswith("application/rss+xml")
    assert [e.id for e in feedparser.parse(io.BytesIO(r1.content)).entries] == ["urn:test:1"]
    assert client.get(url, headers={"If-None-Match": r1.headers["etag"]}).status_code == 304

    site.set_feed("/feed.xml", ITEMS)
    r2 = client.get(url, headers={"If-None-Match": r1.headers["etag"]})
    assert r2.status_code == 200 and r2.headers["etag"] != r1.headers["etag"]
    assert [e.id for e in feedparser.parse(io.BytesIO(r2.content)).entries] == [i.guid for i in ITEMS]

    site.set_feed("/feed.xml", ITEMS[1:], kind="atom")
    r3 = client.get(url)
    parsed = feedparser.parse(io.BytesIO(r3.content))
    assert r3.headers["content-type"].startswith("application/atom+xml") and parsed.version == "atom10"
    assert [e.id for e in parsed.entries] == [i.guid for i in ITEMS[1:]]
    assert site.count("/feed.xml") == 4


def test_concurrent_replacement_never_mixes_bodies_and_etags(site):
    site.set_feed("/feed.xml", ITEMS[:1])
    seen: list[tuple[bytes, str]] = []
    errors: list[BaseException] = []

    def poll():
        try:
            with httpx.Client(timeout=5) as c:
                for _ in range(25):
                    r = c.get(site.url("/feed.xml"))
                    seen.append((r.content, r.headers["etag"]))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=poll) for _ in range(4)]
    for t in threads:
        t.start()
    for n in range(40):
        site.set_feed("/feed.xml", ITEMS[: 1 + n % 3], kind="rss" if n % 2 else "atom")
    for t in threads:
        t.join()
    assert not errors and len(seen) == 100
    for content, etag in seen:
        assert etag == body_etag(content)
        assert feedparser.parse(io.BytesIO(content)).entries


# ---------------------------------------------------------------- ETag / Last-Modified / 304

def test_etag_and_last_modified_give_304(site, client):
    url = site.put_page("/page", "<html><body>v1</body></html>")
    r = client.get(url)
    etag, modified = r.headers["etag"], r.headers["last-modified"]
    assert etag == body_etag(r.content) and not etag.startswith("W/")
    assert etag == site.etag("/page") and modified == site.last_modified("/page")
    parsedate_to_datetime(modified)  # an HTTP date

    for headers in ({"If-None-Match": etag}, {"If-None-Match": f'"other", W/{etag}'}, {"If-None-Match": "*"},
                    {"If-Modified-Since": modified}):
        nm = client.get(url, headers=headers)
        assert nm.status_code == 304, headers
        assert nm.content == b"" and nm.headers["etag"] == etag and "content-length" not in nm.headers

    before = format_datetime(parsedate_to_datetime(modified) - timedelta(seconds=1), usegmt=True)
    assert client.get(url, headers={"If-Modified-Since": before}).status_code == 200
    assert client.get(url, headers={"If-None-Match": '"nope"'}).status_code == 200
    # If-None-Match wins over a matching If-Modified-Since
    assert client.get(url, headers={"If-None-Match": '"nope"', "If-Modified-Since": modified}).status_code == 200
    assert client.get(url, headers={"If-Modified-Since": "not a date"}).status_code == 200


def test_changed_content_changes_both_validators(site, client):
    url = site.put_page("/page", "v1")
    first = client.get(url)
    site.put_page("/page", "v2")  # within the same second: Last-Modified still moves on
    r = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert r.status_code == 200 and r.text == "v2"
    assert r.headers["etag"] != first.headers["etag"]
    assert parsedate_to_datetime(r.headers["last-modified"]) > parsedate_to_datetime(first.headers["last-modified"])
    r = client.get(url, headers={"If-Modified-Since": first.headers["last-modified"]})
    assert r.status_code == 200 and r.text == "v2"
    assert client.get(url, headers={"If-None-Match": r.headers["etag"]}).status_code == 304


def test_put_page_options_head_and_remove(site, client):
    url = site.put_page("/data.json", b'{"a": 1}', content_type="application/json", status=201,
                        headers={"X-Test": "yes"})
    r = client.get(url)
    assert (r.status_code, r.headers["content-type"], r.headers["x-test"], r.content) == (
        201, "application/json", "yes", b'{"a": 1}')
    assert "etag" not in r.headers  # validators only on 200s
    site.put_page("/page", "hello")
    head = client.head(site.url("/page"))
    assert head.status_code == 200 and head.headers["content-length"] == "5" and head.content == b""
    site.remove("/page")
    assert client.get(site.url("/page")).status_code == 404
    site.remove("/paywall")  # built-ins too
    assert client.get(site.url("/paywall")).status_code == 404
    with pytest.raises(ValueError):
        site.put_page("no-slash", "x")


# ---------------------------------------------------------------- built-in routes

def test_home_unknown_and_error(site, client):
    assert client.get(site.url("/")).status_code == 200
    r = client.get(site.url("/no/such/page"))
    assert r.status_code == 404 and "Not Found" in r.text
    r = client.get(site.url("/error500"))
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
    assert "Internal Server Error" in r.text and "etag" not in r.headers


def test_redirects(site, client):
    r = client.get(site.url("/loop/a"))
    assert r.status_code == 302 and r.headers["location"] == "/loop/b"
    assert client.get(site.url("/loop/b")).headers["location"] == "/loop/a"
    with pytest.raises(httpx.TooManyRedirects):
        client.get(site.url("/loop/a"), follow_redirects=True)

    r = client.get(site.url("/redirect/3"), follow_redirects=True)
    assert r.status_code == 200 and r.url == site.url("/")
    assert [h.status_code for h in r.history] == [302, 302, 302]
    assert [h.url.path for h in r.history] == ["/redirect/3", "/redirect/2", "/redirect/1"]
    assert client.get(site.url("/redirect/0")).status_code == 404

    site.put_article("/new-home", "Moved story", PARAGRAPHS)
    site.put_redirect("/old-home", "/new-home")
    site.put_redirect("/elsewhere", site.url("/new-home"), status=308)
    r = client.get(site.url("/old-home"))
    assert r.status_code == 301 and r.headers["location"] == "/new-home"
    assert client.get(site.url("/old-home"), follow_redirects=True).url == site.url("/new-home")
    r = client.get(site.url("/elsewhere"))
    assert r.status_code == 308 and r.headers["location"] == site.url("/new-home")


def test_slow_waits_before_the_headers(site, client):
    with pytest.raises(httpx.ReadTimeout):
        client.get(site.url("/slow"), timeout=0.1)
    t0 = time.monotonic()
    r = client.get(site.url("/slow"))
    assert time.monotonic() - t0 >= 0.3
    assert r.status_code == 200
    assert trafilatura.bare_extraction(r.text).text.startswith("This page took a long time")


def test_slow_body_trickles_within_any_read_timeout(site, client):
    assert NewsSite().trickle_seconds == 0.5  # the default: 1 byte / 0.5 s
    got = b""
    t0 = time.monotonic()
    # each byte comes well within the read timeout: only a total deadline ends this download
    with client.stream("GET", site.url("/slow-body"), timeout=httpx.Timeout(5, read=0.5)) as r:
        assert time.monotonic() - t0 < 0.5  # the headers come at once
        total = int(r.headers["content-length"])
        for chunk in r.iter_raw():
            got += chunk
            if time.monotonic() - t0 > 0.8:
                break
    assert r.status_code == 200 and total > 1000
    assert 4 <= len(got) <= 12 and b"<!DOCTYPE html>".startswith(got[:15])


def test_image_png(site, client):
    r = client.get(site.url("/image.png"))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    data = r.content
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data.endswith(b"IEND\xaeB`\x82")
    width, height, depth, color = struct.unpack(">IIBB", data[16:26])
    assert (width, height, depth, color) == (1, 1, 8, 2)
    (idat_len,) = struct.unpack(">I", data[33:37])
    assert data[37:41] == b"IDAT" and zlib.decompress(data[41:41 + idat_len]) == b"\x00\x80\x80\x80"


def test_paywall(site, client):
    r = client.get(site.url("/paywall"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "Subscribe to continue reading" in r.text and "Already a subscriber?" in r.text and "Sign in" in r.text
    text = trafilatura.bare_extraction(r.text).text
    assert text.startswith(PAYWALL_TEASER)  # the teaser, then only boilerplate
    assert "Subscribe to continue reading" in text and len(text) < 300


def test_huge_is_50_mb_with_an_honest_length(site, client):
    with client.stream("GET", site.url("/huge")) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert int(r.headers["content-length"]) == HUGE_SIZE == 50 * 1024 * 1024
        first = next(r.iter_raw())
        assert first.startswith(b"<!DOCTYPE html>")
        # a client that stops at its limit just closes the connection; the server copes
    with client.stream("GET", site.url("/huge")) as r:
        size = sum(len(chunk) for chunk in r.iter_raw(1 << 20))
    assert size == HUGE_SIZE
    assert client.get(site.url("/")).status_code == 200  # still serving


def test_not_a_feed(site, client):
    r = client.get(site.url("/not-a-feed.xml"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/xml"
    assert r.content.startswith(b"<?xml")
    parsed = feedparser.parse(io.BytesIO(r.content))
    assert parsed.version == "" and not parsed.entries


# ---------------------------------------------------------------- request log, quiet, stop

def test_request_log(site, client):
    client.get(site.url("/"))
    client.get(site.url("/?page=2"), headers={"X-Probe": "1"})
    client.head(site.url("/nothing"))
    log = site.requests
    assert [(m, p, s) for m, p, _, s in log] == [("GET", "/", 200), ("GET", "/?page=2", 200),
                                                 ("HEAD", "/nothing", 404)]
    assert log[1][2]["x-probe"] == "1" and "host" in log[1][2]
    assert site.count("/") == 2 and site.count("/?page=2") == 1 and site.count("/nothing") == 1
    site.clear_log()
    assert site.requests == [] and site.count("/") == 0


def test_no_output_per_request(site, client, capfd):
    client.get(site.url("/"))
    client.get(site.url("/missing"))
    client.get(site.url("/error500"))
    with client.stream("GET", site.url("/huge")) as r:
        next(r.iter_raw())  # and hang up mid-body
    time.sleep(0.1)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_stop_with_a_slow_request_in_flight():
    site = NewsSite(slow_seconds=30).start()
    base = site.base_url
    keep_alive = httpx.Client(timeout=5)
    assert keep_alive.get(site.url("/")).status_code == 200  # leaves an idle keep-alive connection
    outcome: list[object] = []

    def fetch_slow():
        try:
            outcome.append(httpx.get(site.url("/slow"), timeout=20))
        except httpx.HTTPError as exc:
            outcome.append(exc)

    t = threading.Thread(target=fetch_slow)
    t.start()
    deadline = time.monotonic() + 2
    while site.in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert site.in_flight == 1

    t0 = time.monotonic()
    site.stop()
    assert time.monotonic() - t0 < 2
    t.join(2)
    assert not t.is_alive() and isinstance(outcome[0], httpx.HTTPError)  # dropped, not answered
    method, path, _, status = site.requests[-1]
    assert (method, path, status) == ("GET", "/slow", 0)  # logged with 0: no status was ever sent
    with pytest.raises(httpx.ConnectError):
        httpx.get(base + "/", timeout=1)
    keep_alive.close()
    site.stop()  # a second stop is harmless


def test_restart_and_context_manager():
    with NewsSite(slow_seconds=0.1) as site:
        first = site.base_url
        assert httpx.get(site.url("/image.png")).status_code == 200
    site.start()
    try:
        assert site.base_url.startswith("http://127.0.0.1:")
        assert httpx.get(site.url("/image.png")).status_code == 200
    finally:
        site.stop()
    assert first.startswith("http://127.0.0.1:")

