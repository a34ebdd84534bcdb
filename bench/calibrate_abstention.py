"""Fit the abstention model (qa/data/abstention.json) on squad-v2-dev, in two stages.

Positives: answerable questions about indexed articles. Negatives, three kinds:

- out-of-corpus: questions about 10 articles left out of the index (the everyday case);
- in-corpus unanswerable: squad-v2's unanswerable questions about indexed articles, written against a
  paragraph that nearly answers them;
- swapped premise: answerable questions whose name (a capitalised word, preferring nationality adjectives)
  is replaced by one the corpus does not know ("the Jordanian foreign minister" asked of articles about the
  Israeli one): the case the premise check is for.

Stage 1: a logistic model over the retrieval and coverage features, answerable vs out-of-corpus; its
threshold is set for a target wrongful-abstention rate on cross-validated probabilities of the positives.
Stage 2: the premise and contradiction features (qa/answer/premise.py) are added to stage 1's log odds,
which stay as they are, with weights constrained to be <= 0 (a missing word never makes an answer more
likely; so "the premise check lowered the answer" is meaningful) and the same threshold. Whatever stage 2
fits, no question stage 1 abstains on is answered: out-of-corpus abstention cannot fall. Stage 2 is
fitted on all negatives, the unanswerable and swapped ones at small weights (`--unanswerable-weight`,
`--swapped-weight`): those features fire on a few answerable questions too, most of them answered right
(a name spelled otherwise, a number written out), and at larger weights the answers they lose outweigh
the unanswerable questions they catch. Measured (cross-validated) on this data:

    unanswerable, swapped weight   wrongful   out-of-corpus   in-corpus unanswerable   swapped premise
    stage 1 only                   0.040      0.921           0.119                    0.480
    0.02, 0                        0.043      0.926           0.132                    0.567
    0.05, 0                        0.044      0.928           0.149                    0.579
    0.15, 0                        0.051      0.929           0.193                    0.613
    0.05, 0.05                     0.049      0.930           0.155                    0.731

and on questions outside it (squad-v2 questions in neither this data nor the bench sample), answer recall
0.843 → 0.840 / 0.835 / 0.830 / 0.825 down the table. The answerer's note ("The articles don't mention a
Jordanian foreign minister") covers the swapped premises it still answers.

The questions of the benchmark sample and the articles held out by the benchmark are not used.

    python bench/calibrate_abstention.py [--target-wrongful 0.04] [--n 1500] [--reuse]

`--reuse` refits from the features of the last run (bench/.cache/calibration-features.npz) without
retrieving again.
"""
from __future__ import annotations

import argparse
import random
import re
import time

import numpy as np
from tqdm import tqdm

from common import CACHE_DIR, CALIBRATION_HELDOUT, benchmark_sample, emit, engine_for, load_articles, load_questions

FEATURES_CACHE = CACHE_DIR / "calibration-features.npz"
NON_POSITIVE = ("missing_share", "unknown_name", "missing_name", "contradiction")  # weights constrained <= 0
# Replacement names for the swapped-premise negatives (only those the corpus does not know are used).
DEMONYMS = """Jordanian Peruvian Kenyan Nepalese Bolivian Icelandic Malaysian Ecuadorian Ugandan Latvian Chilean Omani
    Mongolian Estonian Slovenian Paraguayan Zambian Cambodian Tunisian Uruguayan Bhutanese Malagasy Rwandan""".split()
PROPER = """Kathmandu Reykjavik Nairobi Ulaanbaatar Montevideo Vilnius Tbilisi Ljubljana Asuncion Lusaka Windhoek
    Macron Ardern Kagame Bukele Lula Orban Modi Trudeau Zelensky Okonkwo Tanaka Haugland Verhoeven""".split()
_DEMONYM = re.compile(r"[A-Z][a-z]+(?:ian|ean|an|ese|ish|i|ic)$")
_CAPITALISED = re.compile(r"\b[A-Z][a-z]{2,}\b")


