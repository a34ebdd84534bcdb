"""What ingest reads out of an article for who-said-what-and-when: its quotes with resolved speakers, its
people with their titles, and its dates resolved against the publication date. One spaCy parse each."""
from __future__ import annotations

from dataclasses import dataclass

from qa.news.dates import DateMention, resolve
from qa.news.people import Person, find_people
from qa.news.quotes import Quote, extract_quotes

VERSION = 4  # bump when extraction changes: stored facts of an older version are read again at ingest
# (2: a weekday that names no one day, "the third Monday of February", "Freaky Friday", "Tuesday, Nov. 3",
# and "USA TODAY", "the next year" are no longer resolved; 3: a date without its year is the nearest one;
# 4: a month without its year or day, "in January", "since May", is read like a bare weekday)
# Parsing costs ~0.1 s per 1,000 words on these cores: a news story is read whole, but of a scraped page
# of 100,000 characters (a transcript, a live blog) only the beginning is.
MAX_CHARS = 30_000


@dataclass(frozen=True)
class ArticleFacts:
    quotes: list[Quote]
    people: list[Person]
    dates: list[DateMention]


def extract(text: str, published: str | None) -> ArticleFacts:
    from qa.news.nlp import parse

    text = _head(text)
    doc = parse(text)
    people = find_people(doc)  # once: the quotes' speakers are resolved against the same people
    return ArticleFacts(extract_quotes(text, doc, people), people, resolve(text, published))


def _head(text: str) -> str:
    """The first MAX_CHARS characters, cut at a paragraph (or line) break; offsets stay the article's."""
    if len(text) <= MAX_CHARS:
        return text
    cut = text.rfind("\n", 0, MAX_CHARS)
    return text[: cut if cut > MAX_CHARS // 2 else MAX_CHARS]
