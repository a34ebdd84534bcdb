"""The short answer: the minimal span of a cited quote that answers a factoid question, or none.

Rules propose, a calibrated model disposes:

- the question's wh-phrase gives the expected answer type (person, date, number, place, other thing, or an
  explanation, which gets none) and, for "which/what X", its head noun X;
- candidates are verbatim spans of the cited quotes (best first) of at most six words that neither start
  nor end with a stopword, a word of the question, or a discourse word ("Earlier", "However"); dates,
  numbers and capitalised names are recognised, and a name's leading titles ("Prime Minister Benjamin
  Netanyahu", "Palestinian Authority chairman Mahmoud Abbas") are told apart from the person;
- each candidate is described by scale-free features (does its shape fit the expected type; is it a
  personal name or an organisation; how close is it to the question's words, before or after them, in
  an apposition; which words border it; the quote's rank and score; how many candidates compete), and a
  logistic ranker gives the probability that it is exactly the answer;
- a logistic gate then judges the ranker's best candidate against its rivals (its probability, the best
  rival's, how the probability spreads, the question's type, the answer's probability) and the short
  answer is shown only when the gate's probability reaches the threshold, chosen on held-out questions
  for a stated exact match and F1 of what is shown. Both models and the threshold are fitted by
  bench/calibrate_short_answer.py on squad-v2-dev questions outside the bench sample
  (qa/data/short_answer.json).

With the span reader (qa/answer/reader.py, a fine-tuned all-MiniLM-L6-v2 delta), every candidate also
carries the reader's judgement of it, the reader's own best span joins the candidates when the rules did
not propose it, and the ranker and gate of qa/data/reader.json (fitted by the same script with --reader)
decide: one reader pass, tens of ms on CPU. Without the reader (its delta missing or failing to load) the
rules-only model of qa/data/short_answer.json answers, at about a millisecond. Both models load once,
lazily.
"""
from __future__ import annotations

import functools
import json
import logging
import math
import re
import threading
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

from qa.answer.premise import base_stems
from qa.store.lexical import STOPWORDS, _stem, tokenize

log = logging.getLogger(__name__)

MODEL_PATH = Path(__file__).parent.parent / "data" / "short_answer.json"
MAX_SENTENCES = 3  # quotes searched, best first
MAX_WORDS = 6  # words in a candidate


class AnswerType(str, Enum):
    PERSON = "person"
    DATE = "date"
    NUMBER = "number"
    PLACE = "place"
    THING = "thing"
    EXPLANATION = "explanation"  # why / how does ... / what did X say: no short answer


class SpanKind(str, Enum):
    DATE = "date"
    NUMBER = "number"
    NAME = "name"  # capitalised words
    PHRASE = "phrase"  # other words


_PERSON_NOUNS = (r"person|people|man|men|woman|women|leaders?|kings?|queens?|emperors?|presidents?|ministers?|"
                 r"officials?|politicians?|scientists?|physicists?|chemists?|authors?|writers?|poets?|"
                 r"philosophers?|composers?|painters?|artists?|architects?|engineers?|inventors?|explorers?|"
                 r"generals?|commanders?|rulers?|monarchs?|princes?|princesses?|dukes?|popes?|bishops?|"
                 r"saints?|actors?|actresses?|singers?|players?|coach|coaches|founders?|owners?|directors?|"
                 r"governors?|mayors?|senators?|judges?|lawyers?|doctors?|professors?|students?|scholars?|"
                 r"historians?|economists?|mathematicians?|astronomers?|diplomats?|ambassadors?|envoys?|"
                 r"spokesm[ae]n|spokesperson|advis[eo]rs?|secretar(?:y|ies)|chairm[ae]n|individuals?|"
                 r"sons?|daughters?|wife|husband|brothers?|sisters?|fathers?|mothers?|heirs?")
_PLACE_NOUNS = (r"country|countries|city|cities|state|place|places|region|regions|continent|continents|"
                r"river|rivers|town|towns|location|locations|area|areas|island|islands|province|provinces|"
                r"county|counties|nation|nations|sea|seas|ocean|oceans|mountains?|village|villages|district|"
                r"districts|neighbou?rhoods?|capital|port|lake|lakes|valley|desert|borough|suburb|territory|"
                r"territories|peninsula|street|park|site|building|venue|stadium|airport|bay|coast|border")
# ("states" alone is a verb as often as a noun: "Which theorem states...")
_AUX = (r"is|was|are|were|be|been|did|does|do|has|have|had|can|could|will|would|should|may|might|must|"
        r"shall")

_EXPLANATION_RULES = [
    re.compile(r"^\s*why\b|\bfor what reason\b|\bwhat (is|was|were|are) the (reason|cause|purpose)\b|"
               r"^\s*how (does|do|did|can|could|is|was|were|are)\b(?!.*\b(many|much)\b)|\bexplain\b", re.I),
    re.compile(r"^\s*what (did|does|do|will|would|could|should|can)\s+(\w+\s+){1,4}?(say|said|convey|tell|"
               r"write|tweet|announce|ask|want|mean|argue|claim|think|believe|suggest|propose|promise|"
               r"state|express|describe|explain|add|call for|urge|warn)\b", re.I),
]
_NOT_AUX = rf"(?:(?!(?:{_AUX})\b)[\w'’-]+\s+)"
# Matched at the question's first wh-word ("What is the force called when..." asks what, not when).
_TYPE_RULES: list[tuple[re.Pattern, AnswerType]] = [
    (re.compile(r"(when|(what|which) (\w+\s+)?(year|years|decade|century|date|day|month|time|period|era|age)|"
                r"how long ago|since when)\b", re.I), AnswerType.DATE),
    (re.compile(r"(how (many|much|long|far|big|large|old|tall|high|fast|often|wide|deep|heavy)|"
                r"(what|which) (\w+\s+)?(percentage|percent|proportion|number|amount|fraction|share|size|"
                r"population|temperature|rate|speed|distance|length)|what age)\b", re.I), AnswerType.NUMBER),
    (re.compile(r"(who|whom|whose)\b", re.I), AnswerType.PERSON),
    (re.compile(rf"(which|what)\s+{_NOT_AUX}{{0,2}}?({_PERSON_NOUNS})\b", re.I), AnswerType.PERSON),
    (re.compile(rf"(where|(what|which)\s+{_NOT_AUX}?({_PLACE_NOUNS})\b|(what|which) states\b)", re.I),
     AnswerType.PLACE),
]
_WH = re.compile(r"\b(what|which|who|whom|whose|when|where|why|how)\b", re.I)
# "what type of X", "which kind of X": the head is X.
_HEAD = re.compile(rf"\b(?:what|which)\s+((?:(?!(?:{_AUX})\b)[\w'’-]+\s+){{0,3}}?)(?:(?:{_AUX})\b|$|[?,])", re.I)
_OF_HEAD = re.compile(r"\b(?:type|types|kind|kinds|sort|sorts|form|forms|name|names|example|examples|part|"
                      r"class|group)\s+of\s+(?:the\s+|a\s+|an\s+)?([\w'’-]+)", re.I)

_MONTH = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
          r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?")
