"""Sentence-aware chunking sized to the encoder: no chunk loses text to truncation."""
from __future__ import annotations

import heapq
import itertools
import re
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from qa.schema import Article, Chunk, Section

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "gen", "gov", "sen", "rep", "lt", "col", "capt", "sgt",
    "maj", "adm", "cmdr", "rev", "hon", "pres", "supt", "det", "insp", "messrs", "mt", "ft", "ave", "blvd", "rd",
    "vs", "etc", "inc", "ltd", "co", "corp", "no", "nos", "vol", "fig", "approx", "dept", "est", "jan", "feb",
    "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "u.n", "e.g", "i.e",
    "a.m", "p.m", "d.c", "ph.d", "al",
}
# A candidate end: terminal punctuation, optional closing quotes/brackets, then whitespace. Possessive, and
# never starting inside a run of stops, so a long run of "!!!!" or "))))" is scanned once, not once per char.
_END = re.compile(r"(?<![.!?…])[.!?…]++[\"'”’»)\]]*+(?=\s)")
_WORD_BEFORE = re.compile(r"([\w.]+)$")
_NEXT_VISIBLE = re.compile(r"\s*(\S)")
# Two line breaks with only whitespace between: a whitespace run holding one ends a paragraph.
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n")
_SPACES = re.compile(r"\s*")
_NON_SPACE = re.compile(r"\S")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    paragraph: int


def split_sentences(text: str, offset: int = 0) -> list[Span]:
    """Sentence spans (start, end) into `text` (shifted by `offset`), whitespace trimmed, with paragraph ids.

    Blank lines end paragraphs; a single newline ends a sentence unless the next line continues in
    lower case (hard-wrapped text)."""
    return list(iter_sentences(text, offset))


def iter_sentences(text: str, offset: int = 0) -> Iterator[Span]:
    """`split_sentences`, lazily: one pass over the text, in place (nothing after the current sentence
    is copied or rescanned), so time is linear and extra memory does not grow with the text."""
    for paragraph, (start, end) in enumerate(_paragraphs(text)):
        for s, e in _sentences_in_paragraph(text, start, end):
            yield Span(offset + s, offset + e, paragraph)


def _paragraphs(text: str) -> Iterator[tuple[int, int]]:
    r"""(start, end) of each paragraph, trimmed: the text between whitespace runs that hold a blank line.

    Found with a search for two line breaks, about a hundred times faster than the pattern this replaces,
    r"\S(?:.*?\S)?(?=\s*\n\s*\n|\s*\Z)", which stepped through every character. As with that pattern, a
    paragraph never ends after its first character: a one-character paragraph ("*") joins the next one,
    so that sentence spans and paragraph ids stay exactly as they were."""
    first = _NON_SPACE.search(text)
    if first is None:
        return
    start = first.start()
    search_from = start + 1
    while brk := _PARAGRAPH_BREAK.search(text, search_from):
        run_start = brk.start()
        while text[run_start - 1].isspace():  # back to the paragraph's last character (at worst `start`)
            run_start -= 1
        run_end = _SPACES.match(text, brk.end()).end()
        if run_end == len(text):
            break
        if run_start > start + 1:
            yield start, run_start
            start = run_end
        search_from = run_end + 1  # text[run_end] is not a space, so no break starts there
    end = len(text)
    while text[end - 1].isspace():
        end -= 1
    yield start, end


def _sentences_in_paragraph(text: str, para_start: int, para_end: int) -> Iterator[tuple[int, int]]:
    """Spans of text[para_start:para_end] (a paragraph: it starts and ends with non-space), in `text`
    coordinates. Cuts come, in order, from sentence stops and from line breaks before a non-lower-case line."""
    cuts = heapq.merge(_stop_cuts(text, para_start, para_end), _line_cuts(text, para_start, para_end))
    start = para_start
    previous = None
    for cut in itertools.chain(cuts, (para_end,)):
        if cut == previous:
            continue
        previous = cut
        s, e = start, cut
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            yield s, e
        start = cut


def _stop_cuts(text: str, para_start: int, para_end: int) -> Iterator[int]:
    for match in _END.finditer(text, para_start, para_end):
        if _is_sentence_end(text, match.start(), match.end(), para_start, para_end):
            yield match.end()


def _line_cuts(text: str, para_start: int, para_end: int) -> Iterator[int]:
    at = text.find("\n", para_start, para_end)
    while at >= 0:
        following = text[at + 1 : at + 2] if at + 1 < para_end else ""
        if following and not following.islower():
            yield at
        at = text.find("\n", at + 1, para_end)


