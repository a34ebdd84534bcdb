"""The live, safe index: one writer at a time across processes, readers that never wait and never go stale,
duplicates stored once, damage detected by `qa check` and mended by `--repair`, and kill -9 at any moment."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import unicodedata
from pathlib import Path

import pytest

from conftest import EXAMPLES, ROOT, make_settings
from qa.engine import Engine
from qa.errors import IndexBusyError, IndexDamagedError

TOWNS = ["Arlen", "Brisk", "Corvo", "Dunmore", "Elsby", "Fenwick", "Garrow", "Holt"]
FACTS = ["opened a new library", "repaired the old bridge", "elected a mayor named {name}",
         "held a cheese festival", "planted four hundred trees", "closed the tram depot"]


def corpus(folder: Path, towns: list[str]) -> Path:
    """Small distinct articles, one town each: every one can be asked about by name."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, town in enumerate(towns):
        facts = " ".join(f"In {town}, the council {f.format(name=town + 'ia Ross')} in week {j}."
                         for j, f in enumerate(FACTS))
        (folder / f"{town.lower()}.txt").write_text(
            f"Title: News from {town}\nDate: 2024-03-{i + 1:02d}\n\n"
            f"The town of {town} had a busy spring. {facts}\n\n"
            f"Residents of {town} said the {town} river flooded twice.\n")
    return folder


def env_for(index: Path, **extra) -> dict:
    return dict(os.environ, QA_INDEX_DIR=str(index), QA_AUTO_INDEX_EXAMPLES="false", **extra)


