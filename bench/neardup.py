"""Syndicated-copy detection (qa.sources.syndication) on a labelled near-duplicate set; prints one JSON object.

The "articles" are squad-v2-dev paragraph groups (consecutive paragraphs of one Wikipedia article joined into
150-600 words) and the sample news articles. Everything is indexed in one NearDuplicates, as ingest would
have it, and each query goes through match() with text_of (exact Jaccard verification):

- positives: an edited copy of an indexed article (seeded random edits: 1-5% of words substituted or
  deleted, always; each with probability 1/2: a dateline prefix, one sentence dropped or one added from
  another article, a boilerplate line appended, the paragraphs re-wrapped). Headlines are not part of
  the compared text (body only), so a changed headline is no edit here. A hit is a match to the original;
  a match to any other article counts as a false positive. A substituted word is drawn by corpus
  frequency (from the list of all word tokens of the indexed articles, repeats included), not uniformly
  from the set of distinct words: most distinct words are rare names and numbers, so a uniform draw
  makes nearly every substitution bring in a new name or number, while real copy edits mostly change
  common words ("said" -> "added", "the" -> "a"). This matters for the names-and-numbers guard of
  match() (MAX_NEW_KEY_SHARE), which rejects a candidate whose copy brings too many new ones.
- negatives, where any match is a false positive:
  `distinct`: every indexed article queried with itself excluded -- its nearest neighbours are the other
  passages of the same Wikipedia article (and, for the two sample articles, the other sample: two stories
  about the same calls that share a quoted sentence);
  `shared_quote`: a passage with one sentence of another passage of the same article spliced in, itself
  excluded;
  `copy_vs_others`: each positive's copy queried with its original excluded;
  `template`: two instances of one template of news-like text (80-300 words) that differ only in names
  and/or numbers -- a weekly town-council report with another town (and week), a match report with other
  teams, scorers and score, a market report with other companies and figures, a weather report with
  other cities and temperatures, a local election result with other candidates and votes, and a weekly
  jobless-claims report where only the numbers differ. One instance of each pair is indexed (in the same
  index), the other queried with nothing excluded: a match to any article is a false merge (the pairs'
  Jaccard is 0.51-0.82, above the threshold: only the guard tells them apart). Each template's main name
  (town, city, home team, company, winner) differs across all its instances; other values are drawn
  independently, so a query may also meet an instance of another pair with the same week or figures.

Also: precision/recall over a threshold sweep (with and without the guard); the guard's effect: scores
with it off (MAX_NEW_KEY_SHARE = 1.0) and at each GUARD_SWEEP value (set on the module for the run), and
the distribution of new_key_share for the copies (copy vs its original) and the template pairs (query vs
its indexed instance); the exact-Jaccard distributions of both classes (the template pairs apart, as
`template_pair_jaccard`: they are made to defeat Jaccard); timings
(signature per article and for a 1,000-word one, match, loading the index), and with --scale N the time to
load N signatures (the real ones plus random ones) and the memory it takes; with --shingle-sweep, the
classes' Jaccard gap for other shingle sizes (ideal verification: brute force over the index).

    .venv/bin/python bench/neardup.py [--squad ../shared/bench/squad-v2-dev] [--articles ../shared/articles]
                                      [--seed 0] [--scale 100000] [--shingle-sweep]

`evaluate(squad_dir, articles_dir, seed=0)` returns the same dict (without the scale and shingle parts unless
asked) for other scripts.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import resource
import statistics
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.sources import syndication  # noqa: E402
from qa.sources.syndication import (  # noqa: E402
    MIN_WORDS, SHINGLE_SIZE, NearDuplicates, _shingles_of, jaccard, key_difference, words,
)

SQUAD_DIR = ROOT.parent / "shared" / "bench" / "squad-v2-dev"
ARTICLES_DIR = ROOT.parent / "shared" / "articles"
EXAMPLES_DIR = ROOT / "examples" / "articles"

SWEEP = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
SQUAD_POSITIVES = 300
SAMPLE_COPIES = 20  # edited copies of each sample article
SHARED_QUOTE = 100
TEMPLATE_PAIRS = 12  # pairs per template (6 templates)
GUARD_SWEEP = (0.1, 0.15, 0.2, 0.25, 0.3, 0.5)
TARGETS = {"precision": 0.98, "recall": 0.90}

DATELINES = [
    "WASHINGTON (Reuters) - ", "(Reuters) - ", "LONDON (AP) — ", "PARIS, May 12 (AFP) - ",
    "JERUSALEM, May 12 (Reuters) -", "NEW YORK — ", "BERLIN (dpa) - ",
]
BOILERPLATE = [
    "Additional reporting by Jane Doe in London; Editing by John Smith",
    "(Reporting by Maria Lopez; Editing by Peter Graff)",
    ("Copyright 2021 The Associated Press. All rights reserved. This material may not be published, broadcast, "
     "rewritten or redistributed."),
    "Our Standards: The Thomson Reuters Trust Principles.",
    "Follow us on Twitter for the latest updates.",
]
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"”’']))\s+(?=[\"“‘']?[A-Z0-9])")


# -- template negatives: one text, other names and/or numbers ---------------------------------------------

TOWNS = ["Arlen", "Brisk", "Calder", "Dunmore", "Elmstead", "Fairholt", "Glenrock", "Harwick", "Ivybridge",
         "Jasper Falls", "Kelso", "Lindon", "Marlow", "Northam", "Oakridge", "Pemberton", "Quarry Hill",
         "Redfield", "Stanton", "Thornbury", "Upton", "Varley", "Westbrook", "Yardley", "Ashby", "Bramwell"]
CITIES = ["Phoenix", "Dallas", "Houston", "Denver", "Atlanta", "Memphis", "Tucson", "Sacramento", "Fresno",
          "Las Vegas", "San Antonio", "Oklahoma City", "Albuquerque", "El Paso", "Austin", "Tulsa", "Wichita",
          "Omaha", "Boise", "Reno", "Bakersfield", "Little Rock", "Jackson", "Birmingham", "Louisville"]
REGIONS = ["the Gulf Coast", "the Rocky Mountains", "the Great Plains", "Mexico", "the Pacific Northwest",
           "Canada", "the Ohio Valley", "the Southwest"]
COUNTIES = ["Maricopa", "Harris", "Travis", "Shelby", "Fulton", "Pima", "Clark", "Bexar", "Tulsa", "Sedgwick",
            "Douglas", "Ada", "Washoe", "Kern", "Pulaski", "Hinds", "Jefferson", "Denton"]
TEAMS = ["Riverside United", "Northgate Rovers", "Ashford Town", "Castlebury City", "Millbrook Athletic",
         "Harbour Wanderers", "Kingsley Albion", "Eastfield Rangers", "Westmoor FC", "Oldham Park",
         "Sutton Vale", "Brackley Borough", "Fenwick Villa", "Greystone Celtic", "Holloway Argyle",
         "Lakeside Harriers", "Marston Forest", "Newbridge County", "Pennington Orient", "Redbourne Dynamo",
         "Stourton Swifts", "Tilbury Alexandra", "Wexham Sporting", "Yelverton Saints", "Dalby Olympic"]
COMPANIES = ["Norvik Systems", "Altura Energy", "Brightwell Foods", "Castellan Motors", "Deltra Pharma",
             "Everline Logistics", "Fulcrum Chips", "Granite Bay Media", "Helios Grid", "Ionic Materials",
             "Juniper Retail", "Kestrel Aerospace", "Lumora Health", "Meridian Telecom", "Nexa Robotics",
             "Orchid Semiconductors", "Pinewood Brands", "Quantis Software", "Redstone Mining",
             "Solent Shipping", "Tessera Bank", "Umbra Security", "Vantage Chemicals", "Wavecrest Airlines",
             "Xylo Devices"]
INDEXES = ["S&P 500", "Nasdaq Composite", "Dow Jones Industrial Average", "FTSE 100", "STOXX 600", "Nikkei"]
BANKS = ["Morgan Stanley", "Goldman Sachs", "Barclays", "Jefferies", "UBS", "Citi", "Bernstein", "HSBC"]
MARKET_REGIONS = ["Europe", "Asia", "North America", "Latin America", "the Middle East", "China", "India"]
FIRST = ["Maria", "James", "Aisha", "Tomasz", "Elena", "David", "Priya", "Lucas", "Hannah", "Omar", "Grace",
         "Kenji", "Sofia", "Daniel", "Fatima", "Peter", "Chloe", "Marcus", "Ingrid", "Rafael", "Nadia", "Owen"]
LAST = ["Lopez", "Okafor", "Brennan", "Kowalski", "Haddad", "Lindqvist", "Moreau", "Tanaka", "Fischer",
        "Adeyemi", "Caldwell", "Petrov", "Nakamura", "Whitfield", "Romero", "Schultz", "Delgado", "Harrow",
        "Iversen", "Mbeki", "Sorensen", "Varga"]
STREETS = ["Main", "Elm", "Oak", "Maple", "Church", "Mill", "Park", "Station", "High", "Bridge"]

TEMPLATES = {
    # only the town (5 times) and the week differ
    "town_council": """In {town}, the council opened a new library in week {week}. The building on Main Street had been
