"""Tune retrieval fusion on squad-v2-dev questions outside the benchmark sample. Prints JSON.

Retrieves every candidate once per question (with its dense, BM25 and coverage signals), then scores
fusion variants offline by hit@1 and MRR@10.

    python bench/tune_retrieval.py [--n 600]
"""
from __future__ import annotations

import argparse
import itertools
import random

import numpy as np
from tqdm import tqdm

from common import benchmark_sample, emit, engine_for, load_questions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=600)
    args = parser.parse_args()

    from qa.evaluation import contains

    engine, _ = engine_for(None, "squad-all-index", progress=True)
    questions = load_questions()
    used = {q["id"] for q in benchmark_sample(questions)}
    pool = [q for q in questions if q["type"] == "answerable" and q["id"] not in used]
    sample = random.Random(11).sample(pool, args.n)

    data = []
    for q in tqdm(sample, desc="candidates"):
        passages = engine.retriever.retrieve(q["question"], k=10_000)
        signals = np.array([[p.scores["dense"], p.scores["bm25"], p.scores["coverage"]] for p in passages])
        gold = np.array([float(p.external_id in q["evidence_article_ids"]
                               and any(contains(p.chunk.text, a) for a in q["answers"])) for p in passages])
        data.append((signals, gold))

    def mm(x):
        span = x.max() - x.min()
        return (x - x.min()) / span if span > 1e-9 else np.zeros_like(x)

    def score(fuse) -> dict:
        hit1, rr = [], []
        for signals, gold in data:
            order = np.argsort(-fuse(signals[:, 0], signals[:, 1], signals[:, 2]), kind="stable")[:10]
            ranks = [i + 1 for i, j in enumerate(order) if gold[j]]
            hit1.append(float(bool(ranks) and ranks[0] == 1))
            rr.append(1.0 / ranks[0] if ranks else 0.0)
        return {"hit@1": round(float(np.mean(hit1)), 4), "mrr@10": round(float(np.mean(rr)), 4)}

    results: dict = {"questions": len(data), "dense": score(lambda d, b, c: d), "bm25": score(lambda d, b, c: b)}
    grid = {}
    for wb, wd, wc in itertools.product((0.2, 0.3, 0.4, 0.5), (0.3, 0.5, 0.7), (0.0, 0.2, 0.4, 0.6)):
        grid[f"bm25={wb} dense={wd} coverage={wc}"] = score(
            lambda d, b, c, wb=wb, wd=wd, wc=wc: wb * mm(b) + wd * mm(d) + wc * c)
    best = sorted(grid.items(), key=lambda kv: (-kv[1]["mrr@10"], -kv[1]["hit@1"]))[:8]
    results["best"] = dict(best)
    emit(results)


if __name__ == "__main__":
    main()
