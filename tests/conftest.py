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


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """llama.cpp's OpenAI-compatible server (`python -m llama_cpp.server`) on 127.0.0.1 with SmolLM2-135M
    (models/, assembled by `make test`); its /v1 URL. Tests pin what it writes with a grammar
    (helpers.forced)."""
    import subprocess

    from helpers import free_port, stop, wait_until_up

    model = ROOT / "models" / "smollm2-135m.gguf"
    if not model.is_file():
        pytest.fail(f"{model} is missing: `make models` (part of `make test`) assembles it with `qa llm install`")
    log = tmp_path_factory.mktemp("llama") / "server.log"
    port = free_port()
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
                                 "--port", str(port), "--n_ctx", "2048", "--n_threads", "1"],
                                stdout=out, stderr=subprocess.STDOUT)
    wait_until_up(proc, f"http://127.0.0.1:{port}/v1/models", log, timeout=120, what="llama_cpp.server")
    yield f"http://127.0.0.1:{port}/v1"
    stop(proc)
