"""Read article files (.txt .md .html .pdf .jsonl RSS/Atom) into `Article`s, with clear per-file errors."""
from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterable, Iterator

from qa.schema import Article

TEXT_EXTENSIONS = {".txt", ".text"}
MARKDOWN_EXTENSIONS = {".md", ".markdown"}
HTML_EXTENSIONS = {".html", ".htm"}
FEED_EXTENSIONS = {".rss", ".atom", ".xml"}
SUPPORTED_EXTENSIONS = TEXT_EXTENSIONS | MARKDOWN_EXTENSIONS | HTML_EXTENSIONS | FEED_EXTENSIONS | {".pdf", ".jsonl"}


class ArticleError(Exception):
    """A file (or a line of it) that cannot be read as an article; the message names the file and the reason."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass
class ParsedFile:
    path: Path
    articles: list[Article]
    errors: list[ArticleError] = field(default_factory=list)  # partial failures (e.g. one bad JSONL line)


@dataclass
class Discovery:
    files: list[Path]
    skipped: list[Path]  # found while walking a folder, of a type we do not read
    errors: list[ArticleError]


def discover(paths: Iterable[Path | str]) -> Discovery:
    """Expand folders recursively. Unknown types named explicitly are errors; found in folders, skipped."""
    files: list[Path] = []
    skipped: list[Path] = []
    errors: list[ArticleError] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            files.append(resolved)

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if not child.is_file() or any(part.startswith(".") for part in child.relative_to(path).parts):
                    continue
                if child.suffix.lower() in SUPPORTED_EXTENSIONS:
                    add(child)
                else:
                    skipped.append(child)
        elif path.is_file():
            if path.suffix.lower() in SUPPORTED_EXTENSIONS:
                add(path)
            else:
                errors.append(ArticleError(path, _unsupported(path)))
        else:
            errors.append(ArticleError(path, "no such file or folder"))
    return Discovery(files, skipped, errors)


def _unsupported(path: Path) -> str:
    kinds = ", ".join(sorted(SUPPORTED_EXTENSIONS))
    return f"unsupported file type '{path.suffix or '(none)'}' (supported: {kinds})"


def load_file(path: Path, data: bytes | None = None) -> ParsedFile:
    """Parse one file. Raises ArticleError when nothing in it can be used."""
    path = Path(path)
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ArticleError(path, f"cannot read file ({exc.strerror or exc})") from exc
    suffix = path.suffix.lower()
    if not data.strip():
        raise ArticleError(path, "empty file")
    if suffix == ".pdf":
        return ParsedFile(path, [_parse_pdf(path, data)])
    text = decode_text(path, data)
    if suffix in TEXT_EXTENSIONS:
        return ParsedFile(path, [parse_plain_text(text, source=str(path))])
    if suffix in MARKDOWN_EXTENSIONS:
        return ParsedFile(path, [parse_plain_text(text, source=str(path), markdown=True)])
    if suffix in HTML_EXTENSIONS:
        return ParsedFile(path, [_parse_html(path, text)])
    if suffix == ".jsonl":
        return _parse_jsonl(path, text)
    if suffix in FEED_EXTENSIONS:
        return ParsedFile(path, _parse_feed(path, data))
    raise ArticleError(path, _unsupported(path))


def decode_text(path: Path, data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise ArticleError(path, "binary file (contains NUL bytes), not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ArticleError(path, f"invalid UTF-8 at byte {exc.start}") from exc
    if not text.strip():
        raise ArticleError(path, "empty file (only whitespace)")
    return text


# ---------------------------------------------------------------- plain text and markdown

_DATE_MARKER = re.compile(r"\A\s*date[:\s]\s*(\d{4}-\d{2}-\d{2})\b[ \t]*", re.IGNORECASE)
_HEADER_LINE = re.compile(r"^(title|date|published|author|by|url|source)\s*:\s*(.+?)\s*$", re.IGNORECASE)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", re.DOTALL)
# Photo captions and credits: "Photo by X", "(Photo: Reuters)", "Credit: AP", "Getty Images", "©".
_CAPTION = re.compile(
    r"\b(photo(graph)?s?|image|picture|illustration)\s*(by|:|credit|courtesy)"
    r"|\bcredit\s*:|\bcourtesy of\b|©|\((AP|AFP|Reuters|EPA|Getty)[^)]*\)"
    r"|\b(Getty Images|Shutterstock|Reuters/|AP Photo|AFP via)\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?:;\"”’)]\s*$")


def parse_plain_text(text: str, source: str | None = None, markdown: bool = False) -> Article:
    """Metadata carried inline: front matter, `Title:`/`Date:` header lines, a leading ` date YYYY-MM-DD`
    marker, a title line, a photo-caption line. What cannot be parsed stays None."""
    meta: dict[str, str] = {}
    offset = 0
    if markdown and (match := _FRONT_MATTER.match(text)):
        for line in match.group(1).splitlines():
            key, _, value = line.partition(":")
            if value.strip():
                meta[key.strip().lower()] = value.strip().strip("\"'")
        offset = match.end()

    # `Key: value` header lines at the very top.
    while True:
        line_end = text.find("\n", offset)
        line = text[offset : line_end if line_end >= 0 else len(text)]
        match = _HEADER_LINE.match(line.strip())
        if not match or line_end < 0:
            break
        meta.setdefault(match.group(1).lower(), match.group(2))
        offset = line_end + 1

    if match := _DATE_MARKER.match(text, offset):
        meta.setdefault("date", match.group(1))
        offset = match.end()

    title = meta.get("title")
    offset = _skip_blank(text, offset)
    if title is None:
        title, offset = _take_title_line(text, offset, markdown)

    caption = None
    offset = _skip_blank(text, offset)
    line_end = text.find("\n", offset)
    if line_end > offset:
        line = text[offset:line_end].strip()
        if len(line) <= 300 and _CAPTION.search(line):
            caption = line
            offset = _skip_blank(text, line_end)

    body = text[offset:].rstrip()
    if not body.strip():
        body, caption = caption or "", None
    published = normalize_date(meta.get("date") or meta.get("published"))
    return Article(
        text=body,
        title=title,
        published=published,
        source=source,
        url=meta.get("url"),
        author=meta.get("author") or meta.get("by"),
        caption=caption,
        external_id=meta.get("id"),
    )


def _skip_blank(text: str, offset: int) -> int:
    while offset < len(text) and text[offset] in " \t\r\n":
        offset += 1
    return offset


def _take_title_line(text: str, offset: int, markdown: bool) -> tuple[str | None, int]:
    line_end = text.find("\n", offset)
    if line_end < 0:
        return None, offset
    line = text[offset:line_end].strip()
    if markdown and line.startswith("#"):
        return line.lstrip("#").strip() or None, line_end + 1
    rest = text[line_end:].strip()
    looks_like_title = (
        0 < len(line) <= 200 and len(line.split()) <= 25 and not _SENTENCE_END.search(line) and bool(rest)
    )
    return (line, line_end + 1) if looks_like_title else (None, offset)


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%b %d %Y")


def normalize_date(value: object) -> str | None:
    """ISO date (YYYY-MM-DD) of an explicit date value, or None when it cannot be read unambiguously."""
    if value is None:
        return None
    if isinstance(value, (datetime, date)):
        return value.strftime("%Y-%m-%d")
    raw = str(value).strip()
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).strftime("%Y-%m-%d")
    except ValueError:
        pass
    cleaned = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", raw.split("T")[0]).strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).strftime("%Y-%m-%d")
        except ValueError:
            continue
    try:  # RFC 822 dates, as in RSS
        from email.utils import parsedate_to_datetime

        return parsedate_to_datetime(raw).strftime("%Y-%m-%d")
    except (TypeError, ValueError, IndexError):
        return None


# ---------------------------------------------------------------- HTML

def _parse_html(path: Path, text: str) -> Article:
    import trafilatura

    doc = trafilatura.bare_extraction(
        text,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    body = (getattr(doc, "text", None) or "").strip() if doc is not None else ""
    if not body:
        raise ArticleError(path, "no article text found in the HTML")
    # trafilatura puts one paragraph per line; blank lines keep paragraphs visible to the chunker.
    body = re.sub(r"\n+", "\n\n", body)
    return Article(
        text=body,
        title=(doc.title or None),
        published=normalize_date(doc.date),
        source=str(path),
        url=doc.url or None,
        author=doc.author or None,
    )


class _TextFromHTML(HTMLParser):
    BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "section"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_fragment_to_text(fragment: str) -> str:
    parser = _TextFromHTML()
    parser.feed(fragment)
    text = "".join(parser.parts)
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"\s*\n\s*\n\s*", "\n\n", text).strip()


# ---------------------------------------------------------------- PDF

def _parse_pdf(path: Path, data: bytes) -> Article:
    import io
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ArticleError(path, "encrypted PDF")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
    except ArticleError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ArticleError(path, f"broken PDF ({exc})") from exc
    except Exception as exc:  # pypdf raises many types on corrupt input; one bad file must not stop a batch
        raise ArticleError(path, f"broken PDF ({type(exc).__name__}: {exc})") from exc
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise ArticleError(path, "PDF has no extractable text (scanned images?)")
    title = (info.title or "").strip() if info else ""
    author = (info.author or "").strip() if info else ""
    return Article(text=text, title=title or None, source=str(path), author=author or None)


# ---------------------------------------------------------------- JSONL

def jsonl_objects(path: Path | str, text: str) -> Iterator[tuple[str, dict | None, str | None]]:
    """(where, object, None) per JSON-object line, or (where, None, reason) for a bad line; blanks skipped."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield where, None, f"invalid JSON ({exc.msg} at column {exc.colno})"
            continue
        if isinstance(record, dict):
            yield where, record, None
        else:
            yield where, None, "expected a JSON object"


