"""squad-v2-dev: `qa eval` on a fixed sample, out-of-corpus abstention, and a naive LangChain baseline.

- `qa eval` on 1,000 answerable + 1,000 unanswerable questions (seed 0) over all 35 articles; the
  unanswerable ones are about indexed articles ("unanswerable_in_corpus": abstention precision, recall,
  F1 and the answerable questions' wrongful abstention, beside always abstaining);
- out-of-corpus: 25 articles indexed, 500 answerable questions about the 10 others (all should abstain),
  plus 500 answerable questions about the indexed 25 (wrongful abstention);
- naive baseline measured in the same run: RecursiveCharacterTextSplitter(1000, 200) + the same encoder
  + Chroma.similarity_search; the top sentence by cosine among the top 5 chunks is its answer.

    python bench/squad.py [--per-type 1000] [--ooc 500] [--skip-baseline] [--sample dev]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from common import CACHE_DIR, OOC_HELDOUT, ROOT, SQUAD_DIR, benchmark_sample, emit, load_articles, load_questions

TARGETS = {"hit@1": 0.90, "mrr@10": 0.93, "answer_recall": 0.85, "f1": 0.40}


def run_qa_eval(sample: list[dict], name: str, articles: Path, index: Path) -> dict:
    questions = CACHE_DIR / f"{name}.questions.jsonl"
    questions.write_text("".join(json.dumps(q) + "\n" for q in sample))
    out = CACHE_DIR / f"{name}-report"
    command = [sys.executable, "-m", "qa.faces.cli", "eval", str(questions), "--articles", str(articles),
               "--index", str(index), "--k", "10", "--out", str(out), "-q"]
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   env=dict(os.environ, QA_AUTO_INDEX_EXAMPLES="false"))
    return json.loads((out / "report.json").read_text())


def out_of_corpus(questions: list[dict], n: int) -> dict:
    indexed = [a for a in load_articles() if a["id"] not in OOC_HELDOUT]
    corpus = CACHE_DIR / "ooc-25.articles.jsonl"
    corpus.write_text("".join(json.dumps({k: a[k] for k in ("id", "title", "text")}) + "\n" for a in indexed))
    rng = random.Random(0)
    answerable = [q for q in questions if q["type"] == "answerable"]
    absent = rng.sample([q for q in answerable if q["context_article_id"] in OOC_HELDOUT], n)
    present = rng.sample([q for q in answerable if q["context_article_id"] not in OOC_HELDOUT], n)
    # Questions about absent articles are unanswerable here: their gold answers are removed.
    sample = [dict(q, answers=[], evidence_article_ids=[], type="out-of-corpus") for q in absent] + present
    report = run_qa_eval(sample, "ooc", corpus, CACHE_DIR / "ooc-25-index")
    by_type = report["by_type"]
    return {
        "indexed_articles": len(indexed),
        "absent_questions": n,
        "out_of_corpus_abstention": by_type["out-of-corpus"]["abstention_recall"],
        "wrongful_abstention": by_type["answerable"]["wrongful_abstention"],
        "abstention_precision": report["overall"]["abstention_precision"],
    }


def naive_baseline(sample: list[dict]) -> dict:
    """The LangChain tutorial setup, same data and encoder; it never abstains."""
    import chromadb
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from qa.chunking import split_sentences
    from qa.config import Settings
    from qa.embedding import get_encoder
    from qa.evaluation import contains, token_f1
    from qa.retrieval import LangChainEmbeddings

    encoder = get_encoder(Settings().embedding_model)
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    documents = [
        Document(page_content=piece, metadata={"article": a["id"]})
        for a in load_articles()
        for piece in splitter.split_text(a["text"])
    ]
    started = time.perf_counter()
    store = Chroma(client=chromadb.EphemeralClient(), collection_name="naive", embedding_function=LangChainEmbeddings(encoder))
    store.add_documents(documents)
    index_seconds = time.perf_counter() - started

    answerable = [q for q in sample if q["type"] == "answerable"]
    hits = {1: [], 5: [], 10: []}
    reciprocal, recall, f1 = [], [], []
    for q in answerable:
        docs = store.similarity_search(q["question"], k=10)
        rank = next((i for i, d in enumerate(docs, 1) if d.metadata["article"] in q["evidence_article_ids"]
                     and any(contains(d.page_content, a) for a in q["answers"])), None)
        for k in hits:
            hits[k].append(float(rank is not None and rank <= k))
        reciprocal.append(1.0 / rank if rank else 0.0)
        sentences = [d.page_content[s.start : s.end] for d in docs[:5] for s in split_sentences(d.page_content)]
        vectors = encoder.encode(sentences)
        best = sentences[int(np.argmax(vectors @ encoder.encode([q["question"]])[0]))] if sentences else ""
        recall.append(float(any(contains(best, a) for a in q["answers"])))
        f1.append(token_f1(best, q["answers"]))
    return {
        "chunks": len(documents),
        "index_seconds": round(index_seconds, 1),
        "hit@1": round(float(np.mean(hits[1])), 4),
        "hit@5": round(float(np.mean(hits[5])), 4),
        "hit@10": round(float(np.mean(hits[10])), 4),
        "mrr@10": round(float(np.mean(reciprocal)), 4),
        "answer_recall": round(float(np.mean(recall)), 4),
        "sentence_f1": round(float(np.mean(f1)), 4),
        "out_of_corpus_abstention": 0.0,
    }


def unanswerable_abstention(overall: dict, answerable: dict) -> dict:
    """Abstention on squad-v2's unanswerable questions (about indexed articles, so only reading tells them
    apart), beside always abstaining: precision and F1 against the sample's answerable questions, and the
    wrongful abstention those suffer."""
    n_answerable, n_unanswerable = overall["answerable"], overall["unanswerable"]
    always_precision = n_unanswerable / (n_answerable + n_unanswerable) if n_unanswerable else 0.0
    return {
        "abstention_precision": overall.get("abstention_precision"),
        "abstention_recall": overall.get("abstention_recall"),
        "abstention_f1": overall.get("abstention_f1"),
        "wrongful_abstention": answerable.get("wrongful_abstention"),
        "always_abstain": {
            "abstention_precision": round(always_precision, 4),
            "abstention_recall": 1.0,
            "abstention_f1": round(2 * always_precision / (always_precision + 1), 4) if always_precision else 0.0,
            "wrongful_abstention": 1.0,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-type", type=int, default=1000)
    parser.add_argument("--ooc", type=int, default=500)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-ooc", action="store_true")
    parser.add_argument("--sample", choices=["bench", "dev"], default="bench",
                        help="dev: questions outside the bench sample, for tuning without touching it")
    args = parser.parse_args()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)

    questions = load_questions()
    sample = benchmark_sample(questions, args.per_type)
    if args.sample == "dev":
        used = {q["id"] for q in benchmark_sample(questions)}
        rest = [q for q in questions if q["id"] not in used]
        rng = random.Random(7)
        sample = (rng.sample([q for q in rest if q["type"] == "answerable"], args.per_type)
                  + rng.sample([q for q in rest if q["type"] == "unanswerable"], args.per_type))
    started = time.perf_counter()
    report = run_qa_eval(sample, f"squad-{args.sample}", SQUAD_DIR / "articles.jsonl", CACHE_DIR / "squad-all-index")
    overall, by_type = report["overall"], report["by_type"]
    answerable = by_type["answerable"]
    result = {
        "sample": f"{args.sample}: {args.per_type} answerable + {args.per_type} unanswerable (seed 0)",
        "eval_seconds": round(time.perf_counter() - started, 1),
        "answerable": {m: answerable.get(m) for m in ("hit@1", "hit@5", "hit@10", "mrr@10", "answer_recall",
                                                      "exact_match", "f1", "citation_precision", "wrongful_abstention")},
        "unanswerable_in_corpus": unanswerable_abstention(overall, answerable),
        "overall": {m: overall.get(m) for m in ("abstention_precision", "abstention_recall", "abstention_f1",
                                                "nonverbatim_citations", "latency_ms_p50", "latency_ms_p95")},
    }
    if not args.skip_ooc:
        result["out_of_corpus"] = out_of_corpus(questions, args.ooc)
    if not args.skip_baseline:
        result["naive_baseline"] = naive_baseline(sample)
    result["targets"] = {m: {"target": t, "value": answerable.get(m), "met": (answerable.get(m) or 0) >= t}
                         for m, t in TARGETS.items()}
    if "out_of_corpus" in result:
        ooc = result["out_of_corpus"]
        result["targets"]["out_of_corpus_abstention"] = {"target": 0.95, "value": ooc["out_of_corpus_abstention"],
                                                         "met": ooc["out_of_corpus_abstention"] >= 0.95}
        result["targets"]["wrongful_abstention"] = {"target": "<= 0.05", "value": ooc["wrongful_abstention"],
                                                    "met": ooc["wrongful_abstention"] <= 0.05}
    wrongful = answerable.get("wrongful_abstention") or 0.0
    result["targets"]["wrongful_abstention_squad"] = {"target": "<= 0.15", "value": wrongful, "met": wrongful <= 0.15}
    emit(result)


if __name__ == "__main__":
    main()
