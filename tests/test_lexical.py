"""The segmented BM25 index: scores equal to a bm25s rebuild, immutability, persistence and damage."""
from __future__ import annotations

import json
import math
import os
import random

import bm25s
import numpy as np
import pytest

from qa.store import lexical
from qa.store.lexical import LexicalIndex, LexicalIndexError, tokenize

WORDS = ("apple banana cherry delta echo falcon garden harbor island jungle kettle lemon mango nectar orbit "
         "pepper quartz river saddle timber umbrella violet walnut xenon yellow zephyr anchor beacon canyon "
         "dragon ember forest glacier hollow ivory jasper kernel lantern meadow nickel").split()


def texts(n: int, seed: int, offset: int = 0) -> dict[str, str]:
    rng = random.Random(seed)
    out = {}
    for i in range(n):
        k = rng.randint(3, 25)
        # A skewed draw, so some terms are common and some rare; repeats give tf > 1.
        out[f"c{offset + i}"] = " ".join(WORDS[min(int(rng.expovariate(0.12)), len(WORDS) - 1)] for _ in range(k))
    return out


def query_terms() -> list[str]:
    return list(dict.fromkeys(tokenize(" ".join(WORDS)))) + ["absentterm"]


def assert_matches_rebuild(index: LexicalIndex, corpus: dict[str, str]) -> None:
    """Every column's per-term score equals bm25s over the live corpus, rebuilt from scratch."""
    assert len(index) == len(corpus) and index.ids() == set(corpus)
    assert index.size == len(index.chunk_ids) >= len(corpus)
    terms = query_terms()
    ours = index.term_scores(terms)
    assert ours.shape == (len(terms), index.size) and ours.dtype == np.float32
    ids = list(corpus)
    tokens = [tokenize(corpus[c]) for c in ids]
    reference = bm25s.BM25()
    reference.index(tokens, show_progress=False)
    columns = [index.row_of[c] for c in ids]
    for i, term in enumerate(terms):
        expected = np.asarray(reference.get_scores([term]), dtype=np.float64)
        np.testing.assert_allclose(ours[i, columns], expected, atol=1e-4, rtol=0)
    dead = [i for i, c in enumerate(index.chunk_ids) if c is None]
    assert not ours[:, dead].any()
    assert all(index.chunk_ids[index.row_of[c]] == c for c in ids)
    for term in terms:
        df = sum(term in set(t) for t in tokens)
        assert index.doc_freq.get(term, 0) == df
        assert index.idf(term) == pytest.approx(math.log(1 + (len(corpus) + 1) / (df + 0.5)))


def test_scores_equal_a_rebuild_after_build_add_remove_replace_and_merge():
    corpus = texts(60, seed=1)
    corpus["c_empty"] = "the of and"  # only stopwords: a chunk with no terms counts in N and avgdl
    index = LexicalIndex.build(list(corpus), list(corpus.values()))
    assert_matches_rebuild(index, corpus)

    added = texts(7, seed=2, offset=1000)
    added["c1001"] = "saddle saddle saddle brandnewterm"
    index = index.updated(list(added), list(added.values()), ["c3", "c4", "c_missing"])
    corpus.update(added)
    del corpus["c3"], corpus["c4"]
    assert_matches_rebuild(index, corpus)

    replaced = {"c5": "orbit orbit nectar", "c1002": "walnut"}  # one in the first segment, one in the second
    index = index.updated(list(replaced), list(replaced.values()), [])
    corpus.update(replaced)
    assert_matches_rebuild(index, corpus)
    assert index.chunk_ids.count(None) == 4

    rng = random.Random(3)
    for step in range(30):  # many small updates: segments get merged and tombstones dropped
        batch = texts(rng.randint(1, 4), seed=100 + step, offset=2000 + 10 * step)
        gone = rng.sample(sorted(corpus), 2)
        index = index.updated(list(batch), list(batch.values()), gone)
        for cid in gone:
            del corpus[cid]
        corpus.update(batch)
        assert len(index.segments()) <= lexical.MAX_SEGMENTS
        assert_matches_rebuild(index, corpus)
    assert sum(dead for _, dead in index.segments()) < 30 * 2 + 4  # merging dropped some tombstones

    everything = sorted(corpus)
    emptied = index.updated([], [], everything)
    assert len(emptied) == 0 and emptied.ids() == set() and emptied.term_scores(["orbit"]).shape == (1, emptied.size)
    assert not emptied.term_scores(["orbit"]).any() and emptied.doc_freq.get("orbit") is None

    compact = index.compacted()
    assert compact.segments() == [(len(corpus), 0)]
    assert_matches_rebuild(compact, corpus)