closed for repairs since the spring, and residents of {town} had been borrowing books from the mobile van
parked outside the town hall.

The council also voted on the budget for the coming year. Members approved the plan after a long debate
about road repairs, school buses and the cost of heating public buildings during the winter months. A
proposal to raise parking fees in the centre of {town} was put off until the next meeting.

Police in {town} reported a quiet week, with no serious incidents. Officers reminded drivers that the
speed limit near the primary school is enforced during school hours, and that the bridge over the river
will be closed for inspection on Saturday morning.

The next council meeting will be held on Tuesday evening at the town hall. Residents who wish to speak
must register in advance with the clerk's office. The meeting is open to the public and will be streamed
on the {town} council website.""",
    "match_report": """{home} beat {away} {hs}-{aws} at {ground} on Saturday, moving up to {pos}th in the table
with {pts} points from {played} games.

{scorer1} opened the scoring after {m1} minutes, heading in a corner from {assist}, and {scorer2} added
the second for {home} after {m2} minutes with a low shot from the edge of the area. {away} had chances of
their own, and the home goalkeeper had to make two fine saves to keep them out before the break.

Both sides started brightly on a heavy pitch after a week of rain, and the first half hour was played at a
high tempo, with neither goalkeeper seriously tested before the opening goal. The visitors pressed high
after the interval and enjoyed long spells of possession, but they rarely found a way through a
well-organised defence, and most of their efforts came from long range. The win was the third in a row for
the home side, who had lost two of their opening five league matches of the season.

