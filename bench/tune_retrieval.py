"""Tune retrieval fusion on squad-v2-dev questions outside the benchmark sample. Prints JSON.

Collects, once per question, every candidate's dense cosine, BM25 score and IDF-weighted question-term
coverage, then scores fusion variants offline (hit@1, MRR@10).

    python bench/tune_retrieval.py [--n 600]
"""
from __future__ import annotations

import argparse
import random

import numpy as np
from tqdm import tqdm

from common import CACHE_DIR, benchmark_sample, emit, load_questions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=600)
    args = parser.parse_args()

    from qa.config import Settings
    from qa.engine import Engine
    from qa.evaluation import contains
    from qa.lexical import tokenize

    engine = Engine(Settings(index_dir=CACHE_DIR / "squad-all-index", auto_index_examples=False))
    store, lexical = engine.store, engine.store.lexical()
    questions = load_questions()
    used = {q["id"] for q in benchmark_sample(questions)}
    pool = [q for q in questions if q["type"] == "answerable" and q["id"] not in used]
    sample = random.Random(11).sample(pool, args.n)
    rows = store.catalog.chunks(lexical.chunk_ids)
    chunk_terms = {cid: set(tokenize(rows[cid].title or "")) | set(tokenize(rows[cid].chunk.text)) for cid in rows}

    data = []
    for q in tqdm(sample, desc="candidates"):
        vector = store.encoder.encode([q["question"]])[0]
        dense = dict(store.vectors.query(vector, 50))
        bm25 = lexical.scores(tokenize(q["question"]))
        top_bm25 = [lexical.chunk_ids[i] for i in np.argsort(-bm25)[:50]]
        ids = list(dict.fromkeys(list(dense) + top_bm25))
        missing = [c for c in ids if c not in dense]
        if missing:
            got = store.vectors.collection.get(ids=missing, include=["embeddings"])
            for cid, v in zip(got["ids"], got["embeddings"]):
                dense[cid] = float(np.dot(v, vector))
        terms = list(dict.fromkeys(tokenize(q["question"])))
        weights = np.array([lexical.idf(t) for t in terms]) if terms else np.array([1.0])
        coverage = [float(sum(w for t, w in zip(terms, weights) if t in chunk_terms[c]) / weights.sum()) for c in ids]
        gold = [float(rows[c].external_id in q["evidence_article_ids"]
                      and any(contains(rows[c].chunk.text, a) for a in q["answers"])) for c in ids]
        data.append((np.array([dense[c] for c in ids]), np.array([bm25[lexical.row_of[c]] for c in ids]),
                     np.array(coverage), np.array(gold)))

    def mm(x):
        span = x.max() - x.min()
        return (x - x.min()) / span if span > 1e-9 else np.zeros_like(x)

    def z(x):
        return (x - x.mean()) / (x.std() + 1e-9)

    def evaluate(fuse) -> dict:
        hit1, rr = [], []
        for d, b, c, g in data:
            order = np.argsort(-fuse(d, b, c))[:10]
            ranks = [i + 1 for i, j in enumerate(order) if g[j]]
            hit1.append(float(bool(ranks) and ranks[0] == 1))
            rr.append(1.0 / ranks[0] if ranks else 0.0)
        return {"hit@1": round(float(np.mean(hit1)), 4), "mrr@10": round(float(np.mean(rr)), 4)}

    results = {"questions": len(data)}
    results["dense"] = evaluate(lambda d, b, c: d)
    results["bm25"] = evaluate(lambda d, b, c: b)
    for w in (0.3, 0.4, 0.5, 0.6):
        results[f"minmax bm25={w}"] = evaluate(lambda d, b, c, w=w: w * mm(b) + (1 - w) * mm(d))
        results[f"z bm25={w}"] = evaluate(lambda d, b, c, w=w: w * z(b) + (1 - w) * z(d))
    for wc in (0.1, 0.2, 0.3, 0.4):
        for w in (0.3, 0.4, 0.5):
            results[f"minmax bm25={w} coverage={wc}"] = evaluate(
                lambda d, b, c, w=w, wc=wc: (1 - wc) * (w * mm(b) + (1 - w) * mm(d)) + wc * c)
    emit(results)


if __name__ == "__main__":
    main()