_DATE_PATTERNS = [
    rf"{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}",
    rf"\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}}",
    rf"{_MONTH}\s+\d{{4}}",
    rf"{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?",
    r"(?:(?:early|late|mid-?)\s*)?\d{1,2}(?:st|nd|rd|th)(?:\s+and\s+\d{1,2}(?:st|nd|rd|th))?\s+centur(?:y|ies)"
    r"(?:\s+(?:BC|AD|BCE|CE))?",
    r"\d{2,4}s\b",
    r"\b\d{3,4}\s*(?:BC|AD|BCE|CE)\b",
    r"\b(?:1\d{3}|20\d{2})\b(?:\s*(?:–|-|to|and)\s*(?:1\d{3}|20\d{2}))?",
    r"\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)(?:\s+(?:morning|afternoon|evening|night))?",
]
_DATE = re.compile("|".join(f"(?:{p})" for p in _DATE_PATTERNS))
_NUMBER_WORDS = frozenset(
    """one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen
    eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand million billion
    trillion dozen dozens hundreds thousands millions billions half""".split()
)
_SCALE_WORDS = frozenset("hundred thousand million billion trillion percent per cent".split())
# A word: a number ("4,000", "$1.5", "12%"), an abbreviation ("U.S."), a word with inner hyphens or
# apostrophes; a possessive "’s" is a word of its own, so that a span can end before it.
_TOKEN = re.compile(
    r"[$€£¥]?\d+(?:[.,/]\d+)*(?:%|(?:s|st|nd|rd|th)\b)?|(?:[A-Za-z]\.){2,}|"
    r"(?:Mr|Mrs|Ms|Dr|St|Rep|Sen|Gov|Gen|Col|Capt|Lt|Sgt|Rev|Prof|Jr|Sr|Mt|Ft)\.|[A-Z]\.(?=\s+[A-Z])|"
    r"[^\W\d_](?:[\w-]*\w)?(?=['’]s\b)|['’]s\b|[^\W_](?:[\w'’-]*\w)?"
)
_BREAK = re.compile(r"[,;:()\[\]\"“”‘—–]|'\s|\s'|\.\s|\.$")
# Sentence-opening adverbs and discourse words: never (part of) an answer's edge.
_DISCOURSE = frozenset(
    """earlier later however meanwhile also moreover furthermore nevertheless nonetheless instead thus therefore hence
    still yet then now today yesterday tonight recently previously subsequently additionally finally firstly
    secondly initially eventually currently originally ultimately overall indeed besides otherwise accordingly
    consequently similarly likewise namely specifically notably particularly especially generally usually typically
    often sometimes according although though whereas since because after before during when where if unless
    until once afterwards afterward soon shortly already alternatively conversely rather perhaps maybe certainly
    clearly obviously apparently reportedly allegedly further lastly next thereafter there here so well yes""".split()
)
# Words that are rarely an answer on their own: connectives, hedges, and naming verbs ("is called X").
_WEAK = frozenset(
    """thus instead however therefore also often usually generally later first certain various several including
    like although though even still yet well called known named termed referred considered described regarded
    became become include includes included used using based such whereas while since already another others
    main major many much most new other same several small large said says say added""".split()
)
_TITLES = frozenset(
    """mr mrs ms miss dr prof professor sir dame lord lady king queen emperor empress prince princess duke duchess
    earl count baron pope saint st bishop archbishop cardinal rev reverend father brother sister president
    vice prime minister secretary deputy assistant undersecretary under foreign chief state affairs national
    security advisor adviser chairman chairwoman chair spokesman spokeswoman spokesperson general attorney speaker
    senator sen representative rep ambassador envoy chancellor premier governor gov mayor commander admiral
    marshal colonel col captain capt lieutenant lt sergeant sgt major judge justice sultan caliph khan shah tsar
    czar emir sheikh director ceo chairperson leader head defense defence interior finance health labor labour
    us u.s uk u.k eu un special""".split()
)
# Words that may open a number: "over 60 percent", "until 1796", "up to 100".
_APPROX = frozenset("""over about under until up only nearly almost around approximately roughly more less fewer
    at least some just by before after since""".split())
_ORG_WORDS = frozenset(
    """authority department ministry university college council party union organization organisation agency
    committee court bank company corporation inc group office states nations forces army navy church school
    institute association federation parliament government commission league club society house senate congress
    administration board bureau foundation trust corps service services times post press news network team
    academy museum hospital""".split()
)
_LOCATIVE = frozenset("in at from near into across throughout within to toward towards outside inside around".split())
_CUES = frozenset("called named termed known as include includes including became become".split())
_COPULA = frozenset("is was are were be been being became becomes".split())
_PERSON_HEAD = re.compile(rf"^(?:{_PERSON_NOUNS})$", re.I)
_PLACE_HEAD = re.compile(rf"^(?:{_PLACE_NOUNS})$", re.I)


@dataclass(frozen=True)
class Profile:
    """What the question asks for."""

    kind: AnswerType
    terms: frozenset[str]  # its stemmed content words
    head: str | None  # the head noun of "which/what X", stemmed
    wh: str  # what, which, who, when, where, how, other
    # Where the answer should sit among the question's words found in the quote: 0 before them all
    # ("Who developed X?" ← "Y developed X"), 1 after them ("What did X develop?", "X is called what?").
    expected_before: float | None
    place: str | None = None  # the place noun of "which/what X", stemmed ("in which US state" -> state)


@dataclass(frozen=True)
class Candidate:
    text: str
    sentence: int  # rank of its quote, best first
    start: int  # character offsets into that quote
    end: int
    kind: SpanKind
    features: tuple[float, ...]


# Questions that ask for several things ("Which officials...", "Who all...", "both"): no one span answers them.
_LIST_CUE = re.compile(r"\bwho all\b|\bwhat all\b|\bboth\b|\b(?:name|list) (?:all|every)\b|\ball the [a-z]+s\b", re.I)
# A wh-word near a plural-looking word, or "what/who are/were": maybe a plural wh-phrase; the parse decides.
_PLURAL_WH = re.compile(r"\b(?:which|what)\s+(?!(?:did|does|do|is|are|was|were|will|would|can|could|should|has|"
                        r"have|had|about)\b)(?:[A-Za-z-]+\s+){0,2}?([a-z]{3,}s)\b", re.I)
_PLURAL_COPULA = re.compile(r"\b(?:what|who|which) (?:are|were)\b", re.I)
_NAMING = re.compile(r"\b(?:called|known as|named|termed|referred to as)\b", re.I)  # asks for one name
_PLURAL_TAGS = {"NNS", "NNPS"}
_SEVERAL = re.compile(r",|;|&|\b(?:and|or|versus|vs)\b", re.I)  # a span that names several things


@functools.lru_cache(maxsize=4096)
def is_list_question(question: str) -> bool:
    """Does the question ask for several things? A cue ("Who all...", "both", "name all...") says so; else
    spaCy's parse (qa/news/nlp.py) of a question whose wh-word may head a plural: "Which officials spoke...",
    "What places did he visit?" (the wh-word determines a plural noun), "What are the three sectors of
    construction?" (asks what a plural subject is), but not "What happens when...", "What route connects
    ...", "In what century did missionaries..." or "What are the hairs on ctenophores called?"."""
    if _LIST_CUE.search(question):
        return True
    copula = _PLURAL_COPULA.search(question) is not None
    if not copula and _PLURAL_WH.search(question) is None:
        return False
    from qa.news.nlp import PipelineMissing, parse_syntax

    try:
        doc = parse_syntax(question)
    except PipelineMissing:
        return False  # without the parse, a lone plural-looking word is too weak a cue
    naming = _NAMING.search(question) is not None
    for token in doc:
        wh = token.lower_
        if wh in ("which", "what") and token.dep_ == "det" and token.head.tag_ in _PLURAL_TAGS:
            return True
        if copula and not naming and wh in ("what", "who", "which") and token.head.lower_ in ("are", "were"):
            subject = [c for c in token.head.children if c.dep_ in ("nsubj", "attr") and c.i != token.i]
            if subject and subject[0].tag_ in _PLURAL_TAGS:
                return True
    return False


def answer_type(question: str) -> AnswerType:
    if any(p.search(question) for p in _EXPLANATION_RULES):
        return AnswerType.EXPLANATION
    wh = _WH.search(question)
    if wh is None:
        return AnswerType.THING
    for pattern, kind in _TYPE_RULES:
        if pattern.match(question, wh.start()):
            return kind
    return AnswerType.THING


def is_wh_question(question: str) -> bool:
    """Does the question have a wh-word (what, which, who, when, where, why, how), i.e. ask for something?"""
    return _WH.search(question) is not None


def _wh(question: str) -> str:
    m = _WH.search(question)
    word = m.group(1).lower() if m else "other"
    return "who" if word in ("whom", "whose") else word


def _head(question: str) -> str | None:
    of = _OF_HEAD.search(question)
    if of:
        return of.group(1).lower()
    m = _HEAD.search(question)
    if m and m.group(1).strip():
        return m.group(1).split()[-1].lower()
    return None


_ASKS_ROLE = re.compile(r"\s*[Ww]ho\s+(?:is|was|are|were)\s+(?!the\b|a\b|an\b)[A-Z][\w.’'-]*(?:\s+[A-Z][\w.’'-]*)*\s*\??\s*$")
_OBJECT_AUX = frozenset("did does do can could will would should might may must has have had".split())


def _expected_before(question: str) -> float | None:
    wh = _WH.search(question)
    if wh is None:
        return None
    before = [w for w in _TOKEN.findall(question[: wh.start()]) if w.lower() not in STOPWORDS]
    after = [w.lower() for w in _TOKEN.findall(question[wh.end() :])]
    content_after = [w for w in after if w not in STOPWORDS]
    if len(content_after) <= 1 and before:
        return 1.0  # "... is called what?", "... in what year?"
    # Skip the wh-phrase's own noun phrase ("which Roman emperor ..."): up to the first verb-like word.
    k = 0
    while k < len(after) and k < 4 and after[k] not in STOPWORDS and not after[k].endswith("ed"):
        k += 1
    if k < len(after) and after[k] in _OBJECT_AUX:
        return 1.0
    if k < len(after) and after[k] in _COPULA:
        return None  # "What is the capital of X?": either side
    return 0.0


_PLACE_HEAD_OF = re.compile(rf"\b(?:which|what)\s+(?:[\w'’-]+\s+){{0,2}}?({_PLACE_NOUNS})\b", re.I)


def profile(question: str) -> Profile:
    head = _head(question)
    stems = tokenize(head) if head else []
    place = _PLACE_HEAD_OF.search(question)
    return Profile(answer_type(question), frozenset(tokenize(question)), stems[0] if stems else None, _wh(question),
                   _expected_before(question), _stem(place.group(1).lower()) if place else None)