"We had to be patient," {home} manager {manager} said after the match. "{away} made it difficult for us,
but the players kept going and deserved the win."

The crowd of {attendance} saw {away} finish with ten men after {sentoff} was shown a second yellow card
after {m3} minutes. {home} travel to {next1} next weekend, while {away} host {next2} on Tuesday night.""",
    "market_report": """Shares of {company} rose {pct1} percent on Thursday after the group reported quarterly
revenue of ${rev} billion, ahead of analysts' forecasts of ${est} billion.

The company said net profit climbed to ${profit} million, or {eps} cents a share, from ${prev} million a
year earlier. Chief executive {ceo} said demand had held up better than expected in {region} and that
the order book was the strongest in {years} years.

{company} raised its outlook for the full year and now expects sales growth of {g1} to {g2} percent. It
also announced a share buyback of up to ${buyback} million, to be completed by the end of next year.

The results were helped by lower freight and energy costs, the company said, and by price increases
introduced at the start of the year that customers had largely accepted. Operating margins widened in every
division except the smallest, where the company is still absorbing the cost of a factory that opened last
year. Management said it would give more detail on its plans for capital spending and dividends at an
investor day later in the year, and repeated that it had no plans for large acquisitions.

The wider market was mixed. The {index} closed up {pct2} percent at {level}, while rival {rival} slipped
{pct3} percent. Analysts at {bank} said the results showed that {company} was gaining market share from
{rival}, and raised their price target on the stock to ${target}.""",
    "weather_report": """{city} is in for a hot weekend, with temperatures expected to reach {hi} degrees on Saturday
afternoon, forecasters at the National Weather Service said on Friday.

Overnight lows will stay around {lo} degrees, bringing little relief for residents without air
conditioning. Winds from the southwest at {wind} miles per hour will ease by Sunday evening, when a band
of showers is forecast to move in from {region}.

The weather service issued a heat advisory for {city} and the surrounding {county} County area from {t1}
a.m. Saturday until {t2} p.m. Sunday. Officials urged people to drink plenty of water, check on elderly
neighbours and avoid strenuous activity during the hottest hours of the day.

Cooling centres will be open at the {city} public library and at the community centre on {street} Street.
The last time {city} recorded a temperature above {record} degrees was in {year}, according to the
weather service.""",
    "election_result": """{winner} won the election for mayor of {town} on Tuesday, beating {loser} with {pw} percent
of the vote, according to unofficial results posted by the county clerk late on election night.

{winner} received {vw} votes to {vl} for {loser}. Turnout was {turnout} percent of the town's {reg}
registered voters, up from {prev} percent at the last election four years ago.

Both candidates had campaigned on the cost of housing, the state of local roads and the future of the
downtown area, where several shops have closed in recent years. The race was marked by a series of debates
at the public library and the high school, and by a late surge in early and mail-in voting, which election
officials said had been counted without problems.

"This is a win for every neighbourhood in {town}," {winner} told supporters at a gathering downtown. "We
will get to work on day one." {loser} conceded shortly before midnight and congratulated the winner in a
statement posted online.

The new mayor will be sworn in on January {jan} and will lead a council in which {seats} of the {all_seats}
seats changed hands. The results will be certified by the county board of elections within {days} days.""",
    # the same names every week: only the numbers differ
    "jobless_claims": """The number of Americans filing new claims for unemployment benefits fell by {d1} to {claims}
last week, the Labor Department said on Thursday.

