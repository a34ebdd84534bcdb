"""Quotes and who said them: direct quotes ("...," Price added), quoted predicates (Sullivan "also
conveyed ..."), tweets and statements ("...," the statement continued), and reported speech (Blinken
announced that ...), each with its speaker resolved to the fullest name the article gives (a surname to
the full name introduced earlier, "he" to the last person named as a subject, "the Secretary" to the
person the article gave that title, "the statement" to whoever issued it) and the speaker's title.

spaCy parses the article (names, subjects, lemmas); quotation marks are paired per paragraph the way
newswire writes them (a quote that runs on into the next paragraph leaves its paragraph open), and the
attribution is read in the few words after the closing mark or before the opening one. textacy's
quotation extractor was tried first: it refuses any article with an odd number of quotation marks, which
is most news (the sample articles mix straight and curly ones)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from qa.news.people import People, Person, find_people

_SPEECH_FORMS = (
    r"said|says|say|added|adds|continued|continues|concluded|concludes|tweeted|tweets|wrote|writes|posted|told|"
    r"tells|asked|asks|noted|notes|stated|states|explained|explains|announced|announces|insisted|insists|warned|"
    r"warns|urged|urges|argued|argues|declared|declares|stressed|stresses|emphasi[sz]ed|emphasi[sz]es|"
    r"acknowledged|replied|replies|responded|commented|claimed|claims|remarked|recalled|complained|admitted|"
    r"suggested|asserted|cautioned|predicted|promised|vowed|read|reads|went on|said in a statement"
)
_SPEECH = re.compile(rf"\b(?:{_SPEECH_FORMS})\b", re.I)
_CUE = rf"(?i:{_SPEECH_FORMS})"
# Reported speech: these verbs with a person (or body) as subject carry what was said.
REPORT_LEMMAS = frozenset(
    """say assert announce condemn express convey urge warn accuse deny insist argue claim acknowledge emphasize
    emphasise reiterate tell ask write tweet vow pledge promise demand reject criticize criticise praise welcome
    confirm reveal admit stress call describe suggest declare state explain note add""".split()
)
_NAMEISH = r"[A-Z][\w.’'-]*(?:\s+(?:[A-Z][\w.’'-]*|of|for|al|bin|ben|de|van|von))*"
_NP = (rf"(?:(?i:he|she|they|we|it)|I|(?i:the|a|an)\s+(?:[\w’'-]+\s+){{0,5}}?[\w’'-]+|{_NAMEISH}|"
       rf"(?:[a-z][\w-]*\s+){{1,3}}{_NAMEISH})")  # the last: "treasurer Ada Vance", "former president X"
# After the closing mark: ', Price added' / ', the statement continued' / ', tweeted Blinken' / ', he said'.
_AFTER_SUBJECT_FIRST = re.compile(rf"^[\s,]*(?P<who>{_NP})\s+(?:also\s+)?(?P<cue>{_CUE})\b")
_AFTER_VERB_FIRST = re.compile(rf"^[\s,]*(?P<cue>{_CUE})\s+(?P<who>{_NP})")
# Before the opening mark: 'Blinken wrote, ' / 'According to a spokesman for the US State Department, '.
_BEFORE_DIRECT = re.compile(rf"(?P<who>{_NP})\s+(?:also\s+)?(?P<cue>{_CUE})(?:\s+(?i:that|on \w+|to \w+))?"
                            r"\s*[,:]?\s*$")
# 'Judge Maria Lopez wrote that the rules “cannot be squared ...”': a quoted fragment of reported speech.
_BEFORE_THAT = re.compile(rf"(?P<who>{_NP})\s+(?:also\s+)?(?P<cue>{_CUE})\s+(?i:that)\b[^“”\"]{{0,120}}$")
_BEFORE_ACCORDING = re.compile(rf"(?i:according to) (?P<who>{_NP}(?:\s+(?:from|for|of)\s+{_NP})?)\s*,?\s*$")
# 'Sullivan “condemned ...' : the quote is the predicate of a subject just before it.
_BEFORE_SUBJECT = re.compile(rf"(?P<who>{_NP})\s*,?\s*$")
_PRONOUNS = {"he", "she", "him", "her"}
_ISSUER = [
    re.compile(rf"\bstatement (?:from|by|issued by|released by) (?P<who>(?:the\s+)?{_NAMEISH})"),
    re.compile(rf"\b(?:In a statement, )(?P<who>(?:the\s+)?{_NAMEISH}) said"),
    re.compile(rf"(?P<who>(?:the\s+)?{_NAMEISH}) said in a statement"),
    re.compile(rf"(?P<who>(?:the\s+)?{_NAMEISH})(?:’s|'s)? statement"),
]
_VIA = re.compile(rf"(?i:according to (?:a|the) statement (?:from|by|issued by) |in a statement,\s+)"
                  rf"(?P<org>(?i:the\s+)?{_NAMEISH})")
_STATEMENTISH = re.compile(r"\b(statement|communiqu[eé]|release|readout|letter|tweet|post|message)\b", re.I)
_MARKS = "“”\""


class QuoteKind(str, Enum):
    DIRECT = "direct"  # a whole quoted utterance
    PARTIAL = "partial"  # a quoted predicate: Sullivan "also conveyed ..."
    STATEMENT = "statement"  # a quoted written statement, tweet or letter
    REPORTED = "reported"  # no quotation marks: Blinken announced that ...


@dataclass(frozen=True)
class Quote:
    start: int  # offsets of what was said, into the article text (quotation marks excluded)
    end: int
    text: str
    speaker: str  # the fullest name (or the body that issued a statement); as written when unresolved
    role: str | None  # the speaker's title, as the article gives it
    mention: str  # how the attribution names the speaker ("he", "the Secretary", "Price")
    cue: str  # the verb of the attribution ("added", "tweeted"; for a quoted predicate its first verb)
    kind: QuoteKind
    via: str | None = None  # who issued the statement that reports it ("the White House")
    resolved: bool = True  # the speaker is a person or body the article names

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "text": self.text, "speaker": self.speaker, "role": self.role,
                "mention": self.mention, "cue": self.cue, "kind": self.kind.value, "via": self.via,
                "resolved": self.resolved}


@dataclass
class _Span:
    start: int  # content offsets
    end: int
    open_at: int  # offset of the opening mark (or the paragraph start)
    close_at: int  # offset just after the closing mark (or the paragraph end)
    paragraph: int
    runs_on: bool  # the paragraph ended inside it


def quote_spans(text: str) -> list[_Span]:
    """Quoted passages, their marks paired per paragraph: “ opens, ” closes, a straight " alternates; a
    paragraph that ends inside a quote continues it (the next paragraph reopens it)."""
    spans: list[_Span] = []
    offset = 0
    for number, paragraph in enumerate(text.split("\n")):
        opened: int | None = None
        for i, ch in enumerate(paragraph):
            if ch not in _MARKS:
                continue
            if opened is None:
                if ch == "”":  # closes a quote opened in the previous paragraph, or a stray mark
                    if spans and spans[-1].runs_on and spans[-1].paragraph == number - 1:
                        spans.append(_Span(offset, offset + i, offset, offset + i + 1, number, False))
                    continue
                opened = i
            elif ch == "“" and paragraph[opened] == "“":
                opened = i  # a stray opening mark: the quote starts again here
            else:
                spans.append(_Span(offset + opened + 1, offset + i, offset + opened, offset + i + 1, number, False))
                opened = None
        if opened is not None and len(paragraph) - opened > 1:
            spans.append(_Span(offset + opened + 1, offset + len(paragraph), offset + opened, offset + len(paragraph),
                               number, True))
        offset += len(paragraph) + 1
    return _Spans(s for s in spans if text[s.start : s.end].strip())


class _Spans(list):
    """Quote spans in reading order, with their opening offsets for a binary search."""

    def __init__(self, items=()):
        super().__init__(items)
        self.starts = [s.open_at for s in self]


def _sentence_start(text: str, position: int, floor: int) -> int:
    """Where the sentence holding `position` begins (not before `floor`)."""
    cut = floor
    for match in re.finditer(r"[.!?](?=[\s”\"])\s+|\n", text[floor:position]):
        cut = floor + match.end()
    return cut


def _after(text: str, close_at: int, limit: int) -> str:
    window = text[close_at:limit]
    end = re.search(r"[.!?](?:\s|$)|[“\"]|\n", window)
    return window[: end.start()] if end else window


class _Resolver:
    """Speaker mentions to people (or the body behind a statement), in reading order."""

    def __init__(self, doc, text: str, people: list[Person]):
        self.text = text
        self.people = People(people)
        self.doc = doc
        self.last_named: Person | None = None
        self.last_statement: str | None = None  # who spoke in the last statement quoted
        self._cursor = 0  # the next token subjects_until looks at

    def subjects_until(self, position: int, quotes: list[_Span]) -> None:
        """Move the "last named person" on through grammatical subjects that end before `position`, outside
        quotes: "Ned Price made a statement in which he asserted ..." makes Price the next "he". A cursor
        keeps the whole article one pass."""
        doc, i = self.doc, self._cursor
        while i < len(doc) and doc[i].idx < position:
            token = doc[i]
            if token.dep_ in ("nsubj", "nsubjpass") and token.ent_type_ == "PERSON" and not _inside(token.idx, quotes):
                person = self.people.by_name(token.text)
                if person is not None:
                    self.last_named = person
            i += 1
        self._cursor = i

    def issuer_before(self, position: int) -> str | None:
        window = self.text[max(0, position - 2000) : position]
        best: tuple[int, str] | None = None
        for pattern in _ISSUER:
            for match in pattern.finditer(window):
                if best is None or match.start() > best[0]:
                    best = (match.start(), match.group("who"))
        return best[1] if best else None

    def resolve(self, mention: str, at: int) -> tuple[str, str | None, bool, Person | None]:
        """(speaker, role, resolved, person) for a mention at offset `at`."""
        words = mention.strip()
        lower = words.lower()
        if lower in _PRONOUNS:
            person = self.last_named
            if person is None:
                return words, None, False, None
            return person.name, person.title, True, person
        if _STATEMENTISH.search(lower) and not re.search(r"[A-Z]", words.split(" ", 1)[-1][:1] or ""):
            issuer = self.issuer_before(at)
            if issuer:
                return _strip_article(issuer), None, True, None
            if self.last_statement:
                return self.last_statement, None, True, None
        person = self.people.by_name(words) if re.search(r"\b[A-Z]", words) else None
        if person is None and lower.startswith(("the ", "a ", "an ")):
            person = self.people.by_title(words) if not re.search(r"\b(for|of|from)\b", lower) else None
        if person is None and re.search(r"\b[A-Z]", words):
            person = self.people.by_title(words) if words.split()[0].lower() in ("the",) else None
        if person is not None:
            self.last_named = person
            return person.name, person.title, True, person
        # A body ("the State Department") or an unnamed speaker ("a spokesman for the US State Department").
        named_body = bool(re.search(r"\b[A-Z]", words)) and lower not in ("i", "we")
        return _strip_article(words) if named_body and lower.startswith("the ") else words, None, named_body, None


def _strip_article(name: str) -> str:
    return re.sub(r"^the\s+", "", name.strip(), flags=re.I)


def _inside(offset: int, spans: list[_Span]) -> bool:
    """Is the offset within a quote? `spans` are in reading order and do not overlap: a binary search."""
    import bisect

    starts = spans.starts if isinstance(spans, _Spans) else [s.open_at for s in spans]
    i = bisect.bisect_right(starts, offset) - 1
    return i >= 0 and offset < spans[i].close_at


def extract_quotes(text: str, doc=None, people: list[Person] | None = None) -> list[Quote]:
    """Every quote of an article text (its body), in reading order. `people`: find_people(doc), when the
    caller has them already."""
    from qa.news.nlp import parse

    doc = doc if doc is not None else parse(text)
    people = find_people(doc) if people is None else people
    spans = quote_spans(text)
    found: list[tuple[int, Quote]] = []
    attributions: list[tuple[str, str, QuoteKind, str | None, int] | None] = []
    for index, span in enumerate(spans):
        following = spans[index + 1].open_at if index + 1 < len(spans) else len(text)
        attributions.append(_attribution(text, span, spans[index - 1].close_at if index else 0, following))
    # A quote without its own attribution belongs to the quote it runs on from or into, or to the quote
    # before it in the same paragraph ('"...," he said. "..."').
    for index, span in enumerate(spans):
        if attributions[index] is not None:
            continue
        previous = attributions[index - 1] if index else None
        if index and previous and (spans[index - 1].paragraph == span.paragraph or spans[index - 1].runs_on):
            attributions[index] = previous
        elif span.runs_on and index + 1 < len(spans) and attributions[index + 1]:
            attributions[index] = attributions[index + 1]
    resolver = _Resolver(doc, text, people)
    for index, span in enumerate(spans):
        attribution = attributions[index]
        content = text[span.start : span.end]
        if attribution is None or len(content.split()) < 3:
            continue
        mention, cue, kind, via, at = attribution
        resolver.subjects_until(span.open_at, spans)
        speaker, role, resolved, _ = resolver.resolve(mention, at)
        if kind is QuoteKind.DIRECT and _STATEMENTISH.search(mention) and not resolved:
            kind = QuoteKind.STATEMENT
        elif kind is QuoteKind.DIRECT and _STATEMENTISH.search(mention):
            kind = QuoteKind.STATEMENT
        if via and _STATEMENTISH.search(via):
            via = resolver.issuer_before(at) or resolver.last_statement
        if via:
            via = _strip_article(via)
        if kind is QuoteKind.STATEMENT:
            resolver.last_statement = speaker
        start, end = _trim(text, span.start, span.end)
        found.append((start, Quote(start, end, text[start:end], speaker, role, mention, cue, kind, via, resolved)))
    found.extend(_reported(doc, text, spans, people))
    found.sort(key=lambda item: item[0])
    return [quote for _, quote in found]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in ","):
        end -= 1
    return start, end


def _attribution(text: str, span: _Span, previous_close: int, next_open: int):
    """(mention, cue, kind, via, offset) of who said the quote, read around its marks; None if not said."""
    paragraph_start = text.rfind("\n", 0, span.open_at) + 1
    content = text[span.start : span.end]
    after_attribution = None
    if not span.runs_on:
        after = _after(text, span.close_at, next_open)
        for pattern in (_AFTER_SUBJECT_FIRST, _AFTER_VERB_FIRST):
            match = pattern.match(after)
            if match and not _SPEECH.fullmatch(match.group("who")):
                after_attribution = (match.group("who"), match.group("cue"), QuoteKind.DIRECT, None,
                                     span.close_at + match.start("who"))
                break
    floor = max(paragraph_start, previous_close)
    sentence = _sentence_start(text, span.open_at, floor)
    before = text[sentence : span.open_at]
    via = None
    issuer = _VIA.search(before)
    if issuer:
        via = issuer.group("org")
    # A quoted predicate first: in 'Sullivan “also conveyed ...,” the statement added' Sullivan is the
    # speaker and the statement only reports him.
    match = _BEFORE_SUBJECT.search(before)
    first_word = re.match(r"\s*(?:also\s+)?([a-z]+)", content)
    if match and first_word and _looks_like_verb(first_word.group(1)):
        who = match.group("who")
        lead = before[: match.start("who")]
        if not _SPEECH.search(who) and (lead.strip() == "" or lead.rstrip()[-1:] in ",;"
                                         or re.search(r"\bthat\s*$", lead)):
            cue = re.match(r"\s*((?:also\s+)?[a-z]+)", content).group(1)
            if via is None and after_attribution and _STATEMENTISH.search(after_attribution[0]):
                via = after_attribution[0]
            return who, cue, QuoteKind.PARTIAL, via, sentence + match.start("who")
    if after_attribution:
        return after_attribution
    match = _BEFORE_ACCORDING.search(before)
    if match and not issuer:
        return match.group("who"), "according to", QuoteKind.STATEMENT, None, sentence + match.start("who")
    match = _BEFORE_DIRECT.search(before) or _BEFORE_THAT.search(before)
    if match:
        return match.group("who"), match.group("cue"), QuoteKind.DIRECT, via, sentence + match.start("who")
    return None


_VERBISH = re.compile(r"^(?:[a-z]+ed|[a-z]+s|said|told|wrote|made|gave|took|went|came|saw|knew|thought|felt|left|"
                      r"kept|met|sent|spent|won|lost|paid|put|set|led|held|brought|bought|sought|taught|began|"
                      r"became|spoke|chose|drove|rose|threw|grew|drew|flew|understood|stood|meant)$")


def _looks_like_verb(word: str) -> bool:
    return bool(_VERBISH.match(word)) and word not in ("its", "his", "this", "has", "was", "is", "us", "as")


def _reported(doc, text: str, spans: list[_Span], people: list[Person]) -> list[tuple[int, Quote]]:
    """Reported speech outside quotation marks: a speech verb whose subject is a person, a pronoun for
    one, or a titled role; what was said is the rest of the sentence from the subject on."""
    found = []
    resolver = _Resolver(doc, text, people)
    for sentence in doc.sents:
        if any(sentence.start_char < s.close_at and s.open_at < sentence.end_char for s in spans):
            resolver.subjects_until(sentence.end_char, spans)
            continue
        for token in sentence:
            if token.pos_ != "VERB" or token.lemma_.lower() not in REPORT_LEMMAS:
                continue
            subject = next((c for c in token.children if c.dep_ in ("nsubj", "nsubjpass")), None)
            if subject is None and token.dep_ == "conj":
                subject = next((c for c in token.head.children if c.dep_ == "nsubj"), None)
            if subject is None:
                continue
            if token.lemma_.lower() == "say" and not any(c.dep_ in ("ccomp", "dobj") for c in token.children):
                continue
            resolver.subjects_until(subject.idx, spans)
            mention_span = doc[subject.left_edge.i : subject.i + 1]
            mention = mention_span.text
            is_person = subject.ent_type_ == "PERSON" or subject.lower_ in _PRONOUNS or (
                resolver.people.by_name(subject.text) is not None and subject.text[:1].isupper())
            if not is_person:
                person = resolver.people.by_title(mention) if subject.lower_ in {t for t in _TITLE_HEADS} else None
                if person is None:
                    continue
            speaker, role, resolved, _ = resolver.resolve(mention, subject.idx)
            if not resolved:
                continue
            start, end = _trim(text, sentence.start_char, sentence.end_char)
            found.append((start, Quote(start, end, text[start:end], speaker, role, mention, token.text,
                                       QuoteKind.REPORTED, None, True)))
            break
        resolver.subjects_until(sentence.end_char, spans)
    return found


_TITLE_HEADS = ("secretary", "minister", "president", "chairman", "spokesman", "spokeswoman", "spokesperson",
                "ambassador", "envoy", "advisor", "adviser", "senator", "governor", "mayor", "chancellor", "premier")
