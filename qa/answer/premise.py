"""Premise check: the words of a question that the retrieved passages (or the whole corpus) never hold.

"What did the Jordanian foreign minister say?" over articles about Israel retrieves the sentence about the
Israeli foreign minister: it covers "foreign minister" well, and only "Jordanian" is missing. That word is
what the question is about, so the answerer lowers its confidence (a feature of the abstention model) and
the engine can say so: "The articles don't mention a Jordanian foreign minister".

Words are compared as the BM25 index stores them (`tokenize`: lower-cased Snowball stems). A demonym or
adjective counts as present when its country or base form is (Jordanian ~ Jordan, Israeli ~ Israel,
Chinese ~ China, Italian ~ Italy) and the other way round, by stripping and adding the usual endings and
looking the stems up: a few dozen dictionary look-ups, whatever the size of the vocabulary."""
from __future__ import annotations

import re
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass

from qa.schema import Passage
from qa.store.lexical import STOPWORDS, LexicalIndex, _stem, sentence_terms, tokenize, undot_acronyms

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)

# Demonym/adjective endings stripped from a word, and endings added to what remains to form its base.
_STRIP = ("ian", "ean", "an", "ese", "ish", "ic", "i", "n")
_ADD = ("", "a", "e", "y", "ia", "o")
# ...and added to a country name (minus a final a/e/y/o) to form its demonym.
_DERIVE = ("ian", "an", "ean", "i", "ese", "ish", "n")
# Irregular pairs the endings cannot reach.
_IRREGULAR = {
    "french": "france", "british": "britain", "english": "england", "scottish": "scotland", "welsh": "wales",
    "irish": "ireland", "dutch": "netherlands", "greek": "greece", "polish": "poland", "spanish": "spain",
    "swiss": "switzerland", "turkish": "turkey", "danish": "denmark", "swedish": "sweden", "finnish": "finland",
    "norwegian": "norway", "thai": "thailand", "filipino": "philippines", "peruvian": "peru", "afghan": "afghanistan",
    "arab": "arabia", "saudi": "arabia", "kuwaiti": "kuwait", "qatari": "qatar", "yemeni": "yemen",
    "emirati": "emirates", "lebanese": "lebanon", "maltese": "malta", "cypriot": "cyprus", "german": "germany",
    "portuguese": "portugal", "belgian": "belgium", "ukrainian": "ukraine", "argentine": "argentina",
}
# Irregular verb forms: a question's "speak" is held by a passage's "spoke".
_VERB_FORMS = [
    "speak spoke spoken", "meet met", "write wrote written", "give gave given", "take took taken",
    "begin began begun", "win won", "lose lost", "buy bought", "bring brought", "think thought", "fight fought",
    "find found", "lead led", "leave left", "hold held", "send sent", "build built", "become became",
    "come came", "run ran", "sell sold", "pay paid", "make made", "know knew known", "see saw seen",
    "grow grew grown", "fall fell fallen", "choose chose chosen", "break broke broken", "rise rose risen",
    "drive drove driven", "fly flew flown", "draw drew drawn", "throw threw thrown", "teach taught",
    "catch caught", "feel felt", "keep kept", "sit sat", "stand stood", "understand understood",
    "strike struck", "wear wore worn", "steal stole stolen", "hide hid hidden", "go went gone",
    "tell told", "say said", "get got gotten", "do did done", "eat ate eaten", "forget forgot forgotten",
    "freeze froze frozen", "shake shook shaken", "sing sang sung", "swim swam swum", "bear bore born",
    "shoot shot", "spend spent", "lend lent", "bend bent", "flee fled", "feed fed", "deal dealt",
    "mean meant", "seek sought", "sink sank sunk", "spread spread", "split split", "bid bid", "hang hung",
]
_VERB_STEMS: dict[str, frozenset[str]] = {}
for _forms in _VERB_FORMS:
    _stems = frozenset(_stem(f) for f in _forms.split())
    for _form in _forms.split():
        _VERB_STEMS[_form] = _stems