Economists polled by Reuters had forecast {fc} claims for the latest week. Claims have ranged between
{lo} and {hi} this year. The four-week moving average, considered a better measure of labor market trends
as it irons out week-to-week volatility, rose by {d2} to {avg}.

The number of people receiving benefits after an initial week of aid, a proxy for hiring, increased by
{d3} to {cont} during the week ending June {dd}, the claims report showed. The unemployment rate stood at
{rate} percent in the latest monthly report, with employers adding {jobs} jobs.

Data on Wednesday showed that there were {openings} million job openings at the end of the previous
month, while the number of people quitting their jobs held at {quits} million. Labor Department officials
said the figures were not affected by special factors.""",
}
# the slot that names the instance: distinct across all instances of a template
_MAIN_SLOT = {"town_council": "town", "match_report": "home", "market_report": "company",
              "weather_report": "city", "election_result": "winner", "jobless_claims": None}


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _thousands(rng: random.Random, low: int, high: int, step: int = 1000) -> str:
    return f"{rng.randrange(low, high, step):,}"


def _template_values(name: str, rng: random.Random, main: str | None) -> dict:
    """Random slot values for one instance of template `name` (`main`: the value of its main slot)."""
    n = lambda low, high: str(rng.randint(low, high))
    f = lambda low, high, digits=1: f"{rng.uniform(low, high):.{digits}f}"
    if name == "town_council":
        return {"town": main, "week": n(1, 52)}
    if name == "match_report":
        hs = rng.randint(2, 5)
        home = main
        away, next1, next2 = rng.sample([t for t in TEAMS if t != home], 3)
        scorer1, scorer2, assist, sentoff, manager = (_person(rng) for _ in range(5))
        return {"home": home, "away": away, "hs": hs, "aws": rng.randint(0, hs - 1),
                "ground": f"{home.split()[0]} Park",
                "pos": n(4, 18), "pts": n(10, 60), "played": n(10, 30), "scorer1": scorer1, "scorer2": scorer2,
                "assist": assist, "sentoff": sentoff, "manager": manager,
                "m1": n(3, 40), "m2": n(46, 89), "m3": n(50, 89), "attendance": _thousands(rng, 4000, 40000, 37),
                "next1": next1, "next2": next2}
    if name == "market_report":
        rival = rng.choice([c for c in COMPANIES if c != main])
        g1 = rng.randint(2, 8)
        return {"company": main, "rival": rival, "pct1": f(1, 12), "rev": f(1, 40), "est": f(1, 40),
                "profit": n(50, 2000), "eps": n(10, 250), "prev": n(40, 1900), "ceo": _person(rng),
                "region": rng.choice(MARKET_REGIONS), "years": n(3, 15), "g1": g1, "g2": g1 + rng.randint(1, 4),
                "buyback": n(100, 5000), "index": rng.choice(INDEXES), "pct2": f(0.1, 1.5),
                "level": f"{rng.uniform(3000, 40000):,.2f}", "pct3": f(0.2, 4), "bank": rng.choice(BANKS),
                "target": n(20, 400)}
    if name == "weather_report":
        hi = rng.randint(95, 115)
        return {"city": main, "hi": hi, "lo": n(70, 88), "wind": n(5, 25), "region": rng.choice(REGIONS),
                "county": rng.choice(COUNTIES), "t1": n(6, 11), "t2": n(6, 10), "street": rng.choice(STREETS),
                "record": hi + rng.randint(1, 6), "year": n(1936, 2021)}
    if name == "election_result":
        loser = _person(rng)
        vw, vl = sorted(rng.sample(range(1500, 30000), 2), reverse=True)
        reg = int((vw + vl) / rng.uniform(0.3, 0.7))
        all_seats = rng.randint(5, 11)
        return {"winner": main, "loser": loser, "town": rng.choice(TOWNS), "pw": round(100 * vw / (vw + vl)),
                "vw": f"{vw:,}", "vl": f"{vl:,}", "turnout": round(100 * (vw + vl) / reg), "reg": f"{reg:,}",
                "prev": n(25, 60), "jan": n(2, 15), "seats": rng.randint(1, all_seats - 1), "all_seats": all_seats,
                "days": n(7, 30)}
    if name == "jobless_claims":
        return {"d1": _thousands(rng, 1000, 30000), "claims": _thousands(rng, 180000, 320000),
                "fc": _thousands(rng, 180000, 320000), "lo": _thousands(rng, 150000, 200000),
                "hi": _thousands(rng, 300000, 400000), "d2": _thousands(rng, 250, 12000, 250),
                "avg": _thousands(rng, 180000, 320000, 250), "d3": _thousands(rng, 1000, 60000),
                "cont": _thousands(rng, 1300000, 1900000), "dd": n(1, 30), "rate": f(3.4, 4.6),
                "jobs": _thousands(rng, 50000, 400000), "openings": f(7, 11.5), "quits": f(3, 4.5)}
    raise KeyError(name)


def template_pairs(rng: random.Random, pairs: int = TEMPLATE_PAIRS) -> list[tuple[str, str, str]]:
    """(template name, indexed instance, queried instance) for `pairs` pairs of each template."""
    mains = {"town_council": TOWNS, "match_report": TEAMS, "market_report": COMPANIES, "weather_report": CITIES}
    out = []
    for name, template in TEMPLATES.items():
        if name == "election_result":
            main_values = rng.sample(sorted({f"{a} {b}" for a in FIRST for b in LAST}), 2 * pairs)
        elif _MAIN_SLOT[name] is None:
            main_values = [None] * (2 * pairs)
        else:
            main_values = rng.sample(mains[name], 2 * pairs)
        for i in range(pairs):
            a, b = (template.format(**_template_values(name, rng, main)) for main in main_values[2 * i:2 * i + 2])
            out.append((name, a, b))
    return out


# -- the data -------------------------------------------------------------------------------------------

def squad_groups(squad_dir: Path, seed: int) -> list[dict]:
    """Consecutive paragraphs of each Wikipedia article joined into groups of 150-600 words."""
    rng = random.Random(seed)
    groups = []
    for line in (Path(squad_dir) / "articles.jsonl").open():
        article = json.loads(line)
        paragraphs = [p for p in article["text"].split("\n\n") if p.strip()]
        current: list[str] = []
        target = rng.randint(150, 400)
        for paragraph in paragraphs:
            current.append(paragraph)
            n = sum(len(p.split()) for p in current)
            if n >= target:
                if n <= 600:
                    groups.append({"id": f"{article['id']}#{len(groups)}", "source": article["id"],
                                   "text": "\n\n".join(current)})
                current = []
                target = rng.randint(150, 400)
    return groups


def sample_articles(articles_dir: Path) -> list[dict]:
    found, seen = [], set()
    for folder in (Path(articles_dir), EXAMPLES_DIR):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.txt")):
            text = path.read_text(encoding="utf-8").strip()
            if text not in seen:
                seen.add(text)
                found.append({"id": f"sample:{path.stem}", "source": "samples", "text": text})
    return found


# -- the edits ------------------------------------------------------------------------------------------

def sentences(paragraph: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(paragraph.strip()) if s]


def edit_words(text: str, rate: float, vocabulary: list[str], rng: random.Random) -> str:
    """Delete or substitute each word with probability `rate`; a substitute is drawn from `vocabulary`, the
    corpus' word tokens with repeats, i.e. by frequency."""
    paragraphs = []
    for paragraph in text.split("\n\n"):
        out = []
        for word in paragraph.split():
            if rng.random() < rate:
                if rng.random() < 0.5:
                    continue  # deleted
                word = rng.choice(vocabulary)  # substituted
            out.append(word)
        paragraphs.append(" ".join(out))
    return "\n\n".join(p for p in paragraphs if p)


