"""Cost of the segmented BM25 index at scale, on synthetic chunks; prints one JSON object.

100k chunks of ~150 tokens drawn from a Zipf vocabulary: build (tokenize + index), the first save, then
what one article (10 chunks) costs: `updated` + incremental `save` + a reader's `load`; replacing 10 chunks;
`term_scores` for a 5-term question; a run of small updates with a save each (merges included); and,
for comparison, the bm25s rebuild the previous design paid on every change.

    .venv/bin/python bench/lexical_scale.py [--docs 100000] [--tokens 150] [--updates 200]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.store.lexical import LexicalIndex, tokenize  # noqa: E402

SYLLABLES = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]


def pseudo_word(i: int) -> str:
    """A distinct letters-only word per rank (three or more syllables: no stopword, stable under stemming)."""
    parts = []
    i += len(SYLLABLES) ** 2
    while i:
        i, r = divmod(i, len(SYLLABLES))
        parts.append(SYLLABLES[r])
    return "".join(parts) + "x"


def corpus(n_docs: int, mean_tokens: int, vocabulary: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    words = np.array([pseudo_word(i) for i in range(vocabulary)], dtype=object)
    lengths = rng.integers(mean_tokens // 2, mean_tokens * 3 // 2 + 1, size=n_docs)
    ranks = rng.zipf(1.15, size=int(lengths.sum())) - 1
    ranks = ranks[ranks < vocabulary]
    while len(ranks) < lengths.sum():
        more = rng.zipf(1.15, size=int(lengths.sum())) - 1
        ranks = np.concatenate([ranks, more[more < vocabulary]])
    drawn = words[ranks[: lengths.sum()]]
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return [" ".join(drawn[bounds[i] : bounds[i + 1]]) for i in range(n_docs)]


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--tokens", type=int, default=150)
    parser.add_argument("--vocabulary", type=int, default=200_000)
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--skip-bm25s", action="store_true")
    args = parser.parse_args()
    out: dict = {"docs": args.docs, "mean_tokens": args.tokens, "zipf_vocabulary": args.vocabulary}

    texts, out["generate_s"] = timed(lambda: corpus(args.docs, args.tokens, args.vocabulary, seed=0))
    ids = [f"art{i // 10:06d}:{i % 10}" for i in range(args.docs)]
    tokens, out["tokenize_s"] = timed(lambda: [tokenize(t) for t in texts])
    index, out["index_from_tokens_s"] = timed(lambda: LexicalIndex.from_tokens(ids, tokens))
    out["build_s"] = out["tokenize_s"] + out["index_from_tokens_s"]
    out["terms"] = len(index.doc_freq)
    out["postings"] = int(sum(len(set(t)) for t in tokens[:2000]) / 2000 * args.docs)

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        manifest, out["first_save_s"] = timed(lambda: index.save(directory))
        out["index_bytes"] = sum(p.stat().st_size for p in directory.iterdir())
        _, out["first_load_s"] = timed(lambda: LexicalIndex.load(directory, manifest))

        def hash_all():
            for p in directory.iterdir():
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    while block := f.read(1 << 24):
                        h.update(block)
        _, out["sha256_all_files_s"] = timed(hash_all)

        # One new article: 10 chunks.
        new_texts = corpus(10, args.tokens, args.vocabulary, seed=1)
        new_ids = [f"new000:{k}" for k in range(10)]
        newer, out["add10_updated_s"] = timed(lambda: index.updated(new_ids, new_texts, []))
        before = {p.name for p in directory.iterdir()}
        manifest2, out["add10_save_s"] = timed(lambda: newer.save(directory))
        out["add10_files_written"] = sorted({p.name for p in directory.iterdir()} - before)
        loaded, out["add10_load_s"] = timed(lambda: LexicalIndex.load(directory, manifest2))
        out["add10_total_s"] = out["add10_updated_s"] + out["add10_save_s"] + out["add10_load_s"]

        # Re-ingesting an article: its 10 chunks replaced, on the loaded index (first removal from the
        # big segment builds its doc-major view once), then again (view cached).
        replaced = [f"art{5:06d}:{k}" for k in range(10)]
        again, out["replace10_cold_updated_s"] = timed(lambda: loaded.updated(replaced, new_texts, []))
        replaced2 = [f"art{6:06d}:{k}" for k in range(10)]
        again2, out["replace10_warm_updated_s"] = timed(lambda: again.updated(replaced2, new_texts, []))
        m3, out["replace10_save_s"] = timed(lambda: again2.save(directory))
        _, out["replace10_load_s"] = timed(lambda: LexicalIndex.load(directory, m3))

        # A 5-term question: two common, two mid-frequency, one rare term.
        question = [tokenize(pseudo_word(r))[0] for r in (0, 3, 200, 2000, 50_000)]
        out["query_df"] = [again2.doc_freq.get(t, 0) for t in question]
        times = []
        for _ in range(50):
            _, t = timed(lambda: again2.term_scores(question))
            times.append(t)
        out["term_scores_5_terms_ms"] = {"median": 1000 * statistics.median(times), "min": 1000 * min(times)}

        # A run of single-article updates, each saved (as a writer would commit), merges included.
        current, per_update, segments = again2, [], []
        for u in range(args.updates):
            batch = corpus(10, args.tokens, args.vocabulary, seed=1000 + u)
            gone = [f"art{(u * 37) % (args.docs // 10):06d}:{k}" for k in range(10)]
            start = time.perf_counter()
            current = current.updated([f"run{u:05d}:{k}" for k in range(10)], batch, gone)
            manifest_u = current.save(directory)
            per_update.append(time.perf_counter() - start)
            LexicalIndex.remove_unused(directory, [manifest_u])
            segments.append(len(current.segments()))
        if per_update:
            out["run_updates"] = args.updates
            out["run_update_save_s"] = {"mean": statistics.mean(per_update), "median": statistics.median(per_update),
                                        "max": max(per_update)}
            out["run_max_segments"] = max(segments)
            out["run_manifest_bytes"] = len(json.dumps(manifest_u))

    if not args.skip_bm25s:
        import bm25s

        def rebuild():
            model = bm25s.BM25()
            model.index(tokens, show_progress=False)
        _, out["bm25s_rebuild_from_tokens_s"] = timed(rebuild)

    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