def test_duplicate_ids_keep_the_last_text_and_readding_replaces():
    index = LexicalIndex.build(["a", "b", "a"], ["apple", "banana", "cherry"])
    assert len(index) == 2 and index.doc_freq.get("appl") is None and index.doc_freq.get("cherri") == 1
    again = index.updated(["b"], ["banana"], [])
    assert len(again) == 2 and again.doc_freq.get("banana") == 1 and again.size == 3


def test_a_published_index_is_not_changed_by_updated():
    corpus = texts(30, seed=4)
    index = LexicalIndex.build(list(corpus), list(corpus.values()))
    terms = query_terms() + ["zzznovel"]
    before = (index.term_scores(terms).copy(), list(index.chunk_ids), dict(index.row_of), len(index),
              dict(index.doc_freq), index.size, index.segments())
    newer = index.updated(["n1", "n2"], ["zzznovel orbit", "harbor harbor"], ["c0", "c1", "c2"])
    newer.updated(["n3"], ["anothernovel"], ["n1"])
    after = (index.term_scores(terms), index.chunk_ids, index.row_of, len(index), dict(index.doc_freq),
             index.size, index.segments())
    np.testing.assert_array_equal(before[0], after[0])
    assert before[1:] == after[1:]
    assert index.doc_freq.get("zzznovel") is None and newer.doc_freq.get("zzznovel") == 1
    assert index.idf("zzznovel") == pytest.approx(math.log(1 + 31 / 0.5))
    assert index.updated([], [], ["not-there"]) is index


def test_readers_in_threads_see_a_fixed_version_while_the_writer_updates():
    import threading

    corpus = texts(80, seed=11)
    published = LexicalIndex.build(list(corpus), list(corpus.values()))
    terms = query_terms() + [f"fresh{i}word" for i in range(0, 200, 7)]
    expected = published.term_scores(terms).copy()
    failures, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            if not np.array_equal(published.term_scores(terms), expected):
                failures.append("scores changed")
            if any(published.doc_freq.get(t) for t in terms[-5:]):
                failures.append("saw a later version's term")

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    current = published
    for i in range(200):
        current = current.updated([f"w{i}"], [f"fresh{i}word orbit"], [f"c{i % 80}"])
    stop.set()
    for t in threads:
        t.join()
    assert not failures and len(current) == 200


def test_save_load_round_trip(tmp_path):
    corpus = texts(40, seed=5)
    index = LexicalIndex.build(list(corpus), list(corpus.values()))
    index = index.updated(["x1", "c2"], ["falcon novelword", "river river"], ["c7"])
    corpus.update({"x1": "falcon novelword", "c2": "river river"})
    del corpus["c7"]
    manifest = index.save(tmp_path)
    assert json.loads(json.dumps(manifest)) == manifest
    assert manifest["chunks"] == len(corpus) and manifest["columns"] == index.size
    assert any(s["tombstones"] for s in manifest["segments"])
    loaded = LexicalIndex.load(tmp_path, manifest)
    terms = query_terms()
    np.testing.assert_array_equal(loaded.term_scores(terms), index.term_scores(terms))
    assert loaded.chunk_ids == index.chunk_ids and loaded.row_of == index.row_of
    assert dict(loaded.doc_freq) == dict(index.doc_freq)
    assert_matches_rebuild(loaded, corpus)
    assert loaded.save(tmp_path) == manifest  # same content, same manifest, nothing written

    later = loaded.updated(["y1"], ["glacier novelword"], ["c8"])
    corpus["y1"] = "glacier novelword"
    del corpus["c8"]
    assert_matches_rebuild(LexicalIndex.load(tmp_path, later.save(tmp_path)), corpus)

    elsewhere = tmp_path / "copy"  # a directory without the files: all of them are written
    assert_matches_rebuild(LexicalIndex.load(elsewhere, later.save(elsewhere)), corpus)