def qa(index: Path, *args, timeout=600, **extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa.faces.cli", *args], env=env_for(index, **extra), cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def answers_about(engine: Engine, town: str) -> bool:
    answer = engine.ask(f"What did the council of {town} do?")
    return not answer.abstained and any(town in c.quote for c in answer.citations)


def wait_for_writer(index: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not (index / "writer.json").exists():
        assert proc.poll() is None, "the writer ended before it took the lock"
        assert time.time() < deadline, "the writer never took the lock"
        time.sleep(0.05)


# ---------------------------------------------------------------- one writer, many readers

def test_two_concurrent_ingests_take_turns_and_every_question_answers(tmp_path: Path):
    index = tmp_path / "index"
    first = corpus(tmp_path / "first", TOWNS[:4])
    second = corpus(tmp_path / "second", TOWNS[4:])
    a = subprocess.Popen([sys.executable, "-m", "qa.faces.cli", "ingest", "-q", str(first)], env=env_for(index),
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_writer(index, a)
    busy = qa(index, "ingest", "-q", "--no-wait", str(second))
    assert busy.returncode == 3 and "being written by pid" in busy.stderr and "Traceback" not in busy.stderr
    b = qa(index, "ingest", "-q", str(second))  # waits its turn, then ingests
    _, a_err = a.communicate(timeout=600)
    assert a.returncode == 0, a_err
    assert b.returncode == 0, b.stderr
    assert "waiting for the index" in b.stderr and f"pid {a.pid}" in b.stderr
    check = qa(index, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    engine = Engine(make_settings(index))
    assert engine.store.catalog.count_articles() == len(TOWNS)
    assert all(answers_about(engine, town) for town in TOWNS)


OPEN_AT_ONCE = """
import sys, time
from pathlib import Path
from qa.store.catalog import Catalog
folder, start = Path(sys.argv[1]), float(sys.argv[2])
for k in range(30):  # thirty new catalogs, every process opening each one at the same instant
    while time.time() < start + 0.1 * k:
        pass
    catalog = Catalog(folder / f"c{k}" / "catalog.sqlite")
    assert catalog.count_articles() == 0
    catalog.close()
"""


def test_processes_opening_a_new_catalog_at_the_same_instant_all_open_it(tmp_path: Path):
    """Switching a new catalog to WAL takes an exclusive lock that SQLite refuses at once, without its busy
    timeout, to a second opener: CI saw one of two `qa ingest` runs die of "database is locked"."""
    start = time.time() + 4
    procs = [subprocess.Popen([sys.executable, "-c", OPEN_AT_ONCE, str(tmp_path), str(start)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    for k in range(30):
        with sqlite3.connect(tmp_path / f"c{k}" / "catalog.sqlite") as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("SELECT COUNT(*) FROM meta WHERE key = 'schema_version'").fetchone()[0] == 1


def test_the_same_file_twice_at_once(tmp_path: Path):
    index = tmp_path / "index"
    folder = corpus(tmp_path / "c", TOWNS[:2])
    procs = [subprocess.Popen([sys.executable, "-m", "qa.faces.cli", "ingest", "-q", str(folder)], env=env_for(index),
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=600) + (p.returncode,) for p in procs]
    for _, err, code in results:
        assert code == 0 and "Traceback" not in err and "locked" not in err.replace("writer lock", ""), err
    assert qa(index, "check").returncode == 0


def test_a_reader_keeps_answering_while_another_process_ingests_then_sees_it(tmp_path: Path):
    index = tmp_path / "index"
    base = corpus(tmp_path / "base", TOWNS[:2])
    reader = Engine(make_settings(index))
    reader.ingest([base], progress=False)
    assert answers_about(reader, TOWNS[0])
    new = corpus(tmp_path / "new", TOWNS[2:5])
    writer = subprocess.Popen([sys.executable, "-m", "qa.faces.cli", "ingest", "-q", str(new)], env=env_for(index),
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_writer(index, writer)
    asked, errors = 0, []
    while writer.poll() is None:  # the writer holds the lock all along: readers must not wait for it
        started = time.perf_counter()
        try:
            assert answers_about(reader, TOWNS[1])
        except Exception as exc:  # noqa: BLE001 - every failure is the bug this test looks for
            errors.append(repr(exc))
        assert time.perf_counter() - started < 30
        asked += 1
    assert writer.returncode == 0, writer.stderr.read()
    assert errors == [] and asked >= 1
    assert all(answers_about(reader, town) for town in TOWNS[2:5])  # no restart needed
    assert answers_about(reader, TOWNS[0])


def test_in_process_writers_take_turns_and_no_wait_names_the_holder(engine: Engine, tmp_path: Path):
    folder = corpus(tmp_path / "c", TOWNS[:1])
    with engine.store.writing(purpose="a test holding the lock"):
        holder = subprocess.run([sys.executable, "-m", "qa.faces.cli", "ingest", "--no-wait", "-q", str(folder)],
                                env=env_for(engine.settings.index_dir), cwd=ROOT, capture_output=True, text=True)
        assert holder.returncode == 3 and "a test holding the lock" in holder.stderr
        errors = []

        def other_thread():
            try:
                engine.ingest([folder], progress=False, wait=False)
            except IndexBusyError as exc:
                errors.append(exc)

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert len(errors) == 1
    assert engine.ingest([folder], progress=False).files_ingested == 1


# ---------------------------------------------------------------- duplicates in one batch

def test_duplicates_within_a_batch_are_stored_once_with_every_source(engine: Engine, tmp_path: Path):
    folder = tmp_path / "dups"
    folder.mkdir()
    text = (EXAMPLES / "000_8e03b75251222fb2.txt").read_bytes()
    (folder / "a.txt").write_bytes(text)
    (folder / "b.txt").write_bytes(text)
    line = json.dumps({"id": "x1", "title": "Harbor", "text": "The harbor reopened on Monday after repairs."})
    (folder / "feed.jsonl").write_text(f"{line}\n{line}\n")
    report = engine.ingest([folder], progress=False)
    assert report.errors == [] and report.files_ingested == 3 and report.duplicates == 2
    catalog = engine.store.catalog
    assert catalog.count_articles() == 2
    shared = next(a.id for a in catalog.articles() if a.title != "Harbor")
    assert [Path(p).name for p in catalog.sources_of(shared)] == ["a.txt", "b.txt"]
    assert engine.store.vectors.count() == catalog.count_sentences()
    assert engine.check().ok
    again = engine.ingest([folder], progress=False)
    assert again.files_unchanged == 3 and again.errors == []


# ---------------------------------------------------------------- damage: detected, explained, repaired

@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path]:
    index, folder = tmp_path / "index", corpus(tmp_path / "c", TOWNS[:3])
    report = Engine(make_settings(index)).ingest([folder], progress=False)
    assert not report.errors
    return index, folder


def _damaged_then_repaired(index: Path, folder: Path, damage) -> None:
    damage(index)
    fresh = Engine(make_settings(index))  # a new process's view: `qa ask`, a restarted server
    with pytest.raises(IndexDamagedError, match="qa check --repair"):
        fresh.ask("What did the council of Arlen do?")
    check = qa(index, "check", "--json")
    assert check.returncode == 1, check.stdout + check.stderr
    assert json.loads(check.stdout)["findings"]
    asked = qa(index, "ask", "What did the council of Arlen do?")
    assert asked.returncode == 4 and "qa check --repair" in asked.stderr and "Traceback" not in asked.stderr
    repair = qa(index, "check", "--repair")
    assert repair.returncode == 0, repair.stdout + repair.stderr
    assert qa(index, "check").returncode == 0
    assert answers_about(Engine(make_settings(index)), "Arlen")


def test_deleted_vector_store_is_detected_and_repaired(built):
    _damaged_then_repaired(*built, lambda index: shutil.rmtree(index / "chroma"))


def test_emptied_catalog_is_detected_and_repaired(built):
    def empty(index: Path) -> None:
        with sqlite3.connect(index / "catalog.sqlite") as db:
            for table in ("chunks", "articles", "source_articles", "sources"):
                db.execute(f"DELETE FROM {table}")
    _damaged_then_repaired(*built, empty)


def _bm25_files(index: Path) -> list[Path]:
    manifest = json.loads((index / "commit.json").read_text())["bm25"]
    names = [v["file"] for v in manifest["vocabulary"]] + [s["file"] for s in manifest["segments"]]
    assert names, manifest
    return [index / "bm25" / name for name in names]


def test_truncated_bm25_file_is_detected_and_repaired(built):
    def truncate(index: Path) -> None:
        target = max(_bm25_files(index), key=lambda p: p.stat().st_size)
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    _damaged_then_repaired(*built, truncate)


def test_damaged_bm25_vocabulary_is_detected_and_repaired(built):
    def scramble(index: Path) -> None:
        files = _bm25_files(index)
        vocab = next(p for p in files if p.name.startswith("voc-"))
        data = bytearray(vocab.read_bytes())
        for i in range(0, len(data), 7):
            data[i] = (data[i] + 1) % 256
        vocab.write_bytes(bytes(data))
    _damaged_then_repaired(*built, scramble)


def test_a_running_reader_notices_damage(built):
    index, _ = built
    reader = Engine(make_settings(index))
    assert answers_about(reader, "Arlen")
    with sqlite3.connect(index / "catalog.sqlite") as db:
        db.execute("DELETE FROM chunks")
    time.sleep(reader.store.HEALTH_INTERVAL + 0.1)
    with pytest.raises(IndexDamagedError, match="catalog"):
        reader.ask("What did the council of Arlen do?")


# ---------------------------------------------------------------- kill -9 at any moment

KILLER = textwrap.dedent("""
    import os, signal, sys
    import qa.{module} as target
    owner = getattr(target, "{owner}") if "{owner}" else target
    real = getattr(owner, "{name}")
    calls = [0]
    def dying(*args, **kwargs):
        calls[0] += 1
        if calls[0] == {nth}:
            if {after}:
                real(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    setattr(owner, "{name}", dying)
    from qa.faces.cli import main
    sys.exit(main(sys.argv[1:]))
""")

KILL_POINTS = {
    "after-rows-before-vectors": dict(module="store.index", owner="Store", name="add_vectors", nth=1, after=False),
    "between-vector-groups": dict(module="store.index", owner="Store", name="add_vectors", nth=2, after=True),
    "during-bm25-save": dict(module="store.lexical", owner="", name="_store", nth=1, after=True),
    "after-bm25-before-commit": dict(module="store.index", owner="", name="write_stamp", nth=1, after=False),
    "during-garbage-collection": dict(module="store.catalog", owner="Catalog", name="delete_articles", nth=1, after=False),
    "while-storing-quotes": dict(module="store.catalog", owner="Catalog", name="set_facts", nth=1, after=False),
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_ingest_killed_at_any_moment_then_rerun_passes_check(tmp_path: Path, point: str):
    index = tmp_path / "index"
    folder = corpus(tmp_path / "c", TOWNS[:3])
    assert qa(index, "ingest", "-q", str(folder)).returncode == 0
    # The second run changes one file (old version to collect), adds two (new vectors), in small groups.
    first = folder / "arlen.txt"
    first.write_text(first.read_text().replace("busy spring", "quiet winter"))
    corpus(folder, TOWNS[3:5])
    # The same article twice, composed and decomposed (as macOS file names and some feeds write it).
    cafe = ("Title: Café Zoë opens in Fenwick\nDate: 2024-03-09\n\nThe council of Fenwick opened Café Zoë, "
            "run by Renée Müller, in the old tram depot. Müller said the café would serve crêpes.\n")
    (folder / "cafe.txt").write_text(cafe)
    (folder / "cafe-decomposed.txt").write_text(unicodedata.normalize("NFD", cafe))
    spec = KILL_POINTS[point]
    script = KILLER.format(**spec)
    killed = subprocess.run([sys.executable, "-c", script, "ingest", "-q", str(folder)],
                            env=env_for(index, QA_INGEST_GROUP_CHUNKS="2"), cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    # Readers still answer from the last commit.
    assert answers_about(Engine(make_settings(index)), "Brisk")
    rerun = qa(index, "ingest", "-q", str(folder))
    assert rerun.returncode == 0, rerun.stderr
    check = qa(index, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    engine = Engine(make_settings(index))
    assert all(answers_about(engine, town) for town in ["Arlen", "Dunmore", "Elsby"])
    assert "quiet winter" in engine.ask("What kind of season did Arlen have?").passages[0].chunk.text
    cafes = [a for a in engine.store.catalog.articles() if "Fenwick" in (a.title or "")]
    assert [a.title for a in cafes] == ["Café Zoë opens in Fenwick"]  # one article, composed
    stored = engine.store.catalog.article(cafes[0].id)
    assert unicodedata.is_normalized("NFC", stored.text) and "Renée Müller" in stored.text
    assert any("Müller" in c.quote for c in engine.ask("Who runs Café Zoë?").citations)
    from qa.news.facts import VERSION

    assert engine.store.catalog.articles_without_facts(VERSION) == []  # every article's quotes read, after all


# ---------------------------------------------------------------- an index from before a tokenizer change

def _unfolded_tokenize(text: str) -> list[str]:
    """The first tokenizer: the same words and stems, diacritics kept ("céloron" stays "céloron")."""
    from qa.store import lexical

    stemmer = lexical._stemmer()
    words = (m.group(0).lower().replace("’", "'").removesuffix("'s") for m in lexical._WORD.finditer(text))
    return [stemmer.stemWord(w) for w in words if w not in lexical.STOPWORDS]


def test_an_index_built_by_the_older_tokenizer_is_read_rebuilt_then_stored_rebuilt(tmp_path: Path, monkeypatch):
    """An index made before diacritics were folded: its BM25 terms keep them ("céloron"). A reader rebuilds
    it in memory (accent-free questions match at once), `qa check` names it, the next writer stores it."""
    from qa.store import lexical
    from qa.store.stamp import read_stamp, write_stamp

    index, folder = tmp_path / "index", tmp_path / "news"
    folder.mkdir()
    (folder / "expedition.txt").write_text(
        "Title: The lead plates\nDate: 2024-03-01\n\nPierre-Joseph Céloron de Blainville led an expedition down "
        "the Ohio River in 1749. Céloron buried lead plates along the river to claim it for France.\n")
    with monkeypatch.context() as patch:
        patch.setattr(lexical, "tokenize", _unfolded_tokenize)
        assert not Engine(make_settings(index)).ingest([folder], progress=False).errors
    stamp = read_stamp(index)
    old = {k: v for k, v in stamp.bm25.items() if k != "tokenizer"}  # as the first version wrote it
    stamp = dataclasses.replace(stamp, bm25=old)
    write_stamp(index, stamp)
    saved = lexical.LexicalIndex.load(index / "bm25", old)
    assert saved.tokenizer != lexical.TOKENIZER and "céloron" in saved.doc_freq and "celoron" not in saved.doc_freq

    check = qa(index, "check", "--json")
    assert check.returncode == 1
    assert [f["problem"] for f in json.loads(check.stdout)["findings"]] == ["bm25-outdated"]

    # While a writer is at work the catalog may move past the commit: the saved index answers as it is.
    writer = Engine(make_settings(index))
    with writer.store.writing(purpose="a test holding the lock"):
        busy = Engine(make_settings(index))
        assert busy.store.lexical().tokenizer == saved.tokenizer
    reader = Engine(make_settings(index))
    rebuilt = reader.store.lexical()
    assert rebuilt.tokenizer == lexical.TOKENIZER and "celoron" in rebuilt.doc_freq and len(rebuilt) == stamp.chunks
    answer = reader.ask("What did Celoron bury along the river?")
    assert not answer.abstained and "don't mention" not in answer.text
    assert any("Céloron buried lead plates" in c.quote for c in answer.citations)
    assert read_stamp(index).bm25 == old  # a reader writes nothing

    # An ingest that finds nothing new stores the rebuilt index too (it did not: a bench re-reading its
    # unchanged pages rebuilt BM25 in memory on every run).
    assert not writer.ingest([folder], progress=False).errors
    assert lexical.tokenizer_of(read_stamp(index).bm25) == lexical.TOKENIZER
    assert qa(index, "check").returncode == 0

    (folder / "later.txt").write_text("Title: A museum\nDate: 2024-03-02\n\nThe museum in Marietta shows one of "
                                      "the plates.\n")
    assert not writer.ingest([folder], progress=False).errors
    assert lexical.tokenizer_of(read_stamp(index).bm25) == lexical.TOKENIZER
    assert "celoron" in lexical.LexicalIndex.load(index / "bm25", read_stamp(index).bm25).doc_freq
    assert qa(index, "check").returncode == 0
