"""When a question is about, and how that ranks passages: "What happened on Wednesday?", "in May 2021",
"this week", "latest", read against an "as of" date (today, or the one a reader of an archive gives).

- A question that names a day or period (resolved against the as-of date the way an article's dates are
  resolved against its publication: qa/news/dates.py) favours passages of articles published then, or
  whose sentences mention a date then.
- A question about the recent ("this week", "latest", "recently", "now") favours articles published in the
  days before the as-of date, strongly.
- Every question mildly favours what was recent as of the date, on two scales: among pages on one topic,
  the story of the week over the one of last month, and the stories of the last year or two over those of
  a decade ago (a search for "the Oxford word of the year" finds every year's; a quiz of this week asks
  about this year's). Articles without a date are neither favoured nor penalised.
- An explicit as-of date also hides what was published after it."""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, replace

from qa.news.dates import parse_published, resolve

_RECENT = re.compile(r"\b(this week|this month|latest|most recent|most recently|recent|recently|currently|"
                     r"now|just|new|newest|this year|so far|ongoing|upcoming|today|tonight|yesterday)\b", re.I)
RECENCY_WEIGHT = 0.25  # every question: up to +25% for an article published on the as-of date
RECENCY_DAYS = 30.0  # ... decaying with this scale (days before the as-of date)
# ... and up to +30% more on a scale of years. Tuned on RealTimeQA 2025 (bench/news.py, seed 1, hit@5 on the
# questions whose pages hold the answer: 58 -> 60 of 80 on top of the deeper pool of Engine._retrieve; 57 -> 60
# for both in the bench run); seed 0, not tuned on: 45 -> 46 of 64 for both. 0.5 gains less on seed 0, a
# one-year scale less on seed 1. squad-v2-dev's articles carry no date.
ERA_WEIGHT = 0.3
ERA_DAYS = 730.0
RECENT_WEIGHT = 0.6  # a question about the recent: up to +60% ...
RECENT_DAYS = 10.0  # ... on this scale
WINDOW_WEIGHT = 0.6  # a question naming a day or period: +60% for an article of (or mentioning) that time
SLACK_DAYS = 2  # a story about Tuesday is often published on Wednesday or Thursday
# Candidates the time frame re-ranks, per passage returned: the story of the week often ranks 16th to 30th on
# its words alone, below older stories on the topic (RealTimeQA 2025, bench/news.py: 3 -> 6 found one more
# answer-bearing page in the top 5 on each of seeds 0 and 1; 12 no more). It costs passages built, not search.
POOL = 6


@dataclass(frozen=True)
class TimeFrame:
    as_of: dt.date
    explicit: bool  # the reader gave the as-of date (hide later articles)
    first: dt.date | None = None  # the day or period the question names
    last: dt.date | None = None
    recent: bool = False  # the question asks about the recent

    def to_dict(self) -> dict:
        return {"as_of": self.as_of.isoformat(), "from": self.first.isoformat() if self.first else None,
                "to": self.last.isoformat() if self.last else None, "recent": self.recent}


def frame(question: str, as_of: str | None = None) -> TimeFrame:
    """The question's time frame as of `as_of` (ISO date; today when None)."""
    day = parse_published(as_of) if as_of else dt.date.today()
    mentions = resolve(question, day.isoformat())
    first = last = None
    if mentions:
        first = min(dt.date.fromisoformat(m.date) for m in mentions)
        last = max(dt.date.fromisoformat(m.until or m.date) for m in mentions)
    recent = bool(_RECENT.search(question))
    return TimeFrame(day, as_of is not None, first, last, recent)


def weight(tf: TimeFrame, published: str | None, mentioned: list[tuple[dt.date, dt.date]]) -> float | None:
    """The factor for a passage of an article published on `published` whose sentences mention the date
    ranges `mentioned`; None when the article lies after an explicit as-of date (hidden)."""
    day = parse_published(published)
    factor = 1.0
    if day is not None:
        age = (tf.as_of - day).days
        if age < -1 and tf.explicit:
            return None
        age = max(age, 0)
        factor += RECENCY_WEIGHT * math.exp(-age / RECENCY_DAYS) + ERA_WEIGHT * math.exp(-age / ERA_DAYS)
        if tf.recent and tf.first is None:
            factor += RECENT_WEIGHT * math.exp(-age / RECENT_DAYS)
    if tf.first is not None:
        slack = dt.timedelta(days=SLACK_DAYS)
        in_window = day is not None and tf.first <= day <= tf.last + slack
        mentions = any(a <= tf.last and tf.first <= b for a, b in mentioned)
        if in_window or mentions:
            factor += WINDOW_WEIGHT
    return factor


def reweigh(passages: list, tf: TimeFrame, mentions_of) -> list:
    """Passages re-ranked by score × weight (qa.schema.Passage; their `score` replaced), hidden ones
    dropped. `mentions_of(article_ids)` gives each article's stored date mentions."""
    needs_mentions = tf.first is not None
    mentions = mentions_of(sorted({p.article_id for p in passages})) if needs_mentions and passages else {}
    out = []
    for passage in passages:
        chunk = passage.chunk
        mentioned = [(dt.date.fromisoformat(m["date"]), dt.date.fromisoformat(m.get("until") or m["date"]))
                     for m in mentions.get(passage.article_id, ())
                     if chunk.start <= m["start"] < chunk.end] if needs_mentions else []
        factor = weight(tf, passage.published, mentioned)
        if factor is None:
            continue
        scores = dict(passage.scores, time=factor)
        out.append(replace(passage, score=passage.score * factor, scores=scores))
    out.sort(key=lambda p: -p.score)
    return [replace(p, rank=i + 1) for i, p in enumerate(out)]
