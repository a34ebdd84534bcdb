"""How the store scales: 1k / 10k / 100k chunks. Prints one JSON object (and writes a latency-vs-size PNG).

Embedding runs at ~20-45 chunks/s on a laptop-class CPU, so only a base set is embedded, once, by the real
ingest path: the 35 squad-v2-dev articles (1,143 chunks), cached under bench/.cache/scale-base. Larger stores
reuse those vectors and texts under new ids: copy k of an article has " (copy k)" added to its title, so its
content hash (and every chunk and sentence id) differs. Rows go in through `catalog.begin_source /
finish_source`, vectors through `store.vectors.upsert`, then one `store.commit()` (BM25 built, commit record
written) under `store.writing()`. A copy's vectors were computed with the original title in front: retrieval
quality on copies is not what this measures, only cost.

For each size, each step in its own process (so peak RSS is that step's):
- build: time (catalog / Chroma insert / commit with the BM25 build) and peak RSS;
- index size on disk: chroma/, bm25/, catalog.sqlite (with its WAL);
- latency p50/p95, warm, questions back to back: retrieval alone (`engine.retriever.retrieve(q)`, question
  encoding included) and the full answer (`engine.ask(q)`), on squad questions, as shipped (`engine.serve()`) and
  with other torch / OpenBLAS thread counts (see VARIANTS, worker_measure); peak RSS of that serving process;
- adding one new article (~10 chunks, really embedded) with `engine.ingest([file])` in that warm process: the
  total, split into embedding, Chroma insert, commit (BM25 update + save + commit record) and the rest
  (reading, chunking, catalog rows, id checks, garbage collection); the same in a process that has just
  started (model loaded first: it opens Chroma and loads BM25), and the whole `qa ingest` command.
At the largest size: the JSON API (`python app.py`) under 20 concurrent clients, idle and while another
process runs `qa ingest` of a few new articles into the same index. At one size (10k; 1k with --quick): the
same latencies with the vectors on a Chroma server (`chroma run`, QA_CHROMA_URL).

    .venv/bin/python bench/scale.py [--sizes 1000,10000,100000] [--quick] [--out bench/results/scale.json]
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
from common import CACHE_DIR, ROOT, SQUAD_DIR, load_questions

BASE_DIR = CACHE_DIR / "scale-base"
WORK_DIR = CACHE_DIR / "scale"
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
               "ANONYMIZED_TELEMETRY": "False", "TOKENIZERS_PARALLELISM": "false"}
TARGETS = {
    "answer_ms_p50_at_100k": 60.0,
    "add_article_seconds_beyond_embedding_at_100k": 2.0,
    "concurrent_errors_during_ingest": 0,
    "concurrent_p95_during_ingest_vs_idle": 3.0,
}
NOTE = ("vectors reused under new ids for sizes above the base set: the base set (the squad-v2-dev articles) is "
        "embedded once by the real ingest path; larger stores hold copies of it whose titles carry ' (copy k)', so "
        "every article, chunk and sentence id is new, with the base set's texts and vectors (computed with the "
        "original titles). Sizes at or below the base set are a prefix of the real chunks.")


# ---------------------------------------------------------------------------------------------- small helpers

def percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 2) if values else None


def peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def process_peak_rss_mib(pid: int) -> float | None:
    """VmHWM (peak resident set) of another process, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def du_mib(path: Path) -> float:
    if not path.exists():
        return 0.0
    if path.is_file():
        return round(path.stat().st_size / 2**20, 2)
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 2)


def disk_usage(index_dir: Path) -> dict:
    catalog = sum(du_mib(index_dir / name) for name in ("catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm"))
    sizes = {"chroma": du_mib(index_dir / "chroma"), "bm25": du_mib(index_dir / "bm25"),
             "catalog_sqlite": round(catalog, 2)}
    sizes["total"] = round(sum(sizes.values()), 2)
    return sizes


def stop(proc: subprocess.Popen) -> None:
    """Terminate a server the bench started, killing it if it lingers."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(**extra: str) -> dict:
    return {**os.environ, **OFFLINE_ENV, **extra}


def settings_for(index_dir: Path, chroma_url: str | None = None):
    from qa.config import Settings

    return Settings(index_dir=index_dir, auto_index_examples=False, chroma_url=chroma_url)


def run_worker(step: str, **options) -> dict:
    """Run one step of this script in a fresh interpreter; its JSON result comes back through a file."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    result = WORK_DIR / f"worker-{step}-{os.getpid()}.json"
    result.unlink(missing_ok=True)
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", step, "--result", str(result)]
    for name, value in options.items():
        if value is not None:
            command += [f"--{name.replace('_', '-')}", str(value)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=child_env(), stdout=sys.stderr, check=False)
    if done.returncode != 0 or not result.exists():
        raise RuntimeError(f"worker {step} {options} failed (exit {done.returncode})")
    data = json.loads(result.read_text())
    result.unlink()
    data["process_seconds"] = round(time.perf_counter() - started, 2)
    return data