def drop_sentence(text: str, rng: random.Random) -> str:
    paragraphs = [sentences(p) for p in text.split("\n\n")]
    where = [(i, j) for i, p in enumerate(paragraphs) for j in range(len(p))]
    if len(where) < 3:
        return text
    i, j = rng.choice(where)
    del paragraphs[i][j]
    return "\n\n".join(" ".join(p) for p in paragraphs if p)


def add_sentence(text: str, donor: str, rng: random.Random) -> str:
    paragraphs = [sentences(p) for p in text.split("\n\n")]
    i = rng.randrange(len(paragraphs))
    paragraphs[i].insert(rng.randint(0, len(paragraphs[i])), rng.choice(sentences(donor.split("\n\n")[0])))
    return "\n\n".join(" ".join(p) for p in paragraphs)


def rewrap(text: str, rng: random.Random) -> str:
    how = rng.choice(["join", "hard-wrap", "sentence-per-paragraph"])
    if how == "join":
        return " ".join(text.split("\n\n"))
    if how == "hard-wrap":
        return "\n\n".join(textwrap.fill(p, width=rng.randint(60, 80)) for p in text.split("\n\n"))
    return "\n\n".join(s for p in text.split("\n\n") for s in sentences(p))


def edited_copy(text: str, donors: list[str], vocabulary: list[str], rng: random.Random) -> tuple[str, list[str]]:
    """A syndicated copy of `text` and the names of the edits made."""
    rate = rng.uniform(0.01, 0.05)
    edits = [f"words_{round(rate * 100)}pct"]
    if rng.random() < 0.5:
        text = drop_sentence(text, rng) if rng.random() < 0.5 else add_sentence(text, rng.choice(donors), rng)
        edits.append("sentence")
    text = edit_words(text, rate, vocabulary, rng)
    if rng.random() < 0.5:
        text = rng.choice(DATELINES) + text
        edits.append("dateline")
    if rng.random() < 0.5:
        text = text + "\n\n" + rng.choice(BOILERPLATE)
        edits.append("boilerplate")
    if rng.random() < 0.5:
        text = rewrap(text, rng)
        edits.append("rewrap")
    return text, edits


