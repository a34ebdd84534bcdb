"""The short answer: the minimal span of a cited quote that answers a factoid question.

Rules, not a model: the question's wh-phrase gives the expected answer type (person, date, number,
place, other thing, or an explanation, which gets none); candidate spans of the matching shape are
taken verbatim from the quote and the one nearest the question's own words wins."""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from enum import Enum

from qa.store.lexical import STOPWORDS, tokenize


class AnswerType(str, Enum):
    PERSON = "person"
    DATE = "date"
    NUMBER = "number"
    PLACE = "place"
    THING = "thing"
    EXPLANATION = "explanation"  # why / how does ... : no short answer


class SpanKind(str, Enum):
    DATE = "date"
    NUMBER = "number"
    NAME = "name"  # a run of capitalised words
    PHRASE = "phrase"  # a run of content words


_TYPE_RULES: list[tuple[re.Pattern, AnswerType]] = [
    (re.compile(r"^\s*why\b|\bfor what reason\b|\bwhat (is|was|were|are) the (reason|cause|purpose)\b|"
                r"^\s*how (does|do|did|can|could|is|was|were|are)\b(?!.*\b(many|much)\b)|\bexplain\b", re.I),
     AnswerType.EXPLANATION),
    (re.compile(r"^\s*what (did|does|do|will|would|could|should|can)\s+(\w+\s+){1,4}?(say|said|convey|tell|"
                r"write|tweet|announce|ask|want|mean|argue|claim|think|believe|suggest|propose|promise|"
                r"state|express|describe|explain|add|call for|urge|warn)\b", re.I), AnswerType.EXPLANATION),
    (re.compile(r"\b(when|what (year|decade|century|date|day|month|time|period|era)|which (year|decade|century|"
                r"date|day|month|period|era)|how long ago|since when)\b", re.I), AnswerType.DATE),
    (re.compile(r"\b(how (many|much|long|far|big|large|old|tall|high|fast|often|wide|deep|heavy)|"
                r"what (percentage|percent|proportion|number|amount|fraction|share|size|age|population)|"
                r"which (percentage|number|amount))\b", re.I), AnswerType.NUMBER),
    (re.compile(r"\b(who|whom|whose)\b", re.I), AnswerType.PERSON),
    (re.compile(r"\b(where|what (country|city|state|place|region|continent|river|town|location|area|island|"
                r"province|county|nation|sea|ocean|mountain)|which (country|city|state|place|region|continent|"
                r"river|town|location|area|island|province|county|nation|sea|ocean|mountain)|"
                r"in what (country|city|state|region|town|area))\b", re.I), AnswerType.PLACE),
]

_MONTH = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
          r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?")
_DATE_PATTERNS = [
    rf"{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}",
    rf"\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}}",
    rf"{_MONTH}\s+\d{{4}}",
    rf"{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?",
    r"(?:the\s+)?(?:early\s+|late\s+|mid-?)?\d{1,2}(?:st|nd|rd|th)(?:\s+and\s+\d{1,2}(?:st|nd|rd|th))?\s+centur(?:y|ies)"
    r"(?:\s+(?:BC|AD|BCE|CE))?",
    r"(?:the\s+)?\d{2,4}s",
    r"\b\d{3,4}\s*(?:BC|AD|BCE|CE)\b",
    r"\b(?:1\d{3}|20\d{2})\b(?:\s*(?:–|-|to|and)\s*(?:1\d{3}|20\d{2}))?",
    r"\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)(?:\s+(?:morning|afternoon|evening|night))?",
]
_DATE = re.compile("|".join(f"(?:{p})" for p in _DATE_PATTERNS))
_NUMBER_WORDS = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
                 r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
                 r"hundred|thousand|dozens?|hundreds|thousands|millions|half|a third|a quarter")
_NUMBER = re.compile(
    rf"(?:[$€£¥]\s?)?(?:\d[\d,]*(?:\.\d+)?|\b(?:{_NUMBER_WORDS})\b)"
    rf"(?:[\s-](?:million|billion|trillion|thousand|hundred|percent|per cent))?%?"
    rf"(?:\s(?!(?:{'|'.join(sorted(STOPWORDS))})\b)[a-z][a-z-]+)?",  # one unit word: "4,000 men", "12 km"
    re.I,
)
_NAME = re.compile(
    r"(?:[A-Z][\w'’.-]*|\d+(?:st|nd|rd|th)?)(?:\s+(?:(?:of|the|de|del|da|di|von|van|der|al|bin|and|for|la|le)\s+)*"
    r"(?:[A-Z][\w'’.-]*))*"
)
_WORD = re.compile(r"[\w'’-]+")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: SpanKind

    def text(self, sentence: str) -> str:
        return sentence[self.start : self.end]