# A month and its abbreviations are the same word ("Feb 2010" is the articles' "February 2010").
_SAME_WORDS = ["jan january", "feb february", "mar march", "apr april", "jun june", "jul july", "aug august",
               "sep sept september", "oct october", "nov november", "dec december"]
for _forms in _SAME_WORDS:
    _stems = frozenset(_stem(f) for f in _forms.split())
    for _form in _forms.split():
        _VERB_STEMS[_form] = _VERB_STEMS.get(_form, frozenset()) | _stems
# A country's abbreviation is its name and its people ("US" is held by the articles' "American", "America"),
# or its name spelled out: every stem of one of these phrases ("United States").
# (One way only: the pronoun "us" is a term of many passages, and must not hold a question's "America".)
_COUNTRY_WORDS = {"us": "usa america american", "uk": "britain british", "uae": "emirates emirati"}
for _short, _forms in _COUNTRY_WORDS.items():
    _VERB_STEMS[_short] = _VERB_STEMS.get(_short, frozenset()) | {_stem(f) for f in [_short, *_forms.split()]}
_SPELLED_OUT = {"us": ["united states"], "usa": ["united states"], "uk": ["united kingdom", "great britain"],
                "uae": ["united arab emirates"], "un": ["united nations"], "eu": ["european union"],
                "nato": ["north atlantic treaty"]}
_SPELLED_OUT_STEMS = {short: [frozenset(tokenize(p)) for p in phrases] for short, phrases in _SPELLED_OUT.items()}
_IRREGULAR_BACK: dict[str, list[str]] = {}
for _adjective, _country in _IRREGULAR.items():
    _IRREGULAR_BACK.setdefault(_country, []).append(_adjective)
_YEAR = re.compile(r"1\d{3}s?|20\d{2}s?")
_MIN_BASE = 4  # what remains of a word after stripping an ending: at least this many letters

# Words that open a question or name its kind of answer rather than its topic (never reported missing).
_QUESTION_WORDS = frozenset(
    """name names named called call kind kinds type types sort example examples mean means meaning term terms
    say said says tell told describe described according happen happened take took used use uses
    one two first around about approximately roughly nearly almost""".split()
)
# What ends a sentence: the word after it opens the next one ("... in the US. Around how much ...?").
_SENTENCE_END = re.compile(r"[.?!:;]['\"’”)]*\s*$")


@dataclass(frozen=True)
class QuestionWord:
    text: str  # as written in the question
    stem: str  # as the index stores it
    position: int  # word position in the question
    name: bool  # capitalised (not the question's first word), or an acronym or number


def question_words(question: str) -> list[QuestionWord]:
    """The content words of the question, in order, once each (by stem)."""
    out, seen = [], set()
    question = undot_acronyms(question)  # "U.S." is the word "US", as the index reads it
    for position, match in enumerate(_WORD.finditer(question)):
        text = match.group(0)
        lower = text.lower().replace("’", "'").removesuffix("'s")
        if lower in STOPWORDS or lower in _QUESTION_WORDS or len(lower) < 2:
            continue
        stems = tokenize(text)
        if not stems:
            continue
        stem = stems[0]
        if stem in seen:
            continue
        seen.add(stem)
        opens = position == 0 or _SENTENCE_END.search(question, 0, match.start()) is not None
        name = (not opens and text[0].isupper()) or (len(text) > 1 and text.isupper()) or text.isdigit()
        out.append(QuestionWord(text.removesuffix("'s").removesuffix("’s"), stem, position, name))
    return out


def related_stems(word: str) -> set[str]:
    """The stems that count as the same word: its own (and an irregular verb's other forms: speak, spoke; a
    month's abbreviations: Feb, February; a year's decade: 1990, 1990s)
    and, for a capitalised word, its base (Jordanian → jordan, Israelis → israel) and its demonyms (Jordan →
    jordanian). Lower-case words get no endings: "part" must not count as held by "party"."""
    lower = word.lower().replace("’", "'").removesuffix("'s")
    stems = {_stem(lower)} | _VERB_STEMS.get(lower, frozenset())
    if _YEAR.fullmatch(lower):  # a year and its decade: "1990" is held by "the 1980s and 1990s", and back
        stems.add(_stem(lower[:4] if lower.endswith("s") else lower + "s"))
    if not word[:1].isupper() or not lower.isalpha() or len(lower) < 4:
        return stems
    for form in _forms(lower):
        stems |= _bases(form)
        root = form[:-1] if form[-1] in "aeyo" else form
        stems.update(_stem(root + ending) for ending in _DERIVE)
        stems.update(_stem(form + ending) for ending in _DERIVE)
        for adjective in _IRREGULAR_BACK.get(form, ()):
            stems.add(_stem(adjective))
    return stems