def _is_sentence_end(
    text: str, punct_start: int, end: int, para_start: int = 0, para_end: int | None = None
) -> bool:
    # Matched in place, within the paragraph: slicing the rest is quadratic.
    following = _NEXT_VISIBLE.match(text, end, len(text) if para_end is None else para_end)
    if not following:
        return True
    first = following.group(1)
    if not (first.isupper() or first.isdigit() or first in "\"'“‘«([—-"):
        return False
    if text[punct_start] == ".":
        # Abbreviations are short: look at a window, not the whole text before the stop.
        window = max(para_start, punct_start - 24)
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

# Token counts are asked for in batches of at most this many texts / characters, so the tokenizer never holds
# a whole large article's encodings at once.
COUNT_BATCH = 512
COUNT_BATCH_CHARS = 1 << 16
# A sentence this long cannot fit any chunk (a word piece is rarely longer than a few characters): it goes
# straight to word-by-word counting rather than being tokenized whole.
LONG_SENTENCE_CHARS = 1 << 15
# A whitespace-free run longer than this (a minified blob, a line with no spaces) is cut into pieces of at most
# this many characters, so that no chunk is megabytes of text the encoder would see as a few [UNK]s.
LONG_WORD_CHARS = 1000

Unit = tuple[int, int, int, int]  # (start, end, tokens, paragraph)


