"""Feeds and syndicated copies (issue 10). Prints one JSON object (and writes it to --out).

A local news site (tests/news_site.py, on 127.0.0.1) serves 200 article pages made of squad-v2-dev
paragraphs (one Wikipedia paragraph group per page, with a title, a byline, a date, a site name and the
usual menus and footers around it) and an RSS feed of them, summaries only. Measured:

- `qa watch FEED --once`: the real command on a fresh index (process start and model load included), and
  the same round in this process split into fetching (200 pages, a few at a time) and storing (parsing,
  chunking, embedding, commit): articles/s for each;
- a poll of the unchanged feed (a 304): its cost;
- the time from a new feed item to its first answerable question: `qa watch --every N` runs in its own
  process; this process asks the question again and again (a reader over the same index, as the page
  is) from the moment the item is in the feed until an answer cites it; a few items, one after another;
- near-duplicate detection: precision and recall on bench/neardup.py's labelled set (squad paragraph groups
  and the sample articles, with small edits, against hard negatives and template stories);
- the index size saved: the 200 pages plus 100 wire copies of them (small edits, bench/neardup.py's
  edited_copy, under other URLs and another site name) ingested with QA_NEAR_DUPLICATES on and off.

    .venv/bin/python bench/feeds.py [--pages 200] [--copies 100] [--every 5] [--items 3] [--out bench/results/feeds.json]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from common import SQUAD_DIR  # noqa: E402
from news_site import FeedItem, NewsSite  # noqa: E402
import neardup  # noqa: E402

ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
       "GRADIO_ANALYTICS_ENABLED": "False"}


def pages_from_squad(count: int, seed: int) -> list[dict]:
    groups = neardup.squad_groups(SQUAD_DIR, seed)
    rng = random.Random(seed)
    chosen = rng.sample(groups, min(count, len(groups)))
    return [{"slug": f"story-{i:03d}", "title": f"{g['source'].replace('_', ' ')}: report {i}",
             "paragraphs": g["text"].split("\n\n"), "published": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}"}
            for i, g in enumerate(chosen)]


def serve(site: NewsSite, pages: list[dict], prefix: str, feed: str, site_name: str) -> str:
    items = []
    for page in pages:
        link = site.put_article(f"/{prefix}/{page['slug']}.html", page["title"], page["paragraphs"],
                                author="Staff reporter", published=page["published"], site_name=site_name)
        items.append(FeedItem(f"{prefix}-{page['slug']}", link, page["title"], page["published"],
                              "A short summary of the story."))
    return site.set_feed(feed, items)


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def qa_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "qa.faces.cli", *args]


def child_env(index: Path, **extra: str) -> dict:
    return {**os.environ, **ENV, "QA_INDEX_DIR": str(index), "QA_AUTO_INDEX_EXAMPLES": "false", **extra}


def watch_throughput(site: NewsSite, feed: str, pages: int, work: Path) -> dict:
    from qa.config import Settings
    from qa.engine import Engine

    # 1. The real command, all in.
    index = work / "cli"
    started = time.perf_counter()
    done = subprocess.run(qa_command("watch", feed, "--once", "--json", "--quiet"), cwd=ROOT,
                          env=child_env(index), capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - started
    report = json.loads(done.stdout.strip().splitlines()[-1])
    cli = {"exit_status": done.returncode, "pages_ingested": report["pages_ingested"], "wall_s": round(wall, 2),
           "articles_per_s": round(report["pages_ingested"] / wall, 2), "chunks_embedded": report["chunks_embedded"]}
    # 2. In this process (model loaded first): fetching vs storing.
    engine = Engine(Settings(index_dir=work / "inproc", auto_index_examples=False))
    engine.store.encoder.encode(["warm up"])
    from qa.sources.feeds import Harvester

    started = time.perf_counter()
    with engine.fetcher() as fetcher:
        harvest = Harvester(engine.store.catalog, fetcher, workers=engine.settings.fetch_workers).collect([feed])
    fetch_s = time.perf_counter() - started
    from qa.ingest import Ingestor

    started = time.perf_counter()
    stored = Ingestor(engine.store).run([], progress=False, harvest=harvest)
    store_s = time.perf_counter() - started
    started = time.perf_counter()
    quiet = engine.ingest([feed], progress=False)
    poll_s = time.perf_counter() - started
    return {
        "qa_watch_once": cli,
        "in_process": {
            "pages": len(harvest.documents), "errors": len(harvest.errors),
            "fetch_s": round(fetch_s, 2), "fetch_pages_per_s": round(len(harvest.documents) / fetch_s, 1),
            "store_s": round(store_s, 2), "store_articles_per_s": round(stored.pages_ingested / store_s, 2),
            "chunks_embedded": stored.chunks_embedded,
            "chunks_per_s": round(stored.chunks_embedded / store_s, 1),
            "articles_per_s": round(stored.pages_ingested / (fetch_s + store_s), 2),
        },
        "unchanged_poll": {"s": round(poll_s, 3), "not_modified": quiet.feeds_not_modified,
                           "pages_fetched": quiet.pages_fetched},
    }


FRESH = ["Tarnwick", "Ulverby", "Vexham", "Wendlecote", "Yarrowby"]


def time_to_answer(site: NewsSite, feed: str, items: int, every: float, work: Path) -> dict:
    from qa.config import Settings
    from qa.engine import Engine

    index = work / "live"
    base = site.put_article("/live/base.html", "Base story", ["The council of Oldham Cross met on Monday and "
                                                              "agreed to open the market on Sundays, after "
                                                              "months of debate among residents."] * 2)
    listed = [FeedItem("live-base", base, "Base story", "2025-01-01", "Summary.")]
    site.set_feed("/live/feed.xml", listed)
    live_feed = site.url("/live/feed.xml")
    log = (work / "watch.log").open("w")
    proc = subprocess.Popen(qa_command("watch", live_feed, "--every", f"{every}s", "--quiet"), cwd=ROOT,
                            env=child_env(index), stdout=log, stderr=subprocess.STDOUT)
    reader = Engine(Settings(index_dir=index, auto_index_examples=False))
    try:
        deadline = time.monotonic() + 600
        while not (index / "commit.json").exists():
            assert proc.poll() is None and time.monotonic() < deadline, (work / "watch.log").read_text()
            time.sleep(0.2)
        reader.serve()
        times = []
        for town in FRESH[:items]:
            fact = f"the {town} glassworks will reopen with ninety new jobs"
            link = site.put_article(f"/live/{town.lower()}.html", f"{town} council decision", [
                f"The council of {town} announced on Monday that {fact}, after a vote that followed months of "
                f"debate among residents of {town}.",
                f"Mayor Elin Hart of {town} said the decision would help families and shops in {town}."],
                published="2025-03-04", site_name="Valley News")
            listed.append(FeedItem(f"live-{town}", link, f"{town} council decision", "2025-03-04", "Summary."))
            time.sleep(every * random.random())  # the item appears at a random moment of the poll cycle
            site.set_feed("/live/feed.xml", listed)
            added = time.perf_counter()
            while True:
                answer = reader.ask(f"What did the council of {town} announce on Monday?")
                if not answer.abstained and any(f"{town} glassworks" in c.quote for c in answer.citations):
                    break
                assert time.perf_counter() - added < 600, "never answerable"
                time.sleep(0.1)
            times.append(round(time.perf_counter() - added, 2))
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return {"poll_every_s": every, "seconds": times, "mean_s": round(sum(times) / len(times), 2),
            "max_s": max(times),
            "note": "from the item's appearance in the feed to the first answer citing it, in a reader process "
                    "over the same index; at most one poll interval is waiting for the next poll"}


def size_saved(site: NewsSite, pages: list[dict], copies: int, seed: int, work: Path) -> dict:
    from qa.config import Settings
    from qa.engine import Engine

    rng = random.Random(seed)
    vocabulary = [w for p in pages for para in p["paragraphs"] for w in para.split()]
    originals = rng.sample(pages, min(copies, len(pages)))
    wire = []
    for page in originals:
        donors = ["\n\n".join(p["paragraphs"]) for p in rng.sample(pages, 3) if p is not page]
        text, _ = neardup.edited_copy("\n\n".join(page["paragraphs"]), donors, vocabulary, rng)
        wire.append({**page, "title": "WIRE: " + page["title"], "paragraphs": text.split("\n\n")})
    originals_feed = site.url("/feed.xml")
    wire_feed = serve(site, wire, "wire", "/wire/feed.xml", "Wire Service")
    result = {}
    for mode, enabled in (("merged", True), ("stored_twice", False)):
        engine = Engine(Settings(index_dir=work / f"size-{mode}", auto_index_examples=False, near_duplicates=enabled))
        first = engine.ingest([originals_feed], progress=False)
        started = time.perf_counter()
        second = engine.ingest([wire_feed], progress=False)
        catalog = engine.store.catalog
        result[mode] = {"index_bytes": du(work / f"size-{mode}"), "articles": catalog.count_articles(),
                        "chunks": catalog.count_chunks(), "vectors": engine.store.vectors.count(),
                        "copies_recorded": second.copies, "wire_ingest_s": round(time.perf_counter() - started, 2),
                        "errors": len(first.errors) + len(second.errors)}
    merged, twice = result["merged"], result["stored_twice"]
    result["copies_served"] = len(wire)
    result["copies_detected_share"] = round(merged["copies_recorded"] / len(wire), 4)
    result["bytes_saved"] = twice["index_bytes"] - merged["index_bytes"]
    result["share_saved"] = round(1 - merged["index_bytes"] / twice["index_bytes"], 4)
    result["chunks_saved"] = twice["chunks"] - merged["chunks"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--copies", type=int, default=100)
    parser.add_argument("--every", type=float, default=5.0, help="poll interval of the live measurement (s)")
    parser.add_argument("--items", type=int, default=3, help="new items timed in the live measurement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "feeds.json"))
    args = parser.parse_args()
    os.environ.update(ENV)
    pages = pages_from_squad(args.pages, args.seed)
    result = {"pages": len(pages), "words_per_page": round(sum(len(" ".join(p["paragraphs"]).split())
                                                              for p in pages) / len(pages), 1),
              "machine": f"{os.cpu_count()} cores"}
    with tempfile.TemporaryDirectory() as tmp, NewsSite() as site:
        work = Path(tmp)
        feed = serve(site, pages, "news", "/feed.xml", "Daily Bench")
        result["watch"] = watch_throughput(site, feed, len(pages), work)
        result["new_item_to_answer"] = time_to_answer(site, feed, args.items, args.every, work)
        result["near_duplicates"] = {k: v for k, v in neardup.evaluate(SQUAD_DIR, ROOT / "examples" / "articles",
                                                                        seed=args.seed, sweep=False).items()
                                     if k in ("precision", "recall", "f1", "threshold", "counts", "by_kind",
                                              "targets", "meets_targets")}
        result["index_size"] = size_saved(site, pages, args.copies, args.seed, work)
    text = json.dumps(result, indent=2)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
