"""RealTimeQA (2025 weeks): real news-quiz questions over the news pages a web search returned for them.

The data is not ours (github.com/realtimeqa/realtimeqa_public states no license): nothing of it is committed;
`--data` names a local copy, either the repository's git directory (blobs read with `git cat-file`, no work
tree needed) or a folder holding its files. Only `past/2025/` is read: the 2026 weeks are kept for release
checks and must not be read, tuned on or sampled.

Per week `past/2025/YYYYMMDD_qa.jsonl` holds the questions (question_id, question_date, question_source,
question_url, question_sentence, choices, answer = [index of the right choice], evidence) and
`YYYYMMDD_gcs.jsonl` the Google custom search results of each (question_id, search_time, search_result =
[{url, title, text, authors, publish_date}]); `_qa_nota.jsonl` (a "none of the above" variant) is not used.

A sample of questions (default 150, seed 0) is taken; the pages of all of them are indexed together in a
fresh index (each question's pages are distractors for the others), one article per page (duplicate URLs
and identical pages stored once); each question is asked alone, as a user would (the choices are not shown).
The gold answer is the text of the right choice.

- hit@k: a top-k passage comes from one of the question's own pages (or a syndicated copy of one that the
  engine stored once) and contains the gold answer (loose, case-insensitive match); any_page_hit@5: a top-5
  passage contains it, whatever page it comes from;
- answer recall: the answer text contains the gold answer (an abstention never does);
- exact match / F1 of `answer.short_answer` (None counts as "");
- overall, on the questions whose answer appears in their pages, and on those with no page at all;
- and on those whose pages hold the answer *in context* ("answer_in_context"): in a sentence that also
  holds at least CONTEXT_WORDS of the question's content words. "Appears in their pages" is loose: "16"
  for Sinner's winning streak appears as "Round of 16" in a broadcast schedule, "Canada" in a list of an
  airport's destinations; no retriever can be expected to rank such a passage for the question. Both
  subsets are reported. The filter is mechanical; it also drops a few questions whose answer sentence
  words the question differently, and keeps a few coincidences;
- and on those whose answer is in context in a page *of the time* ("answer_in_current_pages": published in
  the CURRENT_DAYS up to the quiz date). A weekly quiz asks about that week's news; a search run when the
  quiz came out returns pages of every year on the topic, and an older page that holds the answer string in
  context is often about an earlier event (a 2021 storm's "winter storms", a 2015 "word of the year"). These
  are the questions that a live index of the news of the time could answer;
- the naive LangChain baseline measured in the same run on the same pages: RecursiveCharacterTextSplitter
  (1000, 200) + the same encoder + Chroma.similarity_search; its answer is the top-cosine sentence of its
  top 5 chunks (it never abstains).

    python bench/news.py --data /path/to/realtimeqa_public[.git] [--sample 150] [--seed 0] [--skip-baseline]
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
from common import CACHE_DIR, ROOT, emit

YEAR = "2025"  # the only year read: 2026 is held out for release checks
CONTEXT_WORDS = 2  # answer_in_context: the question's content words (stems) in the sentence with the answer
CURRENT_DAYS = 30  # answer_in_current_pages: ... in a page published in the days up to the quiz date
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n+")
RESULT = ROOT / "bench" / "results" / "news.json"


# ---------------------------------------------------------------- data

def _is_git_dir(path: Path) -> bool:
    return (path / "HEAD").is_file() and (path / "objects").is_dir()


def _read_git(git_dir: Path) -> tuple[dict[str, str], str]:
    """{name: text} of the past/<YEAR>/ files at HEAD of a bare git directory, and the commit."""
    git = ["git", "--git-dir", str(git_dir)]
    commit = subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True,
                            text=True).stdout.strip()
    listing = subprocess.run(git + ["ls-tree", "HEAD", f"past/{YEAR}/"], check=True, capture_output=True,
                             text=True).stdout
    entries = []  # (blob sha, file name)
    for line in listing.splitlines():
        meta, name = line.split("\t", 1)
        _, kind, sha = meta.split()
        if kind == "blob" and name.startswith(f"past/{YEAR}/") and name.endswith(".jsonl"):
            entries.append((sha, name.rsplit("/", 1)[1]))
    batch = subprocess.run(git + ["cat-file", "--batch"], input="".join(f"{sha}\n" for sha, _ in entries).encode(),
                           check=True, capture_output=True).stdout
    files, at = {}, 0
    for sha, name in entries:
        header_end = batch.index(b"\n", at)
        got, _, size = batch[at:header_end].decode().split()
        assert got == sha, (got, sha)
        start = header_end + 1
        files[name] = batch[start : start + int(size)].decode("utf-8")
        at = start + int(size) + 1
    return files, commit


def _read_folder(folder: Path) -> tuple[dict[str, str], str | None]:
    """{name: text} of the <YEAR> files of an extracted copy: its past/<YEAR>/ folder, or the folder itself."""
    base = folder / "past" / YEAR if (folder / "past" / YEAR).is_dir() else folder
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(base.glob(f"{YEAR}*.jsonl"))}
    commit = None
    if (folder / ".git").exists():
        probe = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], check=False, capture_output=True, text=True)
        commit = probe.stdout.strip() or None
    return files, commit


def load(data: Path) -> tuple[list[dict], str | None]:
    """The <YEAR> questions, each with its gold answer and its search-result pages; and the data commit."""
    from qa.evaluation import contains
    from qa.sources.articles import html_fragment_to_text

    files, commit = _read_git(data) if _is_git_dir(data) else _read_folder(data)
    files = {n: t for n, t in files.items() if n.startswith(YEAR)}  # never anything but the held-in year
    searches: dict[str, dict] = {}
    for name, text in files.items():
        if name.endswith("_gcs.jsonl"):
            for line in text.splitlines():
                if line.strip():
                    record = json.loads(line)
                    searches[record["question_id"]] = record
    questions = []
    for name in sorted(files):
        if not name.endswith("_qa.jsonl"):  # _qa_nota.jsonl: the "none of the above" variant, not used
            continue
        for line in files[name].splitlines():
            if not line.strip():
                continue
            q = json.loads(line)
            search = searches.get(q["question_id"], {})
            pages = [p for p in search.get("search_result") or [] if (p.get("text") or "").strip()]
            answer = q["choices"][int(q["answer"][0])]
            # 35 of THE WEEK's questions carry the quiz page's markup (<a href=...>UK</a>): the quiz shows
            # its text, and that is what a reader would ask
            question = html_fragment_to_text(q["question_sentence"])
            questions.append({
                "id": q["question_id"],
                "question": question,
                "answer": answer,
                "date": _iso(q.get("question_date")),
                "source": q.get("question_source"),
                "pages": pages,
                "answer_in_pages": any(contains(f"{p.get('title') or ''}\n{p['text']}", answer) for p in pages),
                "answer_in_context": in_context(question, answer, pages),
                "answer_in_current_pages": in_context(question, answer, current(pages, q.get("question_date"))),
            })
    if not questions:
        sys.exit(f"no {YEAR} questions found in {data} (expected past/{YEAR}/*_qa.jsonl)")
    return questions, commit


def in_context(question: str, answer: str, pages: list[dict]) -> bool:
    """Does a sentence of the pages hold the answer and CONTEXT_WORDS of the question's other content words?"""
    from qa.evaluation import contains
    from qa.store.lexical import tokenize

    words = set(tokenize(question)) - set(tokenize(answer))
    for page in pages:
        for sentence in _SENTENCE_BREAK.split(f"{page.get('title') or ''}\n{page['text']}"):
            if contains(sentence, answer) and len(words & set(tokenize(sentence))) >= CONTEXT_WORDS:
                return True
    return False