_SHAPES = ("cap", "num", "ed", "ing", "ly", "noun", "adj", "plural", "verb", "other")
_COMMON_VERBS = frozenset(
    """include includes included called known made make makes has have had became become becomes proved proves
    said says uses use used found finds led leads took takes gave gives won wins built builds began begins showed
    shows named gained introduced produced created established described considered regarded allowed required
    asserts argued argues claimed claims stated states remains remained continued contains contained consists
    consisted""".split()
)
_NOT_NAMES = _COMMON_VERBS | _DISCOURSE | _WEAK | frozenset(
    """spoke speaking told telling met meeting wrote writing asked asking tweeted tweeting added adding noted
    speaks tells meets writes asks adds notes according""".split())
# Titles that are part of the name by convention ("King Charles III", "Saint Peter"): kept for "who".
# Lower-case words inside a name: between two capitalised words a candidate name runs on ("Bank of America");
# with a few more, a name spelled out in a quote may hold them ("Bank of the West", "Maria y Cruz").
_JOINS_A_NAME = frozenset("of de del da di von van der al bin for the la le".split())
_NAME_JOINERS = _JOINS_A_NAME | frozenset("and on upon in at du des della les den y el ibn".split())
_HEREDITARY = frozenset(
    """king queen emperor empress pope prince princess duke duchess earl count baron saint st sir dame lord lady
    sultan caliph khan shah tsar czar emir sheikh""".split()
)
_NOUN_SUFFIX = ("tion", "sion", "ment", "ness", "ity", "ism", "ist", "ance", "ence", "ship", "ure", "age", "ogy")
_ADJ_SUFFIX = ("al", "ic", "ous", "ive", "ful", "less", "able", "ible", "ary", "ish", "ian", "ese", "ern")


def _shape(token) -> str:
    if token.number:
        return "num"
    if token.cap:
        return "cap"
    low = token.low
    if low in _COMMON_VERBS:
        return "verb"
    if len(low) > 4 and low.endswith("ing"):
        return "ing"
    if len(low) > 3 and low.endswith("ed"):
        return "ed"
    if len(low) > 4 and low.endswith("ly"):
        return "ly"
    if low.endswith(_NOUN_SUFFIX):
        return "noun"
    if low.endswith(_ADJ_SUFFIX):
        return "adj"
    if len(low) > 3 and low.endswith("s") and not low.endswith("ss"):
        return "plural"
    return "other"


def _matches(word: str, question_terms: frozenset[str]) -> bool:
    """Same stem, or one a prefix of the other ("Israeli" / "Israel's") for words of 5+ letters."""
    for stem in tokenize(word) + [word.lower()]:
        if stem in question_terms:
            return True
        if len(stem) >= 5 and any(len(t) >= 5 and (t.startswith(stem) or stem.startswith(t)) for t in question_terms):
            return True
    return False


# ---------------------------------------------------------------- features
_PREV_CLASSES = ("start", "det", "of", "locative", "by", "cue", "copula", "and", "comma", "stop", "title", "content")
_NEXT_CLASSES = ("end", "comma", "of", "and", "locative", "paren", "copula", "rel", "possessive", "stop", "content")
BASE_FEATURES: tuple[str, ...] = (
    "kind_date", "kind_number", "kind_name", "kind_phrase",
    "fit", "misfit",  # the span's shape is / is not what the question type asks for
    "typed_exact", "typed_cut",  # it is exactly a recognised date/number/name, or cuts through one
    "person_name", "org_name", "title_first", "title_before", "has_scale",
    "n_words", "one_word", "long", "has_digit", "capital_share", "lower_start", "weak_single", "suffix_single",
    "inner_repeat",  # share of the span's words that are the question's
    "edge_question", "approx_start",  # it starts or ends with a question word (a name, or the head noun); "over 60"
    "closeness", "nearby", "adjacent_before", "adjacent_after", "no_question_words", "apposition",
    "head_next", "head_prev", "sentence_start", "align", "align_known",
    *(f"prev_{c}" for c in _PREV_CLASSES), *(f"next_{c}" for c in _NEXT_CLASSES),
    *(f"first_{c}" for c in _SHAPES), *(f"last_{c}" for c in _SHAPES), *(f"after_{c}" for c in _SHAPES),
    "rank_1", "rank_2", "score_ratio", "coverage", "confidence",
    "rule", "rule_gap", "rule_best", "fit_count", "fit_alone", "in_other_quote",
    "nearest_fit",  # of the spans whose shape fits, it is the one nearest the question's words in its quote
    "edge_in_name", "unit",  # a name holding a question word ("Ralph Woodward" for "Woodward Park"); "400 m"
)
TYPED: tuple[AnswerType, ...] = (AnswerType.PERSON, AnswerType.DATE, AnswerType.NUMBER, AnswerType.PLACE,
                                 AnswerType.THING)
# One logistic model: every base feature once for all questions and once per question type (the same
# feature can mean something else for a who- than for a what-question).
FEATURES: tuple[str, ...] = BASE_FEATURES + tuple(f"{t.value}:{f}" for t in TYPED for f in BASE_FEATURES)
_N = len(BASE_FEATURES)
_INDEX = {name: i for i, name in enumerate(BASE_FEATURES)}

# How well each shape fits each question type (a part of the rule score).
_FIT: dict[AnswerType, dict[SpanKind, float]] = {
    AnswerType.DATE: {SpanKind.DATE: 1.0, SpanKind.NUMBER: -0.5, SpanKind.NAME: -1.0, SpanKind.PHRASE: -1.0},
    AnswerType.NUMBER: {SpanKind.NUMBER: 1.0, SpanKind.DATE: -0.5, SpanKind.NAME: -1.0, SpanKind.PHRASE: -1.0},
    AnswerType.PERSON: {SpanKind.NAME: 1.0, SpanKind.PHRASE: -0.5, SpanKind.DATE: -1.0, SpanKind.NUMBER: -1.0},
    AnswerType.PLACE: {SpanKind.NAME: 1.0, SpanKind.PHRASE: -0.5, SpanKind.DATE: -1.0, SpanKind.NUMBER: -1.0},
    AnswerType.THING: {SpanKind.NAME: 0.3, SpanKind.PHRASE: 0.0, SpanKind.NUMBER: -0.2, SpanKind.DATE: -0.2},
}


@dataclass
class _Token:
    start: int
    end: int
    text: str
    low: str
    title: bool
    stop: bool
    question: bool  # one of the question's words
    cap: bool
    number: bool
    opener: bool = False  # a sentence's or quotation's first word that is a verb or adverb ("Spoke with...")


def _tokens(sentence: str, terms: frozenset[str]) -> list[_Token]:
    out = []
    for m in _TOKEN.finditer(sentence):
        text = m.group(0)
        low = text.lower().replace("’", "'")
        number = text[0].isdigit() or text[0] in "$€£¥" or low in _NUMBER_WORDS
        stop = low in STOPWORDS or low == "'s"
        question = not stop and _matches(text, terms)
        # A sentence's (or a quotation's) first word is capitalised whatever it is: "Spoke with...",
        # "Earlier on...".
        opening = not out or any(ch in sentence[out[-1].end : m.start()] for ch in "“\"‘:")
        cap = text[0].isupper() and not (opening and low in _NOT_NAMES)
        out.append(_Token(m.start(), m.end(), text, low, low.rstrip(".") in _TITLES, stop, question, cap, number,
                          opening and low in _NOT_NAMES))
    return out


def _typed(sentence: str, tokens: list[_Token]) -> tuple[dict[tuple[int, int], SpanKind], list[tuple[int, int]]]:
    """Recognised spans as token ranges (i, j inclusive): dates, numbers (with their scale word), and
    names (a name's leading titles give a second, shorter name). Also every name's full range, for 'cuts'."""
    starts = {t.start: i for i, t in enumerate(tokens)}
    ends = {t.end: i for i, t in enumerate(tokens)}
    typed: dict[tuple[int, int], SpanKind] = {}
    for m in _DATE.finditer(sentence):
        i, j = starts.get(m.start()), ends.get(m.end())
        if i is not None and j is not None:
            typed[(i, j)] = SpanKind.DATE
    names: list[tuple[int, int]] = []
    i, n = 0, len(tokens)
    while i < n:
        t = tokens[i]
        if t.number and not t.low in ("half",):
            j = i
            while j + 1 < n and (tokens[j + 1].low in _SCALE_WORDS or tokens[j + 1].low == "%") \
                    and not _BREAK.search(sentence, tokens[j].end, tokens[j + 1].start):
                j += 1
            # A range: "50% to 60%", "5,000 to 30,000", "between 1.4 and 5.8".
            if (j + 2 < n and tokens[j + 1].low in ("to", "and", "-", "or") and tokens[j + 2].number
                    and not _BREAK.search(sentence, tokens[j].end, tokens[j + 2].start)):
                k = j + 2
                while k + 1 < n and tokens[k + 1].low in _SCALE_WORDS:
                    k += 1
                typed.setdefault((i, k), SpanKind.NUMBER)
            if not any(a <= i <= b for a, b in typed):
                typed.setdefault((i, j), SpanKind.NUMBER)
                # With its unit: "400 m", "43 million tons", "10 years".
                if (j + 1 < n and not tokens[j + 1].stop and not tokens[j + 1].number and not tokens[j + 1].cap
                        and not _BREAK.search(sentence, tokens[j].end, tokens[j + 1].start)
                        and not tokens[j + 1].low.endswith(("ed", "ing", "ly"))):
                    typed.setdefault((i, j + 1), SpanKind.NUMBER)
            i = j + 1
            continue
        if t.cap and not t.stop and t.low not in _DISCOURSE:
            j = i
            while j + 1 < n:
                gap_ok = not _BREAK.search(sentence, tokens[j].end, tokens[j + 1].start)
                if gap_ok and tokens[j + 1].cap and tokens[j + 1].low not in ("i",):
                    j += 1
                elif (gap_ok and j + 2 < n and tokens[j + 1].low in _JOINS_A_NAME
                      and tokens[j + 2].cap and not _BREAK.search(sentence, tokens[j + 1].end, tokens[j + 2].start)):
                    j += 2
                else:
                    break
            if not any(a <= i <= b for a, b in typed):
                names.append((i, j))
                typed.setdefault((i, j), SpanKind.NAME)
                # Titles: "US Secretary of State Antony Blinken" → "Antony Blinken".
                last_title = max((k for k in range(i, j) if tokens[k].title), default=None)
                if last_title is not None and last_title < j:
                    rest = tokens[last_title + 1 : j + 1]
                    if all(r.low not in _ORG_WORDS and not r.title for r in rest) and rest[0].cap:
                        typed.setdefault((last_title + 1, j), SpanKind.NAME)
            i = j + 1
            continue
        i += 1
    return typed, names