# ---------------------------------------------------------------------------------------------- the base set

def base_key() -> str:
    """Changes with what the base set depends on: the data, the model, the chunk size, the catalog schema.
    (Not with every edit of the chunker: the base set stands for real chunks and vectors; it measures cost.)"""
    from qa.store.catalog import SCHEMA_VERSION
    from qa.config import Settings

    settings = Settings()
    digest = hashlib.sha256()
    digest.update((SQUAD_DIR / "articles.jsonl").read_bytes())
    digest.update(f"{settings.embedding_model}|{settings.chunk_tokens}|{settings.max_chunk_tokens}|"
                  f"{SCHEMA_VERSION}".encode())
    return digest.hexdigest()[:16]


def worker_base(args) -> dict:
    """Ingest the squad articles for real and export their chunks and sentence vectors."""
    from qa.engine import Engine

    key = base_key()
    meta_path = BASE_DIR / "base.json"
    if meta_path.exists() and json.loads(meta_path.read_text()).get("key") == key:
        meta = json.loads(meta_path.read_text())
        return {**meta["stats"], "cached": True}
    shutil.rmtree(BASE_DIR, ignore_errors=True)
    BASE_DIR.mkdir(parents=True)
    corpus = BASE_DIR / "squad-articles.jsonl"
    corpus.write_text("".join(json.dumps({"id": a["id"], "title": a["title"], "text": a["text"]}) + "\n"
                              for a in map(json.loads, (SQUAD_DIR / "articles.jsonl").open())))
    engine = Engine(settings_for(BASE_DIR / "index"))
    engine.store.encoder.encode(["load the model first"])
    started = time.perf_counter()
    report = engine.ingest([corpus], progress=True)
    ingest_seconds = time.perf_counter() - started
    store = engine.store
    order = {json.loads(line)["id"]: i for i, line in enumerate(corpus.open())}
    stored = sorted(store.catalog.iter_chunks(), key=lambda s: (order.get(s.external_id, 1 << 30), s.chunk.index))
    articles, seen = [], set()
    for s in stored:
        if s.chunk.article_id not in seen:
            seen.add(s.chunk.article_id)
            a = store.catalog.article(s.chunk.article_id)
            articles.append({"id": s.chunk.article_id, "title": a.title, "text": a.text, "published": a.published,
                             "caption": a.caption, "external_id": a.external_id})
    chunks = [{"article_id": s.chunk.article_id, "index": s.chunk.index, "text": s.chunk.text,
               "start": s.chunk.start, "end": s.chunk.end, "section": s.chunk.section.value,
               "sentences": [list(span) for span in s.chunk.sentences]} for s in stored]
    sentence_ids = [sid for s in stored for sid in s.chunk.sentence_ids]
    vectors = store.vectors.get_vectors(sentence_ids)
    matrix = np.stack([vectors[sid] for sid in sentence_ids]).astype(np.float32)
    np.save(BASE_DIR / "vectors.npy", matrix)
    stats = {"articles": len(articles), "chunks": len(chunks), "sentence_vectors": len(sentence_ids),
             "embed_seconds": round(ingest_seconds, 2), "ingest_chunks_per_s": round(report.chunks_embedded / ingest_seconds, 2)}
    meta_path.write_text(json.dumps({"key": key, "stats": stats, "articles": articles, "chunks": chunks}))
    shutil.rmtree(BASE_DIR / "index", ignore_errors=True)
    return {**stats, "cached": False}


def load_base():
    from qa.schema import Chunk, Section

    meta = json.loads((BASE_DIR / "base.json").read_text())
    vectors = np.load(BASE_DIR / "vectors.npy")
    articles = {a["id"]: a for a in meta["articles"]}
    chunks = [Chunk(c["article_id"], c["index"], c["text"], c["start"], c["end"], Section(c["section"]),
                    tuple(tuple(s) for s in c["sentences"])) for c in meta["chunks"]]
    first_row = np.cumsum([0] + [len(c.sentences) for c in chunks])
    return articles, chunks, vectors, first_row