def current(pages: list[dict], quiz_date: str | None, days: int = CURRENT_DAYS) -> list[dict]:
    """The pages published in the `days` up to the quiz date (its day included): the news of the time."""
    day = _iso(quiz_date)
    if day is None:
        return []
    end = dt.date.fromisoformat(day)
    start = end - dt.timedelta(days=days)
    return [p for p in pages if (published := _iso(p.get("publish_date"))) and
            start <= dt.date.fromisoformat(published) <= end]


def _iso(raw: str | None) -> str | None:
    """'2025/01/03' or '2025-01-03' (possibly with a time) as YYYY-MM-DD; None when absent or unreadable."""
    match = re.match(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})", raw or "")
    return f"{match[1]}-{int(match[2]):02d}-{int(match[3]):02d}" if match else None


def build_pages(sample: list[dict]) -> tuple[list[dict], dict[str, set[str]]]:
    """One article per distinct page of the sample (same URL, or same title, date and text: stored once),
    and for each page id the questions whose search returned it."""
    by_key: dict[str, dict] = {}
    serves: dict[str, set[str]] = {}
    for q in sample:
        own = set()
        for page in q["pages"]:
            text, title, published = page["text"], (page.get("title") or "").strip(), _iso(page.get("publish_date"))
            url = page.get("url") or None
            content = hashlib.sha256("\x00".join((title, published or "", text)).encode()).hexdigest()
            key = next((k for k in (f"url:{url}" if url else None, f"content:{content}") if k and k in by_key), None)
            if key is None:
                pid = "rtqa-" + hashlib.sha1((url or content).encode()).hexdigest()[:12]
                article = {"id": pid, "title": title or None, "text": text, "published": published, "url": url,
                           "source": urlparse(url).netloc if url else None}
                if page.get("authors"):
                    article["author"] = ", ".join(page["authors"])
                by_key[f"content:{content}"] = article
                if url:
                    by_key[f"url:{url}"] = article
            else:
                article = by_key[key]
            own.add(article["id"])
            serves.setdefault(article["id"], set()).add(q["id"])
        q["page_ids"] = own
    pages = list({a["id"]: a for a in by_key.values()}.values())
    return pages, serves


