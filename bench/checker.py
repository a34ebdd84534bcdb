"""The answer checker (qa/answer/checker.py) on its labelled set: supported and corrupted sentences built
from the sample articles and from squad-v2-dev passages (qa/answer/checker_set.py). Prints JSON: the share
of supported sentences passed and of corrupted ones rejected, per kind, and the combined-score threshold
that keeps both highest (the checker's THRESHOLD is set from it).

    python bench/checker.py [--passages 60] [--seed 0]
"""
from __future__ import annotations

import argparse
import random
import time

import numpy as np
from common import ROOT, emit, load_articles


def passages_from(texts: list[str], limit: int, rng: random.Random) -> list[list[str]]:
    from qa.chunking import split_sentences

    paragraphs = [p for t in texts for p in t.split("\n") if len(p.split()) > 30]
    rng.shuffle(paragraphs)
    return [[p[s.start : s.end] for s in split_sentences(p)][:4] for p in paragraphs[:limit]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=60, help="squad-v2-dev paragraphs (first 4 sentences each)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from tqdm import tqdm

    from qa.answer import checker
    from qa.answer.checker_set import build
    from qa.chunking import split_sentences
    from qa.config import Settings
    from qa.embedding import get_encoder

    rng = random.Random(args.seed)
    samples = []
    for path in sorted((ROOT / "examples" / "articles").glob("*.txt")):
        for paragraph in path.read_text().split("\n\n"):
            sentences = [paragraph[s.start : s.end] for s in split_sentences(paragraph)]
            if sentences:
                samples.append(sentences)
    squad = passages_from([a["text"] for a in load_articles()], args.passages, rng)
    cases = build(samples, seed=args.seed) + build(squad, seed=args.seed)
    encoder = get_encoder(Settings().embedding_model)
    check = checker.Checker(encoder.encode)
    rows = []
    started = time.perf_counter()
    for case in tqdm(cases, desc="checking", unit="sentence"):
        verdict = check.verdict(case.sentence, (1,), {1: case.source})
        combined, lexical, cosine = check.score(case.sentence, case.source)
        facts_ok = verdict.supported or verdict.reason.startswith("too far")
        rows.append((case, verdict, combined, facts_ok))
    seconds = time.perf_counter() - started

    def rates(threshold: float) -> tuple[float, float]:
        sup = [f and c >= threshold for case, _, c, f in rows if case.supported]
        cor = [not (f and c >= threshold) for case, _, c, f in rows if not case.supported]
        return float(np.mean(sup)), float(np.mean(cor))

    grid = [round(x, 2) for x in np.arange(0.30, 0.90, 0.02)]
    best = max(grid, key=lambda t: (min(rates(t)), sum(rates(t))))
    by_kind = {}
    for case, verdict, _, _ in rows:
        by_kind.setdefault(case.kind, []).append(verdict.supported == case.supported)
    passed, rejected = rates(checker.THRESHOLD)
    emit({
        "cases": len(cases),
        "supported": sum(c.supported for c in cases),
        "corrupted": sum(not c.supported for c in cases),
        "sources": {"sample_paragraphs": len(samples), "squad_paragraphs": len(squad)},
        "threshold": checker.THRESHOLD,
        "supported_passed": round(passed, 4),
        "corrupted_rejected": round(rejected, 4),
        "correct_by_kind": {k: round(float(np.mean(v)), 4) for k, v in sorted(by_kind.items())},
        "best_threshold": best,
        "at_best_threshold": [round(x, 4) for x in rates(best)],
        "seconds_per_sentence": round(seconds / len(cases), 3),
        "examples_refused": [{"kind": c.kind, "sentence": c.sentence[:160], "reason": v.reason}
                             for c, v, _, _ in rows if not v.supported][:8],
    })


if __name__ == "__main__":
    main()