def test_versions_branched_from_one_index_save_and_load_independently(tmp_path):
    corpus = texts(30, seed=10)
    base = LexicalIndex.build(list(corpus), list(corpus.values()))
    left = base.updated(["l"], ["leftonlyterm orbit"], ["c0"])
    right = base.updated(["r"], ["rightonlyterm river"], ["c1"])  # same base, other new terms
    left_manifest, right_manifest = left.save(tmp_path), right.save(tmp_path)
    for index, manifest, change in ((left, left_manifest, ("l", "leftonlyterm orbit", "c0")),
                                    (right, right_manifest, ("r", "rightonlyterm river", "c1"))):
        expected = {k: v for k, v in corpus.items() if k != change[2]} | {change[0]: change[1]}
        assert_matches_rebuild(index, expected)
        assert_matches_rebuild(LexicalIndex.load(tmp_path, manifest), expected)
    assert left.doc_freq.get("rightonlyterm") is None and right.doc_freq.get("leftonlyterm") is None


def manifest_files(manifest: dict) -> set[str]:
    names = {e["file"] for e in manifest["vocabulary"]}
    for s in manifest["segments"]:
        names.add(s["file"])
        if s["tombstones"]:
            names.add(s["tombstones"]["file"])
    return names


def test_incremental_save_writes_only_new_files(tmp_path):
    corpus = texts(200, seed=6)
    index = LexicalIndex.build(list(corpus), list(corpus.values()))
    first = index.save(tmp_path)
    stats = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
    assert set(stats) == manifest_files(first)

    second = index.updated(["n1"], ["brandnew orbit"], ["c1"]).save(tmp_path)
    new = manifest_files(second) - manifest_files(first)
    kinds = sorted(name.split("-")[0] for name in new)
    assert kinds == ["del", "seg", "voc"]  # the added chunk, the tombstone, the new term
    for name, stat in stats.items():  # nothing already there was rewritten
        assert (tmp_path / name).stat().st_ino == stat[0] and (tmp_path / name).stat().st_mtime_ns == stat[1]
    assert {p.name for p in tmp_path.iterdir()} == manifest_files(first) | manifest_files(second)
    assert first["segments"][0]["file"] in manifest_files(second)


def test_many_saves_keep_the_manifest_small(tmp_path):
    index = LexicalIndex.build(["a"], ["apple"])
    for i in range(60):
        index = index.updated([f"d{i}"], [f"novel{i}x orbit"], [])
        manifest = index.save(tmp_path)
    assert len(manifest["segments"]) <= lexical.MAX_SEGMENTS
    assert len(manifest["vocabulary"]) <= 8
    assert len(LexicalIndex.load(tmp_path, manifest)) == 61


@pytest.fixture
def saved(tmp_path):
    corpus = texts(50, seed=7)
    index = LexicalIndex.build(list(corpus), list(corpus.values())).updated(["n"], ["novel orbit"], ["c1"])
    return tmp_path, index.save(tmp_path)


def file_of(manifest: dict, kind: str) -> str:
    if kind == "vocabulary":
        return manifest["vocabulary"][-1]["file"]
    if kind == "tombstones":
        return next(s["tombstones"]["file"] for s in manifest["segments"] if s["tombstones"])
    return manifest["segments"][0]["file"]