# ---------------------------------------------------------------- metrics

def summarize(rows: list[dict]) -> dict:
    def mean(key):
        values = [r[key] for r in rows if r.get(key) is not None]
        return round(float(np.mean(values)), 4) if values else None

    out = {"questions": len(rows)}
    for key in ("hit@1", "hit@5", "any_page_hit@5", "answer_recall", "exact_match", "f1", "abstained"):
        if any(key in r for r in rows):
            out["abstention_rate" if key == "abstained" else key] = mean(key)
    latencies = [r["latency_ms"] for r in rows]
    out["latency_ms_p50"] = round(float(np.percentile(latencies, 50)), 1) if latencies else None
    return out


def groups(rows: list[dict]) -> dict:
    return {
        "overall": summarize(rows),
        "answer_in_pages": summarize([r for r in rows if r["answer_in_pages"]]),
        "answer_in_context": summarize([r for r in rows if r.get("answer_in_context")]),
        "answer_in_current_pages": summarize([r for r in rows if r.get("answer_in_current_pages")]),
        "no_pages": summarize([r for r in rows if not r["has_pages"]]),
    }


def passage_rows(q: dict, hits: list[tuple[set[str], str]]) -> dict:
    """hit@1 / hit@5 / any_page_hit@5 from the ranked (page ids, text) of the passages."""
    from qa.evaluation import contains

    answer = q["answer"]
    rank = next((i for i, (ids, text) in enumerate(hits, 1) if ids & q["page_ids"] and contains(text, answer)), None)
    return {
        "hit@1": float(rank == 1),
        "hit@5": float(rank is not None and rank <= 5),
        "any_page_hit@5": float(any(contains(text, answer) for _, text in hits[:5])),
    }


# ---------------------------------------------------------------- our engine