def _prev_class(tokens: list[_Token], i: int, sentence: str) -> str:
    if i == 0:
        return "start"
    gap = sentence[tokens[i - 1].end : tokens[i].start]
    if "," in gap or ";" in gap or ":" in gap or "(" in gap or "—" in gap:
        return "comma"
    low = tokens[i - 1].low
    if low in ("the", "a", "an"):
        return "det"
    if low == "of":
        return "of"
    if low in _LOCATIVE:
        return "locative"
    if low == "by":
        return "by"
    if low in _CUES:
        return "cue"
    if low in _COPULA:
        return "copula"
    if low in ("and", "or"):
        return "and"
    if tokens[i - 1].title:
        return "title"
    return "stop" if tokens[i - 1].stop else "content"


def _next_class(tokens: list[_Token], j: int, sentence: str) -> str:
    if j + 1 >= len(tokens):
        return "end"
    gap = sentence[tokens[j].end : tokens[j + 1].start]
    if "(" in gap:
        return "paren"
    if "." in gap or "?" in gap or "!" in gap:
        return "end"
    if "," in gap or ";" in gap or ":" in gap or "—" in gap:
        return "comma"
    low = tokens[j + 1].low
    if low == "'s":
        return "possessive"
    if low == "of":
        return "of"
    if low in ("and", "or"):
        return "and"
    if low in _LOCATIVE:
        return "locative"
    if low in _COPULA:
        return "copula"
    if low in ("who", "which", "that", "whose", "whom"):
        return "rel"
    return "stop" if tokens[j + 1].stop else "content"


def _prefix(flags) -> list[int]:
    out = [0]
    for f in flags:
        out.append(out[-1] + f)
    return out


_PREV_AT = {c: BASE_FEATURES.index(f"prev_{c}") for c in _PREV_CLASSES}
_NEXT_AT = {c: BASE_FEATURES.index(f"next_{c}") for c in _NEXT_CLASSES}
_KIND_AT = {k: BASE_FEATURES.index(f"kind_{k.value}") for k in SpanKind}
_SHAPE_AT = {c: k for k, c in enumerate(_SHAPES)}
_FIXED = BASE_FEATURES.index("fit")  # the features before the one-hots, in order, start here


def brings_answer(q: Profile, sentence: str) -> bool:
    """Does the sentence hold a span of the kind the question asks for, made of none of its words (a name
    for who/where/which-questions, a number for how-many, a date for when)? A sentence that only restates
    the question ("Turkey is typically the centerpiece of Thanksgiving dinner.") holds none. False for every
    sentence when the question asks for no typed answer (why, what did X say, most what-questions).
    For a place question, `names_places` tells whether the name is a place's."""
    if q.kind is AnswerType.EXPLANATION or (q.kind is AnswerType.THING and q.wh != "which"):
        return False
    tokens = _tokens(sentence, q.terms)
    if not tokens:
        return False
    typed, _ = _typed(sentence, tokens)
    fit = _FIT[q.kind]
    wanted = [kind for kind, value in fit.items() if value >= (0.3 if q.kind is AnswerType.THING else 1.0)]
    return any(kind in wanted and not any(t.question for t in tokens[i : j + 1]) for (i, j), kind in typed.items())


# A place question is answered by a place: "Five of nine judges agreed on Wednesday that Prayut should be
# suspended" names a person and a day, and brings no answer to "The prime minister of which country has been
# suspended?". The entity labels that can name what the head noun asks for: an organisation is kept, since
# the recogniser often takes "The Florida House" or "the Spanish government" for one; for a country or a
# city, a facility ("Bourbon Street") is not one. On RealTimeQA 2025 (bench/news.py, seed 1, tuned on): answer
# recall on the answer-in-context questions 42 -> 44 of 63, none lost; seed 0: one more answer overall.
_COUNTRY_HEADS = frozenset(tokenize("country countries nation nations"))
_REGION_HEADS = frozenset(tokenize("city cities town towns state province provinces capital county counties village "
                                   "villages region regions continent continents island islands territory territories "
                                   "district districts"))
_COUNTRY_LABELS = frozenset({"GPE", "NORP", "LOC", "ORG"})
_REGION_LABELS = frozenset({"GPE", "LOC", "ORG"})
_PLACE_LABELS = frozenset({"GPE", "LOC", "FAC", "ORG", "NORP"})


def names_places(q: Profile, sentences: list[str]) -> list[bool]:
    """For a place question, does each sentence name a place beyond the question's words, as far as spaCy's
    entity recogniser can tell (the labels that fit the question's place noun)? All True for any other."""
    if q.kind is not AnswerType.PLACE:
        return [True] * len(sentences)
    from qa.news.nlp import entities

    labels = (_COUNTRY_LABELS if q.place in _COUNTRY_HEADS else _REGION_LABELS if q.place in _REGION_HEADS
              else _PLACE_LABELS)
    return [any(label in labels and not set(tokenize(text)) <= q.terms for text, label in found)
            for found in entities(sentences)]


# A which/what-phrase's head noun says what kind of entity the answer is ("Which streaming platform...?": a
# company, never "Canada"; "The prime minister of which country...?": a country, never "Trump"). A candidate
# that spaCy's recogniser labels as an entity that cannot be one, or that is a common noun phrase ("airliner"
# for "which company?"), is not the short answer. Only the heads below: for "who" (a team, a band, an agency
# as often as a person) and for other heads (a "group", a "project") the labels say too little.
class Asked(str, Enum):
    ORGANISATION = "organisation"
    PLACE = "place"  # a country, a city, a region (the heads of _COUNTRY_HEADS and _REGION_HEADS)
    PERSON = "person"  # which/what + a person noun of _PERSON_NOUNS ("Which officials...?")


_ORGANISATION_HEADS = frozenset(tokenize(
    "company companies firm firms corporation corporations retailer retailers chain chains airline airlines carrier "
    "carriers brand brands manufacturer manufacturers automaker automakers carmaker carmakers bank banks newspaper "
    "newspapers network networks platform platforms app apps agency agencies giant giants startup startups "
    "broadcaster broadcasters publisher publishers insurer insurers"))
_NOT_A = {
    Asked.ORGANISATION: frozenset({"PERSON", "GPE", "LOC", "NORP", "DATE", "TIME", "CARDINAL", "ORDINAL", "MONEY",
                                   "PERCENT", "QUANTITY", "EVENT", "LAW", "LANGUAGE"}),
    Asked.PLACE: frozenset({"PERSON", "ORG", "FAC", "DATE", "TIME", "CARDINAL", "ORDINAL", "MONEY", "PERCENT",
                            "QUANTITY", "EVENT", "WORK_OF_ART", "PRODUCT", "LAW", "LANGUAGE"}),  # FAC: "Bourbon Street"
    Asked.PERSON: frozenset({"GPE", "LOC", "NORP", "DATE", "TIME", "CARDINAL", "ORDINAL", "MONEY", "PERCENT",
                             "QUANTITY", "EVENT", "LAW", "LANGUAGE"}),
}


