"""Fit the abstention model (qa/data/abstention.json) on squad-v2-dev.

Positives: answerable questions about indexed articles. Negatives: questions about 10 articles left out
of the index (out-of-corpus, the everyday case). The questions of the benchmark sample and the articles
held out by the benchmark are not used. The threshold is set for a target wrongful-abstention rate.

    python bench/calibrate_abstention.py [--target-wrongful 0.04] [--n 1500]
"""
from __future__ import annotations

import argparse
import random
import time

import numpy as np
from tqdm import tqdm

from common import CALIBRATION_HELDOUT, benchmark_sample, emit, engine_for, load_articles, load_questions


def features_of(engine, question: str) -> list[float]:
    vector = engine.store.encoder.encode([question])[0]
    passages = engine.retriever.retrieve(question, k=engine.settings.answer_passages, query_vector=vector)
    draft = engine.answerer.draft(question, passages, engine.store.lexical())
    return draft.features.vector()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target-wrongful", type=float, default=0.04)
    parser.add_argument("--n", type=int, default=1500, help="questions per class")
    args = parser.parse_args()

    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict

    from qa.answer.abstention import AbstentionFeatures, AbstentionModel

    indexed = [a["id"] for a in load_articles() if a["id"] not in CALIBRATION_HELDOUT]
    engine, _ = engine_for(indexed, "calibration", progress=True)

    questions = load_questions()
    excluded = {q["id"] for q in benchmark_sample(questions)}
    pool = [q for q in questions if q["type"] == "answerable" and q["id"] not in excluded]
    rng = random.Random(1)
    positives = rng.sample([q for q in pool if q["context_article_id"] in indexed], args.n)
    negatives = rng.sample([q for q in pool if q["context_article_id"] in CALIBRATION_HELDOUT], args.n)

    started = time.perf_counter()
    X = np.array([features_of(engine, q["question"]) for q in tqdm(positives + negatives, desc="features")])
    y = np.array([1] * len(positives) + [0] * len(negatives))

    model = LogisticRegression(C=10.0, max_iter=1000)
    cv_prob = cross_val_predict(model, X, y, cv=5, method="predict_proba")[:, 1]
    model.fit(X, y)
    # Threshold from cross-validated probabilities of the positives: the target share falls below it.
    threshold = float(np.quantile(cv_prob[y == 1], args.target_wrongful))
    abstain = cv_prob < threshold
    result = {
        "features": AbstentionFeatures.names(),
        "weights": [round(float(w), 4) for w in model.coef_[0]],
        "bias": round(float(model.intercept_[0]), 4),
        "threshold": round(threshold, 4),
        "cv_auc": round(float(roc_auc_score(y, cv_prob)), 4),
        "cv_wrongful_abstention": round(float(abstain[y == 1].mean()), 4),
        "cv_out_of_corpus_abstention": round(float(abstain[y == 0].mean()), 4),
        "n_positive": int(y.sum()),
        "n_negative": int((1 - y).sum()),
        "seconds": round(time.perf_counter() - started, 1),
    }
    AbstentionModel(
        weights=result["weights"],
        bias=result["bias"],
        threshold=result["threshold"],
        meta={k: result[k] for k in ("cv_auc", "cv_wrongful_abstention", "cv_out_of_corpus_abstention",
                                     "n_positive", "n_negative")}
        | {"data": "squad-v2-dev, answerable vs out-of-corpus (bench/calibrate_abstention.py)",
           "target_wrongful_abstention": args.target_wrongful},
    ).save()
    emit(result)


if __name__ == "__main__":
    main()