def _parse_jsonl(path: Path, text: str) -> ParsedFile:
    articles: list[Article] = []
    errors: list[ArticleError] = []
    for where, record, problem in jsonl_objects(path, text):
        if record is None:
            errors.append(ArticleError(where, problem))
            continue
        body = record.get("text")
        if not isinstance(body, str) or not body.strip():
            errors.append(ArticleError(where, "missing or empty 'text'"))
            continue
        articles.append(
            Article(
                text=body.strip(),
                title=_str_or_none(record.get("title")),
                published=normalize_date(record.get("published")),
                source=str(path),
                url=_str_or_none(record.get("url")),
                author=_str_or_none(record.get("author")),
                external_id=_str_or_none(record.get("id")),
            )
        )
    if not articles:
        reason = errors[0].reason if len(errors) == 1 else f"no valid article lines ({len(errors)} bad lines)"
        raise ArticleError(path, reason)
    return ParsedFile(path, articles, errors)


def _str_or_none(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


# ---------------------------------------------------------------- RSS / Atom

def _parse_feed(path: Path, data: bytes) -> list[Article]:
    import feedparser

    feed = feedparser.parse(data)
    if not feed.entries:
        reason = f"not a valid RSS/Atom feed ({feed.bozo_exception})" if feed.bozo else "feed has no entries"
        raise ArticleError(path, reason)
    articles = []
    for entry in feed.entries:
        content = entry.get("content")
        raw = content[0].get("value", "") if content else entry.get("summary", "")
        body = html_fragment_to_text(raw or "")
        if not body:
            continue
        parsed = entry.get("published_parsed") or entry.get("updated_parsed")
        published = datetime(*parsed[:3]).strftime("%Y-%m-%d") if parsed else None
        articles.append(
            Article(
                text=body,
                title=html.unescape(entry.get("title", "")).strip() or None,
                published=published,
                source=str(path),
                url=entry.get("link") or None,
                author=entry.get("author") or None,
                external_id=entry.get("id") or entry.get("link") or None,
            )
        )
    if not articles:
        raise ArticleError(path, "feed entries have no text")
    return articles