# ---------------------------------------------------------------------------------------------- building a size

def worker_build(args) -> dict:
    """An index of exactly `size` chunks from the base set (copies beyond it), written through the store."""
    from tqdm import tqdm

    from qa.schema import Article, Chunk
    from qa.store import Store

    articles, chunks, vectors, first_row = load_base()
    index_dir = Path(args.index)
    shutil.rmtree(index_dir, ignore_errors=True)
    store = Store(settings_for(index_dir, args.chroma_url))
    size, per_copy = args.size, len(chunks)
    timings = {"catalog": 0.0, "chroma_upsert": 0.0, "commit": 0.0}
    total_articles = total_vectors = 0
    started = time.perf_counter()
    with store.writing(purpose="bench/scale.py build"), tqdm(total=size, desc=f"build {size}", unit="chunk",
                                                             file=sys.stderr) as bar:
        copy = 0
        while copy * per_copy < size:
            take = chunks[: min(per_copy, size - copy * per_copy)]
            path = f"bench-scale/copy-{copy:04d}.jsonl"
            new_articles: dict[str, Article] = {}
            new_id: dict[str, str] = {}
            for c in take:
                if c.article_id not in new_id:
                    a = articles[c.article_id]
                    title = a["title"] if copy == 0 else f"{a['title']} (copy {copy})"
                    article = Article(a["text"], title, a["published"], path, None, None, a["caption"],
                                      a["external_id"] if copy == 0 else f"{a['external_id']}~{copy}")
                    new_id[c.article_id] = article.id
                    new_articles[article.id] = article
            new_chunks = [Chunk(new_id[c.article_id], c.index, c.text, c.start, c.end, c.section, c.sentences)
                          for c in take]
            t = time.perf_counter()
            store.catalog.begin_source(path, f"bench-scale-{copy}", list(new_articles.values()), new_chunks)
            timings["catalog"] += time.perf_counter() - t
            ids = [sid for c in new_chunks for sid in c.sentence_ids]
            rows = vectors[: first_row[len(take)]]
            meta = [{"source": path}] * len(ids)  # what Store._metadata gives an undated article
            t = time.perf_counter()
            store.vectors.upsert(ids, rows, meta)
            timings["chroma_upsert"] += time.perf_counter() - t
            t = time.perf_counter()
            store.catalog.finish_source(path)
            timings["catalog"] += time.perf_counter() - t
            total_articles += len(new_articles)
            total_vectors += len(ids)
            bar.update(len(take))
            copy += 1
        t = time.perf_counter()
        stamp = store.commit()
        timings["commit"] = time.perf_counter() - t
    seconds = time.perf_counter() - started
    assert stamp.chunks == size and stamp.vectors == total_vectors, (stamp, size, total_vectors)
    return {
        "chunks": size, "articles": total_articles, "sentence_vectors": total_vectors, "copies": copy,
        "build_seconds": round(seconds, 2),
        "build_split_seconds": {k: round(v, 2) for k, v in timings.items()},
        "chroma_vectors_per_s": round(total_vectors / timings["chroma_upsert"], 1) if timings["chroma_upsert"] else None,
        "build_peak_rss_mib": peak_rss_mib(),
        "load_after_build": load(),
    }


# ---------------------------------------------------------------------------------------------- measuring a size

def new_article_file(directory: Path, label: str, k: int, target_chars: int = 7_500) -> Path:
    """One new article of ~10 chunks: paragraphs of a squad article in a shuffled order, under a new title."""
    squad = [json.loads(line) for line in (SQUAD_DIR / "articles.jsonl").open()]
    rng = random.Random(f"{label}-{k}")
    source = squad[rng.randrange(len(squad))]
    paragraphs = [p for p in source["text"].split("\n\n") if p.strip()]
    rng.shuffle(paragraphs)
    picked, length = [], 0
    for p in paragraphs:
        if length >= target_chars:
            break
        picked.append(p)
        length += len(p)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"new-{label}-{k}.jsonl"
    path.write_text(json.dumps({"id": f"new-{label}-{k}", "title": f"{source['title']}, revisited ({label} #{k})",
                                "text": "\n\n".join(picked)}) + "\n")
    return path


