"""A local "news site" for tests and benchmarks of URL and feed ingestion (`qa ingest https://...`,
`qa watch FEED`): real HTTP on 127.0.0.1 (a free port), stdlib only, served from a daemon thread.

    with NewsSite(slow_seconds=0.5) as site:
        url = site.put_article("/news/1", "Title", ["First paragraph.", "Second."], author="Jane Doe",
                               published="2024-05-01")
        site.set_feed("/feed.xml", [FeedItem("id-1", url, "Title", "2024-05-01")])
        ...  # fetch site.url("/feed.xml"); later site.set_feed(...) again to publish a new item
        assert site.count("/news/1") == 1

Every page and feed (status 200) carries a strong `ETag` (a hash of the body) and a `Last-Modified` (when it
was last put/set); a matching `If-None-Match`, or an `If-Modified-Since` not older than `Last-Modified`, gets
`304 Not Modified` without a body (If-None-Match wins when both are sent, as RFC 9110 says).

Built-in routes (each can be replaced with put_* or dropped with remove()):
    /                   a small home page
    /loop/a, /loop/b    302 to each other: a redirect loop
    /redirect/<n>       a 302 chain of n hops (n >= 1): /redirect/n -> /redirect/n-1 ... /redirect/1 -> /
    /error500           500 with an HTML error page
    /slow               waits `slow_seconds` before sending anything, then an article page
    /slow-body          sends the headers (with Content-Length) at once, then the body 1 byte / 0.5 s
    /image.png          a real 1x1 PNG, image/png
    /paywall            an article page holding only a teaser sentence and subscribe/sign-in boilerplate
    /huge               50 MB of text/html with Content-Length, generated while it is sent (never in memory)
    /not-a-feed.xml     application/xml that is neither RSS nor Atom
    anything else       404
"""
from __future__ import annotations

import hashlib
import html
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import urlsplit
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

__all__ = ["HUGE_SIZE", "PAYWALL_TEASER", "FeedItem", "NewsSite", "article_html", "feed_xml", "png_bytes"]

HUGE_SIZE = 50 * 1024 * 1024
PAYWALL_TEASER = "The city council met behind closed doors on Tuesday to decide the future of the old harbour."
_CHUNK = 64 * 1024


# ---------------------------------------------------------------- page builders