def _forms(lower: str) -> list[str]:
    return [lower, lower[:-1]] if lower.endswith("s") and not lower.endswith("ss") else [lower]


def _bases(form: str) -> set[str]:
    """The stems a demonym or adjective may come from: its endings stripped ("chinese" -> china), or its
    irregular country ("french" -> france)."""
    stems = set()
    for ending in _STRIP:
        if form.endswith(ending) and len(form) - len(ending) >= _MIN_BASE:
            base = form[: len(form) - len(ending)]
            stems.update(_stem(base + add) for add in _ADD)
    if form in _IRREGULAR:
        stems.add(_stem(_IRREGULAR[form]))
    return stems


def base_stems(word: str) -> set[str]:
    """The stems of the country (or base word) a capitalised demonym stands for: Chinese -> china, French ->
    france, Israelis -> israel; empty for a lower-case or short word."""
    lower = word.lower().replace("’", "'").removesuffix("'s")
    if not word[:1].isupper() or not lower.isalpha() or len(lower) < 4:
        return set()
    return set().union(*(_bases(form) for form in _forms(lower))) - {_stem(lower)}


def _held(word: QuestionWord, terms: Container[str]) -> bool:
    if word.stem in terms:
        return True
    if any(s in terms for s in related_stems(word.text)):
        return True
    spelled = _SPELLED_OUT_STEMS.get(word.text.lower()) if word.text.isupper() else None
    return bool(spelled) and any(all(s in terms for s in phrase) for phrase in spelled)


class _Known:
    """The corpus vocabulary as a container: the stems whose document frequency is above zero."""

    def __init__(self, doc_freq: Mapping[str, int]):
        self.doc_freq = doc_freq

    def __contains__(self, term) -> bool:
        return bool(self.doc_freq.get(term))


def passage_terms(passages: Iterable[Passage]) -> set[str]:
    """Every term of the passages' sentences and titles (the sentences' terms are cached per chunk)."""
    terms: set[str] = set()
    for passage in passages:
        for own in sentence_terms(passage.chunk):
            terms |= own
        terms.update(tokenize(passage.title or ""))
    return terms


@dataclass
class PremiseCheck:
    """What `check` finds: the missing words, most distinctive first, and three scale-free features."""

    missing: list[str]  # as written in the question
    unknown: list[str]  # those the corpus does not know at all (a subset of `missing`)
    missing_share: float  # IDF-weighted share of the question's content words that no passage holds
    unknown_name: float  # 1.0 when a name of the question (capitalised word, acronym, number) is unknown to the corpus
    missing_name: float  # 1.0 when a name of the question is in no passage


def check(question: str, passages: list[Passage], lexical: LexicalIndex,
          terms: set[str] | None = None) -> PremiseCheck:
    """The premise check of `question` against `passages` (or against `terms`, stems already gathered)."""
    words = question_words(question)
    if not words:
        return PremiseCheck([], [], 0.0, 0.0, 0.0)
    held = passage_terms(passages) if terms is None else terms
    known = _Known(lexical.doc_freq)
    weights = {w.stem: lexical.idf(w.stem) for w in words}
    total = sum(weights.values()) or 1.0
    ranked, unknown_words = [], []
    missing_weight, unknown_name, missing_name = 0.0, 0.0, 0.0
    for word in words:
        if _held(word, held):
            continue
        unknown = not _held(word, known)
        missing_weight += weights[word.stem]
        if unknown:
            unknown_words.append(word.text)
        if word.name:
            missing_name = 1.0
            if unknown:
                unknown_name = 1.0
        # Unknown to the corpus first, then names, then the rarest; ties in question order.
        ranked.append(((not unknown, not word.name, -weights[word.stem], word.position), word.text))
    ranked.sort()
    missing = [text for _, text in ranked]
    return PremiseCheck(missing, [w for w in missing if w in unknown_words], missing_weight / total,
                        unknown_name, missing_name)