def draft_of(engine, question: str):
    vector = engine.store.encoder.encode([question])[0]
    passages = engine.retriever.retrieve(question, k=engine.settings.answer_passages, query_vector=vector)
    return engine.answerer.draft(question, passages, engine.store.lexical())


def swapped(question: str, lexical, rng: random.Random) -> str | None:
    """The question with one of its names replaced by a name the corpus does not know, or None when it has
    no capitalised word past the first."""
    from qa.answer.premise import _held, _Known, question_words

    words = [m for m in _CAPITALISED.finditer(question) if m.start() > 0]
    if not words:
        return None
    known = _Known(lexical.doc_freq)
    target = next((m for m in words if _DEMONYM.match(m.group(0))), None) or rng.choice(words)
    pool = DEMONYMS if _DEMONYM.match(target.group(0)) else PROPER
    candidates = [n for n in pool if not _held(question_words(f"The {n}")[0], known)]
    if not candidates:
        return None
    return question[: target.start()] + rng.choice(candidates) + question[target.end():]


def fit_offset(E: np.ndarray, y: np.ndarray, weight: np.ndarray, offset: np.ndarray, C: float = 1.0) -> np.ndarray:
    """Weights (each <= 0, L2-regularised) of the features `E` added to fixed log odds `offset`, no bias."""
    from scipy.optimize import minimize

    def loss(w):
        z = offset + E @ w
        residual = weight * (1.0 / (1.0 + np.exp(-z)) - y)
        return np.sum(weight * (np.logaddexp(0, z) - y * z)) + 0.5 / C * w @ w, E.T @ residual + w / C

    result = minimize(loss, np.zeros(E.shape[1]), jac=True, method="L-BFGS-B", bounds=[(None, 0.0)] * E.shape[1])
    return result.x