def article_html(title: str, paragraphs: list[str], *, author: str | None = None, published: str | None = None,
                 canonical: str | None = None, site_name: str | None = None) -> str:
    """A realistic news article page: metadata in <head> (title, og:title, author, article:published_time,
    og:site_name, canonical link), then a nav menu, a site header, the headline block (h1, byline), the
    <article> (the paragraphs), an aside of related stories and a footer with copyright/cookie text. All text
    is HTML-escaped.

    trafilatura.bare_extraction(..., with_metadata=True) gives exactly `paragraphs` (joined by "\n") as the
    text, `title` as the title, and author, date, url (= canonical) and sitename when given, provided the
    paragraphs hold at least ~100 characters: below that trafilatura's baseline rescue dumps the whole
    page (nav, footer and all). The h1 and byline sit in a <header> just before <article>, not inside it:
    inside, trafilatura keeps the headline (and for short texts the byline) as the first line of text."""
    e = html.escape
    site = site_name or "Test News"
    head = [
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)} | {e(site)}</title>",
        f'<meta property="og:title" content="{e(title)}">',
        '<meta property="og:type" content="article">',
    ]
    if site_name:
        head.append(f'<meta property="og:site_name" content="{e(site_name)}">')
    if author:
        head.append(f'<meta name="author" content="{e(author)}">')
    if published:
        head.append(f'<meta property="article:published_time" content="{e(published)}">')
    if canonical:
        head.append(f'<link rel="canonical" href="{e(canonical)}">')
        head.append(f'<meta property="og:url" content="{e(canonical)}">')
    byline = []
    if author:
        byline.append(f'By <span class="author">{e(author)}</span>')
    if published:
        byline.append(f'<time datetime="{e(published)}">{e(published[:10])}</time>')
    body_paragraphs = "\n".join(f"<p>{e(p)}</p>" for p in paragraphs)
    byline_html = f'<p class="byline">{" | ".join(byline)}</p>\n' if byline else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
{chr(10).join(head)}
</head>
<body>
<nav class="menu"><ul>
<li><a href="/">Home</a></li><li><a href="/world">World</a></li><li><a href="/business">Business</a></li>
<li><a href="/science">Science</a></li><li><a href="/sport">Sport</a></li>
</ul></nav>
<header class="site-header"><a class="logo" href="/">{e(site)}</a></header>
<main>
<header class="article-header">
<h1>{e(title)}</h1>
{byline_html}</header>
<article>
{body_paragraphs}
</article>
<aside class="related">
<h2>Related stories</h2>
<ul>
<li><a href="/news/markets-rally">Markets rally after the central bank holds rates</a></li>
<li><a href="/news/storm-warning">Storm warning issued for the coast this weekend</a></li>
<li><a href="/news/election-count">Election count enters its third day</a></li>
</ul>
</aside>
</main>
<footer class="site-footer">
<p>&copy; 2024 {e(site)}. All rights reserved.</p>
<p>We use cookies to improve your experience. By continuing to browse you agree to our cookie policy.</p>
<p><a href="/privacy">Privacy</a> <a href="/terms">Terms of use</a> <a href="/contact">Contact us</a></p>
</footer>
</body>
</html>
"""


def paywall_html() -> str:
    """An article page whose body is a single teaser sentence plus the subscribe/sign-in boilerplate."""
    page = article_html("Harbour redevelopment plan revealed", [PAYWALL_TEASER], author="Sam Reporter",
                        published="2024-03-05")
    wall = ('<div class="paywall">\n<p class="paywall-title">Subscribe to continue reading</p>\n'
            '<p>Get unlimited access to all our journalism for just $1 a week.</p>\n'
            '<p><a class="button" href="/subscribe">Subscribe now</a></p>\n'
            '<p>Already a subscriber? <a href="/login">Sign in</a></p>\n</div>\n</article>')
    return page.replace("</article>", wall, 1)


@dataclass
class FeedItem:
    guid: str
    link: str
    title: str
    published: str  # ISO date ("2024-05-01") or datetime ("2024-05-01T08:30:00Z"); naive means UTC
    summary: str = ""


def _parse_iso(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = datetime.combine(date.fromisoformat(value), datetime.min.time())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def feed_xml(items: list[FeedItem], *, title: str = "Test News", link: str = "https://news.example.com/",
             kind: str = "rss", self_url: str | None = None) -> str:
    """RSS 2.0 (`kind="rss"`) or Atom (`kind="atom"`): per item the guid/id, link, title, pubDate
    (RFC 822) or published/updated (RFC 3339), and a short description/summary (never the full text)."""
    dates = [_parse_iso(i.published) for i in items]
    newest = max(dates, default=datetime(2024, 1, 1, tzinfo=UTC))
    x = xml_escape
    if kind == "rss":
        out = ['<?xml version="1.0" encoding="UTF-8"?>',
               '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">', "<channel>",
               f"<title>{x(title)}</title>", f"<link>{x(link)}</link>",
               f"<description>Latest stories from {x(title)}</description>", "<language>en</language>",
               f"<lastBuildDate>{format_datetime(newest.astimezone(UTC), usegmt=True)}</lastBuildDate>"]
        if self_url:
            out.append(f'<atom:link href={quoteattr(self_url)} rel="self" type="application/rss+xml"/>')
        for item, moment in zip(items, dates):
            permalink = "true" if item.guid == item.link else "false"
            out += ["<item>", f"<title>{x(item.title)}</title>", f"<link>{x(item.link)}</link>",
                    f'<guid isPermaLink="{permalink}">{x(item.guid)}</guid>',
                    f"<pubDate>{format_datetime(moment.astimezone(UTC), usegmt=True)}</pubDate>",
                    f"<description>{x(item.summary)}</description>", "</item>"]
        out += ["</channel>", "</rss>", ""]
    elif kind == "atom":
        def stamp(moment: datetime) -> str:
            return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

        out = ['<?xml version="1.0" encoding="UTF-8"?>', '<feed xmlns="http://www.w3.org/2005/Atom">',
               f"<title>{x(title)}</title>", f"<id>{x(self_url or link)}</id>",
               f'<link rel="alternate" href={quoteattr(link)}/>', f"<updated>{stamp(newest)}</updated>"]
        if self_url:
            out.append(f'<link rel="self" href={quoteattr(self_url)}/>')
        for item, moment in zip(items, dates):
            out += ["<entry>", f"<id>{x(item.guid)}</id>", f"<title>{x(item.title)}</title>",
                    f'<link rel="alternate" href={quoteattr(item.link)}/>',
                    f"<published>{stamp(moment)}</published>", f"<updated>{stamp(moment)}</updated>",
                    f"<summary>{x(item.summary)}</summary>", "</entry>"]
        out += ["</feed>", ""]
    else:
        raise ValueError(f"kind must be 'rss' or 'atom', not {kind!r}")
    return "\n".join(out)


def png_bytes(width: int = 1, height: int = 1) -> bytes:
    """A real (decodable) PNG: an opaque grey RGB image."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    rows = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