def missing_terms(question: str, passages: list[Passage], lexical: LexicalIndex) -> list[str]:
    """The question's content words (as written) that no passage holds, most distinctive first: words the
    corpus does not know at all, then names, then by rarity (IDF)."""
    return check(question, passages, lexical).missing


# ------------------------------------------------------------------------------ contradiction cues
#
# squad-v2's unanswerable questions are written against a paragraph that nearly answers them: they add a
# negation, swap a word for its opposite, or change a number. Each leaves a cheap trace: the question holds
# the cue and the best sentence (with the one before it) does not.

_NEGATION = re.compile(r"\b(?:not|never|no|none|nothing|nobody|neither|nor|without|cannot)\b|n['’]t\b", re.I)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_OPPOSITES = [
    ("most", "least"), ("largest", "smallest"), ("biggest", "smallest"), ("first", "last"), ("before", "after"),
    ("highest", "lowest"), ("increase", "decrease"), ("increased", "decreased"), ("more", "less"), ("more", "fewer"),
    ("earliest", "latest"), ("early", "late"), ("oldest", "youngest"), ("oldest", "newest"), ("older", "younger"),
    ("north", "south"), ("east", "west"), ("northern", "southern"), ("eastern", "western"), ("maximum", "minimum"),
    ("major", "minor"), ("won", "lost"), ("win", "lose"), ("accepted", "rejected"), ("rise", "fall"),
    ("strong", "weak"), ("best", "worst"), ("better", "worse"), ("positive", "negative"), ("legal", "illegal"),
    ("higher", "lower"), ("high", "low"), ("larger", "smaller"), ("longest", "shortest"), ("long", "short"),
    ("top", "bottom"), ("upper", "lower"), ("inside", "outside"), ("success", "failure"),
    ("successful", "unsuccessful"), ("support", "oppose"), ("supported", "opposed"), ("common", "rare"),
    ("start", "end"), ("began", "ended"), ("rich", "poor"), ("private", "public"), ("modern", "ancient"),
    ("always", "never"), ("male", "female"), ("men", "women"), ("allowed", "forbidden"), ("cheap", "expensive"),
]
_OPPOSITE: dict[str, set[str]] = {}
for _a, _b in _OPPOSITES:
    _OPPOSITE.setdefault(_a, set()).add(_b)
    _OPPOSITE.setdefault(_b, set()).add(_a)
_LOWER_WORD = re.compile(r"[a-z]+")


def contradiction(question: str, sentence: str, context: str = "", passage: str = "") -> float:
    """1.0 when the answer's sentence (with `context`, the sentence before it) misses a cue of the question:
    the question negates and they don't; the question has a word (most, first, before...) whose opposite
    they hold instead of it; or a number of the question is not in the `passage` (the sentence's chunk)."""
    text = f"{context} {sentence}"
    if _NEGATION.search(question) and not _NEGATION.search(text):
        return 1.0
    question_words_ = set(_LOWER_WORD.findall(question.lower()))
    text_words = set(_LOWER_WORD.findall(text.lower()))
    if any(w not in text_words and _OPPOSITE[w] & text_words for w in question_words_ if w in _OPPOSITE):
        return 1.0
    haystack = passage or text
    if any(n not in haystack for n in _NUMBER.findall(question)):
        return 1.0
    return 0.0


# ------------------------------------------------------------------------------------------- the note

_DEMONYM_END = re.compile(r"(?:ian|ean|an|ese|ish|i|ic)$", re.I)
_DETERMINERS = frozenset("the a an this that which what whose any every each another some no with of to for by about "
                         "from in on at and or than".split())


def _plural(word: str) -> bool:
    return word.endswith("s") and not word.endswith(("ss", "us", "is"))


