"""What reading quotes, speakers, people and dates (qa/news) costs at ingest, beside what embedding costs.

Reads every article of a JSONL corpus (default: the squad-v2-dev articles; `--corpus` any JSONL of ours,
such as bench/.cache/news-2025-n150-s0.jsonl that bench/news.py writes), one spaCy parse each, and prints
JSON: articles/s, characters/s, the time per 1,000 words, quotes and people found, and the share of the
text read (pages longer than qa.news.facts.MAX_CHARS are read in part).

    python bench/news_facts.py [--corpus FILE.jsonl] [--limit 200]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from common import ROOT, SQUAD_DIR, emit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=SQUAD_DIR / "articles.jsonl")
    parser.add_argument("--limit", type=int, default=200)
    args = parser.parse_args()
    from tqdm import tqdm

    from qa.news.facts import MAX_CHARS, extract
    from qa.news.nlp import pipeline

    articles = [json.loads(line) for line in args.corpus.open(encoding="utf-8")][: args.limit]
    started = time.perf_counter()
    pipeline()
    load_seconds = time.perf_counter() - started
    seconds, words, chars, read, quotes, people = [], 0, 0, 0, 0, 0
    for article in tqdm(articles, desc="reading quotes", unit="article"):
        text = article["text"]
        began = time.perf_counter()
        facts = extract(text, article.get("published"))
        seconds.append(time.perf_counter() - began)
        words += len(text.split())
        chars += len(text)
        read += min(len(text), MAX_CHARS)
        quotes += len(facts.quotes)
        people += len(facts.people)
    total = sum(seconds)
    emit({
        "corpus": str(args.corpus.relative_to(ROOT.parent) if args.corpus.is_relative_to(ROOT.parent) else args.corpus),
        "articles": len(articles),
        "pipeline_load_seconds": round(load_seconds, 2),
        "seconds": round(total, 1),
        "articles_per_second": round(len(articles) / total, 2),
        "characters_per_second": round(read / total),
        "seconds_per_1000_words": round(total / (words / 1000), 3),
        "seconds_per_article_p50": round(float(np.percentile(seconds, 50)), 3),
        "seconds_per_article_p95": round(float(np.percentile(seconds, 95)), 3),
        "share_of_text_read": round(read / chars, 3),
        "quotes": quotes,
        "people": people,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    })


if __name__ == "__main__":
    main()