def run_engine(sample: list[dict], pages: list[dict], name: str, fresh: bool = False) -> tuple[list[dict], dict]:
    """Our engine on the pages: the index is kept between runs over the same pages (`fresh`: rebuilt), so
    that a run after a change to reading or ranking costs the questions, not 25 minutes of embedding."""
    from tqdm import tqdm

    from qa.config import Settings
    from qa.engine import Engine
    from qa.evaluation import contains, exact_match, token_f1

    index_dir = CACHE_DIR / name
    corpus = CACHE_DIR / f"{name}.jsonl"
    content = "".join(json.dumps({k: v for k, v in a.items() if v is not None}) + "\n" for a in pages)
    marker = index_dir / "corpus.sha256"
    digest = hashlib.sha256(content.encode()).hexdigest()
    if fresh or not marker.exists() or marker.read_text() != digest:
        shutil.rmtree(index_dir, ignore_errors=True)  # a fresh index for new pages (or on request)
    index_dir.mkdir(parents=True, exist_ok=True)
    corpus.write_text(content)

    engine = Engine(Settings(index_dir=index_dir, auto_index_examples=False))
    started = time.perf_counter()
    report = engine.ingest([corpus], progress=True)
    ingest_seconds = time.perf_counter() - started
    marker.write_text(digest)
    catalog = engine.store.catalog
    url_to_page = {a["url"]: a["id"] for a in pages if a.get("url")}
    copies_cache: dict[str, set[str]] = {}

    def page_ids(passage) -> set[str]:
        """The pages a passage stands for: its article's, and the syndicated copies stored as it."""
        aid = passage.article_id
        if aid not in copies_cache:
            copies = catalog.copies_of([aid]).get(aid, [])
            copies_cache[aid] = {url_to_page[c.url] for c in copies if c.url in url_to_page}
        return copies_cache[aid] | ({passage.external_id} if passage.external_id else set())

    engine.ask(sample[0]["question"], as_of=sample[0]["date"])  # warm-up (lazy loads), not timed
    rows = []
    for q in tqdm(sample, desc="asking (engine)", unit="question"):
        started = time.perf_counter()
        answer = engine.ask(q["question"], as_of=q["date"])  # as a reader on the day of the quiz
        latency = (time.perf_counter() - started) * 1000
        row = {"id": q["id"], "answer_in_pages": q["answer_in_pages"], "answer_in_context": q["answer_in_context"],
               "answer_in_current_pages": q["answer_in_current_pages"], "has_pages": bool(q["page_ids"]),
               "latency_ms": latency, "abstained": float(answer.abstained)}
        row.update(passage_rows(q, [(page_ids(p), p.chunk.text) for p in answer.passages]))
        row["answer_recall"] = float(not answer.abstained and contains(answer.text or "", q["answer"]))
        short = answer.short_answer or ""
        row["exact_match"] = exact_match(short, [q["answer"]])
        row["f1"] = token_f1(short, [q["answer"]])
        row["look"] = {"question": q["question"], "date": q["date"], "gold": q["answer"], "short": short,
                       "answer": answer.text, "query": answer.query}  # for a closer look (never in the JSON)
        rows.append(row)
    index = {
        "pages": len(pages),
        "articles_ingested": report.articles_ingested,
        "syndicated_copies_stored_once": report.copies,
        "identical_pages_stored_once": report.duplicates,
        "chunks": report.chunks_embedded,
        "errors": len(report.errors),
        "ingest_seconds": round(ingest_seconds, 1),
        "chunks_per_second": round(report.chunks_embedded / ingest_seconds, 1) if ingest_seconds else None,
    }
    return rows, index


# ---------------------------------------------------------------- naive LangChain baseline

def run_baseline(sample: list[dict], pages: list[dict]) -> tuple[list[dict], dict]:
    """bench/squad.py's naive_baseline on these pages: the LangChain tutorial setup, same encoder."""
    import chromadb
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter
    from tqdm import tqdm

    from qa.chunking import split_sentences
    from qa.config import Settings
    from qa.embedding import get_encoder
    from qa.evaluation import contains, exact_match, token_f1
    from qa.retrieval import LangChainEmbeddings

    encoder = get_encoder(Settings().embedding_model)
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    documents = [Document(page_content=piece, metadata={"page": a["id"]})
                 for a in pages for piece in splitter.split_text(a["text"])]
    started = time.perf_counter()
    store = Chroma(client=chromadb.EphemeralClient(), collection_name="naive-news",
                   embedding_function=LangChainEmbeddings(encoder))
    with tqdm(total=len(documents), desc="embedding (baseline)", unit="chunk") as bar:
        for i in range(0, len(documents), 256):
            store.add_documents(documents[i : i + 256])
            bar.update(len(documents[i : i + 256]))
    index_seconds = time.perf_counter() - started

    rows = []
    for q in tqdm(sample, desc="asking (baseline)", unit="question"):
        started = time.perf_counter()
        docs = store.similarity_search(q["question"], k=5)
        sentences = [d.page_content[s.start : s.end] for d in docs for s in split_sentences(d.page_content)]
        vectors = encoder.encode(sentences) if sentences else None
        best = sentences[int(np.argmax(vectors @ encoder.encode([q["question"]])[0]))] if sentences else ""
        latency = (time.perf_counter() - started) * 1000
        row = {"id": q["id"], "answer_in_pages": q["answer_in_pages"], "answer_in_context": q["answer_in_context"],
               "answer_in_current_pages": q["answer_in_current_pages"], "has_pages": bool(q["page_ids"]),
               "latency_ms": latency, "abstained": 0.0}
        row.update(passage_rows(q, [({d.metadata["page"]}, d.page_content) for d in docs]))
        row["answer_recall"] = float(contains(best, q["answer"]))
        row["exact_match"] = exact_match(best, [q["answer"]])  # the whole sentence: never a short answer
        row["f1"] = token_f1(best, [q["answer"]])
        rows.append(row)
    return rows, {"chunks": len(documents), "index_seconds": round(index_seconds, 1)}