@functools.lru_cache(maxsize=4096)
def asked_entity(question: str) -> Asked | None:
    """The kind of entity the question's which/what-phrase asks for, when its head noun says it; else None."""
    q = profile(question)
    if q.kind is AnswerType.PLACE:
        return Asked.PLACE if q.place in _COUNTRY_HEADS or q.place in _REGION_HEADS else None
    if q.wh not in ("which", "what"):
        return None
    if q.kind is AnswerType.PERSON:
        return Asked.PERSON
    if q.kind is not AnswerType.THING:
        return None
    from qa.news.nlp import PipelineMissing, parse_syntax

    try:
        doc = parse_syntax(question)
    except PipelineMissing:
        return None
    for token in doc:
        if token.lower_ not in ("which", "what"):
            continue
        head = token.head if token.dep_ == "det" and token.head.tag_.startswith("NN") else None
        if head is None:  # the parse missed it ("of which government agency"): the noun run after the wh-word
            for after in doc[token.i + 1 : token.i + 5]:
                if not after.tag_.startswith(("NN", "JJ")):
                    break
                if after.tag_.startswith("NN"):
                    head = after
        if head is not None:
            return Asked.ORGANISATION if _stem(head.lower_) in _ORGANISATION_HEADS else None
    return None


def _the(text: str) -> str:
    return re.sub(r"^(?:the|a|an)\s+", "", text, flags=re.I)


def can_be(asked: Asked, sentences: list[str], found: list[Candidate], head: str | None = None) -> list[bool]:
    """For each candidate, may it be the entity asked for? Not when it starts with a lower-case word or a
    digit; nor, for a person, when it is only titles ("Attorney General"); nor when it is an entity whose
    label cannot be one ("Bourbon Street", a facility, for a city), or a part of a person's name; nor when the
    longest entity it holds whole is such an entity ("United States and Canada" or "FEMA administrator David
    Richardson" for an agency; "French President Emmanuel Macron" may be a person). Any other part of an
    entity is judged by itself ("Florida" in "The Florida House")."""
    from qa.news.nlp import PipelineMissing, entity_spans

    try:
        spans = entity_spans(sentences[:MAX_SENTENCES])
    except PipelineMissing:
        return [True] * len(found)
    bad = _NOT_A[asked]
    out = []
    for c in found:
        if not c.text[:1].isalpha() or c.text[:1].islower():
            out.append(False)
            continue
        words = c.text.split()
        if asked is Asked.PERSON and all(w.lower().rstrip(".") in _TITLES for w in words):
            out.append(False)  # an office is no person: "Attorney General" for "Which politician...?"
            continue
        if (any(w.islower() and w.isalpha() and w not in _NAME_JOINERS for w in words[1:])  # not "al-Assad"
                and not (head and _stem(words[-1].lower()) == _stem(head.lower()))):
            out.append(False)  # a name and a common noun: "FirstEnergy policies", "New York City's midtown"
            continue  # (but "CYCLADES packet switching network" for "What network...?")
        quote = sentences[c.sentence]
        held = [(b - a, label) for a, b, label in spans[c.sentence] if c.start <= a and b <= c.end]
        within = [label for a, b, label in spans[c.sentence] if a <= c.start and c.end <= b
                  and (_the(quote[a:b]) == c.text or label == "PERSON")]
        out.append(not any(label in bad for label in within) and not (held and max(held)[1] in bad))
    return out


def candidates(question: str, sentences: list[str], *, scores: list[float] | None = None,
               coverages: list[float] | None = None, confidence: float | None = None) -> list[Candidate]:
    """Every candidate span of the first quotes (best first), with its features (BASE_FEATURES order)."""
    q = profile(question)
    if q.kind is AnswerType.EXPLANATION or not sentences:
        return []
    fit = _FIT[q.kind]
    is_person_q, is_place_q = q.kind is AnswerType.PERSON, q.kind is AnswerType.PLACE
    asks_role = bool(_ASKS_ROLE.match(question))  # "Who is Gabi Ashkenazi?": the office is the answer
    n_terms = max(len(q.terms), 1)
    best_score = (scores[0] if scores else 0.0) or 1.0
    conf = confidence if confidence is not None else 0.5
    raw: list[tuple[int, int, int, SpanKind, list[float], float]] = []  # sentence, start, end, kind, features, rule
    lowered: list[str] = []
    fit_kinds = 0
    for rank, sentence in enumerate(sentences[:MAX_SENTENCES]):
        tokens = _tokens(sentence, q.terms)
        n = len(tokens)
        lowered.append(sentence.lower())
        if not n:
            continue
        typed, _ = _typed(sentence, tokens)
        qflag = [t.question for t in tokens]
        fit_kinds += sum(1 for (i, j), kind in typed.items() if fit[kind] > 0.5 and not any(qflag[i : j + 1]))
        matched = [k for k in range(n) if qflag[k]]
        score_ratio = (scores[rank] / best_score) if scores and rank < len(scores) else 1.0
        coverage = coverages[rank] if coverages and rank < len(coverages) else 0.0
        first_content = next((k for k, t in enumerate(tokens) if not t.stop), 0)
        # Per-position facts, so that each span costs a handful of lookups.
        brk = [False] + [bool(_BREAK.search(sentence, tokens[k - 1].end, tokens[k].start)) for k in range(1, n)]
        in_date = [False] * n
        starts_inside = [False] * n  # a recognised span begins before this token and covers it
        ends_inside = [False] * n  # ... covers it and goes on after it
        for (a, b), kind in typed.items():
            for k in range(a + 1, b + 1):
                starts_inside[k] = True
                if kind is SpanKind.DATE:
                    in_date[k] = True
            for k in range(a, b):
                ends_inside[k] = True
        q_pre = _prefix(qflag)
        cap_pre = _prefix([t.cap for t in tokens])
        capstop_pre = _prefix([t.cap or t.stop for t in tokens])
        num_pre = _prefix([t.number or t.low in _SCALE_WORDS for t in tokens])
        stop_pre = _prefix([t.stop for t in tokens])
        org_pre = _prefix([t.low in _ORG_WORDS for t in tokens])
        scale_pre = _prefix([t.low in _SCALE_WORDS for t in tokens])
        digit_pre = _prefix([t.text[0].isdigit() or t.text[0] in "$€£¥" for t in tokens])
        title_pre = _prefix([t.title for t in tokens])
        # "Prime Minister Benjamin Netanyahu": for "who", the person, not the office (the name without its
        # modern titles is a candidate of its own).
        plain_name_after = {}
        for (a, b), kind in typed.items():
            if kind is SpanKind.NAME and a > 0 and tokens[a - 1].title:
                plain_name_after[b] = min(a, plain_name_after.get(b, a))
        left = [-1] * n  # nearest question word before k (or at k)
        last = -1
        for k in range(n):
            if qflag[k]:
                last = k
            left[k] = last
        right = [-1] * n
        last = -1
        for k in range(n - 1, -1, -1):
            if qflag[k]:
                last = k
            right[k] = last
        adj_before = [0] * n  # question words in the run of question words and stopwords just before k
        for k in range(1, n):
            t = tokens[k - 1]
            adj_before[k] = (adj_before[k - 1] + t.question) if (t.question or t.stop) else 0
        adj_after = [0] * n
        for k in range(n - 2, -1, -1):
            t = tokens[k + 1]
            adj_after[k] = (adj_after[k + 1] + t.question) if (t.question or t.stop) else 0
        prev_c = [_prev_class(tokens, k, sentence) for k in range(n)]
        next_c = [_next_class(tokens, k, sentence) for k in range(n)]
        heads = [q.head is not None and q.head in tokenize(t.text) for t in tokens] if q.head else [False] * n
        shapes = [_SHAPE_AT[_shape(t)] for t in tokens]
        total_q = q_pre[n]
        expected = q.expected_before
        numeric_q = q.kind in (AnswerType.NUMBER, AnswerType.DATE)
        for i in range(n):
            ti = tokens[i]
            approx = (numeric_q and ti.low in _APPROX and not ti.number
                      and any(t.number for t in tokens[i + 1 : i + 3]))
            if (ti.stop and not approx) or ti.low in _DISCOURSE or ti.opener:
                continue
            lt = left[i - 1] if i > 0 else -1
            title_first = ti.title
            title_before = i > 0 and tokens[i - 1].title
            pc = prev_c[i]
            appos_before = pc == "comma" and i > 0 and qflag[i - 1]
            for j in range(i, min(n, i + MAX_WORDS)):
                if j > i and brk[j] and not in_date[j]:
                    break
                tj = tokens[j]
                if tj.stop or tj.low in _DISCOURSE or (approx and j == i):
                    continue
                words = j - i + 1
                kind = typed.get((i, j))
                exact = kind is not None
                edge_question = ti.question or tj.question
                # The question's own words may only border a whole name that holds new words ("Lake
                # George" for "what lake") or end it as the asked-for head noun ("Jurassic Period").
                if edge_question and (ti.question and not (kind is SpanKind.NAME and q_pre[j + 1] - q_pre[i] < words)
                                      or tj.question and not (kind is SpanKind.NAME and q_pre[j + 1] - q_pre[i] < words)
                                      and not (heads[j] and not ti.question)):
                    continue
                if is_person_q and (
                        (ti.title and ti.low.rstrip(".") not in _HEREDITARY and i < plain_name_after.get(j, -1))
                        or (title_pre[j + 1] - title_pre[i] == words - (stop_pre[j + 1] - stop_pre[i])
                            and not asks_role)):
                    continue  # the office or title, not the person
                if kind is None:
                    if num_pre[j + 1] - num_pre[i] == words or (ti.number and tj.number and words <= 4):
                        kind = SpanKind.NUMBER
                    elif capstop_pre[j + 1] - capstop_pre[i] == words:
                        kind = SpanKind.NAME
                    else:
                        kind = SpanKind.PHRASE
                cut = not exact and (starts_inside[i] or ends_inside[j])
                inner = q_pre[j + 1] - q_pre[i]
                inner_repeat = inner / words
                rt = right[j + 1] if j + 1 < n else -1
                if matched:
                    distance = min(i - lt if lt >= 0 else 10**6, rt - j if rt >= 0 else 10**6,
                                   0 if inner else 10**6)
                    closeness = 1.0 / (1.0 + max(distance - 1, 0) / 3)
                    lo, hi = max(0, i - 8), min(n, j + 9)
                    nearby = min(1.0, (q_pre[hi] - q_pre[lo]) / n_terms)
                else:
                    closeness = nearby = 0.0
                before, after = adj_before[i], adj_after[j]
                nc = next_c[j]
                apposition = float(appos_before or (nc == "comma" and q_pre[min(n, j + 5)] - q_pre[j + 1] > 0))
                head_next = float(j + 1 < n and heads[j + 1])
                head_prev = float(i > 0 and heads[i - 1])
                is_name = kind is SpanKind.NAME
                org = is_name and org_pre[j + 1] > org_pre[i]
                person = (is_name and 2 <= words <= 4 and not org and cap_pre[j + 1] - cap_pre[i] == words
                          and not title_first and digit_pre[j + 1] == digit_pre[i])
                single = words == 1
                weak = single and ti.low in _WEAK
                shape_fit = fit[kind]
                rule = (closeness + 0.5 * nearby + shape_fit + 0.3 * before / n_terms + 0.15 * after / n_terms
                        - inner_repeat + 0.3 * exact - 0.5 * cut
                        + (0.4 if is_person_q and (person or title_before) else 0.0)
                        - (0.5 if is_person_q and org else 0.0)
                        + (0.3 if is_place_q and pc == "locative" else 0.0)
                        + 0.15 * (pc == "cue") + 0.3 * apposition + 0.3 * (head_next or head_prev)
                        - 0.5 * weak - 0.15 * rank - 0.05 * max(0, words - 3))
                n_content = words - (stop_pre[j + 1] - stop_pre[i])
                f = [0.0] * _FIXED
                f[_KIND_AT[kind]] = 1.0
                f += [
                    max(shape_fit, 0.0), max(-shape_fit, 0.0), float(exact), float(cut), float(person), float(org),
                    float(title_first), float(title_before), float(scale_pre[j + 1] > scale_pre[i]),
                    words / MAX_WORDS, float(single), float(words >= 4), float(digit_pre[j + 1] > digit_pre[i]),
                    (cap_pre[j + 1] - cap_pre[i]) / max(n_content, 1), float(not ti.cap and not ti.number),
                    float(weak), float(single and ti.low.endswith(("ly", "ing", "ed"))), inner_repeat,
                    float(edge_question), float(approx),
                    closeness, nearby, before / n_terms, after / n_terms, float(not matched), apposition,
                    head_next, head_prev, float(i <= first_content),
                ]
                outside = total_q - inner
                if expected is not None and outside:
                    f += [1.0 - abs(q_pre[i] / outside - expected), 1.0]
                else:
                    f += [0.0, 0.0]
                base = len(f)
                f += [0.0] * (len(_PREV_CLASSES) + len(_NEXT_CLASSES) + 3 * len(_SHAPES))
                f[_PREV_AT[pc]] = 1.0
                f[_NEXT_AT[nc]] = 1.0
                base += len(_PREV_CLASSES) + len(_NEXT_CLASSES)
                f[base + shapes[i]] = 1.0
                f[base + len(_SHAPES) + shapes[j]] = 1.0
                if j + 1 < n and not tokens[j + 1].stop and nc == "content":
                    f[base + 2 * len(_SHAPES) + shapes[j + 1]] = 1.0
                f += [float(rank == 1), float(rank >= 2), score_ratio, coverage, conf, rule, 0.0, 0.0, 0.0, 0.0, 0.0,
                      0.0, float(edge_question and kind is SpanKind.NAME),
                      float(kind is SpanKind.NUMBER and not tj.number and tj.low not in _SCALE_WORDS)]
                d = (min(i - lt if lt >= 0 else 99, rt - j if rt >= 0 else 99, 0 if inner else 99)
                     if shape_fit > 0.5 else None)
                raw.append((rank, ti.start, tj.end, kind, f, rule, d, org, person and not inner))
    if is_person_q:  # a person named in a quote outranks the organisations named with them
        with_person = {r[0] for r in raw if r[8]}
        raw = [r for r in raw if not (r[7] and r[0] in with_person)]
    if not raw:
        return []
    best_rule = max(r[5] for r in raw)
    count, alone = math.log1p(fit_kinds), float(fit_kinds == 1)
    gap_at = _INDEX["rule_gap"]
    nearest_at = _INDEX["nearest_fit"]
    nearest: dict[int, int] = {}
    for r in raw:
        if r[6] is not None:
            nearest[r[0]] = min(nearest.get(r[0], 99), r[6])
    out = []
    for rank, start, end, kind, f, rule, d, _, _ in raw:
        f[nearest_at] = float(d is not None and d == nearest[rank])
        text = sentences[rank][start:end]
        low = text.lower()
        f[gap_at] = rule - best_rule
        f[gap_at + 1] = float(rule == best_rule)
        f[gap_at + 2] = count
        f[gap_at + 3] = alone
        f[gap_at + 4] = float(any(low in s for r, s in enumerate(lowered) if r != rank))
        out.append(Candidate(text, rank, start, end, kind, tuple(f)))
    return out



