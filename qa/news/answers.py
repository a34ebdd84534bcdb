"""Answers from what ingest read out of the articles (qa.news): "What did Sullivan convey?" answered with
every quote of his that conveys something, "Who said the talks had failed?" with the resolved speaker of
the best passage, "Who is Ned Price?" / "What is Blinken's job?" with the title the article gives.

Each answer is a lead naming the speaker or person (as stored) and the verbatim sentences it rests on,
cited like every other answer (qa.answer.citations): the lead states nothing the cited sentences and the
article's own attribution do not."""
from __future__ import annotations

import re
from dataclasses import dataclass

from qa.schema import Filters, Passage, Section
from qa.store.catalog import Catalog, PersonRow, QuoteRow, name_key
from qa.store.lexical import STOPWORDS, tokenize

_VERBS = (r"say|said|convey|conveyed|tweet|tweeted|write|wrote|condemn|condemned|ask|asked|tell|told|announce|"
          r"announced|express|expressed|urge|urged|warn|warned|call for|called for|demand|demanded|add|added|state|"
          r"stated|post|posted|emphasi[sz]e|emphasi[sz]ed|reiterate|reiterated|assert|asserted|claim|claimed|"
          r"acknowledge|acknowledged|promise|promised|vow|vowed|deny|denied|criticize|criticise|criticized|praise|"
          r"praised|reject|rejected|insist|insisted|argue|argued|announce")
_SPEECH_QUESTION = re.compile(
    rf"^\s*(?:and\s+)?what\s+(?:else\s+)?(?:did|does|do|has|have|had|was|is)\s+(?P<who>.+?)\s+(?:also\s+|just\s+|first\s+)?"
    rf"(?P<verb>{_VERBS})\b(?P<rest>[^?]*)\??\s*$", re.I)
_WHO_SAID = re.compile(rf"^\s*who\s+(?:has\s+|had\s+)?(?P<verb>{_VERBS})\b", re.I)
_WHO_IS = re.compile(
    r"^\s*(?:(?i:who\s+(?:is|was))\s+(?P<a>[A-Z][^?]*?)|(?i:what\s+(?:is|was))\s+(?P<b>[A-Z][^?]*?)(?:’s|'s)\s+"
    r"(?i:job|title|role|position|office|post)|(?i:what\s+(?:job|title|role|position|office|post)\s+does)\s+"
    r"(?P<c>[A-Z][^?]*?)\s+(?i:have|hold))\s*\??\s*$")
_HAPPENED = re.compile(r"^\s*(?:and\s+)?what\s+(?:happened|took place|was (?:said|announced)|went on|did (?:they|people) "
                       r"(?:say|do)|news is there|is new|was new)\b", re.I)
_STEM = re.compile(r"(?:ed|es|s|d)$")
MAX_QUOTES = 4
_ANY_SPEECH = ("sa", "ad", "stat", "tel")  # say, add, state, tell: any quote answers them


@dataclass
class NewsAnswer:
    lead: str  # "Jake Sullivan (US National Security Advisor)"
    sentences: list  # qa.answer.extractive.ScoredSentence, in the order they are quoted
    short: str | None  # the bold short answer: the speaker's name, the person's title
    kind: str  # "quotes", "speaker", "person"


def _stem(word: str) -> str:
    word = word.lower().split()[0]
    return {"said": "sa", "say": "sa", "wrote": "writ", "write": "writ", "told": "tel", "tell": "tel"}.get(
        word, _STEM.sub("", word)[:6])


def _published_ok(published: str | None, filters: Filters | None) -> bool:
    if filters is None:
        return True
    if filters.date_from and (not published or published < filters.date_from):
        return False
    if filters.date_to and (not published or published > filters.date_to):
        return False
    return True