NOT_A_FEED = ('<?xml version="1.0" encoding="UTF-8"?>\n<catalog>\n<book id="1"><title>Not a feed</title>'
              "<price>9.99</price></book>\n</catalog>\n")


# ---------------------------------------------------------------- the server

@dataclass
class _Page:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict = field(default_factory=dict)
    mode: str = "static"  # static | slow (delay before headers) | trickle (body byte by byte) | huge
    delay: float = 0.0  # slow: seconds before the headers; trickle: seconds between bytes
    size: int = 0  # huge: the body's length
    etag: str = ""
    modified: int = 0  # Last-Modified, whole seconds since the epoch


class NewsSite:
    """The site: pages and feeds kept in memory (replaceable at any time, thread-safe), served over HTTP/1.1.

    `requests` is a snapshot of the log: (method, path as requested with its query, headers with lower-case
    names, status sent; 0 when the connection was dropped before a status, e.g. stop() during /slow)."""

    def __init__(self, slow_seconds: float = 5.0, *, trickle_seconds: float = 0.5) -> None:
        self.slow_seconds = slow_seconds
        self.trickle_seconds = trickle_seconds
        self._lock = threading.Lock()
        self._pages: dict[str, _Page] = {}
        self._log: list[tuple[str, str, dict, int]] = []
        self._clock = 0
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._handlers: set[threading.Thread] = set()
        self._in_flight = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""
        self._install_builtins()

    # ------------------------------------------------ lifecycle

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        server.daemon_threads = True
        server.block_on_close = False  # stop() joins the handlers itself, with a time limit
        self._server = server
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="news-site", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop serving: in-flight requests (/slow, /slow-body, /huge) are abandoned, their connections and
        idle keep-alive ones closed, the handler threads joined (up to `timeout`), the socket closed."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with self._lock:
            conns, handlers = list(self._conns), list(self._handlers)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for t in [thread, *handlers]:
            if t is not None and t is not threading.current_thread():
                t.join(max(0.0, deadline - time.monotonic()))
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # ------------------------------------------------ content

    def _store(self, path: str, page: _Page, tag_source: bytes | None = None) -> None:
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        source = page.body if tag_source is None else tag_source
        page.etag = '"' + hashlib.sha256(source).hexdigest()[:32] + '"'
        with self._lock:
            # Last-Modified has whole-second resolution: every change moves it on by at least a second (so it
            # can run a little ahead of the clock), or two changes within a second would share one.
            self._clock = max(int(time.time()), self._clock + 1)
            page.modified = self._clock
            self._pages[path] = page

    def put_page(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8",
                 status: int = 200, headers: dict | None = None) -> str:
        """Serve `body` at `path` (replacing what was there); returns the page's URL."""
        data = body.encode() if isinstance(body, str) else bytes(body)
        self._store(path, _Page(data, content_type, status, dict(headers or {})))
        return self.url(path)

    def put_article(self, path: str, title: str, paragraphs: list[str], **meta) -> str:
        """An article_html page at `path` (meta: author, published, canonical, site_name); returns its URL."""
        return self.put_page(path, article_html(title, paragraphs, **meta))

    def put_redirect(self, path: str, target: str, status: int = 301) -> str:
        """`path` answers `status` with `Location: target` (sent as given: relative or absolute)."""
        body = f'<html><body>Moved to <a href="{html.escape(target)}">{html.escape(target)}</a></body></html>'
        return self.put_page(path, body, status=status, headers={"Location": target})

    def put_slow(self, path: str, body: str | bytes, delay: float | None = None,
                 content_type: str = "text/html; charset=utf-8") -> str:
        """Like put_page, but nothing is sent for `delay` seconds (default: slow_seconds)."""
        data = body.encode() if isinstance(body, str) else bytes(body)
        self._store(path, _Page(data, content_type, mode="slow",
                                delay=self.slow_seconds if delay is None else delay))
        return self.url(path)

    def put_trickle(self, path: str, body: str | bytes, interval: float | None = None,
                    content_type: str = "text/html; charset=utf-8") -> str:
        """Headers (with the full Content-Length) at once, then the body one byte every `interval` seconds."""
        data = body.encode() if isinstance(body, str) else bytes(body)
        self._store(path, _Page(data, content_type, mode="trickle",
                                delay=self.trickle_seconds if interval is None else interval))
        return self.url(path)

    def put_huge(self, path: str, size: int = HUGE_SIZE) -> str:
        """`size` bytes of text/html (with Content-Length), generated while being sent."""
        self._store(path, _Page(mode="huge", size=size), tag_source=f"huge:{size}".encode())
        return self.url(path)

    def set_feed(self, path: str, items: list[FeedItem], kind: str = "rss", *, title: str = "Test News") -> str:
        """Publish (or replace) the feed at `path`; returns its URL."""
        ctype = "application/rss+xml; charset=utf-8" if kind == "rss" else "application/atom+xml; charset=utf-8"
        xml = feed_xml(items, title=title, link=self.url("/"), kind=kind, self_url=self.url(path))
        return self.put_page(path, xml, content_type=ctype)

    def remove(self, path: str) -> None:
        """`path` answers 404 from now on (built-in routes too)."""
        with self._lock:
            self._pages.pop(path, None)

    def etag(self, path: str) -> str | None:
        with self._lock:
            page = self._pages.get(path)
        return page.etag if page else None

    def last_modified(self, path: str) -> str | None:
        with self._lock:
            page = self._pages.get(path)
        return _http_date(page.modified) if page else None

    # ------------------------------------------------ request log

    @property
    def requests(self) -> list[tuple[str, str, dict, int]]:
        with self._lock:
            return list(self._log)

    def count(self, path: str) -> int:
        """How many requests hit `path` (compared without the query string unless `path` has one)."""
        def key(target: str) -> str:
            return target if "?" in path else urlsplit(target).path
        return sum(1 for _, target, _, _ in self.requests if key(target) == path)

    @property
    def in_flight(self) -> int:
        """How many requests are being answered right now (e.g. waiting in /slow)."""
        with self._lock:
            return self._in_flight

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def _record(self, method: str, target: str, headers: dict, status: int) -> None:
        with self._lock:
            self._log.append((method, target, headers, status))

    # ------------------------------------------------ built-ins

    def _install_builtins(self) -> None:
        self.put_page("/", article_html("Test News", [
            "This is the front page of the local test news site, which serves articles and feeds to tests.",
            "Nothing here is real news: every story is made up for the tests that fetch it."], site_name="Test News"))
        self.put_redirect("/loop/a", "/loop/b", 302)
        self.put_redirect("/loop/b", "/loop/a", 302)
        self.put_page("/error500", "<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head>"
                      "<body><h1>Internal Server Error</h1><p>Something went wrong.</p></body></html>",
                      status=500)
        slow = article_html("A slow story", [
            "This page took a long time to start answering: the server waited before sending any header.",
            "A client without a connect or read timeout would hang here for as long as the server likes."],
            author="Sloane Slow", published="2024-02-02")
        self.put_slow("/slow", slow)
        trickle = article_html("A trickling story", [
            "This page arrives one byte at a time, each byte well within any read timeout of a second or more.",
            "Only a deadline on the whole download stops a client from spending an hour on it."])
        self.put_trickle("/slow-body", trickle)
        self.put_page("/image.png", png_bytes(), content_type="image/png")
        self.put_page("/paywall", paywall_html())
        self.put_huge("/huge")
        self.put_page("/not-a-feed.xml", NOT_A_FEED, content_type="application/xml")

    def _lookup(self, target: str) -> _Page | None:
        path = urlsplit(target).path
        with self._lock:
            page = self._pages.get(target) or self._pages.get(path)
        if page is None and path.startswith("/redirect/") and path[len("/redirect/"):].isdigit():
            n = int(path[len("/redirect/"):])
            if n >= 1:
                page = _Page(b"", status=302, headers={"Location": "/" if n == 1 else f"/redirect/{n - 1}"})
        return page


