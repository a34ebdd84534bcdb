"""Shared by the benchmark scripts: the squad-v2-dev data, fixed splits and samples, cached indexes."""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SQUAD_DIR = ROOT.parent / "shared" / "bench" / "squad-v2-dev"
CACHE_DIR = ROOT / "bench" / ".cache"

# Out-of-corpus abstention (issue 3): index 25 articles, ask questions of these 10, which are absent.
OOC_HELDOUT = [
    "Sky_(United_Kingdom)", "Amazon_rainforest", "Packet_switching", "Pharmacy", "Construction",
    "Jacksonville,_Florida", "Prime_number", "Islamism", "Warsaw", "Force",
]
# Abstention calibration holds out 10 *other* articles, so the bench never scores the data it was fitted on.
CALIBRATION_HELDOUT = [
    "Normans", "Southern_California", "Oxygen", "European_Union_law", "Ctenophora",
    "Black_Death", "Civil_disobedience", "Harvard_University", "Yuan_dynasty", "Rhine",
]


def load_articles() -> list[dict]:
    return [json.loads(line) for line in (SQUAD_DIR / "articles.jsonl").open()]


def load_questions() -> list[dict]:
    return [json.loads(line) for line in (SQUAD_DIR / "questions.jsonl").open()]


def benchmark_sample(questions: list[dict], per_type: int = 1000, seed: int = 0) -> list[dict]:
    """The fixed bench sample: `per_type` answerable + `per_type` unanswerable questions, seed 0."""
    rng = random.Random(seed)
    answerable = [q for q in questions if q["type"] == "answerable"]
    unanswerable = [q for q in questions if q["type"] == "unanswerable"]
    return rng.sample(answerable, per_type) + rng.sample(unanswerable, per_type)


def engine_for(article_ids: list[str] | None, name: str, progress: bool = False):
    """An Engine over a subset of the squad articles (all when None), its index cached under bench/.cache."""
    from qa.config import Settings
    from qa.engine import Engine

    articles = load_articles()
    if article_ids is not None:
        wanted = set(article_ids)
        articles = [a for a in articles if a["id"] in wanted]
    index_dir = CACHE_DIR / name
    corpus = CACHE_DIR / f"{name}.jsonl"
    index_dir.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps({"id": a["id"], "title": a["title"], "text": a["text"]}) + "\n" for a in articles)
    if not corpus.exists() or corpus.read_text() != text:
        corpus.write_text(text)
    engine = Engine(Settings(index_dir=index_dir, auto_index_examples=False))
    engine.ingest([corpus], progress=progress)
    return engine, corpus


def emit(result: dict) -> None:
    print(json.dumps(result, indent=2))