class NewsAnswerer:
    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    # ---------------------------------------------------------------- citing stored offsets
    def _sentences(self, article_id: str, start: int, end: int) -> list:
        """The stored sentences (of the chunks that hold them) that overlap [start, end) of the body."""
        from qa.answer.extractive import ScoredSentence

        out, seen = [], set()
        for stored in self.catalog.article_chunks(article_id):
            chunk = stored.chunk
            if chunk.section is not Section.BODY or chunk.end <= start or chunk.start >= end:
                continue
            passage = Passage(chunk, stored.title, stored.published, stored.source, 1.0, 0,
                              external_id=stored.external_id)
            for k, (s, e) in enumerate(chunk.sentences):
                if s < end and start < e and (s, e) not in seen:
                    seen.add((s, e))
                    out.append(ScoredSentence(passage, s, e, chunk.sentence_text(k), 1.0, 1.0, 1.0))
        return sorted(out, key=lambda s: s.start)

    def _named(self, article_id: str, speaker: str, quote_start: int, sentences: list) -> list:
        """The quote's sentences, preceded by the sentence that names its speaker when they do not ("...,"
        he said): the lead's name then rests on a citation too."""
        surname = speaker.split()[-1] if speaker else ""
        if not surname or sentences and any(surname in s.text for s in sentences):
            return sentences
        article = self.catalog.article(article_id)
        if article is None:
            return sentences
        at = article.text.rfind(surname, 0, quote_start)
        if at < 0:
            return sentences
        named = [s for s in self._sentences(article_id, at, at + len(surname)) if s.start < quote_start]
        return named[:1] + [s for s in sentences if all(s.start != n.start for n in named[:1])]

    # ---------------------------------------------------------------- "What did X say/convey ...?"
    def speakers(self, who: str) -> list[str]:
        """The stored speakers a question's "X" names: a name or surname, or a title ("the spokesman")."""
        words = [w for w in re.findall(r"[\w’'-]+", who) if w.lower() not in ("the", "a", "an", "us", "u.s")]
        if not words:
            return []
        names = {r.speaker for r in self.catalog.quotes(speaker=" ".join(words), limit=50)}
        if names:
            return sorted(names)
        heads = [w.lower() for w in words]
        found = set()
        for person in self.catalog.people():
            titles = " ".join(person.titles).lower().split()
            if heads and all(h in titles for h in heads):
                found.add(person.name)
        return sorted(found)

    def speech(self, question: str, filters: Filters | None = None) -> NewsAnswer | None:
        match = _SPEECH_QUESTION.match(question)
        if not match:
            return None
        names = self.speakers(match.group("who"))
        if len(names) != 1:
            return None  # nobody, or several people: let retrieval answer
        quotes = [q for q in self.catalog.quotes(speaker=names[0], limit=500) if q.speaker == names[0]
                  and _published_ok(q.published, filters)]
        if not quotes:
            return None
        chosen = self._rank(quotes, match.group("verb"), match.group("rest"))
        sentences = []
        stem = _stem(match.group("verb"))
        for quote in chosen:
            own = self._sentences(quote.article_id, quote.start, quote.end)
            whole = _stem(quote.cue.split()[-1]) == stem and quote.kind != "partial"
            if stem not in _ANY_SPEECH and not whole:
                # "What did Sullivan convey?" of a quoted predicate that condemns, then conveys (or conveys,
                # then reports an agreement): the sentences that convey. A tweet is answered whole.
                verbed = [s for s in own if any(_stem(w) == stem for w in re.findall(r"[a-z]+", s.text.lower()))]
                own = verbed or own
            for sentence in own:
                if all((s.passage.article_id, s.start) != (sentence.passage.article_id, sentence.start)
                       for s in sentences):
                    sentences.append(sentence)
        if not sentences:
            return None
        role = next((q.role for q in chosen if q.role), None)
        lead = f"{names[0]} ({role})" if role else names[0]
        return NewsAnswer(lead, sentences, None, "quotes")

    @staticmethod
    def _rank(quotes: list[QuoteRow], verb: str, rest: str) -> list[QuoteRow]:
        """The quotes that answer: those with the question's verb ("convey": "also conveyed", "He
        conveyed") when any has it (any quote answers "say"), then those about the question's topic."""
        stem = _stem(verb)
        if stem not in _ANY_SPEECH:
            with_verb = [q for q in quotes if _stem(q.cue.split()[-1]) == stem
                         or any(_stem(w) == stem for w in re.findall(r"[a-z]+", q.text.lower()))]
            quotes = with_verb or quotes
        topic = {t for t in tokenize(rest) if t not in STOPWORDS}
        if topic:
            about = [q for q in quotes if topic & set(tokenize(q.text))]
            quotes = about or quotes
        by_article: dict[str, list[QuoteRow]] = {}
        for quote in quotes:
            by_article.setdefault(quote.article_id, []).append(quote)
        ordered = [q for group in by_article.values() for q in sorted(group, key=lambda q: q.start)]
        return ordered[:MAX_QUOTES]

    # ---------------------------------------------------------------- "Who said ...?"
    def speaker_of(self, question: str, sentences: list) -> NewsAnswer | None:
        """The resolved speaker of the quote the best cited sentence belongs to, for a who-said question."""
        if not _WHO_SAID.match(question) or not sentences:
            return None
        best = max(sentences, key=lambda s: s.score)
        article_id = best.passage.article_id
        for quote in self.catalog.quotes(article_ids=[article_id], limit=1000):
            if quote.start < best.end and best.start < quote.end and quote.speaker:
                lead = f"{quote.speaker} ({quote.role})" if quote.role else quote.speaker
                if quote.via and quote.via != quote.speaker:
                    lead += f", according to {quote.via}"
                # The sentence that says it, and the one that names who said it (the quote's own
                # attribution, '..., tweeted Blinken', or the sentence that introduced "he").
                unit = self._sentences(article_id, quote.start, quote.end) or [best]
                surname = quote.speaker.split()[-1]
                naming = [s for s in unit if surname in s.text][:1] or self._named(article_id, quote.speaker,
                                                                                  quote.start, [])
                said = [s for s in unit if s.start == best.start] or unit[:1]
                cited = sorted({s.start: s for s in naming + said}.values(), key=lambda s: s.start)
                # The bold answer is verbatim from a cited sentence: the full name where one holds it.
                short = next((form for form in (quote.speaker, surname) if any(form in s.text for s in cited)), None)
                return NewsAnswer(lead, cited, short, "speaker")
        return None

    # ---------------------------------------------------------------- "What happened on Wednesday?"
    def happened(self, question: str, frame, passages: list) -> NewsAnswer | None:
        """A question about a day or period and nothing else ("What happened on Tuesday?", "What happened
        this week?"): the sentences of the retrieved articles that say something happened then, by the
        dates resolved at ingest, one per article first, in reading order."""
        import datetime as dt

        if frame is None or frame.first is None or not _HAPPENED.match(question):
            return None
        articles = list(dict.fromkeys(p.article_id for p in passages))
        mentions = self.catalog.date_mentions(articles) if articles else {}
        sentences: list = []
        for article_id in articles:
            for mention in mentions.get(article_id, ()):
                first = dt.date.fromisoformat(mention["date"])
                last = dt.date.fromisoformat(mention.get("until") or mention["date"])
                if first <= frame.last and frame.first <= last:
                    for sentence in self._sentences(article_id, mention["start"], mention["end"]):
                        if all((s.passage.article_id, s.start) != (article_id, sentence.start) for s in sentences):
                            sentences.append(sentence)
        if not sentences:
            return None
        sentences = sentences[:MAX_QUOTES + 1]
        from qa.news.dates import date_label

        label = date_label(frame.first.isoformat(), frame.last.isoformat() if frame.last != frame.first else None)
        return NewsAnswer(f"On {label}", sentences, None, "dates")

    # ---------------------------------------------------------------- "Who is X?" / "What is X's job?"
    def person(self, question: str, filters: Filters | None = None) -> NewsAnswer | None:
        match = _WHO_IS.match(question)
        if not match:
            return None
        name = (match.group("a") or match.group("b") or match.group("c")).strip()
        rows = [r for r in self.catalog.people(name=name) if r.title and _published_ok(r.published, filters)]
        if not rows or name_key(name) != name_key(rows[0].name):
            return None
        names = {r.name for r in rows}
        if len(names) > 1:  # two people with this surname: only a full-name match decides
            rows = [r for r in rows if r.name.lower() == name.lower()]
            if not rows:
                return None
        row: PersonRow = rows[0]
        # Cite the sentence that gives the title (with the name, when one does): the bold title is verbatim.
        article = self.catalog.article(row.article_id)
        text = article.text if article else ""
        surname = row.name.split()[-1]
        at = next((m.start() for m in re.finditer(re.escape(row.title), text)
                   if surname in text[m.end() : m.end() + len(row.name) + 40]), text.find(row.title))
        sentences = self._sentences(row.article_id, at, at + len(row.title))[:1] if at >= 0 else []
        short = row.title if sentences else None
        sentences = sentences or self._sentences(row.article_id, row.start, row.end)[:1]
        if not sentences:
            return None
        return NewsAnswer(f"{row.name} ({row.title})", sentences, short, "person")