def _http_date(seconds: int) -> str:
    return format_datetime(datetime.fromtimestamp(seconds, UTC), usegmt=True)


def _not_modified(page: _Page, headers) -> bool:
    inm = headers.get("If-None-Match")
    if inm is not None:  # If-None-Match wins; weak comparison, as RFC 9110 asks for GET/HEAD
        tags = [t.strip() for t in inm.split(",")]
        return "*" in tags or any(t.removeprefix("W/") == page.etag for t in tags)
    ims = headers.get("If-Modified-Since")
    if ims is not None:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return since.timestamp() >= page.modified
    return False


def _make_handler(site: NewsSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are separate writes: Nagle + delayed ACK = 40 ms each
        server_version = "TestNews/1.0"
        sys_version = ""

        def log_message(self, *args) -> None:  # no stderr line per request; the site keeps its own log
            pass

        def setup(self) -> None:
            super().setup()
            with site._lock:
                site._conns.add(self.connection)
                site._handlers.add(threading.current_thread())

        def finish(self) -> None:
            try:
                super().finish()
            except OSError:
                pass
            finally:
                with site._lock:
                    site._conns.discard(self.connection)
                    site._handlers.discard(threading.current_thread())

        def handle_one_request(self) -> None:
            try:
                super().handle_one_request()
            except (ConnectionError, TimeoutError, OSError):  # the client went away (or stop() closed it)
                self.close_connection = True

        def do_GET(self) -> None:
            self._serve(body=True)

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def _serve(self, body: bool) -> None:
            with site._lock:
                site._in_flight += 1
            try:
                self._respond(body)
            finally:
                with site._lock:
                    site._in_flight -= 1

        def _respond(self, body: bool) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            page = site._lookup(self.path)
            if page is None:
                data = (b"<!DOCTYPE html><html><head><title>404 Not Found</title></head>"
                        b"<body><h1>Not Found</h1></body></html>")
                page = _Page(data, status=404)
            if page.mode == "slow" and site._stopping.wait(page.delay):
                site._record(self.command, self.path, headers, 0)
                self.close_connection = True
                return
            status = page.status
            validators = status == 200
            if validators and _not_modified(page, self.headers):
                status = 304
            site._record(self.command, self.path, headers, status)
            self.send_response(status)
            if validators:
                self.send_header("ETag", page.etag)
                self.send_header("Last-Modified", _http_date(page.modified))
            for name, value in page.headers.items():
                self.send_header(name, value)
            if status == 304:
                self.end_headers()
                return
            length = page.size if page.mode == "huge" else len(page.body)
            self.send_header("Content-Type", page.content_type)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            if not body:
                return
            if page.mode == "trickle":
                for i in range(len(page.body)):
                    if i and site._stopping.wait(page.delay):
                        self.close_connection = True
                        return
                    self.wfile.write(page.body[i:i + 1])
                    self.wfile.flush()
            elif page.mode == "huge":
                self._send_huge(page.size)
            else:
                self.wfile.write(page.body)

        def _send_huge(self, size: int) -> None:
            head = b"<!DOCTYPE html><html><head><title>Huge</title></head><body>\n"
            tail = b"\n</body></html>\n"
            line = b"<p>" + b"All work and no play makes a very large page. " * 20 + b"</p>\n"
            block = line * (_CHUNK // len(line))  # whole paragraphs; only the last piece is cut short
            if size < len(head) + len(tail):
                self.wfile.write((head + tail)[:size])
                return
            self.wfile.write(head)
            left = size - len(head) - len(tail)
            while left > 0:
                if site._stopping.is_set():
                    self.close_connection = True
                    return
                piece = block[:left]
                self.wfile.write(piece)
                left -= len(piece)
            self.wfile.write(tail)

    return Handler
