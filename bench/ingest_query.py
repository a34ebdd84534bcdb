"""Ingest and query speed on squad-v2-dev (35 articles). Prints JSON.

- ingest throughput (chunks/s) against raw `model.encode` (model loaded for both) on the very chunk texts
  ingestion encodes (title and date + chunk; sentence vectors are pooled from that one pass);
- re-ingest of the unchanged corpus, in process and as a `qa ingest` command;
- query latency p50/p95: retrieval alone (question encoding included) and the full answer.

    python bench/ingest_query.py [--questions 300]
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import ROOT, SQUAD_DIR, emit, load_questions


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=300)
    args = parser.parse_args()

    from qa.chunking import Chunker, embedding_prefix
    from qa.articles import load_file
    from qa.config import Settings
    from qa.engine import Engine

    workdir = Path(tempfile.mkdtemp(prefix="qa-bench-"))
    corpus = workdir / "articles.jsonl"
    shutil.copy(SQUAD_DIR / "articles.jsonl", corpus)
    settings = Settings(index_dir=workdir / "index", auto_index_examples=False)
    engine = Engine(settings)
    encoder = engine.store.encoder
    encoder.encode(["warm up the model"])

    # The texts ingestion encodes: title/date prefix + chunk, exactly as the store builds them.
    chunker = Chunker.from_settings(encoder.count_tokens, settings)
    chunked = [(a, chunk) for a in load_file(corpus).articles for chunk in chunker.split(a)]
    texts = [embedding_prefix(a.title, a.published) + chunk.text for a, chunk in chunked]
    n_sentences = sum(len(chunk.sentences) for _, chunk in chunked)
    started = time.perf_counter()
    encoder.model.encode(texts, batch_size=settings.embed_batch_size, normalize_embeddings=True)
    raw_seconds = time.perf_counter() - started

    report = engine.ingest([corpus], progress=False)
    assert report.chunks_embedded == len(texts), (report.chunks_embedded, len(texts))
    ingest_seconds = report.seconds

    again = engine.ingest([corpus], progress=False)
    assert again.chunks_embedded == 0
    env = dict(os.environ, QA_INDEX_DIR=str(settings.index_dir), QA_AUTO_INDEX_EXAMPLES="false")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "qa.cli", "ingest", "-q", str(corpus)], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    cli_reingest_seconds = time.perf_counter() - started

    questions = random.Random(0).sample(load_questions(), args.questions)
    for q in questions[:5]:
        engine.ask(q["question"])
    retrieval_ms, answer_ms = [], []
    for q in questions:
        started = time.perf_counter()
        engine.retriever.retrieve(q["question"], k=settings.top_k)
        retrieval_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        engine.ask(q["question"])
        answer_ms.append((time.perf_counter() - started) * 1000)

    emit({
        "corpus": "squad-v2-dev (35 articles)",
        "chunks": len(texts),
        "ingest_seconds": round(ingest_seconds, 2),
        "ingest_chunks_per_s": round(len(texts) / ingest_seconds, 2),
        "raw_encode_seconds": round(raw_seconds, 2),
        "raw_encode_chunks_per_s": round(len(texts) / raw_seconds, 2),
        "ingest_vs_raw_encode": round(raw_seconds / ingest_seconds, 3),
        "sentence_vectors": n_sentences,
        "reingest_unchanged_seconds": round(again.seconds, 3),
        "reingest_share_of_first": round(again.seconds / ingest_seconds, 4),
        "reingest_unchanged_cli_seconds": round(cli_reingest_seconds, 2),
        "reingest_cli_share_of_first": round(cli_reingest_seconds / ingest_seconds, 4),
        "questions": len(questions),
        "retrieval_ms_p50": percentile(retrieval_ms, 50),
        "retrieval_ms_p95": percentile(retrieval_ms, 95),
        "answer_ms_p50": percentile(answer_ms, 50),
        "answer_ms_p95": percentile(answer_ms, 95),
        "cpu_threads": os.cpu_count(),
    })
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