class Chunker:
    """Packs whole paragraphs while they fit, else sentences; splits an overlong sentence at word
    boundaries, and an overlong word (no whitespace) into pieces. `count_tokens` must count word pieces
    without special tokens.

    One pass over the article: sentences are found lazily and counted in bounded batches, and packing
    looks ahead at most one chunk's worth of the next paragraph, so time is linear in the article's
    length and extra memory is bounded (beyond the chunks returned)."""

    def __init__(self, count_tokens: TokenCounter, max_tokens: int = 256, target_tokens: int | None = None):
        self.count_tokens = count_tokens
        # [CLS] and [SEP] take two positions; keep two more as a margin for joining whitespace quirks.
        self.max_tokens = max_tokens - 4
        self.target_tokens = min(target_tokens or self.max_tokens, self.max_tokens)

    @classmethod
    def from_settings(cls, count_tokens: TokenCounter, settings) -> "Chunker":
        return cls(count_tokens, settings.max_chunk_tokens, settings.chunk_tokens)

    def split(self, article: Article) -> list[Chunk]:
        article_id = article.id  # a hash of the whole text: once per article, not once per chunk
        prefix = embedding_prefix(article.title, article.published)
        prefix_tokens = self.count_tokens([prefix])[0] if prefix else 0
        # Packing aims at the target size; only the encoder's limit is hard (a long sentence stays whole).
        hard = max(32, self.max_tokens - prefix_tokens)
        soft = min(hard, max(32, self.target_tokens - prefix_tokens))
        chunks: list[Chunk] = []
        for section in (Section.CAPTION, Section.BODY):
            text = article.section_text(section)
            if text and not text.isspace():
                for units in self._pack(text, soft, hard):
                    start, end = units[0][0], units[-1][1]
                    chunks.append(Chunk(article_id, len(chunks), text[start:end], start, end, section, tuple(units)))
        return chunks

    def _pack(self, text: str, budget: int, hard: int) -> Iterator[list[tuple[int, int]]]:
        """Groups of sentence spans, one group per chunk.

        A unit joins the current chunk while it fits; at a paragraph boundary the chunk also ends when
        the whole next paragraph would not fit (read ahead only until that is known). Pieces of one cut
        word touch each other and are never joined: counted together they could tokenize differently."""
        units = self._units(text, hard)
        ahead: deque[Unit] = deque()  # units read ahead of the one being placed

        current: list[Unit] = []
        used = 0
        while True:
            unit = ahead.popleft() if ahead else next(units, None)
            if unit is None:
                break
            start, end, tokens, paragraph = unit
            if current:
                last = current[-1]
                if (
                    used + tokens > budget
                    or start == last[1]
                    or (paragraph != last[3] and self._paragraph_exceeds(unit, budget - used, ahead, units))
                ):
                    yield [(u[0], u[1]) for u in current]
                    current, used = [], 0
            current.append(unit)
            used += tokens + (1 if used else 0)
        if current:
            yield [(u[0], u[1]) for u in current]

    @staticmethod
    def _paragraph_exceeds(first: Unit, limit: int, ahead: deque[Unit], units: Iterator[Unit]) -> bool:
        """Whether the paragraph that starts with `first` has more than `limit` tokens. Units read to
        find out are kept in `ahead` (they follow `first`); reading stops as soon as the answer is known."""
        total = first[2]
        if total > limit:
            return True
        for unit in ahead:
            if unit[3] != first[3]:
                return False
            total += unit[2]
            if total > limit:
                return True
        for unit in units:
            ahead.append(unit)
            if unit[3] != first[3]:
                return False
            total += unit[2]
            if total > limit:
                return True
        return False

    def _units(self, text: str, hard: int) -> Iterator[Unit]:
        """Sentences with their token counts, in order; a sentence over `hard` is split at words."""
        batch: list[Span] = []
        chars = 0
        for span in iter_sentences(text):
            length = span.end - span.start
            if length > LONG_SENTENCE_CHARS:
                yield from self._counted_sentences(text, batch, hard)
                batch, chars = [], 0
                yield from ((s, e, t, span.paragraph) for s, e, t in self._split_long(text, span, hard))
                continue
            batch.append(span)
            chars += length
            if len(batch) >= COUNT_BATCH or chars >= COUNT_BATCH_CHARS:
                yield from self._counted_sentences(text, batch, hard)
                batch, chars = [], 0
        yield from self._counted_sentences(text, batch, hard)

    def _counted_sentences(self, text: str, spans: list[Span], hard: int) -> Iterator[Unit]:
        if not spans:
            return
        counts = self.count_tokens([text[s.start : s.end] for s in spans])
        for span, tokens in zip(spans, counts):
            if tokens <= hard:
                yield span.start, span.end, tokens, span.paragraph
            else:
                yield from ((s, e, t, span.paragraph) for s, e, t in self._split_long(text, span, hard))

    def _split_long(self, text: str, span: Span, budget: int) -> Iterator[tuple[int, int, int]]:
        """(start, end, tokens) parts of an overlong sentence: words packed while they fit."""
        first: int | None = None
        last_end = -1
        used = 0
        for start, end, tokens in self._words(text, span.start, span.end, budget):
            if first is not None and (used + tokens > budget or start == last_end):
                yield first, last_end, used
                first, used = None, 0
            if first is None:
                first = start
            used += tokens
            last_end = end
        if first is not None:
            yield first, last_end, used

    def _words(self, text: str, start: int, end: int, budget: int) -> Iterator[tuple[int, int, int]]:
        """(start, end, tokens) of each word of text[start:end], counted in batches; an overlong word
        comes as consecutive pieces."""
        batch: list[tuple[int, int]] = []
        chars = 0
        for match in _WORD.finditer(text, start, end):
            s, e = match.span()
            if e - s > LONG_WORD_CHARS:
                yield from self._counted_words(text, batch, budget)
                batch, chars = [], 0
                yield from self._cut_word(text, s, e, budget)
                continue
            batch.append((s, e))
            chars += e - s
            if len(batch) >= COUNT_BATCH or chars >= COUNT_BATCH_CHARS:
                yield from self._counted_words(text, batch, budget)
                batch, chars = [], 0
        yield from self._counted_words(text, batch, budget)

    def _counted_words(
        self, text: str, words: list[tuple[int, int]], budget: int
    ) -> Iterator[tuple[int, int, int]]:
        if not words:
            return
        counts = self.count_tokens([text[s:e] for s, e in words])
        for (s, e), tokens in zip(words, counts):
            if tokens <= budget:
                yield s, e, tokens
            else:
                yield from self._cut_word(text, s, e, budget, tokens)

    def _cut_word(
        self, text: str, start: int, end: int, budget: int, tokens: int | None = None
    ) -> Iterator[tuple[int, int, int]]:
        """Consecutive pieces of the whitespace-free text[start:end], each of at most LONG_WORD_CHARS
        characters and (counted alone) `budget` tokens. `tokens` is the whole run's count, when known."""
        if tokens is None or tokens <= budget:
            step = LONG_WORD_CHARS
        else:  # aim a little under the budget, from the run's own characters per token
            step = max(1, min(LONG_WORD_CHARS, (end - start) * budget * 9 // (tokens * 10)))
        bounds = range(start, end, step)
        per_batch = max(1, min(COUNT_BATCH, COUNT_BATCH_CHARS // step))
        for i in range(0, len(bounds), per_batch):
            pieces = [(s, min(s + step, end)) for s in bounds[i : i + per_batch]]
            counts = self.count_tokens([text[s:e] for s, e in pieces])
            for (s, e), count in zip(pieces, counts):
                if count <= budget or e - s <= 1:
                    yield s, e, count
                else:
                    yield from self._cut_word(text, s, e, budget, count)