# ---------------------------------------------------------------- main

def _git(*args: str) -> str | None:
    probe = subprocess.run(["git", "-C", str(ROOT), *args], check=False, capture_output=True, text=True)
    # rstrip, not strip: a porcelain status line begins with a space (" M qa/engine.py")
    return probe.stdout.rstrip() if probe.returncode == 0 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True,
                        help="realtimeqa_public: its git directory or an extracted copy (only past/2025 is read)")
    parser.add_argument("--sample", type=int, default=150, help="questions sampled from the 2025 weeks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--fresh", action="store_true", help="rebuild our index even if the pages are unchanged")
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    os.environ.setdefault("QA_AUTO_INDEX_EXAMPLES", "false")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    run_started = time.perf_counter()

    questions, data_commit = load(args.data)
    questions.sort(key=lambda q: q["id"])
    sample = random.Random(args.seed).sample(questions, min(args.sample, len(questions)))
    pages, _ = build_pages(sample)
    name = f"news-{YEAR}-n{len(sample)}-s{args.seed}"

    dirty = [line[3:] for line in (_git("status", "--porcelain", "--", "qa") or "").splitlines()]
    result = {
        "data": {
            "set": f"RealTimeQA, {YEAR} weeks (past/{YEAR}/*_qa.jsonl + *_gcs.jsonl)",
            "data_commit": data_commit,
            "questions_in_year": len(questions),
            "answer_in_pages_in_year": sum(q["answer_in_pages"] for q in questions),
            "answer_in_context_in_year": sum(q["answer_in_context"] for q in questions),
            "answer_in_current_pages_in_year": sum(q["answer_in_current_pages"] for q in questions),
            "no_pages_in_year": sum(1 for q in questions if not q["pages"]),
        },
        "sample": {
            "questions": len(sample),
            "seed": args.seed,
            "answer_in_pages": sum(q["answer_in_pages"] for q in sample),
            "answer_in_context": sum(q["answer_in_context"] for q in sample),
            "answer_in_current_pages": sum(q["answer_in_current_pages"] for q in sample),
            "no_pages": sum(1 for q in sample if not q["page_ids"]),
            "by_source": _count(q["source"] for q in sample),
        },
        "code_commit": _git("rev-parse", "HEAD"),
        "code_uncommitted": dirty,  # files under qa/ with uncommitted changes when it ran
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],  # 2 cores shared with other jobs
    }
    rows, index = run_engine(sample, pages, name, fresh=args.fresh)
    result["index"] = index
    result["engine"] = groups(rows)
    baseline_cache = CACHE_DIR / f"{name}.baseline.json"  # the baseline does not change with our code
    if not args.skip_baseline and baseline_cache.exists() and not args.fresh:
        base_rows, base_index = json.loads(baseline_cache.read_text())
        of = {q["id"]: q for q in sample}  # rows cached before the subset fields
        for row in base_rows:
            row["answer_in_context"] = of[row["id"]]["answer_in_context"]
            row["answer_in_current_pages"] = of[row["id"]]["answer_in_current_pages"]
    elif not args.skip_baseline:
        base_rows, base_index = run_baseline(sample, pages)
        baseline_cache.write_text(json.dumps([base_rows, base_index]))
    if not args.skip_baseline:
        result["naive_baseline"] = {"index": base_index, **groups(base_rows)}
        result["naive_baseline"]["note"] = ("answer = top-cosine sentence of its top 5 chunks; exact_match / f1 "
                                            "score that sentence; it never abstains")
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["seconds"] = round(time.perf_counter() - run_started, 1)
    rows_path = CACHE_DIR / f"{name}.rows.json"  # per-question rows, for a closer look (not committed)
    rows_path.write_text(json.dumps({"engine": rows, "naive_baseline": base_rows if not args.skip_baseline else None}))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    emit(result)


def _count(values) -> dict:
    counts: dict = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


if __name__ == "__main__":
    main()