def answer_type(question: str) -> AnswerType:
    for pattern, kind in _TYPE_RULES:
        if pattern.search(question):
            return kind
    return AnswerType.THING


# How well each span shape fits each question type (a bonus added to the span's score).
_FIT: dict[AnswerType, dict[SpanKind, float]] = {
    AnswerType.DATE: {SpanKind.DATE: 0.6, SpanKind.NUMBER: -0.6, SpanKind.NAME: -1.0, SpanKind.PHRASE: -1.0},
    AnswerType.NUMBER: {SpanKind.NUMBER: 0.6, SpanKind.DATE: -0.6, SpanKind.NAME: -1.0, SpanKind.PHRASE: -1.0},
    AnswerType.PERSON: {SpanKind.NAME: 0.6, SpanKind.PHRASE: -1.0},
    AnswerType.PLACE: {SpanKind.NAME: 0.6, SpanKind.PHRASE: -1.0},
    AnswerType.THING: {SpanKind.NAME: 0.6, SpanKind.PHRASE: 0.0, SpanKind.NUMBER: 0.0, SpanKind.DATE: 0.0},
}
# Words that are rarely an answer on their own: connectives, hedges, and naming verbs ("is called X").
_WEAK = frozenset(
    """thus instead however therefore also often usually generally later first certain various several including
    like although though even still yet well called known named termed referred considered described regarded
    became become include includes included used using based such whereas while since already another others
    main major many much most new other same several small large""".split()
)
# After these, what follows is typically the thing named: "is called X", "known as X", "renamed to X".
PHRASE_BONUS = 0.2
_CUES = frozenset("called named termed known as is was are were include includes including to became".split())



_ROLE_WORDS = frozenset(
    """chairman chairwoman president minister secretary spokesman spokeswoman spokesperson advisor adviser director
    leader king queen emperor general senator governor mayor ceo founder author professor dr mr mrs ms sir pope saint
    lord prince princess duke chief commander captain coach manager editor judge ambassador envoy inventor
    architect composer painter poet writer scientist son daughter wife husband brother sister father mother""".split()
)
_ORG_WORDS = frozenset(
    """authority department ministry university college council party union organization organisation agency
    committee court bank company corporation inc group office states nations forces army navy church school
    institute association federation parliament government commission league club society""".split()
)


def candidate_spans(sentence: str) -> list[Span]:
    spans = [Span(m.start(), m.end(), SpanKind.DATE) for m in _DATE.finditer(sentence)]
    taken = [(s.start, s.end) for s in spans]

    def free(start: int, end: int) -> bool:
        return all(end <= a or start >= b for a, b in taken)

    for m in _NUMBER.finditer(sentence):
        text = m.group(0).rstrip()
        is_number = any(ch.isdigit() for ch in text) or re.match(rf"(?i)\b(?:{_NUMBER_WORDS})\b", text)
        if is_number and free(m.start(), m.start() + len(text)):
            spans.append(Span(m.start(), m.start() + len(text), SpanKind.NUMBER))
    for m in _NAME.finditer(sentence):
        text = m.group(0)
        end = m.end()
        if text.endswith(".") and len(text.rsplit(None, 1)[-1]) > 4:  # a sentence's full stop, not "U.S."
            text, end = text[:-1], end - 1
        if text.lower() in STOPWORDS or not any(ch.isupper() for ch in text) or not free(m.start(), end):
            continue
        spans.append(Span(m.start(), end, SpanKind.NAME))
    # Runs of content words (at most four), for "what"/"which" questions about things.
    words = [(m.start(), m.end(), m.group(0).lower()) for m in _WORD.finditer(sentence)]
    run: list[tuple[int, int, str]] = []
    for word in words + [(len(sentence), len(sentence), "the")]:
        between = sentence[run[-1][1] : word[0]] if run else ""
        if word[2] in STOPWORDS or (run and between.strip()):
            if run:
                for size in range(1, min(4, len(run)) + 1):
                    for i in range(len(run) - size + 1):
                        spans.append(Span(run[i][0], run[i + size - 1][1], SpanKind.PHRASE))
            run = [] if word[2] in STOPWORDS else [word]
        else:
            run.append(word)
    return spans


