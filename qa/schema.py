"""The typed records that flow through the whole house: Article → Chunk → Passage → Citation → Answer."""
from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from datetime import date
from enum import Enum
from functools import cached_property
from typing import Any, Mapping

from qa.errors import InputError

MAX_QUESTION_CHARS = 2000
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def validate_question(question: object, field_name: str = "question") -> str:
    """The question, stripped; InputError for anything that is not a usable question."""
    if not isinstance(question, str):
        raise InputError(field_name, f"expected text, got {type(question).__name__}")
    text = question.strip()
    if not text:
        raise InputError(field_name, "empty question (only whitespace)")
    if _LONE_SURROGATE.search(text):
        raise InputError(field_name, "contains an unpaired surrogate (not valid Unicode text)")
    if "\x00" in text:
        raise InputError(field_name, "contains a NUL character")
    if len(text) > MAX_QUESTION_CHARS:
        raise InputError(field_name, f"too long ({len(text)} characters; at most {MAX_QUESTION_CHARS})")
    return text


def parse_day(value: object, field_name: str) -> str | None:
    """A strict ISO calendar date (YYYY-MM-DD) or None for empty; InputError for anything else."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(field_name, f"expected a date as YYYY-MM-DD text, got {type(value).__name__}")
    text = value.strip()
    if not text:
        return None
    if not _ISO_DAY.fullmatch(text):
        raise InputError(field_name, f"'{text[:40]}' is not a date in the form YYYY-MM-DD")
    try:
        date.fromisoformat(text)
    except ValueError:
        raise InputError(field_name, f"'{text}' is not a real calendar date") from None
    return text


class Section(str, Enum):
    """Which text of an article a chunk or citation points into (offsets are relative to it)."""

    BODY = "body"
    CAPTION = "caption"


@dataclass(frozen=True)
class Article:
    text: str
    title: str | None = None
    published: str | None = None  # ISO date (YYYY-MM-DD) when known, never guessed
    source: str | None = None  # file path (or path#line / feed entry) it came from
    url: str | None = None
    author: str | None = None
    caption: str | None = None  # photo caption / credit line, searchable and citable
    external_id: str | None = None  # the id the source gave it (JSONL `id`, feed guid)
    site: str | None = None  # the publisher, as the page names itself (og:site_name), for "also published by"

    @cached_property  # hashed once per instance (it reads the whole text); frozen fields cannot go stale
    def id(self) -> str:
        """Stable content hash: same content → same id, whatever file it came from."""
        digest = hashlib.sha256()
        for part in (self.title or "", self.published or "", self.caption or "", self.text):
            digest.update(part.encode("utf-8"))
            digest.update(b"\x00")
        return digest.hexdigest()[:20]

    def section_text(self, section: Section) -> str:
        return (self.caption or "") if section is Section.CAPTION else self.text


@dataclass(frozen=True)
class Chunk:
    article_id: str
    index: int
    text: str  # verbatim: article.section_text(section)[start:end]
    start: int
    end: int
    section: Section = Section.BODY
    # (start, end) of each sentence, in the same coordinates as start/end. Sentences are the unit
    # that is embedded: one vector each, id `{chunk id}:{k}`.
    sentences: tuple[tuple[int, int], ...] = ()

    @property
    def id(self) -> str:
        return f"{self.article_id}:{self.index}"

    def sentence_id(self, k: int) -> str:
        return f"{self.id}:{k}"

    @property
    def sentence_ids(self) -> list[str]:
        return [self.sentence_id(k) for k in range(len(self.sentences))]

    def sentence_text(self, k: int) -> str:
        start, end = self.sentences[k]
        return self.text[start - self.start : end - self.start]


def chunk_id_of_sentence(sentence_id: str) -> str:
    return sentence_id.rsplit(":", 1)[0]


@dataclass
class Passage:
    """A retrieved chunk with its article's metadata and the scores that ranked it."""

    chunk: Chunk
    title: str | None
    published: str | None
    source: str | None
    score: float
    rank: int
    scores: dict[str, float] = field(default_factory=dict)  # per-signal scores (dense, bm25, ...)
    external_id: str | None = None
    sentence_cosines: list[float] = field(default_factory=list)  # question vs each of chunk.sentences

    @property
    def article_id(self) -> str:
        return self.chunk.article_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "article_id": self.article_id,
            "external_id": self.external_id,
            "title": self.title,
            "published": self.published,
            "source": self.source,
            "section": self.chunk.section.value,
            "start": self.chunk.start,
            "end": self.chunk.end,
            "text": self.chunk.text,
            "score": round(self.score, 6),
        }


