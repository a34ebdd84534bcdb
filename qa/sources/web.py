"""Fetching what a user named by URL: article pages, feeds, PDFs and text files over HTTP(S).

Bounded in every way a server can misbehave: a total deadline per response (a server that trickles its
body cannot hold a poll for ever), a size limit read as the body streams, at most `max_redirects` hops,
each checked (http and https only; a loop is named as one). Conditional requests (ETag, Last-Modified)
make an unchanged feed cost one 304. Every failure is a `FetchError` naming the URL and the reason."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

from qa.sources.articles import (
    MAX_HTML_BYTES,
    ArticleError,
    FeedEntry,
    _parse_html,
    _valid_unicode,
    feed_entries,
    is_url,  # noqa: F401  (qa.sources.web.is_url: where URLs are fetched)
    load_file,
    looks_like_feed,
)
from qa.schema import Article

USER_AGENT = "article-qa/0.1 (news question answering; fetches only URLs its user named)"
ACCEPT = ("text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,application/xml;q=0.9,"
          "text/xml;q=0.9,application/pdf;q=0.8,text/plain;q=0.7,*/*;q=0.1")

HTML_TYPES = {"text/html", "application/xhtml+xml"}
FEED_TYPES = {"application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json"}
XML_TYPES = {"application/xml", "text/xml"}
PDF_TYPES = {"application/pdf"}
TEXT_TYPES = {"text/plain", "text/markdown"}

# A page whose extracted text is this short and whose markup asks the reader to subscribe or sign in is a
# paywall's teaser, not the article: storing it would answer questions from a sentence of the story.
PAYWALL_MAX_WORDS = 150
_PAYWALL = re.compile(
    r"subscribe (now )?to (continue|keep) reading|subscribe to read|to continue reading,? (please )?"
    r"(subscribe|sign in|log in)|already a subscriber|subscribers? only|for subscribers|"
    r"(sign|log) in to (continue|read)|create a free account to (continue|read)|"
    r"reached your (limit|maximum) of free articles|this (article|story) is (reserved )?for (paying )?subscribers",
    re.IGNORECASE,
)


class FetchError(ArticleError):
    """A URL that could not be fetched or read: the message names the URL and the reason."""


@dataclass(frozen=True)
class Response:
    url: str  # as requested
    final_url: str  # after redirects
    status: int
    content_type: str  # media type only, lower case ("text/html")
    body: bytes
    etag: str | None
    last_modified: str | None
    charset: str | None = None  # as the Content-Type header declares it

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def is_feed(self) -> bool:
        return self.content_type in FEED_TYPES or (
            self.content_type in XML_TYPES | {"text/html", ""} and looks_like_feed(self.body))


class Fetcher:
    """One HTTP client for a run (connections are reused); `timeout` bounds each response as a whole."""

    def __init__(self, timeout: float = 20.0, max_bytes: int = MAX_HTML_BYTES, max_redirects: int = 5,
                 user_agent: str = USER_AGENT):
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self._client = httpx.Client(
            follow_redirects=False,  # followed here, hop by hop, so that each is checked and a loop is named
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"User-Agent": user_agent, "Accept": ACCEPT},
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "Fetcher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Response:
        """GET `url`, following redirects; a 304 when the validators still match. FetchError otherwise."""
        url = check_url(url)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        deadline = time.monotonic() + self.timeout
        chain = [url]
        current = url
        while True:
            response = self._one(url, current, headers, deadline)
            if isinstance(response, Response):
                return response
            target = urljoin(current, response)
            if urlsplit(target).scheme.lower() not in ("http", "https"):
                raise FetchError(url, f"redirected to a URL that is not http(s): {target[:200]}")
            if target in chain:
                hops = " → ".join(chain[chain.index(target):] + [target])
                raise FetchError(url, f"redirect loop ({hops[:400]})")
            if len(chain) > self.max_redirects:
                raise FetchError(url, f"too many redirects (more than {self.max_redirects}; last {target[:200]})")
            chain.append(target)
            current = target

    def _one(self, url: str, current: str, headers: dict, deadline: float) -> Response | str:
        """One request: the Response, or the Location of a redirect."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(url, f"timed out after {self.timeout:g} s")
        try:
            request = self._client.build_request("GET", current, headers=headers,
                                                 timeout=httpx.Timeout(remaining, connect=min(remaining, 10.0)))
            response = self._client.send(request, stream=True)
        except httpx.TimeoutException:
            raise FetchError(url, f"timed out after {self.timeout:g} s (no response from {_host(current)})") from None
        except httpx.ConnectError as exc:
            raise FetchError(url, f"cannot connect to {_host(current)} ({_reason(exc)})") from None
        except httpx.HTTPError as exc:
            raise FetchError(url, f"request failed ({_reason(exc)})") from None
        try:
            if response.is_redirect and "location" in response.headers:
                return response.headers["location"]
            if response.status_code == 304:
                return self._response(url, current, response, b"")
            if response.status_code >= 400:
                raise FetchError(url, f"HTTP {response.status_code} {response.reason_phrase}".rstrip())
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > self.max_bytes:
                raise FetchError(url, f"too large ({int(length) / 1e6:.1f} MB; at most {self.max_bytes / 1e6:.0f} MB)")
            body = bytearray()
            try:
                for block in response.iter_bytes():
                    body += block
                    if len(body) > self.max_bytes:
                        raise FetchError(url, f"too large (more than {self.max_bytes / 1e6:.0f} MB)")
                    if time.monotonic() > deadline:
                        raise FetchError(url, f"timed out after {self.timeout:g} s (the body came too slowly)")
            except httpx.TimeoutException:
                raise FetchError(url, f"timed out after {self.timeout:g} s (the body came too slowly)") from None
            except httpx.HTTPError as exc:
                raise FetchError(url, f"the response broke off ({_reason(exc)})") from None
            return self._response(url, current, response, bytes(body))
        finally:
            response.close()

    @staticmethod
    def _response(url: str, final: str, response: httpx.Response, body: bytes) -> Response:
        header = response.headers.get("content-type", "")
        media = header.split(";")[0].strip().lower()
        charset = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", header, re.IGNORECASE)
        return Response(url, final, response.status_code, media, body, response.headers.get("etag"),
                        response.headers.get("last-modified"), charset.group(1) if charset else None)


