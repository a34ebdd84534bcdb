"""The `qa` command, run as a user runs it (subprocess), against a temporary index."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import start_chroma, stop
from conftest import ROOT, make_settings
from qa.engine import Engine


def run_qa(args, index_dir: Path, stdin: str | None = None, **env_extra):
    env = dict(os.environ, QA_INDEX_DIR=str(index_dir), **env_extra)
    return subprocess.run(
        [sys.executable, "-m", "qa.faces.cli", *args], env=env, cwd=ROOT, input=stdin, capture_output=True, text=True,
        timeout=600,
    )


def test_ask_indexes_the_samples_on_first_use_and_prints_json(tmp_path: Path):
    result = run_qa(["ask", "--json", "What did Sullivan convey?"], tmp_path / "index")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["abstained"] is False and len(data["citations"]) >= 2
    assert {c["published"] for c in data["citations"]} == {"2021-05-12"}

    human = run_qa(["ask", "What is the population of Gaza?"], tmp_path / "index")
    assert human.returncode == 0 and human.stdout.startswith("The articles don't say")
    typo = run_qa(["ask", "What did Sulivan convey?"], tmp_path / "index")
    assert typo.returncode == 0 and typo.stdout.startswith("(searched for: What did Sullivan convey?)\n")
    assert "Sullivan" in typo.stdout.split("\n", 2)[2] and "[1]" in typo.stdout
    assert "searched for" not in run_qa(["ask", "What did Sullivan convey?"], tmp_path / "index").stdout


def test_ask_reads_questions_from_stdin(tmp_path: Path):
    result = run_qa(["ask", "-"], tmp_path / "index", stdin="What did Sullivan convey?\n\nWho will travel to Israel?\n")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["question"] for d in lines] == ["What did Sullivan convey?", "Who will travel to Israel?"]
    assert "Hady Amr" in lines[1]["answer"]


def test_ingest_reports_bad_files_and_exit_status(tmp_path: Path, sample_articles: Path):
    (sample_articles / "bad.txt").write_bytes(b"\x00\x00binary")
    (sample_articles / "notes.xyz").write_text("ignored in folders")
    index = tmp_path / "index"
    result = run_qa(["ingest", "-q", str(sample_articles), str(tmp_path / "nope.txt")], index)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2
    assert any("bad.txt: binary file" in e for e in errors) and any("nope.txt: no such file" in e for e in errors)
    assert "2 file(s) ingested" in result.stderr and "1 file(s) of unsupported type skipped" in result.stderr
    again = run_qa(["ingest", "-q", str(sample_articles / "000_8e03b75251222fb2.txt")], index)
    assert again.returncode == 0 and "1 unchanged" in again.stderr


def test_terminal_output_neutralises_escape_sequences(tmp_path: Path):
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "evil.txt").write_text(
        "Title: Harbor \x1b[31mred\x1b[0m news\n\nThe harbor master \x1b]0;pwned\x07 resigned on Friday after the audit.\n"
    )
    index = tmp_path / "index"
    assert run_qa(["ingest", "-q", str(folder)], index, QA_AUTO_INDEX_EXAMPLES="false").returncode == 0
    result = run_qa(["ask", "Why did the harbor master resign?"], index, QA_AUTO_INDEX_EXAMPLES="false")
    assert result.returncode == 0 and "\x1b" not in result.stdout and "resigned" in result.stdout



@pytest.fixture
def chroma_server(tmp_path: Path):
    """A real Chroma server on 127.0.0.1 (the `chroma` CLI that ships with chromadb)."""
    proc, url = start_chroma(tmp_path / "server-data")
    yield url
    stop(proc)


def test_chroma_server_via_url(chroma_server: str, tmp_path: Path, sample_articles: Path):
    settings = make_settings(tmp_path / "index", chroma_url=chroma_server)
    engine = Engine(settings)
    report = engine.ingest([sample_articles], progress=False)
    assert report.chunks_embedded > 0
    assert not settings.chroma_dir.exists()  # vectors went to the server, not to disk here
    import chromadb

    port = int(chroma_server.rsplit(":", 1)[1])
    client = chromadb.HttpClient(host="127.0.0.1", port=port)
    assert client.get_collection("articles").count() == len(engine.store.catalog.sentence_id_set())
    answer = engine.ask("What did Sullivan convey?")
    assert not answer.abstained and any("sustainable calm" in c.quote for c in answer.citations)
    assert engine.ingest([sample_articles], progress=False).chunks_embedded == 0


def test_feedback_export_writes_gold_candidates(tmp_path: Path, sample_engine):
    from qa.feedback import Rating

    index = tmp_path / "index"
    engine = Engine(make_settings(index))
    engine.feedback.record(sample_engine.ask("Who will travel to Israel?"), Rating.DOWN, "web", "ann")
    engine.feedback.record(sample_engine.ask("What did Sullivan convey?"), Rating.UP, "slack", "bo")
    out = tmp_path / "candidates.jsonl"
    result = run_qa(["feedback", "export", "--out", str(out)], index)
    assert result.returncode == 0, result.stderr
    (candidate,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert candidate["question"] == "Who will travel to Israel?" and candidate["answers"] == []
    assert candidate["feedback"]["user"] == "ann" and candidate["evidence_article_ids"]
    every = run_qa(["feedback", "export", "--rating", "all"], index)
    assert len(every.stdout.splitlines()) == 2
    from qa.gold import load_gold

    assert load_gold(out).questions[0].question == "Who will travel to Israel?"  # qa eval reads it


@pytest.mark.parametrize("args, field", [
    (["ask", "   "], "question: empty question"),
    (["ask", "--from", "2021-13-45", "q?"], "--from: '2021-13-45' is not a real calendar date"),
    (["ask", "--from", "9999-99-99", "q?"], "--from: '9999-99-99' is not a real calendar date"),
    (["ask", "--to", "2021-5-1", "q?"], "--to: '2021-5-1' is not a date in the form YYYY-MM-DD"),
    (["ask", "--to", "yesterday", "q?"], "--to: 'yesterday' is not a date"),
    (["ask", "-k", "0", "q?"], "-k: 0 is out of range"),
    (["ask", "-k", "9" * 5000, "q?"], "invalid int value"),
])
def test_bad_arguments_get_one_line_and_exit_status_2(tmp_path: Path, args, field):
    result = run_qa(args, tmp_path / "index", QA_AUTO_INDEX_EXAMPLES="false")
    assert result.returncode == 2 and field in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "index" / "commit.json").exists()  # refused before anything was loaded or indexed


def test_undecodable_question_bytes_are_refused(tmp_path: Path):
    env = dict(os.environ, QA_INDEX_DIR=str(tmp_path / "index"), QA_AUTO_INDEX_EXAMPLES="false")
    argv = subprocess.run([sys.executable.encode(), b"-m", b"qa.faces.cli", b"ask", b"What \xff\xfe?"], env=env, cwd=ROOT,
                          capture_output=True, timeout=300)
    assert argv.returncode == 2 and b"unpaired surrogate" in argv.stderr and b"Traceback" not in argv.stderr
    lines = subprocess.run([sys.executable, "-m", "qa.faces.cli", "ask", "-"], env=env, cwd=ROOT, capture_output=True,
                           input=b"What \xff?\n   \nWhat did the council decide?\n", timeout=300)
    assert lines.returncode == 2 and b"Traceback" not in lines.stderr, lines.stderr
    out = [json.loads(line) for line in lines.stdout.splitlines()]
    assert out[0]["line"] == 1 and "unpaired surrogate" in out[0]["error"]
    assert out[1]["question"] == "What did the council decide?" and out[1]["abstained"] is True
