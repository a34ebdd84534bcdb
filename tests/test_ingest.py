"""Ingestion: formats end to end, incremental re-ingest, replacement, pruning, bad files, crashes."""
import json
import os
import signal
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest

from conftest import ROOT, make_settings
from helpers import RSS, minimal_pdf
from qa.engine import Engine
from qa.store.lexical import tokenize


def consistent(engine: Engine) -> tuple[set, set]:
    """Chroma's ids and the catalog's sentence ids; they must be equal and hold no orphan."""
    store = engine.store
    vector_ids = store.vectors.all_ids()
    catalog_ids = store.catalog.sentence_id_set()
    assert vector_ids == catalog_ids
    assert store.catalog.unreferenced_articles() == []
    assert len(store.lexical()) == store.catalog.count_chunks()
    return vector_ids, catalog_ids


def test_every_format_in_one_folder(engine: Engine, tmp_path: Path):
    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("Title: Tram\n\nThe new tram line opened on Monday.\n")
    (folder / "sub" / "b.md").write_text("# Library\n\nThe library extended its hours to 9 pm.\n")
    (folder / "c.html").write_text(
        "<html><head><title>Zoo</title></head><body><article><h1>Zoo</h1>"
        + "<p>The zoo welcomed two red panda cubs born in June, keepers said on Friday morning.</p>" * 3
        + "</article></body></html>"
    )
    (folder / "d.pdf").write_bytes(minimal_pdf(["The stadium roof was repaired after the storm."]))
    (folder / "e.jsonl").write_text('{"id": "e1", "title": "Port", "text": "Port traffic grew 8% in May."}\n')
    (folder / "f.rss").write_text(RSS)
    report = engine.ingest([folder], progress=False)
    assert report.errors == []
    assert report.files_ingested == 6 and report.articles_ingested == 7
    titles = {a.title for a in engine.store.catalog.articles()}
    assert {"Tram", "Library", "Port", "Ferry service resumes", "Lighthouse repainted"} <= titles
    consistent(engine)


def test_text_is_stored_composed_so_what_people_type_finds_and_matches_it(engine: Engine, tmp_path: Path):
    """A page that writes "é" as e + U+0301 (NFD), in any format: stored, searched and quoted in NFC."""
    folder = tmp_path / "nfd"
    folder.mkdir()
    nfd = "Nestle\u0301 ousted its chief executive, Laurent Freixe, over an undisclosed relationship."
    (folder / "a.txt").write_text(f"Title: Nestle\u0301 CEO ousted\n\n{nfd}\n")
    (folder / "b.jsonl").write_text(json.dumps({"id": "b", "title": "Cafe\u0301 prices", "text": "Cafe\u0301 prices rose 9% in May."}) + "\n")
    report = engine.ingest([folder], progress=False)
    assert report.errors == []
    catalog = engine.store.catalog
    stored = {a.title: catalog.article(a.id).text for a in catalog.articles()}
    assert set(stored) == {"Nestl\u00e9 CEO ousted", "Caf\u00e9 prices"}
    assert all(unicodedata.is_normalized("NFC", text) for text in stored.values())
    answer = engine.ask("Which company ousted Laurent Freixe?")  # typed composed
    assert not answer.abstained and "Nestl\u00e9" in answer.citations[0].quote
    assert engine.store.lexical().doc_freq.get(tokenize("Nestl\u00e9")[0])  # BM25 knows the typed word


def test_reingest_unchanged_embeds_nothing(engine: Engine, sample_articles: Path):
    first = engine.ingest([sample_articles], progress=False)
    assert first.chunks_embedded > 0
    ids_before = consistent(engine)[0]
    again = engine.ingest([sample_articles], progress=False)
    assert (again.chunks_embedded, again.files_unchanged, again.files_ingested) == (0, 2, 0)
    assert consistent(engine)[0] == ids_before


def test_changed_file_replaces_its_chunks(engine: Engine, sample_articles: Path):
    engine.ingest([sample_articles], progress=False)
    target = sample_articles / "001_0029e68a5cbbc7e8.txt"
    old_id = next(a.id for a in engine.store.catalog.articles() if a.title and "Blinken" in a.title)
    target.write_text(target.read_text().replace("Wednesday night", "Thursday morning"))
    report = engine.ingest([sample_articles], progress=False)
    assert report.files_ingested == 1 and report.files_unchanged == 1 and report.articles_removed == 1
    ids = consistent(engine)[0]
    assert not any(cid.startswith(old_id) for cid in ids)
    assert engine.store.catalog.count_articles() == 2
    passages = engine.retriever.retrieve("Blinken spoke with Abbas on Thursday morning")
    assert "Thursday morning" in passages[0].chunk.text


def test_same_content_in_two_files_is_stored_once(engine: Engine, sample_articles: Path, tmp_path: Path):
    copy = tmp_path / "copy.txt"
    copy.write_bytes((sample_articles / "000_8e03b75251222fb2.txt").read_bytes())
    engine.ingest([sample_articles], progress=False)
    n_chunks = engine.store.catalog.count_chunks()
    report = engine.ingest([copy], progress=False)
    assert report.chunks_embedded == 0 and engine.store.catalog.count_chunks() == n_chunks
    copy.unlink()
    engine.ingest([sample_articles], prune=True, progress=False)
    assert engine.store.catalog.count_articles() == 2  # still referenced by the original file
    consistent(engine)