class Split:
    """Time spent inside some methods while ingesting (wrapped for the bench only, restored afterwards)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._undo: list = []

    def wrap(self, owner, name: str, key: str) -> None:
        original = getattr(owner, name)
        seconds = self.seconds
        seconds.setdefault(key, 0.0)

        def timed(*a, **kw):
            t = time.perf_counter()
            try:
                return original(*a, **kw)
            finally:
                seconds[key] += time.perf_counter() - t

        self._undo.append((owner, name, vars(owner).get(name)))  # the raw attribute (a classmethod stays one)
        setattr(owner, name, timed)

    def restore(self) -> None:
        for owner, name, raw in reversed(self._undo):
            if raw is None:
                delattr(owner, name)
            else:
                setattr(owner, name, raw)
        self._undo.clear()


def add_one_article(engine, directory: Path, label: str, k: int, cold: bool = False) -> dict:
    from qa.store.lexical import LexicalIndex
    from qa.store import VectorIndex

    path = new_article_file(directory, label, k)
    store = engine.store
    split = Split()
    if cold:  # a fresh process: it opens the vector store and loads the committed BM25 index
        split.wrap(VectorIndex, "__init__", "chroma_open")
        split.wrap(LexicalIndex, "load", "bm25_load")
    split.wrap(store.encoder, "encode_spans", "embedding")
    split.wrap(VectorIndex, "upsert", "chroma_insert")
    split.wrap(LexicalIndex, "updated", "bm25_update")
    split.wrap(LexicalIndex, "save", "bm25_save")
    split.wrap(store, "commit", "commit")
    try:
        started = time.perf_counter()
        report = engine.ingest([path], progress=False)
        total = time.perf_counter() - started
    finally:
        split.restore()
    s = split.seconds
    opened = {"chroma_open_seconds": round(s["chroma_open"], 3), "bm25_load_seconds": round(s["bm25_load"], 3)} if cold else {}
    return {
        "chunks_embedded": report.chunks_embedded,
        "total_seconds": round(total, 3),
        "embedding_seconds": round(s["embedding"], 3),
        "beyond_embedding_seconds": round(total - s["embedding"], 3),
        "chroma_insert_seconds": round(s["chroma_insert"], 3),
        "commit_seconds": round(s["commit"], 3),
        "commit_bm25_update_seconds": round(s["bm25_update"], 3),
        "commit_bm25_save_seconds": round(s["bm25_save"], 3),
        "other_seconds": round(total - s["embedding"] - s["chroma_insert"] - s["commit"], 3),
        **opened,
    }


def worker_add(args) -> dict:
    """One new article into the index by a process that has just started (as `qa ingest` does), model loaded."""
    from qa.engine import Engine

    engine = Engine(settings_for(Path(args.index), args.chroma_url))
    started = time.perf_counter()
    engine.store.encoder.encode(["load the model"])
    model_seconds = time.perf_counter() - started
    return {"model_load_seconds": round(model_seconds, 2),
            **add_one_article(engine, WORK_DIR / "new-articles", f"{Path(args.index).name}-cold", 0, cold=True),
            "peak_rss_mib": peak_rss_mib()}


def cli_add(index_dir: Path) -> dict:
    """`python -m qa.faces.cli ingest --json` of one new article: the whole command, interpreter start to exit."""
    path = new_article_file(WORK_DIR / "new-articles", f"{index_dir.name}-cli", 0)
    env = child_env(QA_INDEX_DIR=str(index_dir), QA_AUTO_INDEX_EXAMPLES="false")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "qa.faces.cli", "ingest", "--json", str(path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"exit_code": done.returncode, "stderr": done.stderr[-1000:]}
    return {"exit_code": done.returncode, "wall_seconds": round(wall, 2), "report_seconds": round(report["seconds"], 2),
            "chunks_embedded": report["chunks_embedded"]}


def latency_summary(retrieval_ms: list[float], answer_ms: list[float], stages: dict[str, list[float]]) -> dict:
    beyond = [t - e for t, e in zip(answer_ms, stages.get("encode", []))]
    return {
        "retrieval_ms_p50": percentile(retrieval_ms, 50), "retrieval_ms_p95": percentile(retrieval_ms, 95),
        "answer_ms_p50": percentile(answer_ms, 50), "answer_ms_p95": percentile(answer_ms, 95),
        "answer_ms_p50_without_question_encoding": percentile(beyond, 50),
        "answer_stage_ms_p50": {k: percentile(v, 50) for k, v in stages.items()},
    }


VARIANTS = {
    "served": "as shipped: what the page, API, Slack and `qa ask` run (`engine.serve()`: QA_SERVE_THREADS torch "
              "and OpenBLAS threads)",
    "torch_default_threads": "torch and OpenBLAS at their defaults (one thread per core each): an Engine used as a "
                             "library, and the servers before engine.serve()",
    "torch_default_blas_one_thread": "torch at its default, OpenBLAS limited to one thread (threadpoolctl)",
    "served_blas_one_thread": "as served, and OpenBLAS limited to one thread (threadpoolctl)",
}


def worker_measure(args) -> dict:
    """Warm latencies, questions asked back to back (as on a busy server), in the VARIANTS, which take turns in
    blocks of a quarter of the questions (every variant gets each question; all see the same load drift).

    Why the thread counts matter: at 100k chunks BM25's `idf @ (per_term > 0)` product (qa/retrieval.py) is
    large enough for OpenBLAS to run it on its threads, which keep spinning for a while after it returns;
    torch's two threads then fight them for the two cores and the next question's encoding goes from ~13 ms
    to 100 ms or more (measured here: Chroma's query and get calls alone between two encodings do not do
    it, `OPENBLAS_NUM_THREADS=1` removes it). One torch thread, or one OpenBLAS thread, avoids it."""
    import torch

    from qa.engine import Engine

    engine = Engine(settings_for(Path(args.index), args.chroma_url))
    questions = [q["question"] for q in random.Random(0).sample(load_questions(), args.questions + 5)]
    default_threads = torch.get_num_threads()
    from threadpoolctl import threadpool_info

    default_blas = max([p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"] or [1])
    if hasattr(engine, "serve"):
        engine.serve()  # limits torch and OpenBLAS for the whole process: the variants below set both
    served_threads = torch.get_num_threads()
    started = time.perf_counter()
    engine.ask(questions[0])  # loads the model, BM25, the vector index
    first_answer_s = time.perf_counter() - started
    for q in questions[1:5]:
        engine.ask(q)
    try:
        from threadpoolctl import ThreadpoolController

        controller = ThreadpoolController()
    except ImportError:  # only the OpenBLAS variants need it
        controller = None
    runs = {"served": (served_threads, None), "torch_default_threads": (default_threads, default_blas)}
    if controller is not None:
        runs["torch_default_blas_one_thread"] = (default_threads, 1)
        runs["served_blas_one_thread"] = (served_threads, 1)
    samples = {name: ([], [], {}) for name in runs}
    asked = questions[5:]
    rounds = 4
    for r in range(rounds):
        for name, (threads, blas) in runs.items():
            # A pause first: pools that still spin from the previous block would slow this one.
            time.sleep(0.3)
            torch.set_num_threads(threads)
            retrieval_ms, answer_ms, stages = samples[name]
            with controller.limit(limits=blas, user_api="blas") if blas else contextlib.nullcontext():
                for q in asked[r::rounds]:  # back to back, as on a busy server
                    t = time.perf_counter()
                    engine.retriever.retrieve(q)
                    retrieval_ms.append((time.perf_counter() - t) * 1000)
                    t = time.perf_counter()
                    answer = engine.ask(q)
                    answer_ms.append((time.perf_counter() - t) * 1000)
                    for stage, ms in answer.timings_ms.items():
                        stages.setdefault(stage, []).append(ms)
    torch.set_num_threads(served_threads)
    result = {
        "questions": len(questions) - 5,
        "first_answer_cold_seconds": round(first_answer_s, 2),
        "torch_threads_default": default_threads,
        "torch_threads_served": served_threads,
        "openblas_threads_default": default_blas,
        "variants": {name: VARIANTS[name] for name in runs},
        **latency_summary(*samples["served"]),
        **{name: latency_summary(*samples[name]) for name in runs if name != "served"},
        "serving_peak_rss_mib": peak_rss_mib(),
        "load_during_queries": load(),
    }
    if args.add_articles:
        runs = [add_one_article(engine, WORK_DIR / "new-articles", f"{Path(args.index).name}-add", k)
                for k in range(args.add_articles)]
        result["add_one_article"] = {
            "runs": runs,
            "median_total_seconds": round(statistics.median(r["total_seconds"] for r in runs), 3),
            "median_embedding_seconds": round(statistics.median(r["embedding_seconds"] for r in runs), 3),
            "median_beyond_embedding_seconds": round(statistics.median(r["beyond_embedding_seconds"] for r in runs), 3),
        }
        result["peak_rss_mib_after_adding"] = peak_rss_mib()
    return result


# ---------------------------------------------------------------------------------------------- concurrency

def post(url: str, body: dict, timeout: float = 120.0) -> tuple[int, dict | None]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read())
        except ValueError:
            return exc.code, None


def wait_until(check, timeout: float, what: str, process: subprocess.Popen | None = None) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited ({process.returncode})")
        try:
            if check():
                return time.perf_counter() - started
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{what}: not ready after {timeout:.0f} s")


def fire(url: str, questions: list[str], clients: int, keep_going, max_per_client: int) -> dict:
    """`clients` threads, each asking in a loop while keep_going(i) (i: its request count) and under the cap."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(c: int) -> None:
        rng = random.Random(c)
        i = 0
        while i < max_per_client and keep_going(i):
            question = rng.choice(questions)
            t = time.perf_counter()
            try:
                status, body = post(url, {"question": question})
                problem = None if status == 200 and body and "answer" in body else f"HTTP {status}: {str(body)[:200]}"
            except Exception as exc:  # noqa: BLE001 (timeouts, refused connections: each one is an error)
                problem = f"{type(exc).__name__}: {exc}"[:200]
            ms = (time.perf_counter() - t) * 1000
            with lock:
                if problem:
                    errors.append(problem)
                else:
                    latencies.append(ms)
            i += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    return {
        "requests": len(latencies) + len(errors), "errors": len(errors), "error_samples": sorted(set(errors))[:5],
        "seconds": round(seconds, 2), "answers_per_s": round(len(latencies) / seconds, 2) if seconds else None,
        "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95), "max_ms": percentile(latencies, 100),
    }