# ---------------------------------------------------------------- the model
# The gate judges the ranker's best candidate against the rest: its own probability, its best rival
# that does not overlap it, how the probability mass spreads, how many candidates compete, the quote it
# comes from, the question's type and the span's kind.
GATE_FEATURES: tuple[str, ...] = (
    "logit", "probability", "rival", "lead", "share", "overlap_share", "candidates", "confidence", "sentence_rank",
    *(f"type_{t.value}" for t in TYPED), *(f"kind_{k.value}" for k in SpanKind), "n_words",
)


# With the span reader (qa/answer/reader.py): each candidate also gets the reader's judgement of it, and the
# gate the reader's judgement of the best candidate and of the whole context (its "no answer" score).
READER_FEATURES: tuple[str, ...] = (
    "reader_logp",  # log P(start) + log P(end) of the candidate's first and last word pieces (floor -20)
    "reader_gap",  # its gap to the reader's best span
    "reader_top", "reader_overlap", "reader_inside",  # it is / overlaps (token F1) / lies in the best span
    "reader_unmapped",  # truncated away: the reader never saw it
    "reader_only",  # the reader's own best span, which the rules did not propose
)
READER_BASE: tuple[str, ...] = BASE_FEATURES + READER_FEATURES
READER_RANKER: tuple[str, ...] = READER_BASE + tuple(f"{t.value}:{f}" for t in TYPED for f in READER_BASE)
READER_GATE: tuple[str, ...] = GATE_FEATURES + (
    "best_reader_logp", "best_reader_top", "best_reader_overlap", "reader_best_logp", "reader_null_gap",
)
READER_MODEL_PATH = MODEL_PATH.parent / "reader.json"
_FLOOR = -20.0