def test_prune_removes_articles_whose_files_are_gone(engine: Engine, sample_articles: Path):
    engine.ingest([sample_articles], progress=False)
    (sample_articles / "000_8e03b75251222fb2.txt").unlink()
    kept = engine.ingest([sample_articles], progress=False)
    assert kept.sources_pruned == 0 and engine.store.catalog.count_articles() == 2
    pruned = engine.ingest([sample_articles], prune=True, progress=False)
    assert pruned.sources_pruned == 1 and pruned.articles_removed == 1
    assert engine.store.catalog.count_articles() == 1
    consistent(engine)
    assert all("Sullivan" not in p.chunk.text for p in engine.retriever.retrieve("What did Sullivan convey?"))


def test_bad_files_are_reported_and_the_rest_ingested(engine: Engine, sample_articles: Path):
    (sample_articles / "empty.txt").write_bytes(b"")
    (sample_articles / "binary.txt").write_bytes(b"\x00\x01\x02\xff" * 10)
    (sample_articles / "latin1.md").write_bytes("Caf\xe9".encode("latin-1"))
    (sample_articles / "broken.pdf").write_bytes(b"%PDF-1.7 not really")
    (sample_articles / "mixed.jsonl").write_text('{"id": "ok", "text": "Good line."}\n{bad\n')
    report = engine.ingest([sample_articles], progress=False)
    reasons = {Path(e.path.split(":")[0]).name: e.reason for e in report.errors}
    assert set(reasons) == {"empty.txt", "binary.txt", "latin1.md", "broken.pdf", "mixed.jsonl"}
    assert report.failed and report.files_ingested == 3  # two samples + the good line of mixed.jsonl
    consistent(engine)


def test_file_that_turns_bad_keeps_its_stored_version(engine: Engine, sample_articles: Path):
    engine.ingest([sample_articles], progress=False)
    (sample_articles / "000_8e03b75251222fb2.txt").write_bytes(b"\xff\xfe broken")
    report = engine.ingest([sample_articles], progress=False)
    assert report.failed and engine.store.catalog.count_articles() == 2
    consistent(engine)


def test_interrupted_ingest_is_completed_without_duplicates(settings, sample_articles: Path, monkeypatch):
    settings.ingest_group_chunks = 1  # one file per group, so the failure lands between groups
    engine = Engine(settings)
    first_article = []
    real = engine.store.add_vectors

    def dies_on_second_group(chunks):  # killed when the second file's chunks come up
        first_article[:] = first_article or [chunks[0].article_id]
        if chunks[0].article_id != first_article[0]:
            raise KeyboardInterrupt("killed")
        return real(chunks)

    monkeypatch.setattr(engine.store, "add_vectors", dies_on_second_group)
    with pytest.raises(KeyboardInterrupt):
        engine.ingest([sample_articles], progress=False)
    monkeypatch.undo()
    report = engine.ingest([sample_articles], progress=False)
    assert report.files_unchanged == 1 and report.files_ingested == 1
    vector_ids, _ = consistent(engine)
    assert engine.store.catalog.count_articles() == 2 and len(vector_ids) == engine.store.vectors.count()


def test_killed_process_then_rerun_leaves_no_duplicate_or_orphan(tmp_path: Path):
    """A real `qa ingest` killed with SIGKILL half-way, then run again."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(40):
        sentences = " ".join(f"Item {i} sentence {j} mentions the town fair and its {j} stalls." for j in range(30))
        (corpus / f"article_{i:02d}.txt").write_text(f"Title: Fair report {i}\n\n{sentences}\n")
    env = dict(os.environ, QA_INDEX_DIR=str(tmp_path / "index"), QA_INGEST_GROUP_CHUNKS="4",
               QA_AUTO_INDEX_EXAMPLES="false")
    command = [sys.executable, "-m", "qa.faces.cli", "ingest", "-q", str(corpus)]
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    engine = Engine(make_settings(tmp_path / "index"))
    deadline = time.time() + 240
    while time.time() < deadline:  # wait until some, not all, files are stored
        time.sleep(0.2)
        if (tmp_path / "index" / "catalog.sqlite").exists():
            try:
                done = engine.store.catalog._conn.execute("SELECT COUNT(*) FROM sources WHERE state='done'").fetchone()[0]
            except Exception:
                continue
            if done >= 3:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 0 < done < 40
    rerun = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    engine = Engine(make_settings(tmp_path / "index"))
    vector_ids, _ = consistent(engine)
    assert engine.store.catalog.count_articles() == 40
    assert engine.store.catalog._conn.execute("SELECT COUNT(*) FROM sources WHERE state='pending'").fetchone()[0] == 0
    assert engine.store.vectors.count() == len(vector_ids)  # nothing stored twice


def test_uploads_cannot_write_outside_the_uploads_folder(tmp_path: Path):
    from qa.sources.articles import ArticleError
    from qa.ingest import store_upload

    uploads = tmp_path / "index" / "uploads"
    for name in ["../../escape.txt", "/etc/cron.d/evil.md", "..\\..\\win.html", ".hidden.txt", "a b?.jsonl"]:
        saved = store_upload(uploads, name, b"The ferry resumed service.")
        assert saved.parent == uploads and not saved.name.startswith(".")
    assert not (tmp_path / "escape.txt").exists()
    assert store_upload(uploads, "same.txt", b"one") != store_upload(uploads, "same.txt", b"two")  # no overwrite
    with pytest.raises(ArticleError, match="unsupported file type '.sh'"):
        store_upload(uploads, "run.sh", b"rm -rf /")
