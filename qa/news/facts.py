"""What ingest reads out of an article for who-said-what-and-when: its quotes with resolved speakers, its
people with their titles, and its dates resolved against the publication date. One spaCy parse each."""
from __future__ import annotations

from dataclasses import dataclass

from qa.news.dates import DateMention, resolve
from qa.news.people import Person, find_people
from qa.news.quotes import Quote, extract_quotes

VERSION = 1  # bump when extraction changes: stored facts of an older version are read again at ingest


@dataclass(frozen=True)
class ArticleFacts:
    quotes: list[Quote]
    people: list[Person]
    dates: list[DateMention]


def extract(text: str, published: str | None) -> ArticleFacts:
    from qa.news.nlp import parse

    doc = parse(text)
    return ArticleFacts(extract_quotes(text, doc), find_people(doc), resolve(text, published))