@dataclass
class ShortAnswerModel:
    weights: list[float]  # the ranker, FEATURES order: P(this candidate is exactly the answer)
    bias: float
    gate_weights: list[float]  # the gate, GATE_FEATURES order: P(the best candidate is exactly the answer)
    gate_bias: float
    threshold: float  # show the best candidate when the gate's probability >= threshold
    meta: dict
    reader: bool = False  # fitted with the reader's features (READER_RANKER / READER_GATE order)

    def __post_init__(self):
        ranker, gate = self.names()
        if len(self.weights) != len(ranker) or len(self.gate_weights) != len(gate):
            raise ValueError(f"short-answer model has {len(self.weights)}/{len(self.gate_weights)} weights for "
                             f"{len(ranker)}/{len(gate)} features")
        n = len(ranker) // (len(TYPED) + 1)
        self._shared = self.weights[:n]
        self._by_type = {t: self.weights[n * (k + 1) : n * (k + 2)] for k, t in enumerate(TYPED)}

    def names(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return (READER_RANKER, READER_GATE) if self.reader else (FEATURES, GATE_FEATURES)

    def logit(self, kind: AnswerType, features: tuple[float, ...]) -> float:
        z = self.bias
        for x, w, v in zip(features, self._shared, self._by_type[kind]):
            if x:
                z += x * (w + v)
        return z

    def gate(self, features: list[float]) -> float:
        return _sigmoid(self.gate_bias + sum(w * x for w, x in zip(self.gate_weights, features)))

    def save(self, path: Path | None = None) -> None:
        path = path or (READER_MODEL_PATH if self.reader else MODEL_PATH)
        path.parent.mkdir(parents=True, exist_ok=True)
        ranker, gate = self.names()
        data = {"features": list(ranker), "weights": self.weights, "bias": self.bias,
                "gate_features": list(gate), "gate_weights": self.gate_weights, "gate_bias": self.gate_bias,
                "threshold": self.threshold, "reader": self.reader, "meta": self.meta}
        path.write_text(json.dumps(data, indent=1) + "\n")

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> "ShortAnswerModel":
        data = json.loads(path.read_text())
        reader = bool(data.get("reader", False))
        names = (READER_RANKER, READER_GATE) if reader else (FEATURES, GATE_FEATURES)
        for key, expected in zip(("features", "gate_features"), names):
            if data.get(key) != list(expected):
                raise ValueError(f"{path}: fitted on {key} {data.get(key)}, the code has {list(expected)}; "
                                 "refit it with bench/calibrate_short_answer.py")
        return cls(data["weights"], data["bias"], data["gate_weights"], data["gate_bias"], data["threshold"],
                   data.get("meta", {}), reader)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


def design_row(kind: AnswerType, features: tuple[float, ...]) -> list[float]:
    """A candidate's row in FEATURES order (READER_RANKER order when it holds the reader's features too): the
    shared copy, then the copy of its question type."""
    n = len(features)
    row = list(features) + [0.0] * (n * len(TYPED))
    k = TYPED.index(kind)
    row[n * (k + 1) : n * (k + 2)] = features
    return row


def gate_features(kind: AnswerType, found: list[Candidate], probabilities: list[float],
                  confidence: float | None, reading: "ReaderView | None" = None) -> tuple[int, list[float]]:
    """The index of the most probable candidate and the gate's features for it (READER_GATE's with a
    reading)."""
    b = max(range(len(found)), key=lambda k: (probabilities[k], -found[k].sentence, -(found[k].end - found[k].start)))
    best_c, p = found[b], probabilities[b]
    rival, overlap, total = 0.0, 0.0, 0.0
    for c, q in zip(found, probabilities):
        total += q
        if c is best_c:
            continue
        if c.sentence == best_c.sentence and c.start < best_c.end and best_c.start < c.end:
            overlap += q
        elif q > rival:
            rival = q
    total = total or 1.0
    clipped = min(max(p, 1e-6), 1 - 1e-6)
    row = [math.log(clipped / (1 - clipped)), p, rival, p - rival, p / total, overlap / total,
           math.log1p(len(found)), confidence if confidence is not None else 0.5, float(best_c.sentence),
           *(float(kind is t) for t in TYPED), *(float(best_c.kind is k) for k in SpanKind),
           float(len(best_c.text.split()))]
    if reading is not None:
        own = reading.features[b]
        row += [own[0], own[2], own[3], reading.best_logp, reading.null_gap]
    return b, row


# ---------------------------------------------------------------- the reader's view of the candidates
@dataclass(frozen=True)
class ReaderView:
    """What the span reader says about a question's candidates (READER_FEATURES each) and its context."""

    features: list[tuple[float, ...]]  # for each candidate, then for `extra`
    extra: Candidate | None  # the reader's best span when no candidate is it (a verbatim slice of one quote)
    best_text: str  # the reader's own best span (a verbatim slice of the joined quotes)
    best_logp: float
    null_gap: float  # the "no answer" score less the best span's (log scale)


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"\w+", text.lower()) if w not in ("a", "an", "the")]


def _overlap(a: str, b: str) -> float:
    x, y = _words(a), _words(b)
    if not x or not y:
        return 0.0
    common = sum(min(x.count(w), y.count(w)) for w in set(x))
    return 0.0 if not common else 2 * common / (len(x) + len(y))


def read(question: str, sentences: list[str], found: list[Candidate], reader) -> ReaderView:
    """One pass of the reader over the question and the first quotes, judging every candidate."""
    reading, starts = reader.read(question, sentences[:MAX_SENTENCES])
    best = reading.best()
    if best is None:
        best_start, best_end, best_logp = 0, 0, _FLOOR
    else:
        best_start, best_end, best_logp = best
    best_text = reading.context[best_start:best_end]
    best_norm = _words(best_text)
    rows = []
    for c in found:
        span = reading.span(starts[c.sentence] + c.start, starts[c.sentence] + c.end) if c.sentence < len(starts) else None
        if span is None:
            rows.append((_FLOOR, _FLOOR - max(best_logp, _FLOOR), 0.0, 0.0, 0.0, 1.0))
            continue
        logp = max(span[0], _FLOOR)
        a, b = starts[c.sentence] + c.start, starts[c.sentence] + c.end
        rows.append((logp, logp - max(best_logp, _FLOOR), float(_words(c.text) == best_norm and bool(best_norm)),
                     _overlap(c.text, best_text), float(best_start <= a and b <= best_end), 0.0, 0.0))
    extra = None
    if best is not None and best_norm and not any(r[2] for r in rows):
        extra = _own_span(sentences, starts, best_start, best_end)
        if extra is not None and _repeats_question(extra.text, question):
            extra = None  # the question's own word ("Bafta" for "The BAFTA Awards celebrate which art form?")
        if extra is not None:
            rows.append((max(best_logp, _FLOOR), 0.0, 1.0, 1.0, 1.0, 0.0, 1.0))
    null_logp = reading.null - reading.log_z_start - reading.log_z_end
    return ReaderView(rows, extra, best_text, max(best_logp, _FLOOR), max(min(null_logp - best_logp, 20.0), -20.0))


_EDGE = " \t,;:.!?()[]\"“”‘’'—–-"


def _repeats_question(span: str, question: str) -> bool:
    """Is the span only the question's own words ("Bafta" for "The BAFTA Awards celebrate which art form?")?"""
    words = tokenize(span)  # stems, the same as the question's terms (not _matches' looser prefixes:
    return bool(words) and set(words) <= profile(question).terms  # "immunosuppressive" is not "immune")


def _own_span(sentences: list[str], starts: list[int], a: int, b: int) -> Candidate | None:
    """The reader's span as a candidate of its quote: trimmed of edge punctuation and of a leading article,
    at most MAX_WORDS + 2 words, never across two quotes."""
    k = max(i for i, s in enumerate(starts) if s <= a)
    quote = sentences[k]
    start, end = a - starts[k], b - starts[k]
    if end > len(quote):
        return None
    while start < end and quote[start] in _EDGE:
        start += 1
    while end > start and quote[end - 1] in _EDGE:
        end -= 1
    m = re.match(r"(?:the|a|an)\s+", quote[start:end], re.I)
    if m:
        start += m.end()
    text = quote[start:end]
    if not text or len(text.split()) > MAX_WORDS + 2:
        return None
    kind = (SpanKind.DATE if _DATE.fullmatch(text) else SpanKind.NUMBER if re.search(r"\d", text)
            else SpanKind.NAME if all(w[:1].isupper() for w in text.split()) else SpanKind.PHRASE)
    features = [0.0] * _N
    features[_KIND_AT[kind]] = 1.0
    features[_INDEX["n_words"]] = len(text.split()) / MAX_WORDS
    features[_INDEX["rank_1"]] = float(k == 1)
    features[_INDEX["rank_2"]] = float(k >= 2)
    return Candidate(text, k, start, end, kind, tuple(features))


_MODEL: ShortAnswerModel | None = None
_READER_MODEL: ShortAnswerModel | None = None
_READER_TRIED = False
_MODEL_LOCK = threading.Lock()


def load_model() -> ShortAnswerModel:
    """qa/data/short_answer.json (the rules-only model), read once (a mismatch with the code's features raises)."""
    global _MODEL
    if _MODEL is None:
        with _MODEL_LOCK:
            if _MODEL is None:
                _MODEL = ShortAnswerModel.load()
    return _MODEL


def load_reader_model():
    """(the reader, qa/data/reader.json's model), or (None, None) when either is missing or does not load:
    then the rules-only model answers (one warning)."""
    global _READER_MODEL, _READER_TRIED
    from qa.answer import reader as reader_module

    if not _READER_TRIED:
        with _MODEL_LOCK:
            if not _READER_TRIED:
                try:
                    _READER_MODEL = ShortAnswerModel.load(READER_MODEL_PATH)
                except Exception as exc:  # noqa: BLE001 - a missing or stale file: the rules-only model
                    log.warning("short-answer reader model unavailable (%s: %s); using the rules-only model",
                                type(exc).__name__, exc)
                _READER_TRIED = True
    if _READER_MODEL is None:
        return None, None
    found = reader_module.load()
    return (found, _READER_MODEL) if found is not None else (None, None)


def best(question: str, sentences: list[str], *, scores: list[float] | None = None,
         coverages: list[float] | None = None, confidence: float | None = None,
         model: ShortAnswerModel | None = None, reader=None) -> tuple[Candidate, float] | None:
    """The most probable candidate and the gate's probability that it is exactly right (shown or not).
    Without a model given, the reader model when the reader loads, else the rules-only one; with a model
    fitted with the reader's features, `reader` (default: the shipped one) reads the quotes."""
    found = _best(question, sentences, scores, coverages, confidence, model, reader)
    return found[:2] if found else None


