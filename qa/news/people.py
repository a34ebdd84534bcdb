"""The people an article names, with the titles and organisations it gives them.

spaCy finds the names (its PERSON entities); the title is read around the first mentions the way news
writes it: before the name ("US Secretary of State Antony Blinken", "Palestinian Authority chairman
Mahmoud Abbas") or in an apposition after it ("William Shirley, the governor of Massachusetts Bay,").
Mentions of one surname are one person, named by the fullest form the article uses."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

TITLE_NOUNS = frozenset(
    """secretary minister president chairman chairwoman chair spokesman spokeswoman spokesperson advisor adviser
    ambassador envoy chief leader official director governor mayor senator representative congressman
    congresswoman king queen prince princess general commander judge justice commissioner head ceo founder
    correspondent professor chancellor premier deputy prime foreign emir sheikh pope cardinal bishop lawyer
    attorney analyst editor reporter economist coach captain manager owner minister-president diplomat
    negotiator mediator speaker whip officer inspector sergeant colonel lieutenant admiral marshal sultan
    treasurer councillor councilor lawmaker superintendent executive chairperson
    mr mrs ms dr""".split()
)
# Words that may sit inside a title without being capitalised: "Secretary of State", "spokesman for".
_JOINERS = frozenset("of for and -".split())
_STOP_CAPS = frozenset("""the a an in on at according also earlier later before after when while but and as
    then meanwhile however tweeting speaking writing""".split())
_HONORIFICS = frozenset("mr mrs ms dr mr. mrs. ms. dr. sir dame".split())


@dataclass
class Person:
    name: str  # the fullest form the article uses
    start: int  # offsets of its first mention
    end: int
    titles: list[str] = field(default_factory=list)  # as written, first given first
    orgs: list[str] = field(default_factory=list)
    mentions: list[tuple[int, int]] = field(default_factory=list)

    @property
    def surname(self) -> str:
        return self.name.split()[-1]

    @property
    def title(self) -> str | None:
        return self.titles[0] if self.titles else None

    def describe(self) -> str:
        """"Antony Blinken (US Secretary of State)"."""
        return f"{self.name} ({self.title})" if self.title else self.name

    def to_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "titles": self.titles, "orgs": self.orgs,
                "start": self.start, "end": self.end}


def _clean_name(tokens) -> list:
    """The name's own tokens: no possessive, no honorific or title that the entity swallowed."""
    tokens = [t for t in tokens if t.text not in ("’s", "'s", "’", "'")]
    while len(tokens) > 1 and (tokens[0].lower_ in TITLE_NOUNS or tokens[0].lower_ in _HONORIFICS):
        tokens = tokens[1:]
    return tokens


def _title_before(doc, start: int) -> tuple[str | None, int]:
    """The title written just before the name that starts at token `start`: (text, first token index)."""
    i = start - 1
    first = start
    while i >= 0:
        token = doc[i]
        if token.is_sent_start and token.lower_ in _STOP_CAPS:
            break
        if token.ent_type_ == "PERSON" and token.lower_ not in TITLE_NOUNS:
            break
        word = token.lower_
        if word in TITLE_NOUNS or token.ent_type_ in ("GPE", "NORP", "ORG") and word not in _STOP_CAPS:
            first = i
        elif word in _JOINERS and i > 0 and doc[i - 1].text[:1].isupper():
            pass  # kept only if a title word lies further left
        elif token.text[:1].isupper() and token.is_alpha and word not in _STOP_CAPS and not token.is_sent_start:
            first = i  # "Israel-Palestinian Affairs", "State Department"
        elif token.text[:1].isupper() and token.is_sent_start and word not in _STOP_CAPS and token.pos_ in (
                "PROPN", "ADJ", "NOUN"):
            first = i
        else:
            break
        i -= 1
    while first < start and (doc[first].lower_ in _JOINERS):
        first += 1
    span = doc[first:start]
    if not any(t.lower_ in TITLE_NOUNS for t in span):
        return None, start
    return span.text, first


_APPOSITION_END = re.compile(r"[,.;:()]")


def _title_after(doc, end: int) -> str | None:
    """An apposition: "William Shirley, the expansionist governor of the Province of Massachusetts Bay, ..."."""
    if end >= len(doc) - 2 or doc[end].text != ",":
        return None
    tokens = []
    for token in doc[end + 1 : end + 16]:
        if _APPOSITION_END.fullmatch(token.text) or token.text in ("”", "“", '"'):
            break
        tokens.append(token)
    else:
        return None
    if not tokens or tokens[0].lower_ in ("who", "which", "that", "where", "when", "he", "she", "they"):
        return None
    if any(t.pos_ in ("VERB", "AUX") for t in tokens):
        return None
    if not any(t.lower_ in TITLE_NOUNS for t in tokens):
        return None
    return doc[tokens[0].i : tokens[-1].i + 1].text


