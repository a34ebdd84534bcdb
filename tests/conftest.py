"""Fixtures: the real embedding model and real Chroma, in temporary index folders."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

for name, value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
}.items():
    os.environ[name] = value

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "articles"
sys.path.insert(0, str(ROOT))

from qa.config import Settings  # noqa: E402
from qa.engine import Engine  # noqa: E402


def make_settings(index_dir: Path, **overrides) -> Settings:
    return Settings(index_dir=index_dir, auto_index_examples=False, **overrides)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "index")


@pytest.fixture
def engine(settings: Settings) -> Engine:
    return Engine(settings)


@pytest.fixture(scope="session")
def sample_engine(tmp_path_factory) -> Engine:
    """The two sample articles, ingested once for the whole session (read-only use)."""
    base = tmp_path_factory.mktemp("samples")
    articles = base / "articles"
    shutil.copytree(EXAMPLES, articles)
    engine = Engine(make_settings(base / "index"))
    report = engine.ingest([articles], progress=False)
    assert not report.errors and report.files_ingested == 2
    return engine


@pytest.fixture
def sample_articles(tmp_path: Path) -> Path:
    target = tmp_path / "articles"
    shutil.copytree(EXAMPLES, target)
    return target
