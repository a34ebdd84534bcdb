"""Read article files (.txt .md .html .pdf .jsonl RSS/Atom) into `Article`s, with clear per-file errors."""
from __future__ import annotations

import codecs
import dataclasses
import hashlib
import html
import io
import json
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from qa.schema import Article

TEXT_EXTENSIONS = {".txt", ".text"}
MARKDOWN_EXTENSIONS = {".md", ".markdown"}
HTML_EXTENSIONS = {".html", ".htm"}
FEED_EXTENSIONS = {".rss", ".atom", ".xml"}
SUPPORTED_EXTENSIONS = TEXT_EXTENSIONS | MARKDOWN_EXTENSIONS | HTML_EXTENSIONS | FEED_EXTENSIONS | {".pdf", ".jsonl"}

# trafilatura builds a full lxml tree (several times the file's size) and takes about 2 s per MB: a news page
# is well under 1 MB, so a bigger HTML file is refused rather than parsed for minutes. (trafilatura's own
# download limit, MAX_FILE_SIZE, is the same 20 MB.)
MAX_HTML_BYTES = 20_000_000
# One JSONL line is one article; a longer line is reported and skipped without being held in memory.
MAX_JSONL_LINE_BYTES = 128 << 20

_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_NON_SPACE = re.compile(r"\S")


class ArticleError(Exception):
    """A file (or a line of it) that cannot be read as an article; the message names the file and the reason."""

    def __init__(self, path: Path | str, reason: str, kept: bool = False):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason
        # True when the article was still read, without the field named (e.g. a JSONL line whose
        # `published` is not a real date): an error all the same, so that an ingest report shows it.
        self.kept = kept


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


