"""The real server while the index is being written: `python app.py` on 127.0.0.1 over the real embedding
model and Chroma, a real `qa ingest` in another process, and a page upload ingested by the server's own
child process. Questions must keep being answered (200, never a 500, never blocked by the writer), from the
last commit only, and the new articles must be answerable, with citations, once their ingest commits,
without restarting the server."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT
from helpers import start_app, stop

# Made-up towns, so that a question names exactly one article and no other text mentions it.
BASE = ["Quillby", "Rostock Vale", "Sandmere"]
NEW = ["Tarnwick", "Ulverby", "Vexham", "Wendlecote", "Yarrowby", "Zelford",
       "Ambleside Cross", "Brackwater", "Cindervale", "Dorminster", "Eskerholt", "Fallowmere"]
UPLOADED = ["Glimmerton", "Harrowgate Fen", "Ironbridge Moor", "Juniper Hollow", "Kestrel Bay", "Larkspur"]
FACTS = ["opened a new library", "repaired the old bridge", "held a cheese festival", "planted four hundred trees",
         "closed the tram depot", "painted the town hall", "bought two electric buses", "built a skate park"]
REQUEST_TIMEOUT = 90  # seconds for one question, on cores shared with an ingest (and other test runs)


def articles(folder: Path, towns: list[str], paragraphs: int) -> list[Path]:
    """One article per town, `paragraphs` long paragraphs of town facts (about 5 chunks for 2 paragraphs)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, town in enumerate(towns):
        body = [f"The town of {town} had a busy spring, and its council met every week to plan it."]
        for p in range(paragraphs):
            body.append(" ".join(f"In week {p * len(FACTS) + j} the council of {town} {fact} near the {town} "
                                 f"market square, and residents of {town} came to watch."
                                 for j, fact in enumerate(FACTS)))
        body.append(f"Residents of {town} said the {town} river flooded twice.")
        path = folder / f"{town.lower().replace(' ', '-')}.txt"
        path.write_text(f"Title: News from {town}\nDate: 2024-04-{i + 1:02d}\n\n" + "\n\n".join(body) + "\n")
        paths.append(path)
    return paths


def question(town: str) -> str:
    return f"What did the council of {town} do near the market square?"


