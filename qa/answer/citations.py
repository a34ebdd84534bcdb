"""Citations: every answer sentence ends with [n], pointing at a verbatim quote (article, offsets)."""
from __future__ import annotations

import dataclasses
from typing import Protocol, Sequence

from qa.schema import Article, Citation, Copy, Section


class ArticleLookup(Protocol):
    def article(self, article_id: str) -> Article | None: ...


class SourceLookup(Protocol):
    def links(self, article_ids: Sequence[str]) -> dict[str, tuple[str | None, str | None]]: ...

    def copies_of(self, article_ids: Sequence[str]) -> dict[str, list[Copy]]: ...


class CitationError(AssertionError):
    """A quote that is not verbatim at its offsets: always a bug, never shown to a user."""


class Citer:
    """Numbers quotes in order of first use, one citation per distinct quote: `number(sentence)` gives the
    marker of a verbatim span (a ScoredSentence: passage, start, end, text), adding its citation if new."""

    def __init__(self) -> None:
        self.citations: list[Citation] = []
        self._numbers: dict[tuple[str, str, int, int], int] = {}

    def number(self, sentence) -> int:
        passage = sentence.passage
        key = (passage.article_id, passage.chunk.section.value, sentence.start, sentence.end)
        if key not in self._numbers:
            self._numbers[key] = len(self.citations) + 1
            self.citations.append(
                Citation(
                    n=self._numbers[key],
                    article_id=passage.article_id,
                    title=passage.title,
                    published=passage.published,
                    quote=sentence.text,
                    start=sentence.start,
                    end=sentence.end,
                    section=passage.chunk.section,
                    source=passage.source,
                )
            )
        return self._numbers[key]


def cite(sentences: Sequence) -> tuple[str, list[Citation]]:
    """Answer text where each sentence ends with its marker, and the citations (one per distinct quote).
    `sentences` are answering.ScoredSentence: a passage and a verbatim span (start, end, text) of it."""
    citer = Citer()
    parts = [f"{readable(sentence.text)} [{citer.number(sentence)}]" for sentence in sentences]
    return " ".join(parts), citer.citations


def readable(quote: str) -> str:
    """The quote as a sentence of the answer: quotation marks left open by sentence splitting removed."""
    text = quote.strip()
    for opening, closing in (("“", "”"), ("‘", "’")):
        if text.count(opening) != text.count(closing):
            text = text.replace(opening, "").replace(closing, "") if opening == "“" else text
    if text.count('"') % 2:
        text = text.replace('"', "")
    return text.strip()


def verify(citations: Sequence[Citation], articles: ArticleLookup) -> list[str]:
    """Problems found: each citation's quote must be exactly its article section's text at its offsets."""
    problems = []
    for citation in citations:
        article = articles.article(citation.article_id)
        if article is None:
            problems.append(f"[{citation.n}] article {citation.article_id} is not in the store")
            continue
        found = article.section_text(Section(citation.section))[citation.start : citation.end]
        if found != citation.quote:
            problems.append(f"[{citation.n}] quote differs from {citation.article_id}[{citation.start}:{citation.end}]")
    return problems


def check(citations: Sequence[Citation], articles: ArticleLookup) -> None:
    problems = verify(citations, articles)
    if problems:
        raise CitationError("; ".join(problems))


def with_sources(citations: Sequence[Citation], catalog: SourceLookup) -> list[Citation]:
    """Each citation with its article's URL and site, and the syndicated copies of its article (the same
    story from other sources, stored once): "also published by ..."."""
    ids = [c.article_id for c in citations]
    if not ids:
        return list(citations)
    links, copies = catalog.links(ids), catalog.copies_of(ids)
    return [
        dataclasses.replace(c, url=links.get(c.article_id, (None, None))[0], site=links.get(c.article_id, (None, None))[1],
                            also_published_by=tuple(copies.get(c.article_id, ())))
        for c in citations
    ]
