"""Ingest and query speed on squad-v2-dev (35 articles). Prints JSON.

- ingest throughput (chunks/s) against raw `model.encode` (model loaded for both) on the very chunk texts
  ingestion encodes (title and date + chunk; sentence vectors are pooled from that one pass), and against
  our own encoder pass alone (`Encoder.encode_spans`, no storage), which shows what the rest of ingestion
  costs. The encoder pass beats `model.encode` because it batches by token length, not character length
  (less padding: see `padded_positions_*`);
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


def padded_positions(lengths: np.ndarray, order: np.ndarray, batch_size: int) -> int:
    """Token positions the model computes when texts are batched in this order (each batch padded to its longest)."""
    return int(sum(len(order[i : i + batch_size]) * lengths[order[i : i + batch_size]].max()
                   for i in range(0, len(order), batch_size)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=300)
    args = parser.parse_args()

    from qa.chunking import Chunker, embedding_input
    from qa.sources.articles import load_file
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
    texts, spans = map(list, zip(*(embedding_input(chunk, a.title, a.published) for a, chunk in chunked)))
    n_sentences = sum(len(s) for s in spans)
    started = time.perf_counter()
    encoder.model.encode(texts, batch_size=settings.embed_batch_size, normalize_embeddings=True)
    raw_seconds = time.perf_counter() - started
    started = time.perf_counter()
    encoder.encode_spans(texts, spans)
    encoder_pass_seconds = time.perf_counter() - started
    lengths = np.array([len(ids) for ids in encoder.tokenizer(texts, truncation=True, max_length=encoder.max_tokens)["input_ids"]])

    report = engine.ingest([corpus], progress=False)
    assert report.chunks_embedded == len(texts), (report.chunks_embedded, len(texts))
    ingest_seconds = report.seconds

    again = engine.ingest([corpus], progress=False)
    assert again.chunks_embedded == 0
    env = dict(os.environ, QA_INDEX_DIR=str(settings.index_dir), QA_AUTO_INDEX_EXAMPLES="false")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "qa.faces.cli", "ingest", "-q", str(corpus)], env=env, cwd=ROOT, check=True,
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
        "encoder_pass_seconds": round(encoder_pass_seconds, 2),
        "ingest_vs_encoder_pass": round(encoder_pass_seconds / ingest_seconds, 3),
        "tokens": int(lengths.sum()),
        "padded_positions_model_encode": padded_positions(lengths, np.argsort([-len(t) for t in texts], kind="stable"),
                                                          settings.embed_batch_size),
        "padded_positions_encoder_pass": padded_positions(lengths, np.argsort(-lengths, kind="stable"),
                                                          settings.embed_batch_size),
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