# -- the evaluation -------------------------------------------------------------------------------------

def build_cases(squad_dir: Path, articles_dir: Path, seed: int) -> tuple[list[dict], list[dict]]:
    """(indexed articles, queries); a query has `text`, `kind`, `expected` (an id or None), `exclude`."""
    rng = random.Random(seed)
    groups = squad_groups(squad_dir, seed)
    samples = sample_articles(articles_dir)
    indexed = groups + samples
    # every word token of the corpus, repeats included: substitutes are drawn by frequency (see the docstring)
    vocabulary = [w for g in indexed for w in (t.strip(".,;:()\"“”'") for t in g["text"].split()) if w]
    texts = [a["text"] for a in indexed]
    queries = []
    originals = rng.sample(groups, min(SQUAD_POSITIVES, len(groups))) + samples * SAMPLE_COPIES
    for original in originals:
        donors = [t for t in rng.sample(texts, 3) if t != original["text"]]
        copy, edits = edited_copy(original["text"], donors, vocabulary, rng)
        kind = "sample_copy" if original["source"] == "samples" else "squad_copy"
        queries.append({"kind": kind, "text": copy, "expected": original["id"], "exclude": (), "edits": edits})
        queries.append({"kind": "copy_vs_others", "text": copy, "expected": None, "exclude": (original["id"],)})
    for article in indexed:
        queries.append({"kind": "distinct", "text": article["text"], "expected": None, "exclude": (article["id"],)})
    by_source: dict[str, list[dict]] = {}
    for g in groups:
        by_source.setdefault(g["source"], []).append(g)
    pairs = [(a, b) for gs in by_source.values() for a in gs for b in gs if a is not b]
    for a, b in rng.sample(pairs, min(SHARED_QUOTE, len(pairs))):
        quoted = add_sentence(b["text"], a["text"], rng)
        queries.append({"kind": "shared_quote", "text": quoted, "expected": None, "exclude": (b["id"],)})
    for i, (name, a, b) in enumerate(template_pairs(rng)):
        assert 80 <= len(a.split()) <= 300 and 80 <= len(b.split()) <= 300, name
        indexed.append({"id": f"template:{name}#{i}", "source": f"template:{name}", "text": a})
        queries.append({"kind": "template", "template": name, "text": b, "expected": None, "exclude": (),
                        "pair": f"template:{name}#{i}"})
    return indexed, queries


def _scores(outcomes: list[tuple[dict, str | None]]) -> dict:
    positives = [(q, got) for q, got in outcomes if q["expected"] is not None]
    tp = sum(got == q["expected"] for q, got in positives)
    fp = sum(got is not None and got != q["expected"] for q, got in outcomes)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / len(positives) if positives else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "true_positives": tp, "false_positives": fp, "false_negatives": len(positives) - tp}


def _run(detector: NearDuplicates, queries: list[dict], text_of) -> tuple[list, list[float]]:
    outcomes, times = [], []
    for q in queries:
        start = time.perf_counter()
        found = detector.match(q["text"], text_of=text_of, exclude=q["exclude"])
        times.append(time.perf_counter() - start)
        outcomes.append((q, found.article_id if found else None))
    return outcomes, times


def _quantiles(values: list[float]) -> dict:
    if not values:
        return {}
    values = sorted(values)
    pick = lambda f: round(values[min(len(values) - 1, int(f * len(values)))], 4)
    return {"min": round(values[0], 4), "p05": pick(0.05), "median": pick(0.5), "p95": pick(0.95),
            "max": round(values[-1], 4)}


def similarity_gap(indexed: list[dict], queries: list[dict], size: int) -> dict:
    """Exact Jaccard at shingle size `size`: each copy to its original, each negative to its nearest indexed
    article (brute force); the best threshold and its F1 with ideal verification."""
    sets = {a["id"]: _shingles_of(words(a["text"]), size) for a in indexed}
    positive, negative = [], []
    for q in queries:
        shingles = _shingles_of(words(q["text"]), size)
        if q["expected"] is not None:
            positive.append(jaccard(shingles, sets[q["expected"]]))
        else:
            negative.append(max(jaccard(shingles, s) for key, s in sets.items() if key not in q["exclude"]))
    best = max(
        ((t, sum(p >= t for p in positive), sum(n >= t for n in negative)) for t in np.arange(0.05, 0.96, 0.01)),
        key=lambda x: (2 * x[1] / (len(positive) + x[1] + x[2]), -abs(x[0] - 0.5)),
    )
    t, tp, fp = best
    return {"shingle_size": size, "positive_jaccard": _quantiles(positive),
            "negative_max_jaccard": _quantiles(negative),
            "gap": round(min(positive) - max(negative), 4),
            "best_threshold": round(float(t), 2), "best_f1": round(2 * tp / (len(positive) + tp + fp), 4)}