def probabilities(X: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(X @ w + b)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target-wrongful", type=float, default=0.04)
    parser.add_argument("--n", type=int, default=1500, help="questions per kind")
    parser.add_argument("--unanswerable-weight", type=float, default=0.02)
    parser.add_argument("--swapped-weight", type=float, default=0.0)
    parser.add_argument("--reuse", action="store_true", help="refit from the cached features of the last run")
    args = parser.parse_args()

    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    from qa.answer.abstention import AbstentionFeatures, AbstentionModel

    names = AbstentionFeatures.names()
    started = time.perf_counter()
    if args.reuse:
        cached = np.load(FEATURES_CACHE)
        if list(cached["names"]) != names:
            raise SystemExit(f"{FEATURES_CACHE}: features {list(cached['names'])}, code has {names}: run without --reuse")
        X, kinds = cached["X"], cached["kinds"]
    else:
        indexed = [a["id"] for a in load_articles() if a["id"] not in CALIBRATION_HELDOUT]
        engine, _ = engine_for(indexed, "calibration", progress=True)
        lexical = engine.store.lexical()

        questions = load_questions()
        excluded = {q["id"] for q in benchmark_sample(questions)}
        pool = [q for q in questions if q["id"] not in excluded]
        answerable = [q for q in pool if q["type"] == "answerable"]
        rng = random.Random(1)
        positives = rng.sample([q for q in answerable if q["context_article_id"] in indexed], args.n)
        out_of_corpus = rng.sample([q for q in answerable if q["context_article_id"] in CALIBRATION_HELDOUT], args.n)
        unanswerable = rng.sample([q for q in pool if q["type"] == "unanswerable"
                                   and q["context_article_id"] in indexed], args.n)
        chosen = {q["id"] for q in positives}
        swap_rng = random.Random(2)
        swaps = []
        for q in swap_rng.sample([q for q in answerable if q["context_article_id"] in indexed and q["id"] not in chosen],
                                 k=min(4 * args.n, sum(1 for q in answerable if q["context_article_id"] in indexed) - args.n)):
            text = swapped(q["question"], lexical, swap_rng)
            if text is not None:
                swaps.append(text)
            if len(swaps) == args.n:
                break
        groups = [("positive", [q["question"] for q in positives]),
                  ("out-of-corpus", [q["question"] for q in out_of_corpus]),
                  ("unanswerable", [q["question"] for q in unanswerable]),
                  ("swapped", swaps)]
        rows, kinds = [], []
        for kind, texts in groups:
            for text in tqdm(texts, desc=kind):
                rows.append(draft_of(engine, text).features.vector())
                kinds.append(kind)
        X, kinds = np.array(rows), np.array(kinds)
        np.savez(FEATURES_CACHE, X=X, kinds=kinds, names=np.array(names))

    y = (kinds == "positive").astype(float)
    base = [i for i, n in enumerate(names) if n not in NON_POSITIVE]
    extra = [i for i, n in enumerate(names) if n in NON_POSITIVE]
    weight = np.select([kinds == "unanswerable", kinds == "swapped"], [args.unanswerable_weight, args.swapped_weight], 1.0)

    def fit(rows: np.ndarray) -> tuple[np.ndarray, float]:
        """Stage 1 on the rows' positives and out-of-corpus negatives, then stage 2 on all of them."""
        first = rows[np.isin(kinds[rows], ["positive", "out-of-corpus"])]
        stage1 = LogisticRegression(C=10.0, max_iter=1000).fit(X[first][:, base], y[first])
        w = np.zeros(len(names))
        w[base] = stage1.coef_[0]
        b = float(stage1.intercept_[0])
        w[extra] = fit_offset(X[rows][:, extra], y[rows], weight[rows], X[rows] @ w + b)
        return w, b

    cv_first, cv_prob = np.zeros(len(y)), np.zeros(len(y))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(X, kinds):
        w, b = fit(train)
        first = w.copy()
        first[extra] = 0.0
        cv_first[test] = probabilities(X[test], first, b)
        cv_prob[test] = probabilities(X[test], w, b)
    w, b = fit(np.arange(len(y)))
    # Threshold from stage 1's cross-validated probabilities of the positives: the target share falls below it.
    threshold = float(np.quantile(cv_first[y == 1], args.target_wrongful))
    ooc = (kinds == "positive") | (kinds == "out-of-corpus")

    def rates(prob: np.ndarray) -> dict:
        abstain = prob < threshold
        return {"wrongful": round(float(abstain[y == 1].mean()), 4)} | {
            k: round(float(abstain[kinds == k].mean()), 4) for k in ("out-of-corpus", "unanswerable", "swapped")}

    result = {
        "features": names,
        "weights": [round(float(x), 4) for x in w],
        "bias": round(b, 4),
        "threshold": round(threshold, 4),
        "cv_auc_out_of_corpus": round(float(roc_auc_score(y[ooc], cv_prob[ooc])), 4),
        "cv_wrongful_abstention": rates(cv_prob)["wrongful"],
        "cv_abstention": rates(cv_prob),
        "cv_abstention_stage1": rates(cv_first),
        "n": {k: int((kinds == k).sum()) for k in ("positive", "out-of-corpus", "unanswerable", "swapped")},
        "weights_of_negatives": {"out-of-corpus": 1.0, "unanswerable": args.unanswerable_weight, "swapped": args.swapped_weight},
        "seconds": round(time.perf_counter() - started, 1),
    }
    AbstentionModel(
        weights=result["weights"],
        bias=result["bias"],
        threshold=result["threshold"],
        meta={k: result[k] for k in ("cv_auc_out_of_corpus", "cv_wrongful_abstention", "cv_abstention",
                                     "cv_abstention_stage1", "n", "weights_of_negatives")}
        | {"data": "squad-v2-dev: answerable vs out-of-corpus, in-corpus unanswerable and swapped-premise questions "
                   "(bench/calibrate_abstention.py)",
           "target_wrongful_abstention": args.target_wrongful},
    ).save()
    emit(result)


if __name__ == "__main__":
    main()