@dataclass(frozen=True)
class Copy:
    """A syndicated copy of a stored article (the same story with small edits, from another source or
    outlet): recorded with its own metadata, its text stored once, as the article's."""

    source: str  # the file or URL it came from
    title: str | None = None
    url: str | None = None
    site: str | None = None
    published: str | None = None
    similarity: float = 1.0  # Jaccard similarity of the two texts' word shingles

    @property
    def publisher(self) -> str:
        """Who published it, for "also published by": the outlet's name, else the URL's host, else the file."""
        if self.site:
            return self.site
        if self.url and (host := re.match(r"https?://([^/:?#]+)", self.url)):
            return host.group(1).removeprefix("www.")
        return self.source.replace("\\", "/").rsplit("/", 1)[-1]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "publisher": self.publisher, "similarity": round(self.similarity, 4)}


@dataclass(frozen=True)
class Citation:
    n: int
    article_id: str
    title: str | None
    published: str | None
    quote: str  # verbatim: article.section_text(section)[start:end]
    start: int
    end: int
    section: Section = Section.BODY
    source: str | None = None
    url: str | None = None  # the article's (canonical) URL, when it came from the web or named one
    site: str | None = None
    also_published_by: tuple[Copy, ...] = ()  # syndicated copies of the same story

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["section"] = self.section.value
        data["also_published_by"] = [copy.to_dict() for copy in self.also_published_by]
        return data


@dataclass
class Answer:
    question: str
    text: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    confidence: float | None = None  # calibrated probability that the articles answer the question
    short_answer: str | None = None  # minimal span of a cited quote answering a factoid question
    query: str | None = None  # what was searched: the question, or a follow-up made standalone
    # What the question names that the articles (or the passages found) don't mention (qa/answer/premise.py):
    # "The articles don't mention a Jordanian foreign minister"; `text` then opens with it. None otherwise.
    note: str | None = None
    # Who wrote `text`: "extractive" (quoted sentences) or "llm" (generated sentences, each checked against
    # the sentences it cites, qa/answer/checker.py). A generated sentence that failed the check is listed in
    # `dropped` ({"sentence", "cited", "reason"}), never shown; when none passed, `mode` is "extractive".
    mode: str = "extractive"
    dropped: list[dict] = field(default_factory=list)
    fallback: str | None = None  # with an LLM configured, why this answer is extractive ("the LLM failed: ...")

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "query": self.query if self.query is not None else self.question,
            "answer": self.text,
            "short_answer": self.short_answer,
            "note": self.note,
            "mode": self.mode,
            "dropped": list(self.dropped),
            "fallback": self.fallback,
            "abstained": self.abstained,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "citations": [c.to_dict() for c in self.citations],
            "passages": [p.to_dict() for p in self.passages],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval to a date range (ISO dates, inclusive) and/or to some sources (paths)."""

    date_from: str | None = None
    date_to: str | None = None
    sources: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "date_from", parse_day(self.date_from, "date_from"))
        object.__setattr__(self, "date_to", parse_day(self.date_to, "date_to"))
        if isinstance(self.sources, str) or not all(isinstance(s, str) for s in self.sources):
            raise InputError("sources", "expected a list of source paths")
        object.__setattr__(self, "sources", tuple(self.sources))
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InputError("date_to", f"{self.date_to} is before date_from {self.date_from}")

    @classmethod
    def from_json(cls, value: "Filters | Mapping[str, Any] | None") -> "Filters":
        """Filters from plain JSON ({"date_from": "2021-05-01", "sources": [...]}) or a Filters."""
        if value is None:
            return cls()
        if isinstance(value, Filters):
            return value
        if not isinstance(value, Mapping):
            raise InputError("filters", f"expected an object, got {type(value).__name__}")
        unknown = set(value) - {"date_from", "date_to", "sources"}
        if unknown:
            raise InputError("filters", f"unknown field(s) {', '.join(sorted(map(str, unknown)))}; "
                                        "use date_from, date_to, sources")
        sources = value.get("sources") or ()
        if isinstance(sources, str):
            sources = (sources,)
        return cls(value.get("date_from"), value.get("date_to"), tuple(sources) if isinstance(sources, list | tuple) else sources)

    def chroma_where(self) -> dict | None:
        clauses: list[dict] = []
        if self.date_from:
            clauses.append({"published_day": {"$gte": int(self.date_from.replace("-", ""))}})
        if self.date_to:
            clauses.append({"published_day": {"$lte": int(self.date_to.replace("-", ""))}})
        if self.sources:
            clauses.append({"source": {"$in": list(self.sources)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def accepts(self, stored) -> bool:  # a catalog.StoredChunk
        if self.date_from and (not stored.published or stored.published < self.date_from):
            return False
        if self.date_to and (not stored.published or stored.published > self.date_to):
            return False
        if self.sources and stored.source not in self.sources:
            return False
        return True

    def __bool__(self) -> bool:
        return bool(self.date_from or self.date_to or self.sources)