def _phrase(question: str, word: str) -> str:
    """`word` with the noun it qualifies when it reads as a nationality adjective (Jordanian foreign
    minister → "a Jordanian foreign minister"); otherwise the word itself, with the capitalised words
    next to it when it is part of a name (Emmanuel Macron)."""
    matches = list(_WORD.finditer(question))
    tokens = [m.group(0) for m in matches]

    def joined(i: int) -> bool:  # tokens i-1 and i are next to each other, only a space between them
        return question[matches[i - 1].end() : matches[i].start()].isspace()

    try:
        at = next(i for i, t in enumerate(tokens) if t.removesuffix("'s").removesuffix("’s") == word)
    except StopIteration:
        return word
    def content(t: str) -> bool:
        lower = t.lower()
        return lower not in STOPWORDS and lower not in _QUESTION_WORDS and t.isalpha()

    # A nationality adjective: its ending, a lower-case word after it, and a determiner before it or a
    # plural after it ("the Jordanian minister", "Jordanian officials"; not "did Sullivan convey").
    adjective = (word[:1].isupper() and (_DEMONYM_END.search(word) is not None or word.lower() in _IRREGULAR)
                 and at + 1 < len(tokens) and tokens[at + 1].islower() and content(tokens[at + 1])
                 and ((at > 0 and tokens[at - 1].lower() in _DETERMINERS) or _plural(tokens[at + 1])))
    if adjective:
        noun = [tokens[at + 1]]
        if at + 2 < len(tokens) and tokens[at + 2].islower() and content(tokens[at + 2]) and _is_noun_like(tokens[at + 2]):
            noun.append(tokens[at + 2])
        phrase = " ".join([word] + noun)
        if _plural(noun[-1]):
            return phrase  # plural: "Jordanian officials"
        return ("an " if word[0].lower() in "aeiou" else "a ") + phrase
    if word[:1].isupper():
        start, end = at, at + 1
        while (start > 0 and tokens[start - 1][:1].isupper() and tokens[start - 1].lower() not in STOPWORDS
               and tokens[start - 1].lower() not in _QUESTION_WORDS and joined(start)):
            start -= 1
        while (end < len(tokens) and tokens[end][:1].isupper() and tokens[end].lower() not in STOPWORDS
               and joined(end)):
            end += 1
        return " ".join(tokens[start:end]).removesuffix("'s").removesuffix("’s")
    return word


_VERB_LIKE = re.compile(r"(?:ed|ing)$")
_COMMON_VERBS = frozenset("say says said do does did make made go went get got give gave think thought know knew".split())


def _is_noun_like(token: str) -> bool:
    return not _VERB_LIKE.search(token) and token not in _COMMON_VERBS and token not in _QUESTION_WORDS


def premise_note(question: str, missing: list[str], unknown: Container[str] | None = None) -> str | None:
    """Plain text naming what the articles don't mention, from the most distinctive missing words: "The
    articles don't mention a Jordanian foreign minister", "... don't mention Emmanuel Macron or Jordan",
    "... don't mention “sourdough”" (a lower-case word is quoted: it may be any part of speech). A second
    word is named only when both are names. None when nothing is missing.

    `unknown`, when given, holds the words the corpus does not know at all; a first word the corpus does
    know (it is only absent from the passages found) gives "The closest passages don't mention ..."."""
    if not missing:
        return None
    phrases: list[str] = []
    for word in missing[:2]:
        is_name = word[:1].isupper() or word.isdigit()
        if phrases and not (is_name and phrases[0][:1] != "“"):
            break
        if any(word in p.split() for p in phrases):
            continue  # already part of the first phrase ("Emmanuel Macron")
        phrase = _phrase(question, word) if is_name else f"“{word}”"
        if any(set(phrase.split()) & set(p.split()) for p in phrases):
            continue  # the same name again ("Rachel Reeves", then "Chancellor Rachel Reeves")
        phrases.append(phrase)
    subject = "The articles" if unknown is None or missing[0] in unknown else "The closest passages"
    return f"{subject} don't mention " + " or ".join(phrases)


# The answerer sets its draft's note when the premise check lowered the answer's log odds by this much
# (0.5: the odds fall by a factor of 1.65; with today's model, a name of the question in no passage does).
NOTE_DROP = 0.5