def ask(url: str, text: str) -> tuple[int, dict | str, float]:
    """POST /api/ask: (status, JSON body or raw text, seconds); an HTTP error is returned, not raised."""
    request = urllib.request.Request(f"{url}/api/ask", data=json.dumps({"question": text}).encode(), method="POST",
                                     headers={"content-type": "application/json"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
            status, raw = response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read().decode(errors="replace")
    seconds = time.perf_counter() - started
    try:
        return status, json.loads(raw), seconds
    except ValueError:
        return status, raw, seconds


def cites(answer: dict, town: str) -> bool:
    return not answer["abstained"] and any(town in c["quote"] and c["title"] == f"News from {town}"
                                           for c in answer["citations"])


def cited_towns(answer: dict, towns: list[str]) -> set[str]:
    return {t for t in towns for c in answer.get("citations", []) if c["title"] == f"News from {t}"}


def commit_version(index: Path) -> int:
    return json.loads((index / "commit.json").read_text())["version"]


def wait_for_writer(index: Path, still_running, timeout: float = 180) -> float:
    """Until the writer lock's note appears (seconds waited); fails if the writer finished first."""
    started = time.monotonic()
    while not (index / "writer.json").exists():
        assert still_running(), "the writer finished before the test saw it take the writer lock"
        assert time.monotonic() - started < timeout, "no writer took the lock"
        time.sleep(0.05)
    return time.monotonic() - started


class Server:
    """The real app.py over an index in tmp/index whose samples are tmp/base; started and answering."""

    def __init__(self, tmp: Path):
        self.tmp, self.index = tmp, tmp / "index"
        self.proc, self.url, self.log_path = start_app(
            tmp, dict(QA_INDEX_DIR=str(self.index), QA_EXAMPLES_DIR=str(tmp / "base"),
                      GRADIO_TEMP_DIR=str(tmp / "gradio")), timeout=240)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def assert_clean_log(self) -> None:
        text = self.log_text()
        assert "Traceback" not in text and "unexpected error" not in text, f"server log:\n{text[-6000:]}"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for the module, started on an empty index whose samples are the BASE towns (indexed at
    start, as on a fresh install)."""
    tmp = tmp_path_factory.mktemp("live-server")
    articles(tmp / "base", BASE, paragraphs=1)
    srv = Server(tmp)
    try:
        for town in BASE:
            status, answer, _ = ask(srv.url, question(town))
            assert status == 200 and cites(answer, town), (status, answer, srv.log_text()[-4000:])
        yield srv
    finally:
        stop(srv.proc)


def test_server_keeps_answering_while_another_process_ingests_then_answers_about_it(server: Server):
    new = articles(server.tmp / "new", NEW, paragraphs=2)
    before = commit_version(server.index)
    out = open(server.tmp / "ingest-1.log", "w")
    env = dict(os.environ, QA_INDEX_DIR=str(server.index), QA_AUTO_INDEX_EXAMPLES="false")
    writer = subprocess.Popen([sys.executable, "-m", "qa.faces.cli", "ingest", "-q", *map(str, new)], cwd=ROOT, env=env,
                              stdout=out, stderr=subprocess.STDOUT)
    asked: list[tuple[str, int, float, int]] = []  # (town, status, seconds, commit version after the answer)
    problems: list[str] = []
    try:
        wait_for_writer(server.index, lambda: writer.poll() is None)
        deadline = time.monotonic() + 240
        turn = 0
        while writer.poll() is None:
            assert time.monotonic() < deadline, "the ingest ran for more than 4 minutes"
            # Alternately a committed article (must be answered) and one being ingested (must not be
            # answered from uncommitted rows or vectors while the old commit is the last one).
            town = BASE[turn % len(BASE)] if turn % 2 == 0 else NEW[turn % len(NEW)]
            turn += 1
            committed = commit_version(server.index) > before  # the new articles' commit is out already
            status, answer, seconds = ask(server.url, question(town))
            version = commit_version(server.index)
            asked.append((town, status, seconds, version))
            if status != 200 or not isinstance(answer, dict):
                problems.append(f"{town}: HTTP {status}: {answer}")
            elif town in BASE and not cites(answer, town):
                problems.append(f"{town} (committed) not answered: {answer['answer']!r}")
            elif version == before and cited_towns(answer, NEW):
                problems.append(f"{town}: cites {cited_towns(answer, NEW)} before their ingest committed")
            elif committed and town in NEW and not cites(answer, town):
                problems.append(f"{town}: not answered although its commit was out (stale): {answer['answer']!r}")
            time.sleep(0.1)  # leave the shared cores to the writer too
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait(timeout=30)
        out.close()
    ingest_log = (server.tmp / "ingest-1.log").read_text()
    assert writer.returncode == 0, ingest_log
    during = [a for a in asked if a[3] == before]
    print(f"\n{len(asked)} questions while the ingest ran ({len(during)} before its commit, "
          f"{len(asked) - len(during)} after it); "
          f"slowest {max((a[2] for a in asked), default=0):.1f}s; {ingest_log.strip()}")
    assert problems == [], "\n".join(problems) + "\n" + server.log_text()[-6000:]
    assert sum(1 for a in during if a[0] in BASE) >= 2, f"too few questions while the writer held the lock: {asked}"

    assert commit_version(server.index) > before
    for town in (NEW[5], NEW[-1], BASE[0]):  # the same server, not restarted, now answers from the new commit
        status, answer, _ = ask(server.url, question(town))
        assert status == 200 and cites(answer, town), (town, status, answer)
        assert not cited_towns(answer, [t for t in NEW + BASE if t != town])
    server.assert_clean_log()


def test_a_question_during_a_page_upload_answers_before_the_upload_ends(server: Server):
    from gradio_client import Client, handle_file

    files = articles(server.tmp / "to-upload", UPLOADED, paragraphs=2)
    uploader = Client(server.url + "/", verbose=False)
    reader = Client(server.url + "/", verbose=False)  # another visitor of the page
    before = commit_version(server.index)
    job = uploader.submit([handle_file(str(p)) for p in files], api_name="/add_files")
    try:
        waited = wait_for_writer(server.index, lambda: not job.done())
        holder = json.loads((server.index / "writer.json").read_text())
        assert holder["pid"] != server.proc.pid  # the server's child ingest holds it, not the server

        started = time.perf_counter()
        status, answer, api_seconds = ask(server.url, question(BASE[1]))
        assert status == 200 and cites(answer, BASE[1]), (status, answer)
        assert not job.done(), "the upload ended before the API answered: the test did not overlap them"

        chat = reader.submit(question(BASE[2]), [], 5, "", "", [], "Answer with quotes", api_name="/chat")
        messages, sources, _ = chat.result(timeout=REQUEST_TIMEOUT)
        chat_seconds = time.perf_counter() - started - api_seconds
        reply = messages[-1]["content"]
        reply = reply[0]["text"] if isinstance(reply, list) else reply
        assert f"News from {BASE[2]}" in sources and BASE[2] in reply, (reply, sources)
        assert "[\\[1\\]](#source-1)" in reply
        assert not job.done(), "the upload ended before the page answered: the test did not overlap them"
        assert commit_version(server.index) == before  # answered while the upload was uncommitted

        log, table, *_ = job.result(timeout=300)
    finally:
        if not job.done():
            job.cancel()
        uploader.close()
        reader.close()
    print(f"\nlock taken {waited:.1f}s after submit; API answered in {api_seconds:.1f}s, page chat in "
          f"{chat_seconds:.1f}s, both during the upload; upload: {log}")
    assert f"{len(files)} file(s) ingested" in log and "❌" not in log, log
    titles = [row[0] for row in table["data"]]
    assert all(f"News from {town}" in titles for town in UPLOADED), titles
    assert commit_version(server.index) > before

    uploads = (server.index / "uploads").resolve()
    for town in (UPLOADED[0], UPLOADED[3]):
        status, answer, _ = ask(server.url, question(town))
        assert status == 200 and cites(answer, town), (town, status, answer)
        sources = {Path(c["source"]).resolve().parent for c in answer["citations"] if c["title"] == f"News from {town}"}
        assert sources == {uploads}, sources
    server.assert_clean_log()