def _best(question, sentences, scores, coverages, confidence, model, reader):
    kind = answer_type(question)
    found = candidates(question, sentences, scores=scores, coverages=coverages, confidence=confidence)
    if not found:
        return None
    if model is None:
        shipped_reader, model = load_reader_model()
        reader = reader or shipped_reader
        model = model or load_model()
    elif model.reader and reader is None:
        reader, _ = load_reader_model()
        if reader is None:
            model = load_model()
    view = read(question, sentences, found, reader) if model.reader else None
    if view is not None and view.extra is not None:
        found = found + [view.extra]
    rows = [c.features + view.features[k] for k, c in enumerate(found)] if view else [c.features for c in found]
    probabilities = [_sigmoid(model.logit(kind, f)) for f in rows]
    asked = asked_entity(question)
    if asked is not None:  # "Which company...?": never a person, a place or a common noun
        probabilities = [p if ok else 0.0 for p, ok in zip(probabilities, can_be(asked, sentences, found,
                                                                                     profile(question).head))]
        if not any(probabilities):
            return None
    b, row = gate_features(kind, found, probabilities, confidence, view)
    return complete_name(question, sentences, country_of(question, sentences, found[b]), kind), model.gate(row), model


_ASKS_COUNTRY = re.compile(r"\b(?:which|what)\s+(?:[a-z-]+\s+)?(?:country|nation)\b", re.I)
_CAPITAL_WORD = re.compile(r"(?<![\w’'-])[A-Z][a-z]{2,}(?![\w-])")


def country_of(question: str, sentences: list[str], candidate: Candidate) -> Candidate:
    """For "Which country…?", the country a demonym stands for when the quotes name it: "Chinese" (from
    "tariffs on Chinese imports") -> "China" (from "imports from China"); the candidate itself when the
    quotes do not name it. Demonyms and countries are paired as the premise check pairs them
    (qa/answer/premise.py `base_stems`: Chinese -> China, French -> France, German -> Germany)."""
    text = candidate.text
    if candidate.kind is not SpanKind.NAME or " " in text or not _ASKS_COUNTRY.search(question):
        return candidate
    bases = base_stems(text)
    if not bases:
        return candidate
    for k, quote in enumerate(sentences[:MAX_SENTENCES]):
        for m in _CAPITAL_WORD.finditer(quote):
            if m.group(0) != text and _stem(m.group(0).lower()) in bases:
                return replace(candidate, text=m.group(0), sentence=k, start=m.start(), end=m.end())
    return candidate


_NAME_WORD = r"[A-Z][\w.’'-]*"
_NOT_FORENAME = _TITLES | _DISCOURSE | _WEAK | STOPWORDS


def complete_name(question: str, sentences: list[str], candidate: Candidate,
                  kind: AnswerType | None = None) -> Candidate:
    """The candidate as a whole name: completed by the fuller name the quotes give (`_fuller_name`), and a
    brand with its "'s" (`_with_possessive`). `kind`: the question's answer type, when already known."""
    kind = answer_type(question) if kind is None else kind
    return _with_possessive(kind, sentences, _without_origin(kind, sentences, _fuller_name(question, kind, sentences,
                                                                                           candidate)))


_OF_PLACE = re.compile(r"^((?:[A-Z][\w.’'-]*\s+)+[A-Z][\w.’'-]*)\s+of\s+[A-Z]")


def _without_origin(kind: AnswerType, sentences: list[str], candidate: Candidate) -> Candidate:
    """A person's name without the country or city it is followed by: "Kirsty Coventry of Zimbabwe" ->
    "Kirsty Coventry", when spaCy's recogniser calls the rest a place (GPE). A name of one word keeps it
    ("Catherine of Aragon"), and so does a people ("Mary Queen of Scots")."""
    m = _OF_PLACE.match(candidate.text)
    if kind is not AnswerType.PERSON or m is None or candidate.sentence >= len(sentences):
        return candidate
    from qa.news.nlp import PipelineMissing, entity_spans

    quote = sentences[candidate.sentence]
    place = candidate.start + m.end() - 1  # where the place's name starts in the quote
    try:
        spans = entity_spans([quote])[0]
    except PipelineMissing:
        return candidate
    if not any(a == place and b == candidate.end and label == "GPE" for a, b, label in spans):
        return candidate
    name = m.group(1)
    return replace(candidate, text=name, end=candidate.start + len(name))


def _fuller_name(question: str, kind: AnswerType, sentences: list[str], candidate: Candidate) -> Candidate:
    """A surname, or the last word of a name, completed by the fuller name that the quotes give (best quote
    first, the first such name in it, verbatim): "Kirk" -> "Charlie Kirk" ("... the Medal of Freedom to
    Charlie Kirk"), "gala" -> "Met Gala". Titles are not part of it ("President Donald Trump" completes
    "Trump" as "Donald Trump"), nor the question's own words, nor a possessive ("London’s"). The candidate
    itself when no quote holds a fuller name."""
    words = candidate.text.split()
    if (not words or len(words) > 2 or candidate.kind not in (SpanKind.NAME, SpanKind.PHRASE)
            or kind not in (AnswerType.PERSON, AnswerType.THING)):
        return candidate  # never "George Washington" for a where-question's "Washington"
    if candidate.kind is SpanKind.PHRASE and (len(words) > 1 or not words[0].isalpha()):
        return candidate  # a common noun only alone ("gala"), never a phrase
    terms = profile(question).terms
    pattern = re.compile(rf"((?:{_NAME_WORD}\s+){{1,2}})((?i:{re.escape(candidate.text)}))(?![\w’'-])")
    for k, quote in enumerate(sentences[:MAX_SENTENCES]):
        for m in pattern.finditer(quote):
            if not m.group(2)[:1].isupper():
                continue  # "the Met gala" is no name
            start = m.start(1)
            for extra in re.finditer(r"\S+", m.group(1)):  # drop leading titles and function words
                word = extra.group(0)
                if word.lower().rstrip(".") in _NOT_FORENAME:
                    start = m.start(1) + extra.end()
                    continue
                break
            forenames = quote[start : m.start(2)].split()
            if (not forenames or any(w.endswith(("’s", "'s")) or w.lower().rstrip(".") in _NOT_FORENAME
                                     or _matches(w, terms) for w in forenames)):
                continue
            start += len(quote[start:]) - len(quote[start:].lstrip())
            return replace(candidate, text=quote[start : m.end(2)], sentence=k, start=start, end=m.end(2),
                           kind=SpanKind.NAME)
    return candidate


def _with_possessive(kind: AnswerType, sentences: list[str], candidate: Candidate) -> Candidate:
    """A brand whose name ends in "'s" (McDonald's, Ben & Jerry's), for a question about a thing ("Which
    fast-food chain…?"): the quotes never write the name without it. Never for who or where ("Trump's plan",
    "China's economy")."""
    if candidate.kind is not SpanKind.NAME or kind is not AnswerType.THING:
        return candidate
    quote = sentences[candidate.sentence] if candidate.sentence < len(sentences) else ""
    if quote[candidate.end : candidate.end + 2] not in ("’s", "'s") or quote[candidate.start : candidate.end] != candidate.text:
        return candidate
    name = re.compile(rf"(?<![\w’'-]){re.escape(candidate.text)}(?![\w-])(?!['’]s\b)")
    if any(name.search(q) for q in sentences[:MAX_SENTENCES]):
        return candidate  # written without it too: a possessive
    return replace(candidate, text=quote[candidate.start : candidate.end + 2], end=candidate.end + 2)


def inputs(scored, confidence: float | None) -> dict:
    """extract's optional inputs from the answerer's scored sentences (best first) and answer probability."""
    return {"scores": [s.score for s in scored], "coverages": [s.coverage for s in scored], "confidence": confidence}


def extract(question: str, sentences: list[str], *, scores: list[float] | None = None,
            coverages: list[float] | None = None, confidence: float | None = None,
            model: ShortAnswerModel | None = None, reader=None) -> str | None:
    """The short answer from the given quotes (best quote first) when the gate finds it likely right,
    else None: explanations, no fitting span, or too little confidence. `scores`/`coverages`: the quotes'
    sentence scores and question coverage; `confidence`: the answer's probability (all optional).
    None too for a question that asks for several things ("Who all did Blinken speak with?") when the span
    names one: one item in bold would read as the whole answer (the quotes cite each item)."""
    found = _best(question, sentences, scores, coverages, confidence, model, reader)
    if found is None:
        return None
    candidate, probability, used = found
    return candidate.text if probability >= used.threshold and may_show(question, candidate.text) else None


def may_show(question: str, span: str) -> bool:
    """May this span be the short answer of this question? Not one item for a list question: "Benjamin
    Netanyahu" for "Who all did Blinken speak with?"; "Dorotheenstadt and Friedrichstadt" for "What were the
    two Huguenot neighborhoods created in Berlin?" may."""
    return _SEVERAL.search(span) is not None or not is_list_question(question)