def _with_max_new_key_share(value: float, fn):
    """fn() with syndication.MAX_NEW_KEY_SHARE set to `value` (match() reads it at each call)."""
    saved = syndication.MAX_NEW_KEY_SHARE
    syndication.MAX_NEW_KEY_SHARE = value
    try:
        return fn()
    finally:
        syndication.MAX_NEW_KEY_SHARE = saved


def guard_effect(detector: NearDuplicates, queries: list[dict], text: dict[str, str]) -> dict:
    """The names-and-numbers guard: scores with it off (MAX_NEW_KEY_SHARE = 1.0) and at GUARD_SWEEP values,
    and new_key_share of each copy vs its original and of each template query vs its indexed instance."""
    rows = []
    for value in (1.0, *GUARD_SWEEP):
        outcomes = _with_max_new_key_share(value, lambda: _run(detector, queries, text.get)[0])
        row = _scores(outcomes)
        rows.append({"max_new_key_share": value, **{k: row[k] for k in ("precision", "recall", "f1",
                                                                      "false_positives")},
                     "template_false_positives": sum(got is not None for q, got in outcomes
                                                     if q["kind"] == "template"),
                     "meets_targets": row["precision"] >= TARGETS["precision"] and row["recall"] >= TARGETS["recall"]})
    positives = [key_difference(q["text"], text[q["expected"]]) for q in queries if q["expected"] is not None]
    templates = [key_difference(q["text"], text[q["pair"]]) for q in queries if q["kind"] == "template"]
    by_template = {name: _quantiles([key_difference(q["text"], text[q["pair"]]) for q in queries
                                     if q.get("template") == name]) for name in TEMPLATES}
    return {"max_new_key_share": syndication.MAX_NEW_KEY_SHARE, "off": rows[0], "sweep": rows[1:],
            "new_key_share": {"positives": _quantiles(positives), "template": _quantiles(templates),
                              "template_by_name": {k: [v["min"], v["max"]] for k, v in by_template.items()}}}


def scale_load(signatures: list[bytes], n: int, seed: int) -> dict:
    """Load n signatures (the real ones, then random ones) into a fresh index: time and memory."""
    rng = np.random.default_rng(seed)
    extra = max(0, n - len(signatures))
    items = [(f"real{i}", s) for i, s in enumerate(signatures[:n])]
    items += [(f"rand{i}", v.tobytes()) for i, v in enumerate(rng.integers(0, 2**32, (extra, 128), dtype="<u4"))]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    detector = NearDuplicates()
    start = time.perf_counter()
    detector.add_many(items)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"signatures": len(detector), "load_s": round(seconds, 2),
            "rss_growth_mb": round((after - before) / 1024, 1),
            "note": "random signatures: every bucket distinct (the most memory per signature)"}


