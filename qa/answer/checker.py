"""The check every generated sentence must pass before a user sees it: is it supported by the sentences it
cites?

A sentence passes only when BOTH hold:

- **its facts are in the cited text**: every number, date and day, and every name (spaCy's entities:
  people, organisations, places, nationalities, events, works) it states appears in the cited sentences;
  and its negation agrees with theirs ("did not meet" never cites "met");
- **it says what they say**: the share of its content words found in them (stemmed, as BM25 matches
  them) and the cosine of its embedding with theirs (the index's encoder), combined, reach a threshold
  calibrated on a labelled set of supported and corrupted sentences (qa/answer/checker_set.py).

Markers are parsed leniently ([1], [1, 3], [2-4], (1), 【1】), verified strictly. The result names why a
sentence was refused, for the response's list of dropped sentences."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from qa.store.lexical import STOPWORDS, tokenize

LEXICAL_WEIGHT, COSINE_WEIGHT = 0.5, 0.5
THRESHOLD = 0.62  # of LEXICAL_WEIGHT * lexical share + COSINE_WEIGHT * cosine; calibrated: bench/checker.py
# A sentence may put the cited text in its own words, but not add to it: at most this many of its distinct
# content words (stemmed) absent from the cited text, and at most this share of them. A paraphrase
# ("planned to travel" for "will travel") passes; an addition ("a single-celled organism") does not.
NOVEL_MAX, NOVEL_SHARE = 2, 0.3

_MARKER = re.compile(r"\s*(?:\[(?P<a>[\d\s,;–-]+)\]|\((?P<b>\d+(?:\s*[,;–-]\s*\d+)*)\)|【(?P<c>[\d\s,;–-]+)】)")
_MARKER_THEN_CAPITAL = re.compile(r"(\[[\d\s,;–-]+\]|\(\d+(?:\s*[,;–-]\s*\d+)*\)|【[\d\s,;–-]+】)\s+(?=[\"“A-Z])")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"“‘']?[A-Z0-9])")
_NUMBER = re.compile(r"(?<![\w.])\$?\d+(?:[.,]\d+)*(?:st|nd|rd|th|s)?(?![\w])"
                     r"(?:\s?(?:%|percent|per cent|million|billion|trillion))?")
_NUMBER_WORDS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
                 "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20",
                 "hundred": "100", "thousand": "1000", "dozen": "12"}
_DAYS = re.compile(r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april|"
                   r"may|june|july|august|september|october|november|december|yesterday|today|tomorrow|tonight)\b",
                   re.I)
_NEGATION = re.compile(r"\b(not|no|never|none|nobody|nothing|neither|nor|without|n't|cannot|denied|denies|deny|"
                       r"refused|refuses|rejected|rejects|failed|fails)\b|n['’]t\b", re.I)
_ENTITY_LABELS = {"PERSON", "ORG", "GPE", "NORP", "LOC", "FAC", "EVENT", "WORK_OF_ART", "LAW", "PRODUCT"}
_NOT_NAMES = {"the", "a", "an", "us", "u.s.", "he", "she", "it", "they"}


@dataclass(frozen=True)
class Verdict:
    sentence: str
    cited: tuple[int, ...]
    supported: bool
    reason: str | None = None  # why not: "cites nothing", "cites [7], which is not a given sentence",
    #                              "'Jordan' is not in [2]", "negation differs from [2]", "too far from [2] (0.41)"
    score: float = 0.0
    missing: tuple[str, ...] = field(default_factory=tuple)


def parse(answer: str) -> list[tuple[str, tuple[int, ...]]]:
    """The generated answer as (sentence without its markers, the numbers it cites), in order. A marker
    after a sentence's end belongs to it; a sentence with no marker cites nothing (the caller may find it
    a supporting sentence)."""
    text = " ".join(answer.replace("\r", " ").split())
    # A marker ends its sentence even without a full stop: "... too [3] Nothing ..." is two sentences.
    text = _MARKER_THEN_CAPITAL.sub(lambda m: m.group(1) + "\n", text)
    out: list[tuple[str, tuple[int, ...]]] = []
    pieces = [p for line in text.split("\n") for p in _SENTENCE_END.split(line)]
    for piece in pieces:
        numbers: list[int] = []

        def take(match: re.Match) -> str:
            raw = match.group("a") or match.group("b") or match.group("c") or ""
            for part in re.split(r"[,;]", raw):
                part = part.strip()
                if re.fullmatch(r"\d+\s*[–-]\s*\d+", part):
                    first, last = (int(x) for x in re.split(r"[–-]", part))
                    numbers.extend(range(first, min(last, first + 20) + 1))
                elif part.isdigit():
                    numbers.append(int(part))
            return ""

        sentence = _MARKER.sub(take, piece).strip()
        sentence = re.sub(r"\s+([.,;:!?])", r"\1", sentence)
        if sentence and re.search(r"\w", sentence):
            out.append((sentence, tuple(dict.fromkeys(numbers))))
        elif numbers and out:  # markers alone after the sentence end: the previous sentence's
            sentence_before, cited_before = out[-1]
            out[-1] = (sentence_before, tuple(dict.fromkeys(cited_before + tuple(numbers))))
    return out


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[’‘`]", "'", text).lower().replace(",", "").split())


def facts(sentence: str, doc=None) -> list[str]:
    """What a sentence states that its citation must hold: numbers, days and months, and names."""
    found: list[str] = []
    for match in _NUMBER.finditer(sentence):
        found.append(match.group(0).lstrip("$").split()[0])
    for match in _DAYS.finditer(sentence):
        found.append(match.group(0))
    if doc is None:
        from qa.news.nlp import parse as nlp_parse

        doc = nlp_parse(sentence)
    for ent in doc.ents:
        if ent.label_ in _ENTITY_LABELS:
            words = [t.text for t in ent if t.lower_ not in _NOT_NAMES and not t.is_punct]
            if words:
                found.append(" ".join(words))
    return list(dict.fromkeys(found))


def _holds(fact: str, cited: str) -> bool:
    """Is the fact in the cited text? Numbers by value ("4,000" = "4000"), a number word for its digit,
    a name whole or, for a person's full name, by its last word (the article's "Blinken")."""
    text = _normal(cited)
    key = _normal(fact)
    if re.search(rf"(?<![\w.]){re.escape(key)}(?![\w])", text):
        return True
    if key.isdigit():
        words = [w for w, d in _NUMBER_WORDS.items() if d == key]
        return any(re.search(rf"\b{w}\b", text) for w in words)
    if key in _NUMBER_WORDS:
        return re.search(rf"(?<![\w.]){_NUMBER_WORDS[key]}(?![\w])", text) is not None
    parts = key.split()
    if len(parts) > 1 and parts[-1][:1].isalpha():
        # "Antony Blinken" against "Blinken", "the Gaza Strip" against "Gaza": every capitalised word of it
        # that the cited text has, and at least its last one.
        return re.search(rf"\b{re.escape(parts[-1])}\b", text) is not None and all(
            re.search(rf"\b{re.escape(p)}\b", text) for p in parts if len(p) > 3 and p not in ("strip",))
    # "Israeli" against "Israel", "Palestinians" against "Palestinian": a shared stem.
    stems = set(tokenize(fact))
    return bool(stems) and stems <= set(tokenize(cited))


def _negated(text: str) -> bool:
    return bool(_NEGATION.search(text))


class Checker:
    """Judges generated sentences against numbered source sentences. `encode` embeds texts (rows L2-normed),
    typically the index's encoder; `threshold` from bench/checker.py."""

    def __init__(self, encode: Callable[[Sequence[str]], np.ndarray], threshold: float = THRESHOLD):
        self.encode = encode
        self.threshold = threshold

    def score(self, sentence: str, cited_text: str) -> tuple[float, float, float]:
        """(combined, lexical share, cosine) of a sentence against the text it cites."""
        own = [t for t in tokenize(sentence) if t not in STOPWORDS]
        theirs = set(tokenize(cited_text))
        lexical = sum(t in theirs for t in own) / len(own) if own else 0.0
        vectors = self.encode([sentence, cited_text])
        cosine = float(np.dot(vectors[0], vectors[1]))
        return LEXICAL_WEIGHT * lexical + COSINE_WEIGHT * cosine, lexical, cosine

    def verdict(self, sentence: str, cited: Sequence[int], sources: dict[int, str]) -> Verdict:
        cited = tuple(cited)
        if not cited:
            return Verdict(sentence, cited, False, "cites nothing")
        unknown = [n for n in cited if n not in sources]
        if unknown:
            return Verdict(sentence, cited, False, f"cites {_refs(unknown)}, which is not a given sentence")
        cited_text = " ".join(sources[n] for n in cited)
        missing = tuple(f for f in facts(sentence) if not _holds(f, cited_text))
        if missing:
            return Verdict(sentence, cited, False, f"{', '.join(repr(m) for m in missing)} not in {_refs(cited)}",
                           missing=missing)
        if _negated(sentence) != _negated(cited_text):
            return Verdict(sentence, cited, False, f"negation differs from {_refs(cited)}")
        novel = novel_words(sentence, cited_text)
        own = {t for t in tokenize(sentence) if t not in STOPWORDS}
        if len(novel) > NOVEL_MAX or (own and len(set(tokenize(" ".join(novel)))) / len(own) > NOVEL_SHARE):
            return Verdict(sentence, cited, False, f"adds what {_refs(cited)} does not say: {', '.join(novel)}")
        combined, _, _ = self.score(sentence, cited_text)
        if combined < self.threshold:
            return Verdict(sentence, cited, False, f"too far from {_refs(cited)} ({combined:.2f})", combined)
        return Verdict(sentence, cited, True, None, combined)

    def best_support(self, sentence: str, sources: dict[int, str]) -> Verdict:
        """For a sentence without a marker: the one source sentence that supports it best, if any passes."""
        best = Verdict(sentence, (), False, "cites nothing, and no given sentence supports it")
        for n in sources:
            verdict = self.verdict(sentence, (n,), sources)
            if verdict.supported and verdict.score > best.score:
                best = verdict
        return best


def novel_words(sentence: str, cited_text: str) -> list[str]:
    """The sentence's content words (as written) whose stems the cited text lacks; numbers and names are
    the facts check's."""
    theirs = set(tokenize(cited_text))
    found: list[str] = []
    seen: set[str] = set()
    for word in re.findall(r"[^\W\d_][\w'’-]*", sentence):
        stems = [t for t in tokenize(word) if t not in STOPWORDS]
        if stems and not any(t in theirs for t in stems) and stems[0] not in seen:
            seen.add(stems[0])
            found.append(word)
    return found


def _refs(numbers: Sequence[int]) -> str:
    return "[" + ", ".join(map(str, numbers)) + "]"
