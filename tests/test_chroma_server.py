"""The same index on a real Chroma server (`chroma run` on 127.0.0.1): ingest, answer, check, two processes,
and a server that goes down: one clear line naming the URL (CLI exit 5, HTTP 503), never a traceback."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, make_settings
from helpers import start_chroma, stop
from qa.engine import Engine
from qa.errors import VectorStoreUnavailable
from test_live_index import TOWNS, answers_about, corpus

@pytest.fixture
def chroma(tmp_path: Path):
    proc, url = start_chroma(tmp_path / "chroma-server")
    yield url, proc
    stop(proc)


def run_qa(index: Path, url: str, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, QA_INDEX_DIR=str(index), QA_CHROMA_URL=url, QA_AUTO_INDEX_EXAMPLES="false")
    return subprocess.run([sys.executable, "-m", "qa.faces.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_ingest_answer_and_check_on_a_chroma_server(chroma, tmp_path: Path):
    url, _ = chroma
    index = tmp_path / "index"
    reader = Engine(make_settings(index, chroma_url=url))
    assert reader.ingest([corpus(tmp_path / "a", TOWNS[:2])], progress=False).errors == []
    assert answers_about(reader, TOWNS[0])
    assert not (index / "chroma").exists()  # the vectors live on the server
    writer = run_qa(index, url, "ingest", "-q", str(corpus(tmp_path / "b", TOWNS[2:4])))
    assert writer.returncode == 0, writer.stderr
    assert answers_about(reader, TOWNS[3])  # another process's commit, seen without a restart
    check = run_qa(index, url, "check")
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_chroma_server_that_is_down_gets_one_clear_line(chroma, tmp_path: Path):
    url, proc = chroma
    index = tmp_path / "index"
    engine = Engine(make_settings(index, chroma_url=url))
    engine.ingest([corpus(tmp_path / "a", TOWNS[:1])], progress=False)
    stop(proc)
    with pytest.raises(VectorStoreUnavailable, match=url):
        engine.ask("What did the council of Arlen do?")
    for args in (["ask", "What did the council of Arlen do?"], ["ingest", "-q", str(tmp_path / "a")], ["check"]):
        result = run_qa(index, url, *args)
        assert result.returncode in (1, 5) and "Traceback" not in result.stderr, result.stderr
        assert url in result.stdout + result.stderr
    asked = run_qa(index, url, "ask", "What did the council of Arlen do?")
    assert asked.returncode == 5
    assert asked.stderr.strip().splitlines()[-1].startswith(f"error: The Chroma server at {url} is not reachable")

    from fastapi.testclient import TestClient

    from qa.faces.web import build_api

    api = TestClient(build_api(engine), raise_server_exceptions=False)
    response = api.post("/api/ask", json={"question": "What did the council of Arlen do?"})
    assert response.status_code == 503 and url in response.json()["message"]