def evaluate(squad_dir, articles_dir, seed: int = 0, *, sweep: bool = True, scale: int = 0,
             shingle_sweep: bool = False) -> dict:
    squad_dir, articles_dir = Path(squad_dir), Path(articles_dir)
    indexed, queries = build_cases(squad_dir, articles_dir, seed)
    text = {a["id"]: a["text"] for a in indexed}

    articles = [a for a in indexed if not a["source"].startswith("template:")]
    detector = NearDuplicates()
    start = time.perf_counter()
    signatures = [detector.signature(a["text"]) for a in articles]
    signature_s = time.perf_counter() - start
    signatures += [detector.signature(a["text"]) for a in indexed[len(articles):]]  # templates: not timed
    assert all(s is not None for s in signatures)
    thousand = " ".join(" ".join(a["text"] for a in articles).split()[:1000])
    start = time.perf_counter()
    for _ in range(20):
        detector.signature(thousand)
    signature_1000_ms = (time.perf_counter() - start) / 20 * 1000
    start = time.perf_counter()
    detector.add_many(zip(text, signatures))
    load_s = time.perf_counter() - start

    outcomes, times = _run(detector, queries, text.get)
    result = _scores(outcomes)
    result = {"threshold": detector.threshold, "shingle_size": SHINGLE_SIZE, "min_words": MIN_WORDS,
              "num_perm": detector.num_perm, "lsh_bands_rows": list(detector.lsh_params), **result,
              "targets": TARGETS,
              "meets_targets": result["precision"] >= TARGETS["precision"] and result["recall"] >= TARGETS["recall"]}

    kinds = sorted({q["kind"] for q in queries})
    result["counts"] = {
        "indexed": len(indexed), "squad_groups": sum(a["source"] not in ("samples",) for a in articles),
        "sample_articles": sum(a["source"] == "samples" for a in articles),
        "template_instances": len(indexed) - len(articles),
        "indexed_words": _quantiles([len(a["text"].split()) for a in articles]),
        "template_words": _quantiles([len(a["text"].split()) for a in indexed[len(articles):]]),
        "positives": sum(q["expected"] is not None for q in queries),
        "negatives": sum(q["expected"] is None for q in queries),
        **{kind: sum(q["kind"] == kind for q in queries) for kind in kinds},
    }
    result["by_kind"] = {}
    for kind in kinds:
        chosen = [(q, got) for q, got in outcomes if q["kind"] == kind]
        if chosen[0][0]["expected"] is not None:
            result["by_kind"][kind] = {"recall": round(sum(got == q["expected"] for q, got in chosen) / len(chosen), 4)}
        else:
            result["by_kind"][kind] = {"false_positives": sum(got is not None for _, got in chosen)}
    result["template_false_positives"] = {
        name: sum(got is not None for q, got in outcomes if q.get("template") == name) for name in TEMPLATES}
    edits = sorted({e.split("_")[0] for q, _ in outcomes for e in q.get("edits", [])})
    result["recall_by_edit"] = {}
    for edit in edits:
        chosen = [(q, got) for q, got in outcomes if any(e.startswith(edit) for e in q.get("edits", []))]
        hits = sum(got == q["expected"] for q, got in chosen)
        result["recall_by_edit"][edit] = {"n": len(chosen), "recall": round(hits / len(chosen), 4)}
    result["misses"] = [
        {"expected": q["expected"], "got": got, "kind": q["kind"], "edits": q.get("edits") or q.get("template")}
        for q, got in outcomes if got != q["expected"]
    ][:10]

    untemplated = [q for q in queries if q["kind"] != "template"]
    gap = similarity_gap(indexed, untemplated, SHINGLE_SIZE)
    result["jaccard"] = {k: gap[k] for k in ("positive_jaccard", "negative_max_jaccard", "gap")}
    result["jaccard"]["template_pair_jaccard"] = _quantiles([
        jaccard(NearDuplicates.shingles(q["text"]), NearDuplicates.shingles(text[q["pair"]]))
        for q in queries if q["kind"] == "template"])
    result["guard"] = guard_effect(detector, queries, text)

    result["timings"] = {
        "signature_ms_per_article": round(signature_s / len(indexed) * 1000, 3),
        "signature_ms_1000_words": round(signature_1000_ms, 3),
        "index_load_ms": round(load_s * 1000, 2),
        "match_ms": {k: round(v * 1000, 3) for k, v in
                     {"mean": statistics.fmean(times), "p95": sorted(times)[int(0.95 * len(times))],
                      "max": max(times)}.items()},
    }
    if sweep:
        result["sweep"] = []
        for threshold in SWEEP:
            other = NearDuplicates(threshold=threshold)
            other.add_many(zip(text, signatures))
            row = _scores(_run(other, queries, text.get)[0])
            off = _scores(_with_max_new_key_share(1.0, lambda: _run(other, queries, text.get)[0]))
            result["sweep"].append({"threshold": threshold, **{k: row[k] for k in ("precision", "recall", "f1",
                                                                                  "false_positives")},
                                    "without_guard": {k: off[k] for k in ("precision", "recall", "false_positives")}})
        estimate = _scores(_run(detector, queries, None)[0])
        result["without_text_of"] = {k: estimate[k] for k in ("precision", "recall", "f1", "false_positives")}
    if shingle_sweep:
        result["shingle_sweep"] = [gap if size == SHINGLE_SIZE else similarity_gap(indexed, untemplated, size)
                                   for size in (2, 3, 4, 5)]
    if scale:
        result["scale"] = scale_load(signatures, scale, seed)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--squad", type=Path, default=SQUAD_DIR, help="squad-v2-dev folder (articles.jsonl)")
    parser.add_argument("--articles", type=Path, default=ARTICLES_DIR, help="folder of sample .txt articles")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=int, default=100_000, help="signatures to load in the scale test (0: none)")
    parser.add_argument("--shingle-sweep", action="store_true", help="also measure shingle sizes 2-5")
    args = parser.parse_args()
    print(json.dumps(evaluate(args.squad, args.articles, args.seed, scale=args.scale,
                              shingle_sweep=args.shingle_sweep), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