def _orgs(doc, first: int, start: int) -> list[str]:
    """The bodies and places named in a title: "Palestinian Authority", "US State Department"."""
    return [e.text for e in doc.ents if e.label_ in ("ORG", "GPE", "NORP") and first <= e.start and e.end <= start
            and not any(t.lower_ in TITLE_NOUNS for t in e) and e.text not in ("State", "US State")]


def find_people(doc) -> list[Person]:
    """The people of a parsed article, in order of first mention."""
    mentions = []
    for ent in doc.ents:
        if ent.label_ != "PERSON":
            continue
        tokens = _clean_name(list(ent))
        if not tokens or not all(t.text[:1].isupper() for t in tokens):
            continue
        mentions.append((tokens, ent))
    people: dict[str, Person] = {}  # by surname, lower case
    by_first: dict[str, str] = {}
    for tokens, ent in sorted(mentions, key=lambda m: -len(m[0])):  # full names first
        name = " ".join(t.text for t in tokens)
        key = tokens[-1].lower_
        if len(tokens) == 1 and key not in people and key in by_first:
            key = by_first[key]
        person = people.get(key)
        start, end = tokens[0].idx, tokens[-1].idx + len(tokens[-1].text)
        if person is None:
            person = people[key] = Person(name, start, end)
            if len(tokens) > 1:
                by_first.setdefault(tokens[0].lower_, key)
        person.mentions.append((start, end))
        if start < person.start:
            person.start, person.end = start, end
        title, first = _title_before(doc, tokens[0].i)
        title = title or _title_after(doc, ent.end)
        if title and title not in person.titles:
            person.titles.append(title)
            for org in _orgs(doc, first, tokens[0].i):
                if org not in person.orgs:
                    person.orgs.append(org)
    # "in Sheikh Jarrah": a place with a title-like word, not a person, when every mention follows "in".
    text = doc.text
    for key, person in list(people.items()):
        if all(re.search(r"\b(?:in|at|near|across|inside|outside)\s+(?:\w+\s+){0,1}$", text[max(0, s - 30) : s])
               for s, _ in person.mentions):
            del people[key]
    ordered = sorted(people.values(), key=lambda p: p.start)
    for person in ordered:
        person.mentions.sort()
        # Titles in the order the article gives them; the fullest first when one holds another.
        person.titles.sort(key=lambda t: (min((s for s, _ in person.mentions), default=0), -len(t)))
        person.titles = _dedupe_titles(person.titles)
    return ordered


def _dedupe_titles(titles: list[str]) -> list[str]:
    kept: list[str] = []
    for title in sorted(titles, key=len, reverse=True):
        if not any(title.lower() in other.lower() for other in kept):
            kept.append(title)
    return sorted(kept, key=titles.index)


class People:
    """Who is who in one article: names, surnames and titles to a Person."""

    def __init__(self, people: list[Person]):
        self.people = people
        self._by_surname = {p.surname.lower(): p for p in people}
        self._by_name = {p.name.lower(): p for p in people}

    def by_name(self, text: str) -> Person | None:
        words = [w for w in re.findall(r"[\w’'-]+", text) if w.lower() not in TITLE_NOUNS | _HONORIFICS]
        words = [w[:-2] if w.endswith(("’s", "'s")) else w for w in words]
        if not words:
            return None
        joined = " ".join(words).lower()
        return self._by_name.get(joined) or self._by_surname.get(words[-1].lower())

    def by_title(self, text: str) -> Person | None:
        """"the Secretary" → the person the article called Secretary (not a Deputy Assistant Secretary)."""
        words = [w.lower() for w in re.findall(r"[\w-]+", text)]
        heads = [w for w in words if w in TITLE_NOUNS and w not in ("mr", "mrs", "ms", "dr")]
        if not heads:
            return None
        head = heads[-1]
        matches = [p for p in self.people if any(head in t.lower().split() for t in p.titles)]
        if not matches:
            return None

        def rank(person: Person) -> tuple:
            title = next(t for t in person.titles if head in t.lower().split()).lower()
            qualified = any(q in title.split() for q in ("deputy", "assistant", "under", "vice", "former"))
            return qualified, person.start

        return min(matches, key=rank)