def is_url(value: object) -> bool:
    """Something written as a URL (scheme://...): fetched (http, https) or refused by name (ftp, file...),
    never looked for as a file; a source fetched from the web is named by its URL."""
    return isinstance(value, str) and bool(re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", value.strip()))


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
    """Parse one file. Raises ArticleError when nothing in it can be used; never another exception for
    what is in the file (a parser's own error on garbage input is reported as an ArticleError too)."""
    path = Path(path)
    if _LONE_SURROGATE.search(str(path)):  # bytes of a non-UTF-8 name, as Python decodes them
        shown = _LONE_SURROGATE.sub("\ufffd", str(path))
        raise ArticleError(shown, "the file name is not valid UTF-8 (rename the file)")
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ArticleError(path, f"cannot read file ({exc.strerror or exc})") from exc
    if not data or data.isspace():
        raise ArticleError(path, "empty file")
    try:
        parsed = _load(path, path.suffix.lower(), data)
    except ArticleError:
        raise
    except RecursionError as exc:
        raise ArticleError(path, "cannot parse the file (nested too deeply)") from exc
    except Exception as exc:  # a parser's own failure on garbage input; one bad file must not stop a batch
        raise ArticleError(path, f"cannot parse the file ({_brief(exc)})") from exc
    return parsed


def _brief(exc: BaseException) -> str:
    """An exception as `Type: message`, the message cut short (some quote the whole input)."""
    message = str(exc)
    return f"{type(exc).__name__}: {message[:200] + '…' if len(message) > 200 else message}"


def _load(path: Path, suffix: str, data: bytes) -> ParsedFile:
    if suffix == ".pdf":
        return ParsedFile(path, [_valid_unicode(_parse_pdf(path, data))])
    if suffix == ".jsonl":
        return _parse_jsonl(path, io.BytesIO(data))
    if suffix in FEED_EXTENSIONS:
        # XML names its own encoding (feeds in ISO-8859-1 are common): feedparser and expat read it.
        return ParsedFile(path, [_valid_unicode(a) for a in _parse_feed(path, data)])
    text = decode_text(path, data)
    if suffix in TEXT_EXTENSIONS or suffix in MARKDOWN_EXTENSIONS:
        article = parse_plain_text(text, source=str(path), markdown=suffix in MARKDOWN_EXTENSIONS)
        if not article.text:
            raise ArticleError(path, "no article text (only header lines or front matter)")
        return ParsedFile(path, [article])
    if suffix in HTML_EXTENSIONS:
        return ParsedFile(path, [_valid_unicode(_parse_html(path, text, len(data)))])
    raise ArticleError(path, _unsupported(path))


def file_sha256(path: Path | str, block_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in blocks (a multi-GB file is never held in memory).
    OSError propagates: the caller names the file (see load_file's "cannot read file")."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(block_size):
            digest.update(block)
    return digest.hexdigest()


# Byte-order marks, longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)


def _bom_encoding(data: bytes) -> tuple[str, str] | None:
    """(codec, name) of a UTF-16/UTF-32 file announced by its byte-order mark, else None (UTF-8)."""
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            return codec, name
    return None


def decode_text(path: Path, data: bytes) -> str:
    """The file's text: UTF-8 (with or without a BOM), or UTF-16 / UTF-32 with a BOM."""
    if (announced := _bom_encoding(data)) is not None:
        codec, name = announced
        try:
            text = data.decode(codec)  # the codec reads the BOM (byte order) and drops it
        except UnicodeDecodeError as exc:
            raise ArticleError(path, f"invalid {name} at byte {exc.start}") from exc
        if "\x00" in text[:8192]:
            raise ArticleError(path, "binary file (contains NUL characters), not text")
    else:
        if b"\x00" in data[:8192]:
            raise ArticleError(path, "binary file (contains NUL bytes), not text")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ArticleError(path, f"invalid UTF-8 at byte {exc.start}") from exc
    if not text or text.isspace():
        raise ArticleError(path, "empty file (only whitespace)")
    return text


_COMPOSED_FIELDS = ("text", "title", "author", "caption", "site")  # not source or url: they name a file or page


def canonical(article: Article) -> Article:
    """The article as it is stored: valid Unicode (see _valid_unicode) in NFC, so that an "é" written as
    "e" + U+0301 (as some pages and PDFs store it) is searched, matched and quoted as the "é" people type
    ("Nestlé" finds "Nestlé"). Offsets are taken on this text, after the change."""
    article = _valid_unicode(article)
    changes = {
        name: unicodedata.normalize("NFC", value)
        for name in _COMPOSED_FIELDS
        if isinstance(value := getattr(article, name), str) and not unicodedata.is_normalized("NFC", value)
    }
    return dataclasses.replace(article, **changes) if changes else article


def _valid_unicode(article: Article) -> Article:
    """Unpaired surrogates (a PDF's or feed's broken UTF-16, a char ref like &#xD800;) cannot be stored
    or hashed as UTF-8: each becomes U+FFFD, one character for one, so offsets do not move."""
    changes = {
        f.name: _LONE_SURROGATE.sub("\ufffd", value)
        for f in dataclasses.fields(article)
        if isinstance(value := getattr(article, f.name), str) and _LONE_SURROGATE.search(value)
    }
    return dataclasses.replace(article, **changes) if changes else article


# ---------------------------------------------------------------- plain text and markdown

_DATE_MARKER = re.compile(r"\A\s*date[:\s]\s*(\d{4}-\d{2}-\d{2})\b[ \t]*", re.IGNORECASE)
# Matched against a stripped line: a greedy value (`.+?` then `\s*$` rescans a long inner run of spaces).
_HEADER_LINE = re.compile(r"^(title|date|published|author|by|url|source)\s*:\s*(.+)$", re.IGNORECASE)
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
    if not body:
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


_BLANKS = re.compile(r"[ \t\r\n]*")


def _skip_blank(text: str, offset: int) -> int:
    return _BLANKS.match(text, offset).end()


def _take_title_line(text: str, offset: int, markdown: bool) -> tuple[str | None, int]:
    line_end = text.find("\n", offset)
    if line_end < 0:
        return None, offset
    line = text[offset:line_end].strip()
    if markdown and line.startswith("#"):
        return line.lstrip("#").strip() or None, line_end + 1
    rest = _NON_SPACE.search(text, line_end) is not None  # any text after it (found in place: no copy)
    looks_like_title = (
        0 < len(line) <= 200 and len(line.split()) <= 25 and not _SENTENCE_END.search(line) and rest
    )
    return (line, line_end + 1) if looks_like_title else (None, offset)


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%b %d %Y")


def normalize_date(value: object) -> str | None:
    """ISO date (YYYY-MM-DD) of an explicit date value, or None when it cannot be read unambiguously
    (or is not a real calendar date, as 2021-02-30). Never raises."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()[:10]  # isoformat pads the year; strftime("%Y") does not on glibc
    raw = str(value).strip()
    if not raw or len(raw) > 100:  # no date is written in more than 100 characters
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        pass
    cleaned = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", raw.split("T")[0]).strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).date().isoformat()
        except ValueError:
            continue
    try:  # RFC 822 dates, as in RSS
        from email.utils import parsedate_to_datetime

        return parsedate_to_datetime(raw).date().isoformat()
    except Exception:  # TypeError, ValueError, IndexError, OverflowError on odd input: not a date
        return None


_NUMERIC_DATE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
_FIRST_SMALL_NUMBER = re.compile(r"(?<!\d)\d{1,2}(?!\d)")


def date_problem(value: object) -> str | None:
    """Why an explicit, non-empty date value gives no date (None when it is a date, or empty)."""
    if value is None:
        return None
    if not isinstance(value, str):
        return f"expected a date as text (YYYY-MM-DD), got {_json_type(value)}"
    raw = value.strip()
    if not raw or normalize_date(raw) is not None:
        return None
    shown = raw if len(raw) <= 40 else raw[:40] + "…"
    # A date in a known form whose day does not exist: numbers only (2021-13-45), or a form that reads
    # once its day is made the 1st ("Feb 30, 2021", "Tue, 31 Feb 2025 10:00:00 GMT").
    if _NUMERIC_DATE.fullmatch(raw.split("T")[0].strip()) or (
        len(raw) <= 100 and normalize_date(_FIRST_SMALL_NUMBER.sub("1", raw, count=1)) is not None
    ):
        return f"'{shown}' is not a real calendar date"
    return f"'{shown}' is not a date that can be read (use YYYY-MM-DD)"


# ---------------------------------------------------------------- HTML

def _parse_html(path: Path | str, text: str, size: int | None = None, url: str | None = None) -> Article:
    """The main text and metadata of an article page. `path` names it in errors and becomes the article's
    `source` (a file path, or the URL it was fetched from); `url` is where the page was fetched, so that
    trafilatura can resolve a relative canonical link (a page's own canonical URL wins)."""
    import trafilatura

    size = len(text) if size is None else size
    if size > MAX_HTML_BYTES:
        raise ArticleError(path, f"HTML file too large ({size / 1e6:.1f} MB; at most {MAX_HTML_BYTES / 1e6:.0f} MB)")
    try:
        doc = trafilatura.bare_extraction(
            text,
            url=url,
            with_metadata=True,
            include_comments=False,
            include_tables=False,
            date_extraction_params={"extensive_search": False, "original_date": True},
        )
    except RecursionError as exc:
        raise ArticleError(path, "cannot parse the HTML (nested too deeply)") from exc
    except Exception as exc:  # lxml and trafilatura raise many types on hostile markup
        raise ArticleError(path, f"cannot parse the HTML ({_brief(exc)})") from exc
    body = (getattr(doc, "text", None) or "").strip() if doc is not None else ""
    if not body:
        raise ArticleError(path, "no article text found in the HTML")
    # trafilatura puts one paragraph per line; blank lines keep paragraphs visible to the chunker.
    body = re.sub(r"\n+", "\n\n", body)
    return Article(
        text=body,
        title=_text_or_none(doc.title),
        published=normalize_date(doc.date),  # None for a date that is not a real one ("2021-13-45")
        source=str(path),
        url=_text_or_none(doc.url) or url,
        author=_text_or_none(doc.author),
        site=_text_or_none(getattr(doc, "sitename", None)),
    )


def _text_or_none(value: object) -> str | None:
    """A parser's metadata value as stripped text; anything that is not text is dropped."""
    return (value.strip() or None) if isinstance(value, str) else None


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
        title = _text_or_none(info.title) if info else None
        author = _text_or_none(info.author) if info else None
    except ArticleError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ArticleError(path, f"broken PDF ({exc})") from exc
    except Exception as exc:  # pypdf raises many types on corrupt input; one bad file must not stop a batch
        raise ArticleError(path, f"broken PDF ({_brief(exc)})") from exc
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise ArticleError(path, "PDF has no extractable text (scanned images?)")
    return Article(text=text, title=title, source=str(path), author=author)


# ---------------------------------------------------------------- JSONL

def jsonl_objects(path: Path | str, text: str) -> Iterator[tuple[str, dict | None, str | None]]:
    """(where, object, None) per JSON-object line, or (where, None, reason) for a bad line; blanks skipped."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        record, problem = _json_object(line)
        yield f"{path}:{number}", record, problem


def _json_object(line: str | bytes) -> tuple[dict | None, str | None]:
    """(object, None) for a line holding a JSON object, else (None, why not). Never raises."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON ({exc.msg} at column {exc.colno})"
    except RecursionError:
        return None, "invalid JSON (nested too deeply)"
    except ValueError as exc:  # e.g. an integer of more than sys.get_int_max_str_digits() digits
        if "digits" in str(exc):
            return None, f"invalid JSON (a number longer than {sys.get_int_max_str_digits()} digits)"
        return None, f"invalid JSON ({exc})"
    if not isinstance(record, dict):
        return None, f"expected a JSON object, got {_json_type(record)}"
    return record, None


def iter_jsonl_articles(path: Path) -> Iterator[Article | ArticleError]:
    """Stream a JSONL file: an Article per good line, an ArticleError per bad one (`path:line: reason`).

    The file is read line by line (memory is bounded by the longest line, at most MAX_JSONL_LINE_BYTES,
    however large the file). A line whose article is kept but a field of which was dropped (an
    unreadable `published`) yields the Article, then an ArticleError with `kept=True`. A problem with the
    whole file (unreadable, binary, empty) is one ArticleError naming just the path."""
    path = Path(path)
    if _LONE_SURROGATE.search(str(path)):
        shown = _LONE_SURROGATE.sub("\ufffd", str(path))
        yield ArticleError(shown, "the file name is not valid UTF-8 (rename the file)")
        return
    try:
        handle = open(path, "rb")
    except OSError as exc:
        yield ArticleError(path, f"cannot read file ({exc.strerror or exc})")
        return
    with handle:
        yield from _iter_jsonl(path, handle)


def _iter_jsonl(path: Path, stream: BinaryIO) -> Iterator[Article | ArticleError]:
    seen = False
    try:
        for where, line, problem in _jsonl_lines(path, stream):
            seen = True
            if problem is not None:
                yield ArticleError(where, problem)
                continue
            record, problem = _json_object(line)
            if record is None:
                yield ArticleError(where, problem)
                continue
            yield from _article_from_record(path, where, record)
    except OSError as exc:
        yield ArticleError(path, f"cannot read file ({exc.strerror or exc})")
        return
    if not seen:
        yield ArticleError(path, "empty file (no JSON lines)")


def _jsonl_lines(path: Path, stream: BinaryIO) -> Iterator[tuple[str, str | None, str | None]]:
    """(where, line, None) per non-blank line, (where, None, reason) for one that cannot be decoded or is
    too long. Lines end at "\n" only (a JSON string may hold U+2028 or U+0085; "\r\n" is fine)."""
    head = stream.read(8192)
    stream.seek(0)
    announced = _bom_encoding(head)
    if announced is None and b"\x00" in head:
        yield str(path), None, "binary file (contains NUL bytes), not text"
        return
    if announced is not None:
        yield from _jsonl_lines_decoded(path, stream, *announced)
        return
    offset = 0
    number = 0
    while raw := stream.readline(MAX_JSONL_LINE_BYTES + 1):
        number += 1
        where = f"{path}:{number}"
        start = offset
        offset += len(raw)
        if len(raw) > MAX_JSONL_LINE_BYTES and not raw.endswith(b"\n"):
            while (rest := stream.readline(1 << 20)) and not rest.endswith(b"\n"):  # skip, in blocks
                offset += len(rest)
            offset += len(rest)
            yield where, None, f"line longer than {MAX_JSONL_LINE_BYTES >> 20} MB: skipped"
            continue
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
            start += len(codecs.BOM_UTF8)
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield where, None, f"invalid UTF-8 at byte {start + exc.start}"
            continue
        if line and not line.isspace():
            yield where, line, None


def _jsonl_lines_decoded(
    path: Path, stream: BinaryIO, codec: str, name: str
) -> Iterator[tuple[str, str | None, str | None]]:
    text = io.TextIOWrapper(stream, encoding=codec, errors="strict", newline="\n")
    limit = MAX_JSONL_LINE_BYTES // 2  # characters: at least two bytes each in UTF-16 and UTF-32
    number = 0
    try:
        while line := text.readline(limit + 1):
            number += 1
            where = f"{path}:{number}"
            if len(line) > limit and not line.endswith("\n"):
                while (rest := text.readline(1 << 20)) and not rest.endswith("\n"):
                    pass
                yield where, None, f"line longer than {MAX_JSONL_LINE_BYTES >> 20} MB: skipped"
                continue
            if not line.isspace():
                yield where, line, None
    except UnicodeDecodeError as exc:
        yield f"{path}:{number + 1}", None, f"invalid {name} ({exc.reason}); the rest of the file is not read"
    finally:
        text.detach()  # leave the caller's stream open


def _json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _text_field(record: dict, name: str, problems: list[str], allow_integer: bool = False) -> str | None:
    """A string field, stripped (None when absent, null or blank). Another type is a problem, never
    stored as its Python repr (a title "['a', 'b']")."""
    value = record.get(name)
    if value is None:
        return None
    # Ids are often numbers in exported data; an integer has one obvious text form, so it is taken as text.
    # A float (1e+20, 3.0) has not, and a list or object is no id at all.
    if allow_integer and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        problems.append(f'"{name}": expected text, got {_json_type(value)}')
        return None
    if _LONE_SURROGATE.search(value):
        problems.append(f'"{name}": contains an unpaired surrogate (\\ud800-\\udfff), not valid Unicode text')
        return None
    return value.strip() or None


def _article_from_record(path: Path, where: str, record: dict) -> Iterator[Article | ArticleError]:
    problems: list[str] = []
    body = record.get("text")
    if body is None or (isinstance(body, str) and (not body or body.isspace())):
        problems.append("missing or empty 'text'")
        body = None
    else:
        body = _text_field(record, "text", problems)
    title = _text_field(record, "title", problems)
    url = _text_field(record, "url", problems)
    author = _text_field(record, "author", problems)
    external_id = _text_field(record, "id", problems, allow_integer=True)
    if problems:
        yield ArticleError(where, "; ".join(problems))
        return
    # An unreadable `published` does not drop the article: it is stored without a date (dates are never
    # guessed) and the line is reported, so that the ingest report lists it and exits non-zero; fixing
    # the date and ingesting again updates the article.
    raw_date = record.get("published")
    published = normalize_date(raw_date) if isinstance(raw_date, str) else None
    yield Article(
        text=body,
        title=title,
        published=published,
        source=str(path),
        url=url,
        author=author,
        external_id=external_id,
    )
    if (problem := date_problem(raw_date)) is not None:
        yield ArticleError(where, f"published: {problem} (the article is kept, without a date)", kept=True)


def _parse_jsonl(path: Path, stream: BinaryIO) -> ParsedFile:
    articles: list[Article] = []
    errors: list[ArticleError] = []
    for item in _iter_jsonl(path, stream):
        if isinstance(item, Article):
            articles.append(item)
        elif item.path == str(path):  # about the whole file
            raise item
        else:
            errors.append(item)
    if not articles:
        reason = errors[0].reason if len(errors) == 1 else f"no valid article lines ({len(errors)} bad lines)"
        raise ArticleError(path, reason)
    return ParsedFile(path, articles, errors)


# ---------------------------------------------------------------- RSS / Atom

class _DiscardTarget:
    """An XML parser target that keeps nothing: the feed is parsed only to check its declarations."""


_ENTITY_DECLARATION = re.compile(rb"<!\s*ENTITY", re.IGNORECASE)


def _refuse_xml_entities(path: Path, data: bytes) -> None:
    """Refuse a feed that declares entities (billion laughs, quadratic blowup) or external ones (a
    `SYSTEM "file:///etc/passwd"` read into the text). A plain DOCTYPE is fine. A feed that is not
    well-formed XML is left to feedparser's lenient parser, unless it holds an entity declaration."""
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException, EntitiesForbidden, ExternalReferenceForbidden
    from defusedxml.ElementTree import DefusedXMLParser

    parser = DefusedXMLParser(target=_DiscardTarget(), forbid_dtd=False, forbid_entities=True, forbid_external=True)
    try:
        parser.feed(data)
        parser.close()
    except EntitiesForbidden as exc:
        kind = f"external entity '{exc.name}' → {exc.sysid}" if exc.sysid else f"entity '{exc.name}'"
        reason = f"refused: the feed declares XML entities ({kind}); entities are not expanded"
        raise ArticleError(path, reason) from None
    except ExternalReferenceForbidden as exc:
        raise ArticleError(path, f"refused: the feed references an external resource ({exc.sysid})") from None
    except DefusedXmlException as exc:
        raise ArticleError(path, f"refused: unsafe XML ({exc})") from None
    except (ParseError, ValueError, LookupError, RecursionError):  # not XML, or an encoding expat lacks
        if _ENTITY_DECLARATION.search(data):  # (UTF-16 and UTF-32 feeds are UTF-8 by now)
            raise ArticleError(path, "refused: the feed declares XML entities (and is not well-formed XML)") from None


_XML_DECLARATION_ENCODING = re.compile(r"""\A(\s*<\?xml[^>]*?\bencoding\s*=\s*)(["'])[^"']*\2""")


def _xml_as_utf8(text: str) -> bytes:
    """A decoded XML document as UTF-8 bytes, its declaration saying so."""
    return _XML_DECLARATION_ENCODING.sub(r"\1\2utf-8\2", text, count=1).encode("utf-8")


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed: what identifies it (guid, link), what it says of the article, and its content
    (the item's full text when the feed carries it, else its summary), as plain text."""

    guid: str | None
    link: str | None
    title: str | None
    published: str | None
    author: str | None
    text: str
    updated: str | None = None  # the item's own <updated>/<pubDate> text, to notice an edited item

    @property
    def key(self) -> str | None:
        """What identifies the item across polls: its guid, else its link."""
        return self.guid or self.link

    @property
    def fingerprint(self) -> str:
        """Changes when the item changes (a new link, title, date or text)."""
        digest = hashlib.sha256()
        for part in (self.link, self.title, self.published, self.updated, self.text):
            digest.update((part or "").encode("utf-8", "surrogatepass"))
            digest.update(b"\x00")
        return digest.hexdigest()[:32]


def looks_like_feed(data: bytes) -> bool:
    """An RSS, RDF or Atom document (by its root element, within the first 4 KB)."""
    head = data[:4096].lstrip(codecs.BOM_UTF8).lower()
    return bool(re.search(rb"<(rss|feed|rdf:rdf)[\s>]", head))


def feed_entries(path: Path | str, data: bytes, base_url: str | None = None) -> list[FeedEntry]:
    """The items of an RSS/Atom document (refused if it declares XML entities). ArticleError when it is
    not a feed or has no items. `base_url`: where a fetched feed came from (relative links resolve
    against it); an item's link is kept only when it is an http(s) URL (an RSS guid that is no URL is
    not a link)."""
    import feedparser

    if _bom_encoding(data) is not None:  # feedparser reads UTF-16 only when the declaration says so
        data = _xml_as_utf8(decode_text(Path(str(path)), data))
    elif b"\x00" in data[:8192]:
        raise ArticleError(path, "binary file (contains NUL bytes), not text")
    _refuse_xml_entities(path, data)
    # A stream, never the bytes themselves: feedparser tries bytes as a file *name* first (a feed whose
    # content is "/etc/passwd" would be read from there).
    try:
        headers = {"content-location": base_url} if base_url else None
        feed = feedparser.parse(io.BytesIO(data), response_headers=headers)
    except (UnicodeError, LookupError) as exc:  # feedparser trips on a garbled encoding="..." declaration
        reason = f"not a valid RSS/Atom feed (unreadable encoding declaration: {_brief(exc)})"
        raise ArticleError(path, reason) from exc
    except Exception as exc:
        raise ArticleError(path, f"not a valid RSS/Atom feed ({_brief(exc)})") from exc
    if not feed.entries:
        reason = f"not a valid RSS/Atom feed ({feed.bozo_exception})" if feed.bozo else "feed has no entries"
        raise ArticleError(path, reason)
    entries = []
    for entry in feed.entries:
        content = entry.get("content")
        raw = content[0].get("value", "") if content else entry.get("summary", "")
        entries.append(FeedEntry(
            guid=_text_or_none(entry.get("id")),
            link=link if (link := _text_or_none(entry.get("link"))) and re.match(r"(?i)https?://", link) else None,
            title=_text_or_none(html.unescape(_text_or_none(entry.get("title")) or "")),
            published=_entry_date(entry),
            author=_text_or_none(entry.get("author")),
            text=html_fragment_to_text(raw if isinstance(raw, str) else ""),
            updated=_text_or_none(dict.get(entry, "updated")) or _text_or_none(dict.get(entry, "published")),
        ))
    return entries


def _parse_feed(path: Path, data: bytes) -> list[Article]:
    """A feed file's items as articles, with the feed's own text (a feed *URL* fetches each item's page)."""
    articles = [
        Article(text=e.text, title=e.title, published=e.published, source=str(path), url=e.link,
                author=e.author, external_id=e.key)
        for e in feed_entries(path, data) if e.text
    ]
    if not articles:
        raise ArticleError(path, "feed entries have no text")
    return articles


def _entry_date(entry: dict) -> str | None:
    # dict.get: the entry's own keys, without FeedParserDict's deprecated updated→published mapping (and warning)
    parsed = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
    try:
        return date(*parsed[:3]).isoformat() if parsed else None
    except (TypeError, ValueError, OverflowError):  # a struct_time feedparser built from a bad date
        return None
