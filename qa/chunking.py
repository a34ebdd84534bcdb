"""Sentence-aware chunking sized to the encoder: no chunk loses text to truncation."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from qa.schema import Article, Chunk, Section

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "gen", "gov", "sen", "rep", "lt", "col", "capt", "sgt",
    "maj", "adm", "cmdr", "rev", "hon", "pres", "supt", "det", "insp", "messrs", "mt", "ft", "ave", "blvd", "rd",
    "vs", "etc", "inc", "ltd", "co", "corp", "no", "nos", "vol", "fig", "approx", "dept", "est", "jan", "feb",
    "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "u.n", "e.g", "i.e",
    "a.m", "p.m", "d.c", "ph.d", "al",
}
# A candidate end: terminal punctuation, optional closing quotes/brackets, then whitespace.
_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s)")
_WORD_BEFORE = re.compile(r"([\w.]+)$")
_NEXT_VISIBLE = re.compile(r"\s*(\S)")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    paragraph: int


def split_sentences(text: str, offset: int = 0) -> list[Span]:
    """Sentence spans (start, end) into `text` (shifted by `offset`), whitespace trimmed, with paragraph ids.

    Blank lines end paragraphs; a single newline ends a sentence unless the next line continues in
    lower case (hard-wrapped text)."""
    spans: list[Span] = []
    paragraph = 0
    for para_match in re.finditer(r"\S(?:.*?\S)?(?=\s*\n\s*\n|\s*\Z)", text, flags=re.DOTALL):
        para_start = para_match.start()
        para_text = para_match.group(0)
        for start, end in _sentences_in_paragraph(para_text):
            spans.append(Span(offset + para_start + start, offset + para_start + end, paragraph))
        paragraph += 1
    return spans


def _sentences_in_paragraph(text: str) -> list[tuple[int, int]]:
    cuts: list[int] = []
    for match in _END.finditer(text):
        end = match.end()
        if _is_sentence_end(text, match.start(), end):
            cuts.append(end)
    for match in re.finditer(r"\n", text):
        nxt = text[match.end() : match.end() + 1]
        if nxt and not nxt.islower():
            cuts.append(match.start())
    cuts = sorted(set(cuts))
    result = []
    start = 0
    for cut in cuts + [len(text)]:
        piece = text[start:cut]
        stripped_start = start + (len(piece) - len(piece.lstrip()))
        stripped_end = start + len(piece.rstrip())
        if stripped_end > stripped_start:
            result.append((stripped_start, stripped_end))
        start = cut
    return result


def _is_sentence_end(text: str, punct_start: int, end: int) -> bool:
    following = _NEXT_VISIBLE.match(text, end)  # matched in place: slicing the rest is quadratic
    if not following:
        return True
    first = following.group(1)
    if not (first.isupper() or first.isdigit() or first in "\"'“‘«([—-"):
        return False
    if text[punct_start] == ".":
        # Abbreviations are short: look at a window, not the whole text before the stop.
        window = max(0, punct_start - 24)
        word = _WORD_BEFORE.search(text, window, punct_start)
        if word:
            token = word.group(1).lower().rstrip(".")
            if token in _ABBREVIATIONS:
                return False
            if len(token) == 1 and token.isalpha():  # an initial: "J. Smith"
                return False
    return True


def embedding_prefix(title: str | None, published: str | None) -> str:
    """Title and date go into what is embedded (and into BM25), not into the quoted text."""
    head = " ".join(part for part in (title, f"({published})" if published else None) if part)
    return f"{head}\n" if head else ""


def embedding_input(chunk: Chunk, title: str | None, published: str | None) -> tuple[str, list[tuple[int, int]]]:
    """What the encoder reads for a chunk (title and date, then the chunk) and each sentence's span in it."""
    prefix = embedding_prefix(title, published)
    shift = len(prefix) - chunk.start  # sentence offsets are in article coordinates
    return prefix + chunk.text, [(start + shift, end + shift) for start, end in chunk.sentences]


TokenCounter = Callable[[Sequence[str]], list[int]]


class Chunker:
    """Packs whole paragraphs while they fit, else sentences; splits an overlong sentence at word
    boundaries. `count_tokens` must count word pieces without special tokens."""

    def __init__(self, count_tokens: TokenCounter, max_tokens: int = 256, target_tokens: int | None = None):
        self.count_tokens = count_tokens
        # [CLS] and [SEP] take two positions; keep two more as a margin for joining whitespace quirks.
        self.max_tokens = max_tokens - 4
        self.target_tokens = min(target_tokens or self.max_tokens, self.max_tokens)

    @classmethod
    def from_settings(cls, count_tokens: TokenCounter, settings) -> "Chunker":
        return cls(count_tokens, settings.max_chunk_tokens, settings.chunk_tokens)

    def split(self, article: Article) -> list[Chunk]:
        prefix = embedding_prefix(article.title, article.published)
        prefix_tokens = self.count_tokens([prefix])[0] if prefix else 0
        # Packing aims at the target size; only the encoder's limit is hard (a long sentence stays whole).
        hard = max(32, self.max_tokens - prefix_tokens)
        soft = min(hard, max(32, self.target_tokens - prefix_tokens))
        chunks: list[Chunk] = []
        for section in (Section.CAPTION, Section.BODY):
            text = article.section_text(section)
            if text.strip():
                for units in self._pack(text, soft, hard):
                    start, end = units[0][0], units[-1][1]
                    chunks.append(Chunk(article.id, len(chunks), text[start:end], start, end, section, tuple(units)))
        return chunks

    def _pack(self, text: str, budget: int, hard: int) -> list[list[tuple[int, int]]]:
        """Groups of sentence spans, one group per chunk."""
        sentences = split_sentences(text)
        counts = self.count_tokens([text[s.start : s.end] for s in sentences])
        units: list[tuple[int, int, int, int]] = []  # (start, end, tokens, paragraph)
        for span, tokens in zip(sentences, counts):
            if tokens <= hard:
                units.append((span.start, span.end, tokens, span.paragraph))
            else:
                units.extend((s, e, t, span.paragraph) for s, e, t in self._split_long(text, span, hard))

        paragraph_tokens: dict[int, int] = {}
        for _, _, tokens, paragraph in units:
            paragraph_tokens[paragraph] = paragraph_tokens.get(paragraph, 0) + tokens

        pieces: list[list[tuple[int, int]]] = []
        current: list[tuple[int, int, int, int]] = []
        used = 0
        for unit in units:
            start, end, tokens, paragraph = unit
            new_paragraph = bool(current) and paragraph != current[-1][3]
            # At a paragraph boundary, start afresh if the whole next paragraph would not fit.
            if current and (used + tokens > budget or (new_paragraph and used + paragraph_tokens[paragraph] > budget)):
                pieces.append([(u[0], u[1]) for u in current])
                current, used = [], 0
            current.append(unit)
            used += tokens + (1 if used else 0)
        if current:
            pieces.append([(u[0], u[1]) for u in current])
        return pieces

    def _split_long(self, text: str, span: Span, budget: int) -> list[tuple[int, int, int]]:
        words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text[span.start : span.end])]
        counts = self.count_tokens([text[span.start + s : span.start + e] for s, e in words])
        parts: list[tuple[int, int, int]] = []
        first, used = 0, 0
        for i, tokens in enumerate(counts):
            if i > first and used + tokens > budget:
                parts.append((span.start + words[first][0], span.start + words[i - 1][1], used))
                first, used = i, 0
            used += tokens
        parts.append((span.start + words[first][0], span.start + words[-1][1], used))
        return parts
