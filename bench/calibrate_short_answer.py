"""Fit the short-answer model (qa/data/short_answer.json) on squad-v2-dev, and report it on the bench sample.

The engine answers each question once (all 35 articles indexed, `engine_for(None, "squad-all")`); the
sentences it cites, best first, with their scores, and its answer probability are cached under
bench/.cache/short_answer/. Every candidate span of those sentences is a row (its features:
qa/answer/short_answer.py `candidates`), labelled by exact match with a gold answer (SQuAD normalisation).
A logistic ranker scores the candidates; a logistic gate, fitted on the ranker's out-of-fold scores,
judges each question's best candidate. The threshold on the gate is the lowest from which on the gate's
cross-validated probabilities keep the target exact match and F1 of what is shown.

With `--reader`, the model of qa/data/reader.json is fitted instead: every candidate also carries the span
reader's judgement of it (qa/answer/reader.py, trained by bench/train_reader.py), read by the fold reader
that never saw the question (bench/.cache/reader/without_fold{0,1}.safetensors), and the gate the reader's
judgement of the best candidate and of the context. Without the reader (its delta file missing) the
rules-only model of qa/data/short_answer.json answers.

Fitted on answerable questions OUTSIDE the bench sample (`benchmark_sample`); the bench sample's
answerable questions are only scored by `--report`.

    python bench/calibrate_short_answer.py [--target-em 0.70] [--target-f1 0.80] [--refresh] [--reader]
    python bench/calibrate_short_answer.py --report [--before REV]   # JSON: bench sample, before vs after
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
import types

import numpy as np

from common import CACHE_DIR, ROOT, benchmark_sample, emit, engine_for, load_questions

INPUTS_DIR = CACHE_DIR / "short_answer"


# ---------------------------------------------------------------- the engine's inputs to extract
def collect(questions: list[dict], name: str, refresh: bool = False) -> list[dict]:
    """For each question: what the engine hands `short_answer.extract` (cited sentences best first, their
    scores and coverages, the answer probability), or abstained. Cached by question id."""
    path = INPUTS_DIR / f"{name}.jsonl"
    cached: dict[str, dict] = {}
    if path.exists() and not refresh:
        cached = {r["id"]: r for r in map(json.loads, path.open())}
    todo = [q for q in questions if q["id"] not in cached]
    if todo:
        import torch
        from tqdm import tqdm

        torch.set_num_threads(1)  # on shared cores, more threads make each one-question encode far slower

        engine, _ = engine_for(None, "squad-all", progress=True)
        answerer = engine.answerer
        original = answerer.draft
        seen: list = []

        def draft(*args, **kwargs):
            result = original(*args, **kwargs)
            seen.append(result)
            return result

        answerer.draft = draft
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w" if refresh else "a") as out:  # a refresh replaces every row
            for q in tqdm(todo, desc=f"engine ({name})"):
                seen.clear()
                engine.ask(q["question"], k=10)
                row = {"id": q["id"], "question": q["question"], "answers": q["answers"]}
                if seen:
                    d = seen[-1]
                    best_first = sorted(d.sentences, key=lambda s: -s.score)
                    row |= {"abstained": d.abstained, "sentences": [s.text for s in best_first],
                            "scores": [s.score for s in best_first], "coverages": [s.coverage for s in best_first],
                            "confidence": d.probability}
                else:  # answered without a draft (a stated fact or quote of qa/news): no extractive span
                    row |= {"abstained": True, "no_draft": True, "sentences": [], "scores": [], "coverages": [],
                            "confidence": 0.0}
                cached[q["id"]] = row
                out.write(json.dumps(row) + "\n")
        answerer.draft = original
    return [cached[q["id"]] for q in questions]


def inputs_of(row: dict) -> dict:
    return {"scores": row["scores"], "coverages": row["coverages"], "confidence": row["confidence"]}


# ---------------------------------------------------------------- figures
def figures(rows: list[dict], shorts: list[str | None]) -> dict:
    from qa.evaluation import exact_match, token_f1

    answered = [(r, s) for r, s in zip(rows, shorts) if not r["abstained"]]
    shown = [(r, s) for r, s in answered if s]
    em = [exact_match(s, r["answers"]) for r, s in shown]
    f1 = [token_f1(s, r["answers"]) for r, s in shown]
    n_answered = max(len(answered), 1)
    return {
        "answerable_questions": len(rows),
        "answered": len(answered),
        "shown": len(shown),
        "shown_rate": round(len(shown) / n_answered, 4),
        "shown_exact_match": round(float(np.mean(em)), 4) if em else None,
        "shown_f1": round(float(np.mean(f1)), 4) if f1 else None,
        "answered_exact_match": round(sum(em) / n_answered, 4),  # not shown counts as 0
        "answered_f1": round(sum(f1) / n_answered, 4),
        "answerable_exact_match": round(sum(em) / max(len(rows), 1), 4),  # abstained counts as 0 too
        "answerable_f1": round(sum(f1) / max(len(rows), 1), 4),
    }


def module_at(revision: str) -> types.ModuleType:
    """qa/answer/short_answer.py as it was at a git revision (the "before" of the report)."""
    source = subprocess.run(["git", "show", f"{revision}:qa/answer/short_answer.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    module = types.ModuleType(f"short_answer_{revision}")
    module.__file__ = str(ROOT / "qa" / "answer" / "short_answer.py")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{revision}:qa/answer/short_answer.py", "exec"), module.__dict__)
    return module


def run_extract(module, rows: list[dict], with_inputs: bool = True) -> tuple[list[str | None], float]:
    started = time.perf_counter()
    shorts = []
    for r in rows:
        if r["abstained"]:
            shorts.append(None)
        elif with_inputs:
            shorts.append(module.extract(r["question"], r["sentences"], **inputs_of(r)))
        else:
            shorts.append(module.extract(r["question"], r["sentences"]))
    calls = max(sum(not r["abstained"] for r in rows), 1)
    return shorts, (time.perf_counter() - started) * 1000 / calls


def report(args) -> None:
    import torch

    from qa.answer import short_answer

    torch.set_num_threads(1)  # on shared cores, more threads make each one-question reader pass far slower

    questions = load_questions()
    bench = [q for q in benchmark_sample(questions) if q["type"] == "answerable"]
    rows = collect(bench, "bench", args.refresh)
    model = short_answer.load_model()  # the rules-only model
    after, after_ms = run_extract(short_answer, rows)  # the reader model when the reader loads
    result = {"sample": "bench sample's 1000 answerable questions (benchmark_sample, seed 0), squad-all index",
              "threshold": model.threshold}
    if args.before:
        before, before_ms = run_extract(module_at(args.before), rows, with_inputs=False)
        result["before"] = figures(rows, before) | {"rev": args.before, "ms_per_call": round(before_ms, 3)}
    rules_module = types.SimpleNamespace(extract=lambda *a, **k: short_answer.extract(*a, model=model, **k))
    rules, rules_ms = run_extract(rules_module, rows)
    result["rules_only (no reader: the fallback)"] = figures(rows, rules) | {"threshold": model.threshold,
                                                                            "ms_per_call": round(rules_ms, 3)}
    reader, reader_model = short_answer.load_reader_model()
    result["reader"] = reader is not None
    if reader_model is not None:
        result["threshold"] = reader_model.threshold
    result["after"] = figures(rows, after) | {"ms_per_call": round(after_ms, 3)}
    # The trade-off at other thresholds, for information only (the threshold is chosen on calibration data).
    found = [None if r["abstained"] else short_answer.best(r["question"], r["sentences"], **inputs_of(r))
             for r in rows]
    found = [f if f is None or short_answer.may_show(r["question"], f[0].text) else None  # as extract
             for r, f in zip(rows, found)]
    result["other_thresholds"] = {
        str(t): {k: v for k, v in figures(rows, [c.text if c and p >= t else None for c, p in
                                                  (f or (None, 0.0) for f in found)]).items()
                 if k in ("shown_rate", "shown_exact_match", "shown_f1", "answered_f1")}
        for t in (0.5, 0.4, 0.3, 0.2, 0.0)
    }
    a = result["after"]
    result["targets"] = {
        "shown_exact_match >= 0.70": (a["shown_exact_match"] or 0) >= 0.70,
        "shown_f1 >= 0.80": (a["shown_f1"] or 0) >= 0.80,
        "shown_rate >= 0.50": a["shown_rate"] >= 0.50,
        "answered_f1 >= 0.40": a["answered_f1"] >= 0.40,
        "ms_per_call < 60 (one reader pass)": a["ms_per_call"] < 60,
    }
    emit(result)


# ---------------------------------------------------------------- fitting
def dataset(rows: list[dict], views: list | None = None):
    """Candidate rows (sparse, FEATURES order; READER_RANKER order with the reader's views), their
    exact-match label and F1, the question each belongs to, and each question's candidates."""
    from scipy import sparse

    from qa.answer import short_answer
    from qa.evaluation import exact_match, token_f1

    names = short_answer.READER_RANKER if views else short_answer.FEATURES
    n_base = len(short_answer.READER_BASE if views else short_answer.BASE_FEATURES)
    data, cols, indptr, em, f1, group, found = [], [], [0], [], [], [], []
    for g, r in enumerate(rows):
        kind = short_answer.answer_type(r["question"])
        cands = short_answer.candidates(r["question"], r["sentences"], **inputs_of(r))
        if views and views[g] is not None and views[g].extra is not None:
            cands = cands + [views[g].extra]  # the reader's own span
        found.append(cands)
        if not cands:
            continue  # explanations, or nothing of a fitting shape: never shown
        offset = n_base * (short_answer.TYPED.index(kind) + 1)
        for c_at, candidate in enumerate(cands):
            features = candidate.features + (views[g].features[c_at] if views else ())
            for k, x in enumerate(features):  # its row: short_answer.design_row, sparse
                if x:
                    data += [x, x]
                    cols += [k, offset + k]
            indptr.append(len(data))
            em.append(exact_match(candidate.text, r["answers"]))
            f1.append(token_f1(candidate.text, r["answers"]))
            group.append(g)
    X = sparse.csr_matrix((data, cols, indptr), shape=(len(em), len(names)))
    return X, np.array(em), np.array(f1), np.array(group, dtype=int), found


def gate_dataset(rows, found, probability, em, f1, group, views=None):
    """One row per question with candidates: the gate's features for the ranker's best candidate, whether
    that candidate is exactly right, and its F1."""
    from qa.answer import short_answer

    starts = np.searchsorted(group, np.arange(len(rows)))
    G, y, f, questions = [], [], [], []
    for g, r in enumerate(rows):
        if not found[g]:
            continue
        s = starts[g]
        p = list(probability[s : s + len(found[g])])
        b, row = short_answer.gate_features(short_answer.answer_type(r["question"]), found[g], p, r["confidence"],
                                            views[g] if views else None)
        G.append(row)
        y.append(em[s + b])
        f.append(f1[s + b])
        questions.append((g, found[g][b].text))
    return np.array(G), np.array(y), np.array(f), questions


def reader_views(rows: list[dict], name: str) -> list:
    """Each row's ReaderView, read by the fold reader that was trained without the row's question (cached
    by the fold readers' file signatures and the rows' questions and quotes)."""
    import hashlib
    import pickle

    import torch
    from tqdm import tqdm

    from qa.answer import reader as reader_module
    from qa.answer import short_answer
    from train_reader import READER_DIR, fold_of

    torch.set_num_threads(1)
    paths = [READER_DIR / f"without_fold{f}.safetensors" for f in (0, 1)]
    folds = sorted({fold_of(r["id"]) for r in rows})
    missing = [str(paths[f]) for f in folds if not paths[f].exists()]
    if missing:
        raise SystemExit(f"fold readers missing ({', '.join(missing)}): run bench/train_reader.py --only all")
    signature = hashlib.md5("".join(f"{paths[f].stat().st_size}:{paths[f].stat().st_mtime_ns}" for f in folds).encode()
                            + json.dumps([(r["id"], r["sentences"], r["scores"]) for r in rows]).encode()).hexdigest()
    cache = INPUTS_DIR / f"views_{name}_{signature[:10]}.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    readers = [reader_module.load(p) if f in folds else None for f, p in enumerate(paths)]
    if any(readers[f] is None for f in folds):
        raise SystemExit(f"a fold reader under {READER_DIR} does not load")
    views = []
    for r in tqdm(rows, desc="reader views", file=sys.stderr):
        cands = short_answer.candidates(r["question"], r["sentences"], **inputs_of(r))
        views.append(short_answer.read(r["question"], r["sentences"], cands, readers[fold_of(r["id"])])
                     if cands else None)
    cache.write_bytes(pickle.dumps(views))
    return views


def fit(args) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, KFold

    from qa.answer import short_answer

    questions = load_questions()
    excluded = {q["id"] for q in benchmark_sample(questions)}
    pool = [q for q in questions if q["type"] == "answerable" and q["id"] not in excluded]
    calibration = random.Random(1).sample(pool, min(args.n, len(pool)))
    rows = collect(calibration, "calibration", args.refresh)
    rows = [r for r in rows if not r["abstained"]]  # the gate only ever sees answered questions
    if args.fold is not None:  # only the questions of one fold (read by the reader trained without it)
        from train_reader import fold_of

        rows = [r for r in rows if fold_of(r["id"]) == args.fold]
    n = len(rows)

    views = reader_views(rows, f"calibration{'' if args.fold is None else args.fold}") if args.reader else None
    started = time.perf_counter()
    X, em, f1, group, found = dataset(rows, views)

    def model():
        return LogisticRegression(C=args.c, max_iter=3000)

    # The ranker's probabilities out of fold (folds by question): the gate learns from what the ranker
    # says about questions it was not fitted on.
    oof = np.zeros(X.shape[0])
    for train, test in GroupKFold(n_splits=5).split(X, em, group):
        oof[test] = model().fit(X[train], em[train]).predict_proba(X[test])[:, 1]
    G, y, gf1, asked = gate_dataset(rows, found, oof, em, f1, group, views)
    # A question that asks for several things shows no short answer that names one (short_answer.extract):
    # the gate is fitted, and its threshold chosen, on the others; those count as not shown.
    single = np.array([short_answer.may_show(rows[g]["question"], text) for g, text in asked], dtype=bool)
    G, y, gf1 = G[single], y[single], gf1[single]
    # The gate's probabilities out of fold: the threshold is chosen on questions the gate never saw.
    cv_gate = np.zeros(len(y))
    for train, test in KFold(n_splits=5, shuffle=True, random_state=0).split(G):
        cv_gate[test] = model().fit(G[train], y[train]).predict_proba(G[test])[:, 1]

    curve = []  # threshold, shown (of the answered), shown EM, shown F1, answered F1 (not shown = 0)
    for t in np.round(np.arange(0.05, 0.96, 0.01), 2):
        shown = cv_gate >= t
        if shown.sum() < 50:
            break
        curve.append((float(t), float(shown.sum() / n), float(y[shown].mean()), float(gf1[shown].mean()),
                      float(gf1[shown].sum() / n)))
    ok = [c[2] >= args.target_em and c[3] >= args.target_f1 for c in curve]
    # The lowest threshold from which on every higher one keeps the targets.
    chosen = next((c for k, c in enumerate(curve) if all(ok[k:])), curve[-1])
    threshold, shown_rate, shown_em, shown_f1, answered_f1 = chosen

    ranker = model().fit(X, em)
    gate = model().fit(G, y)
    meta = {
        "data": "squad-v2-dev answerable questions outside the bench sample, answered by the squad-all engine "
                "(bench/calibrate_short_answer.py)",
        "questions": n,
        "candidates": int(X.shape[0]),
        "target_exact_match": args.target_em,
        "target_f1": args.target_f1,
        "cv_shown_rate": round(shown_rate, 4),
        "cv_shown_exact_match": round(shown_em, 4),
        "cv_shown_f1": round(shown_f1, 4),
        "cv_answered_f1": round(answered_f1, 4),
        "list_questions_with_one_item_never_shown": int((~single).sum()),
        "cv_best_candidate_exact_match": round(float(y.sum() / n), 4),  # no gate: the ranker's top choice
        "cv_best_candidate_f1": round(float(gf1.sum() / n), 4),
        "oracle_exact_match": round(float(np.mean([em[group == g].max() if found[g] else 0.0 for g in range(n)])), 4),
        "C": args.c,
        "cv_curve (threshold, shown, shown EM, shown F1, answered F1)": [[round(v, 3) for v in c] for c in curve[::5]],
    }
    short_answer.ShortAnswerModel(
        weights=[round(float(w), 5) for w in ranker.coef_[0]],
        bias=round(float(ranker.intercept_[0]), 5),
        gate_weights=[round(float(w), 5) for w in gate.coef_[0]],
        gate_bias=round(float(gate.intercept_[0]), 5),
        threshold=threshold,
        meta=meta | ({"reader": "qa/data/reader.safetensors (bench/train_reader.py); fitted on the fold "
                                 "readers' views of questions they were not trained on"} if args.reader else {}),
        reader=bool(args.reader),
    ).save()
    emit({"threshold": threshold, **meta, "seconds": round(time.perf_counter() - started, 1)})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--report", action="store_true", help="print the bench-sample figures instead of fitting")
    parser.add_argument("--before", default=None, help="with --report: also score short_answer.py at this git revision")
    parser.add_argument("--target-em", type=float, default=0.70)
    parser.add_argument("--target-f1", type=float, default=0.80)
    parser.add_argument("--n", type=int, default=10000, help="calibration questions (at most all outside the sample)")
    parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation of the logistic model")
    parser.add_argument("--fold", type=int, default=None, help="with --reader: fit on one fold's questions only")
    parser.add_argument("--reader", action="store_true", help="fit qa/data/reader.json (the reader's features too)")
    parser.add_argument("--refresh", action="store_true", help="ask the engine again instead of using the cache")
    args = parser.parse_args()
    report(args) if args.report else fit(args)


if __name__ == "__main__":
    main()
