"""Syndicated-copy detection (qa.sources.syndication) on a labelled near-duplicate set; prints one JSON object.

The "articles" are squad-v2-dev paragraph groups (consecutive paragraphs of one Wikipedia article joined into
150-600 words) and the sample news articles. Everything is indexed in one NearDuplicates, as ingest would
have it, and each query goes through match() with text_of (exact Jaccard verification):

- positives: an edited copy of an indexed article (seeded random edits: 1-5% of words substituted or
  deleted, always; each with probability 1/2: a dateline prefix, one sentence dropped or one added from
  another article, a boilerplate line appended, the paragraphs re-wrapped). Headlines are not part of
  the compared text (body only), so a changed headline is no edit here. A hit is a match to the original;
  a match to any other article counts as a false positive.
- negatives, where any match is a false positive:
  `distinct`: every indexed article queried with itself excluded -- its nearest neighbours are the other
  passages of the same Wikipedia article (and, for the two sample articles, the other sample: two stories
  about the same calls that share a quoted sentence);
  `shared_quote`: a passage with one sentence of another passage of the same article spliced in, itself
  excluded;
  `copy_vs_others`: each positive's copy queried with its original excluded.

Also: precision/recall over a threshold sweep, the exact-Jaccard distributions of both classes, timings
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

from qa.sources.syndication import (  # noqa: E402
    MIN_WORDS, SHINGLE_SIZE, NearDuplicates, _shingles_of, jaccard, words,
)

SQUAD_DIR = ROOT.parent / "shared" / "bench" / "squad-v2-dev"
ARTICLES_DIR = ROOT.parent / "shared" / "articles"
EXAMPLES_DIR = ROOT / "examples" / "articles"

SWEEP = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
SQUAD_POSITIVES = 300
SAMPLE_COPIES = 20  # edited copies of each sample article
SHARED_QUOTE = 100
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
    vocabulary = sorted({w.strip(".,;:()\"“”'") for g in indexed for w in g["text"].split()} - {""})
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

    detector = NearDuplicates()
    start = time.perf_counter()
    signatures = [detector.signature(a["text"]) for a in indexed]
    signature_s = time.perf_counter() - start
    assert all(s is not None for s in signatures)
    thousand = " ".join(" ".join(a["text"] for a in indexed).split()[:1000])
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
        "indexed": len(indexed), "squad_groups": sum(a["source"] != "samples" for a in indexed),
        "sample_articles": sum(a["source"] == "samples" for a in indexed),
        "indexed_words": _quantiles([len(a["text"].split()) for a in indexed]),
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
    edits = sorted({e.split("_")[0] for q, _ in outcomes for e in q.get("edits", [])})
    result["recall_by_edit"] = {}
    for edit in edits:
        chosen = [(q, got) for q, got in outcomes if any(e.startswith(edit) for e in q.get("edits", []))]
        hits = sum(got == q["expected"] for q, got in chosen)
        result["recall_by_edit"][edit] = {"n": len(chosen), "recall": round(hits / len(chosen), 4)}
    result["misses"] = [
        {"expected": q["expected"], "got": got, "kind": q["kind"], "edits": q.get("edits")}
        for q, got in outcomes if got != q["expected"]
    ][:10]

    gap = similarity_gap(indexed, queries, SHINGLE_SIZE)
    result["jaccard"] = {k: gap[k] for k in ("positive_jaccard", "negative_max_jaccard", "gap")}

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
            result["sweep"].append({"threshold": threshold, **{k: row[k] for k in ("precision", "recall", "f1",
                                                                                  "false_positives")}})
        estimate = _scores(_run(detector, queries, None)[0])
        result["without_text_of"] = {k: estimate[k] for k in ("precision", "recall", "f1", "false_positives")}
    if shingle_sweep:
        result["shingle_sweep"] = [gap if size == SHINGLE_SIZE else similarity_gap(indexed, queries, size)
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