def flip(path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("kind", ["segment", "vocabulary", "tombstones"])
@pytest.mark.parametrize("damage", ["deleted", "truncated", "byte flipped", "grown"])
def test_damage_raises_an_error_naming_the_file(saved, kind, damage):
    directory, manifest = saved
    name = file_of(manifest, kind)
    path = directory / name
    if damage == "deleted":
        path.unlink()
        expected = "missing"
    elif damage == "truncated":
        os.truncate(path, path.stat().st_size - 3)
        expected = "truncated"
    elif damage == "grown":
        with open(path, "ab") as f:
            f.write(b"x")
        expected = "wrong size"
    else:
        flip(path, path.stat().st_size // 2)
        expected = "checksum mismatch"
    with pytest.raises(LexicalIndexError) as error:
        LexicalIndex.load(directory, manifest)
    assert name in str(error.value) and expected in str(error.value)


def test_unreadable_and_malformed_input_raise_index_errors(saved, tmp_path):
    directory, manifest = saved
    # A file whose checksum the manifest agrees with, but which is not an index file.
    garbage = directory / "seg-garbage.lxs"
    garbage.write_bytes(b"not an index file at all")
    bad = json.loads(json.dumps(manifest))
    import hashlib

    bad["segments"][0].update(file=garbage.name, bytes=garbage.stat().st_size,
                              sha256=hashlib.sha256(garbage.read_bytes()).hexdigest())
    with pytest.raises(LexicalIndexError, match="seg-garbage.lxs: unreadable"):
        LexicalIndex.load(directory, bad)
    for broken in ({}, {"format": "qa-lexical/1"}, {**manifest, "segments": [{"file": "seg-x"}]},
                   {**manifest, "terms": manifest["terms"] + 1}, {**manifest, "chunks": 1}, None, [],
                   {**manifest, "vocabulary": []}, {**manifest, "vocabulary": manifest["vocabulary"] * 2},
                   {**manifest, "segments": [{**manifest["segments"][0], "file": "../escape"}]}):
        with pytest.raises(LexicalIndexError):
            LexicalIndex.load(directory, broken)
    with pytest.raises(LexicalIndexError):
        LexicalIndex.remove_unused(directory, [{"segments": 3}])


def test_remove_unused_keeps_what_the_kept_manifests_name(tmp_path):
    corpus = texts(30, seed=8)
    index = LexicalIndex.build(list(corpus), list(corpus.values()))
    first = index.save(tmp_path)
    second_index = index.updated(["n"], ["novel"], ["c0"])
    second = second_index.save(tmp_path)
    third = second_index.updated(["m"], ["other"], ["c1", "n"]).save(tmp_path)
    (tmp_path / ".tmp-0123-seg-stale.lxs").write_bytes(b"left by a crash")
    (tmp_path / "rows.json").write_text("{}")  # the previous format's
    (tmp_path / "notes.txt").write_text("not ours")
    removed = LexicalIndex.remove_unused(tmp_path, [third, first])
    assert ".tmp-0123-seg-stale.lxs" in removed and "rows.json" in removed
    left = {p.name for p in tmp_path.iterdir()}
    assert left == manifest_files(third) | manifest_files(first) | {"notes.txt"}
    assert len(manifest_files(second) - left) == 2  # the second's own segment and tombstones are gone
    for manifest in (first, third):
        LexicalIndex.load(tmp_path, manifest)
    assert LexicalIndex.remove_unused(tmp_path / "absent", []) == []


def test_a_save_killed_midway_leaves_the_previous_manifest_intact(tmp_path, monkeypatch):
    corpus = texts(40, seed=9)
    index = LexicalIndex.build(list(corpus), list(corpus.values()))
    committed = index.save(tmp_path)
    newer = index.updated(["n1", "n2"], ["novel orbit", "river"], ["c0", "c1"])

    calls = {"n": 0}
    real_replace = os.replace

    def dying_replace(src, dst):  # the process "dies" after writing a temp file, before its rename
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(lexical.os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        newer.save(tmp_path)
    monkeypatch.setattr(lexical.os, "replace", real_replace)
    # A temp file left behind (as by SIGKILL) does not matter either.
    (tmp_path / ".tmp-dead-seg-0.lxs").write_bytes(b"partial")
    assert_matches_rebuild(LexicalIndex.load(tmp_path, committed), corpus)
    retried = newer.save(tmp_path)
    LexicalIndex.remove_unused(tmp_path, [retried, committed])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]
    assert len(LexicalIndex.load(tmp_path, retried)) == 40


def test_the_empty_index_works_everywhere(tmp_path):
    empty = LexicalIndex.build([], [])
    assert len(empty) == 0 and empty.size == 0 and empty.chunk_ids == [] and empty.row_of == {} and empty.ids() == set()
    assert empty.term_scores(["orbit", "river"]).shape == (2, 0) and empty.term_scores([]).shape == (0, 0)
    assert empty.doc_freq.get("orbit") is None and len(empty.doc_freq) == 0
    assert empty.idf("orbit") == pytest.approx(math.log(1 + 2 / 0.5))
    manifest = empty.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path, manifest)
    assert len(loaded) == 0 and loaded.term_scores(["orbit"]).shape == (1, 0)
    grown = loaded.updated(["a"], ["orbit river"], [])
    assert_matches_rebuild(grown, {"a": "orbit river"})
    only_stopwords = LexicalIndex.build(["s"], ["the and of"])
    assert len(only_stopwords) == 1 and not only_stopwords.term_scores(["the", "orbit"]).any()
    assert len(LexicalIndex.load(tmp_path / "s", only_stopwords.save(tmp_path / "s"))) == 1


@pytest.mark.parametrize("written, typed", [
    ("Céloron", "Celoron"), ("Bogotá", "Bogota"), ("Nestlé", "Nestle"), ("São Paulo", "Sao Paulo"),
    ("Zürich", "Zurich"), ("Straße", "Strasse"), ("Ørsted", "Orsted"), ("Łódź", "Lodz"), ("naïve", "naive"),
    ("ÉCOLE", "ecole"), ("Dvořák", "Dvorak"), ("Nguyễn", "Nguyen"),
])
def test_latin_diacritics_are_folded_as_people_type_them(written, typed):
    assert tokenize(written) == tokenize(typed) and tokenize(written)


def test_letters_of_other_scripts_keep_their_marks():
    # Cyrillic й is not и, Japanese が is not か, Greek ά stays: only Latin letters are folded.
    assert tokenize("йод") != tokenize("иод")
    assert tokenize("がっこう") != tokenize("かっこう")
    assert lexical.fold("ελλάδα") == "ελλάδα" and lexical.fold("plain") == "plain"


def test_a_manifest_names_the_tokenizer_and_the_first_format_loads_as_the_older_one(tmp_path):
    index = LexicalIndex.build(["a", "b"], ["Céloron buried plates.", "The river rose."])
    assert index.tokenizer == lexical.TOKENIZER
    manifest = index.save(tmp_path)
    assert manifest["tokenizer"] == lexical.TOKENIZER
    assert LexicalIndex.load(tmp_path, manifest).tokenizer == lexical.TOKENIZER
    older = LexicalIndex.load(tmp_path, {k: v for k, v in manifest.items() if k != "tokenizer"})
    assert older.tokenizer != lexical.TOKENIZER
    assert older.updated(["c"], ["More news."]).tokenizer == older.tokenizer  # versions keep their tokenizer
    assert lexical.tokenizer_of(older.updated(["c"], ["More news."]).save(tmp_path)) == older.tokenizer


def test_a_decomposed_accent_is_one_letter():
    assert tokenize("Ce\u0301loron buried plates") == tokenize("Céloron buried plates") == tokenize("Celoron buried plates")


def test_a_contraction_counts_as_its_first_word():
    assert tokenize("items wouldn't be there; they're sure it can't, won't") == ["item", "sure"]
    assert tokenize("Sullivan'll go; Sullivan's plan") == ["sullivan", "go", "sullivan", "plan"]
    assert tokenize("O'Neill and rock'n'roll") == [lexical._stem("o'neill"), lexical._stem("rock'n"), "roll"]


def test_a_dotted_acronym_is_the_word_its_letters_spell():
    # News writes "U.S.", people type "US": the same term ("U.S." was "u" and the stopword "s").
    assert tokenize("the U.S. and the U.N. met in Washington, D.C.") == tokenize("the US and the UN met in Washington DC")
    assert tokenize("U.S.-based firms") == ["us", "base", "firm"]
    assert tokenize("J. Smith bought 3.5 acres") == ["j", "smith", "bought", "3", "5", "acr"]  # no acronym here