def check_url(url: str) -> str:
    """The URL, stripped, if it is an absolute http(s) URL with a host; FetchError otherwise."""
    text = url.strip() if isinstance(url, str) else ""
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise FetchError(url, f"not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError(url, f"unsupported URL scheme '{parts.scheme}' (http and https only)")
    if not parts.hostname:
        raise FetchError(url, "the URL has no host")
    if any(c.isspace() or ord(c) < 32 for c in text):
        raise FetchError(url, "the URL contains spaces or control characters")
    return text


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:200]


# ---------------------------------------------------------------- reading what was fetched

def page_article(response: Response) -> Article:
    """The article a fetched page holds. HTML goes through trafilatura (main text, title, author, date,
    canonical URL, site name); a PDF or text file is read as the file would be. FetchError for anything
    else, for a page with no article text and for a paywall's teaser."""
    url, kind = response.url, response.content_type
    if kind in HTML_TYPES or (not kind and response.body.lstrip()[:1] == b"<"):
        text = _decode_html(response)
        try:
            article = _valid_unicode(_parse_html(url, text, len(response.body), url=response.final_url))
        except ArticleError as exc:
            raise FetchError(url, exc.reason) from None
        words = len(article.text.split())
        if words < PAYWALL_MAX_WORDS and (match := _PAYWALL.search(text)):
            raise FetchError(url, f"a paywall's teaser, not the article ({words} words of text; the page says "
                                  f"'{match.group(0)}'): not stored")
        return article
    if kind in PDF_TYPES or kind in TEXT_TYPES:
        suffix = ".pdf" if kind in PDF_TYPES else ".md" if kind == "text/markdown" else ".txt"
        try:
            parsed = load_file(Path("page" + suffix), response.body)
        except ArticleError as exc:
            raise FetchError(url, exc.reason) from None
        return _replace_source(parsed.articles[0], url, response.final_url)
    shown = kind or "none given"
    raise FetchError(url, f"not an article page or a feed (content type {shown})")


def feed_items(response: Response) -> list[FeedEntry]:
    try:
        return feed_entries(response.url, response.body, base_url=response.final_url)
    except ArticleError as exc:
        raise FetchError(response.url, exc.reason) from None


def _replace_source(article: Article, url: str, final_url: str) -> Article:
    import dataclasses

    return dataclasses.replace(article, source=url, url=article.url or final_url)


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def _decode_html(response: Response) -> str:
    """The page's text: the charset the server declares, else the page's <meta charset>, else UTF-8
    (with replacement characters for bytes that are not)."""
    match = _META_CHARSET.search(response.body[:4096])
    for encoding in (response.charset, match.group(1).decode("ascii", "ignore") if match else None, "utf-8"):
        if not encoding:
            continue
        try:
            return response.body.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    return response.body.decode("utf-8", "replace")