def concurrency(index_dir: Path, clients: int, idle_requests: int, new_articles: int) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/ask"
    log_path = WORK_DIR / "server.log"
    env = child_env(QA_INDEX_DIR=str(index_dir), QA_PORT=str(port), QA_HOST="127.0.0.1",
                    QA_AUTO_INDEX_EXAMPLES="false")
    env.pop("QA_CHROMA_URL", None)
    questions = [q["question"] for q in random.Random(1).sample(load_questions(), 200)]
    result: dict = {"clients": clients, "server": "python app.py (uvicorn, JSON API POST /api/ask)",
                    "server_torch_threads": getattr(settings_for(index_dir), "serve_threads", None)}
    with log_path.open("w") as log:
        server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        result["server_ready_seconds"] = round(wait_until(lambda: post(url, {"question": questions[0]})[0] == 200,
                                                          300, "the API server", server), 2)
        fire(url, questions, clients, lambda i: True, 2)  # warm-up: every client once or twice
        result["load_before_idle"] = load()
        result["idle"] = fire(url, questions, clients, lambda i: True, idle_requests)

        files = [new_article_file(WORK_DIR / "new-articles", f"{index_dir.name}-concurrent", k)
                 for k in range(new_articles)]
        ingest_env = {k: v for k, v in env.items() if k != "QA_PORT"}
        started = time.perf_counter()
        ingest = subprocess.Popen([sys.executable, "-m", "qa.faces.cli", "ingest", "--json", *map(str, files)],
                                  cwd=ROOT, env=ingest_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ended: list[float] = []
        tail = 3.0  # keep asking a little after the commit: the server reloads its view on the next question

        def running(_i: int) -> bool:
            if ingest.poll() is None:
                return time.perf_counter() - started < 300
            if not ended:
                ended.append(time.perf_counter())
            return time.perf_counter() - ended[0] < tail

        result["load_before_ingest"] = load()
        during = fire(url, questions, clients, running, 10_000)
        out, err = ingest.communicate(timeout=60)
        result["during_ingest"] = during
        try:
            report = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            report = {"stdout": out[-500:], "stderr": err[-1000:]}
        result["ingest_process"] = {
            "command": f"python -m qa.faces.cli ingest --json <{new_articles} new articles>",
            "exit_code": ingest.returncode,
            "wall_seconds": round((ended[0] if ended else time.perf_counter()) - started, 2),
            "chunks_embedded": report.get("chunks_embedded"), "version": report.get("version"),
            "report_seconds": round(report["seconds"], 2) if isinstance(report.get("seconds"), float) else None,
            **({"problem": report} if "stdout" in report else {}),
        }
        # The server answers from the new articles once they are committed.
        status, body = post(url, {"question": "What is this article about?", "sources": [str(files[0])]})
        result["server_sees_new_articles"] = status == 200 and bool(body and body.get("passages"))
        result["server_peak_rss_mib"] = process_peak_rss_mib(server.pid)
        idle_p95, during_p95 = result["idle"]["p95_ms"], during["p95_ms"]
        result["p95_during_vs_idle"] = round(during_p95 / idle_p95, 2) if idle_p95 and during_p95 else None
    finally:
        stop(server)
    return result


# ---------------------------------------------------------------------------------------------- Chroma server

def chroma_server_run(size: int, questions: int) -> dict:
    chroma = ROOT / ".venv" / "bin" / "chroma"
    if not chroma.exists():
        return {"skipped": f"no chroma CLI at {chroma}"}
    path = WORK_DIR / "chroma-server-data"
    shutil.rmtree(path, ignore_errors=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = WORK_DIR / "chroma-server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen([str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                                  cwd=WORK_DIR, env=child_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        def alive() -> bool:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2) as response:
                return response.status == 200

        ready = wait_until(alive, 60, "the Chroma server", server)
        index_dir = WORK_DIR / f"index-{size}-chroma-server"
        build = run_worker("build", size=size, index=index_dir, chroma_url=url)
        measured = run_worker("measure", index=index_dir, chroma_url=url, questions=questions, add_articles=1)
        return {"chroma_url": "http://127.0.0.1:<free port> (chroma run --path <tmp>)", "ready_seconds": round(ready, 2),
                **build, **measured, "disk_mib": {**disk_usage(index_dir), "chroma_server_path": du_mib(path)},
                "chroma_server_peak_rss_mib": process_peak_rss_mib(server.pid)}
    finally:
        stop(server)
        shutil.rmtree(path, ignore_errors=True)
        shutil.rmtree(WORK_DIR / f"index-{size}-chroma-server", ignore_errors=True)


# ---------------------------------------------------------------------------------------------- the plot

def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    sizes = [s for s in result["sizes"] if "answer_ms_p50" in s]
    x = [s["chunks"] for s in sizes]
    server = result.get("chroma_server") or {}
    fig, grid = plt.subplots(2, 2, figsize=(12, 9), sharey=True)
    threads = sizes[0].get("torch_threads_served", "?"), sizes[0].get("torch_threads_default", "?")
    panels = ((grid[0][0], lambda s: s, f"as shipped: engine.serve(), {threads[0]} torch and OpenBLAS thread(s)"),
              (grid[0][1], lambda s: s.get("torch_default_threads", {}),
               f"torch and OpenBLAS defaults ({threads[1]} threads each)"),
              (grid[1][0], lambda s: s.get("served_blas_one_thread", {}), "as shipped + OpenBLAS on one thread"),
              (grid[1][1], lambda s: s.get("torch_default_blas_one_thread", {}),
               f"torch default ({threads[1]} threads) + OpenBLAS on one thread"))
    for ax, pick, title in panels:
        for key, label, style in (("answer_ms_p50", "full answer p50", "o-"), ("answer_ms_p95", "full answer p95", "o--"),
                                  ("retrieval_ms_p50", "retrieval p50", "s-"), ("retrieval_ms_p95", "retrieval p95", "s--"),
                                  ("answer_ms_p50_without_question_encoding", "answer p50 without question encoding", "^:")):
            ax.plot(x, [pick(s).get(key) for s in sizes], style, label=label)
        if "answer_ms_p50" in server:
            ax.plot([server["chunks"]], [pick(server).get("answer_ms_p50")], "D", color="black",
                    label="full answer p50, Chroma server")
        ax.axhline(TARGETS["answer_ms_p50_at_100k"], color="red", lw=0.8, ls=":", label="target: answer p50 ≤ 60 ms")
        ax.set_xscale("log")
        ax.set_xlabel("chunks in the index (log scale)")
        ax.set_ylabel("ms, one process, warm (log scale)")
        ax.set_title(title, fontsize=10)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_yticks([10, 20, 30, 50, 100, 200, 500])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"article-qa latency vs index size ({os.cpu_count()} CPU threads shared with other work)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------- main

def targets(result: dict) -> dict:
    at = {s["chunks"]: s for s in result["sizes"]}
    big = at.get(100_000)
    conc = result.get("concurrency") or {}
    out = {}
    value = big.get("answer_ms_p50") if big else None
    limit = TARGETS["answer_ms_p50_at_100k"]
    out["answer_ms_p50_at_100k"] = {"target": "<= 60 ms", "value": value, "met": None if value is None else value <= limit}
    for variant in ("torch_default_threads", "served_blas_one_thread", "torch_default_blas_one_thread"):
        other = (big.get(variant) or {}).get("answer_ms_p50") if big else None
        out["answer_ms_p50_at_100k"][f"value_{variant}"] = other
        out["answer_ms_p50_at_100k"][f"met_{variant}"] = None if other is None else other <= limit
    value = big["add_one_article"]["median_beyond_embedding_seconds"] if big and "add_one_article" in big else None
    out["add_article_beyond_embedding_at_100k"] = {
        "target": "<= 2 s beyond embedding it", "value": value,
        "met": None if value is None else value <= TARGETS["add_article_seconds_beyond_embedding_at_100k"]}
    during = conc.get("during_ingest") or {}
    out["concurrent_errors_during_ingest"] = {
        "target": 0, "value": during.get("errors") if during else None, "at_chunks": conc.get("chunks"),
        "met": None if not during else during["errors"] == 0 and (conc.get("idle") or {}).get("errors") == 0}
    ratio = conc.get("p95_during_vs_idle")
    out["concurrent_p95_during_ingest_vs_idle"] = {
        "target": "<= 3x idle", "value": ratio, "at_chunks": conc.get("chunks"),
        "met": None if ratio is None else ratio <= TARGETS["concurrent_p95_during_ingest_vs_idle"]}
    if big is None:
        for entry in (out["answer_ms_p50_at_100k"], out["add_article_beyond_embedding_at_100k"]):
            entry["note"] = "100k not run"
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--quick", action="store_true", help="1,000 chunks only (Chroma server at 1k too)")
    parser.add_argument("--out", help="also write the JSON here (the PNG goes next to it)")
    parser.add_argument("--questions", type=int, default=80)
    parser.add_argument("--add-articles", type=int, default=3, help="new articles added one at a time per size")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--idle-requests", type=int, default=15, help="requests per client while idle")
    parser.add_argument("--ingest-articles", type=int, default=3, help="new articles the concurrent ingest adds")
    parser.add_argument("--concurrency-max-size", type=int, default=100_000)
    parser.add_argument("--chroma-server-size", type=int, default=10_000)
    parser.add_argument("--skip-chroma-server", action="store_true")
    parser.add_argument("--skip-concurrency", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the bench indexes under bench/.cache/scale")
    # internal: one step in its own process
    parser.add_argument("--worker", choices=["base", "build", "measure", "add"], help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--index", help=argparse.SUPPRESS)
    parser.add_argument("--chroma-url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        data = {"base": worker_base, "build": worker_build, "measure": worker_measure,
                "add": worker_add}[args.worker](args)
        Path(args.result).write_text(json.dumps(data))
        return

    sizes = [1000] if args.quick else [int(s) for s in args.sizes.split(",")]
    server_size = 1000 if args.quick else args.chroma_server_size
    started = time.perf_counter()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    mem_total = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal:")), 0)
    result: dict = {
        "bench": "scale",
        "note": NOTE,
        "machine": {"cpu_threads": os.cpu_count(), "mem_gib": round(mem_total / 2**20, 1),
                    "shared": "the cores are shared with other work: see the load averages"},
        "load_at_start": load(),
    }
    result["base_set"] = run_worker("base")
    largest = max([s for s in sizes if s <= args.concurrency_max_size], default=None)
    result["sizes"] = []
    for size in sizes:
        index_dir = WORK_DIR / f"index-{size}"
        entry = run_worker("build", size=size, index=index_dir)
        entry["disk_mib"] = disk_usage(index_dir)
        entry.update(run_worker("measure", index=index_dir, questions=args.questions, add_articles=args.add_articles))
        entry["add_one_article_fresh_process"] = run_worker("add", index=index_dir)
        entry["add_one_article_cli"] = cli_add(index_dir)
        entry["disk_mib_after_adding"] = disk_usage(index_dir)
        result["sizes"].append(entry)
        if size == largest and not args.skip_concurrency:
            result["concurrency"] = {"chunks": size, **concurrency(index_dir, args.clients, args.idle_requests,
                                                                   args.ingest_articles)}
        if not args.keep:
            shutil.rmtree(index_dir, ignore_errors=True)
        print(f"[scale] {size} chunks done at {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    if not args.skip_chroma_server:
        result["chroma_server"] = chroma_server_run(server_size, args.questions)
    result["targets"] = targets(result)
    result["load_at_end"] = load()
    result["seconds"] = round(time.perf_counter() - started, 1)

    out = Path(args.out) if args.out else None
    png = out.with_suffix(".png") if out else WORK_DIR / "scale.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    plot(result, png)
    result["plot"] = str(png.relative_to(ROOT)) if png.is_relative_to(ROOT) else str(png)
    text = json.dumps(result, indent=2)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