_MARKER = re.compile(r"(\[\d+\])")
_WRITTEN_IN_FULL = re.compile(r"\d{4}")


_POSSESSIVE = re.compile(r"['’]s?(?!\w)")


def with_dates(text: str, cited: list, catalog: Catalog) -> str:
    """The answer text with each relative date of a cited sentence resolved against its article's
    publication date: "spoke on Tuesday (11 May 2021) to ...". The citations' quotes stay verbatim."""
    from qa.news.dates import date_label

    if not cited:
        return text
    mentions = catalog.date_mentions(sorted({c.article_id for c in cited}))
    by_marker = {}
    for citation in cited:
        found = [m for m in mentions.get(citation.article_id, ())
                 if citation.start <= m["start"] and m["end"] <= citation.end and not _WRITTEN_IN_FULL.search(m["text"])]
        if found:
            by_marker[f"[{citation.n}]"] = found
    if not by_marker:
        return text
    parts = _MARKER.split(text)
    for i in range(1, len(parts), 2):
        for mention in by_marker.get(parts[i], ()):
            label = date_label(mention["date"], mention.get("until"))
            segment = parts[i - 1]
            at = segment.find(mention["text"])
            if at >= 0 and not segment[at + len(mention["text"]):].startswith(" ("):
                end = at + len(mention["text"])
                possessive = _POSSESSIVE.match(segment, end)  # "this Sunday's (5 January 2025) ceremony"
                end = possessive.end() if possessive else end
                parts[i - 1] = f"{segment[:end]} ({label}){segment[end:]}"
    return "".join(parts)


def short_with_date(short: str | None, cited: list, catalog: Catalog) -> str | None:
    """A bold answer that is a relative date of a cited sentence ("Tuesday") with the date it stands for:
    "Tuesday (11 May 2021)". Anything else unchanged."""
    from qa.news.dates import date_label

    if not short or not cited or _WRITTEN_IN_FULL.search(short):
        return short
    mentions = catalog.date_mentions(sorted({c.article_id for c in cited}))
    for citation in cited:
        for m in mentions.get(citation.article_id, ()):
            if citation.start <= m["start"] and m["end"] <= citation.end and short in m["text"]:
                return f"{short} ({date_label(m['date'], m.get('until'))})"
    return short