def _matches(word: str, question_terms: set[str]) -> bool:
    """Same stem, or one a prefix of the other ("Israeli" / "Israel's") for words of 5+ letters."""
    for stem in tokenize(word) + [word.lower()]:
        if stem in question_terms:
            return True
        if len(stem) >= 5 and any(len(t) >= 5 and (t.startswith(stem) or stem.startswith(t)) for t in question_terms):
            return True
    return False


def _split_on_question_words(span: Span, sentence: str, question_terms: set[str]) -> list[Span]:
    """'Israeli National Security Advisor Meir Ben Shabbat' asked about the advisor → 'Meir Ben Shabbat'.
    In a name, what precedes the question's words is a title or first name of what was asked about
    ('Antony' of 'Antony Blinken'), so only what follows them is kept."""
    words = list(_WORD.finditer(sentence, span.start, span.end))
    matched = [i for i, w in enumerate(words) if _matches(w.group(0), question_terms)]
    if not matched:
        return [span]
    if span.kind is SpanKind.NAME:
        rest = words[matched[-1] + 1 :]
        return [Span(rest[0].start(), rest[-1].end(), span.kind)] if rest else []
    pieces, current = [], []
    for i, word in enumerate(words):
        if i in matched:
            if current:
                pieces.append(current)
            current = []
        else:
            current.append(word)
    if current:
        pieces.append(current)
    return [Span(p[0].start(), p[-1].end(), span.kind) for p in pieces]


def extract(question: str, sentences: list[str]) -> str | None:
    """The best span across the given quotes (best quote first), or None for explanations / no match."""
    kind = answer_type(question)
    if kind is AnswerType.EXPLANATION or not sentences:
        return None
    question_terms = set(tokenize(question))
    fit = _FIT[kind]
    best: tuple[float, str] | None = None
    for sentence_rank, sentence in enumerate(sentences):
        words = list(_WORD.finditer(sentence))
        starts = [w.start() for w in words]
        matched = [i for i, w in enumerate(words) if _matches(w.group(0), question_terms)]
        matched_set = set(matched)
        spans = []
        for span in candidate_spans(sentence):
            if span.kind in fit:
                spans.extend(_split_on_question_words(span, sentence, question_terms)
                             if span.kind in (SpanKind.NAME, SpanKind.PHRASE) else [span])
        for span in spans:
            text = span.text(sentence)
            terms = tokenize(text)
            if not terms and span.kind not in (SpanKind.NUMBER, SpanKind.DATE):
                continue
            repeated = sum(1 for t in terms if t in question_terms) / max(len(terms), 1)
            if repeated >= 1.0:
                continue  # the question's own words are not its answer
            first = bisect_right(starts, span.start) - 1
            last = max(first, bisect_left(starts, span.end) - 1)
            if matched:
                distance = min(first - i if i < first else i - last if i > last else 0 for i in matched)
                nearby = {t for i in matched if abs(i - first) <= 8 or abs(i - last) <= 8
                          for t in tokenize(words[i].group(0))} & question_terms
                closeness = 1.0 / (1.0 + max(distance - 1, 0) / 3) + len(nearby) / max(len(question_terms), 1)
            else:
                closeness = 0.0
            previous_word = words[first - 1].group(0).lower() if first > 0 else ""
            # Question words right before the span ("...Security Advisor Meir Ben Shabbat") name what it is.
            adjacent, i = 0, first - 1
            while i >= 0 and (i in matched_set or words[i].group(0).lower() in STOPWORDS):
                adjacent += i in matched_set
                i -= 1
            span_words = {w.lower() for w in text.split()}
            single = len(span_words) == 1 and span.kind is SpanKind.PHRASE
            word = text.lower()
            score = (
                closeness
                - repeated
                + fit[span.kind]  # how well the shape fits the question type
                + 0.3 * adjacent / max(len(question_terms), 1)
                + (0.15 if previous_word in _CUES else 0.0)
                - (0.5 if single and word in _WEAK else 0.0)
                - (0.25 if single and (word.endswith("ly") or word.endswith("ing") or word.endswith("ed")) else 0.0)
                + (0.4 if kind is AnswerType.PERSON and previous_word in _ROLE_WORDS else 0.0)
                - (0.5 if kind is AnswerType.PERSON and span_words & _ORG_WORDS else 0.0)
                - 0.15 * sentence_rank
                - 0.05 * max(0, len(text.split()) - 3)
                + (PHRASE_BONUS if span.kind is SpanKind.PHRASE and 2 <= len(text.split()) <= 3 else 0.0)
            )
            if best is None or score > best[0]:
                best = (score, text)
    return best[1].strip(" ,;:") if best else None
