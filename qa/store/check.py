"""`qa check [--repair]`: do catalog, vector store and BM25 agree, and can every vector be read?

The catalog is the source of truth. Repair rebuilds BM25 from it, re-embeds the chunks whose vectors are
missing or unreadable, deletes vectors the catalog does not know, re-ingests files an emptied catalog
lost (their paths survive in the vectors' metadata), and finishes interrupted ingests."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Callable

from qa.errors import QAError
from qa.store.lexical import TOKENIZER, LexicalIndex, LexicalIndexError
from qa.store.stamp import StampError, read_stamp
from qa.store.index import Store


class Problem(str, Enum):
    NO_COMMIT = "no-commit"  # data but no commit record
    COMMIT_UNREADABLE = "commit-unreadable"
    COMMIT_STALE = "commit-stale"  # the catalog changed after the last commit (interrupted ingest)
    PENDING_SOURCES = "pending-sources"
    VECTORS_MISSING = "vectors-missing"
    VECTORS_EXTRA = "vectors-extra"
    VECTORS_UNREADABLE = "vectors-unreadable"
    VECTOR_STORE_UNAVAILABLE = "vector-store-unavailable"
    BM25_DAMAGED = "bm25-damaged"
    BM25_MISMATCH = "bm25-mismatch"
    BM25_OUTDATED = "bm25-outdated"  # built by an older tokenizer: readers rebuild it in memory until repaired
    CATALOG_LOST_SOURCES = "catalog-lost-sources"


@dataclass
class Finding:
    problem: Problem
    detail: str

    def to_dict(self) -> dict:
        return {"problem": self.problem.value, "detail": self.detail}


@dataclass
class CheckReport:
    articles: int = 0
    chunks: int = 0
    sentences: int = 0
    vectors: int = 0
    bm25_chunks: int = 0
    version: int | None = None
    findings: list[Finding] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    lost_sources: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, problem: Problem, detail: str) -> None:
        self.findings.append(Finding(problem, detail))

    def to_dict(self) -> dict:
        return {
            "ok": self.ok, "articles": self.articles, "chunks": self.chunks, "sentences": self.sentences,
            "vectors": self.vectors, "bm25_chunks": self.bm25_chunks, "version": self.version,
            "findings": [f.to_dict() for f in self.findings], "repaired": self.repaired,
            "lost_sources": self.lost_sources,
        }

    def summary(self) -> str:
        head = (f"{self.articles} articles, {self.chunks} chunks, {self.sentences} sentences; vector store "
                f"{self.vectors} vectors; BM25 {self.bm25_chunks} chunks; commit {self.version}")
        if self.ok:
            return f"index OK: {head}"
        lines = [f"index DAMAGED: {head}"] + [f"  - {f.problem.value}: {f.detail}" for f in self.findings]
        lines.append("  fix: qa check --repair")
        return "\n".join(lines)


def _sample(ids, n: int = 3) -> str:
    ids = sorted(ids)
    more = f" and {len(ids) - n} more" if len(ids) > n else ""
    return ", ".join(ids[:n]) + more


def check_index(store: Store, deep: bool = True, progress: bool = False) -> CheckReport:
    """Compare ids and counts of the three stores; `deep` also reads every vector back."""
    report = CheckReport()
    catalog = store.catalog
    report.articles = catalog.count_articles()
    report.chunks = catalog.count_chunks()
    wanted = catalog.sentence_id_set()
    report.sentences = len(wanted)

    try:
        stamp = read_stamp(store.settings.index_dir)
    except StampError as exc:
        stamp = None
        report.add(Problem.COMMIT_UNREADABLE, str(exc))
    else:
        if stamp is None and report.chunks:
            report.add(Problem.NO_COMMIT, f"the catalog holds {report.chunks} chunks but nothing was committed")
    if stamp is not None:
        report.version = stamp.version
        if stamp.generation != catalog.generation():
            report.add(Problem.COMMIT_STALE, f"the catalog changed after the last commit (generation "
                                             f"{catalog.generation()} vs {stamp.generation}): an ingest was interrupted")
    pending = catalog.pending_sources()
    if pending:
        report.add(Problem.PENDING_SOURCES, f"{len(pending)} file(s) half ingested: {_sample(pending)}")

    # Vector store: ids, then (deep) every vector.
    try:
        present = store.vectors.all_ids()
    except QAError as exc:
        report.add(Problem.VECTOR_STORE_UNAVAILABLE, str(exc))
        present = None
    if present is not None:
        report.vectors = len(present)
        missing, extra = wanted - present, present - wanted
        if missing:
            report.add(Problem.VECTORS_MISSING, f"{len(missing)} sentence vector(s) missing: {_sample(missing)}")
        if extra:
            lost = sorted(p for p in store.vectors.sources_of(sorted(extra)) if p not in set(catalog.source_paths()))
            report.lost_sources = lost
            report.add(Problem.VECTORS_EXTRA, f"{len(extra)} vector(s) the catalog does not know: {_sample(extra)}")
            if lost:
                report.add(Problem.CATALOG_LOST_SOURCES,
                           f"the catalog lost {len(lost)} file(s) the vectors came from: {_sample(lost)}")
        if deep:
            readable = sorted(present & wanted)
            bar = _bar(len(readable), "reading vectors", progress)
            bad = store.vectors.unreadable(readable, progress=bar.update)
            bar.close()
            if bad:
                report.add(Problem.VECTORS_UNREADABLE, f"{len(bad)} vector(s) cannot be read: {_sample(bad)}")

    # BM25: the committed index must load intact and hold exactly the catalog's chunks.
    if stamp is not None and stamp.bm25:
        try:
            lexical = LexicalIndex.load(store.settings.bm25_dir, stamp.bm25)
        except LexicalIndexError as exc:
            report.add(Problem.BM25_DAMAGED, str(exc))
        else:
            if lexical.tokenizer != TOKENIZER:
                report.add(Problem.BM25_OUTDATED, f"the BM25 index was built by an older tokenizer "
                                                  f"({lexical.tokenizer}, now {TOKENIZER}): each reader rebuilds "
                                                  f"it in memory until the next ingest or `qa check --repair`")
            report.bm25_chunks = len(lexical)
            have, chunk_ids = lexical.ids(), catalog.chunk_id_set()
            if have != chunk_ids:
                report.add(Problem.BM25_MISMATCH, f"BM25 holds {len(have)} chunks, the catalog {len(chunk_ids)} "
                                                  f"({len(chunk_ids - have)} missing, {len(have - chunk_ids)} extra)")
    return report


def _bar(total: int, desc: str, progress: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="vector", disable=not progress or not total, leave=False)


def repair_index(store: Store, wait: bool = True, progress: bool = False,
                 on_wait: Callable[[str], None] | None = None) -> CheckReport:
    """Mend everything `check_index` can find, then check again (the returned report is the final state)."""
    from qa.ingest import Ingestor, is_remote

    with store.writing(wait=wait, on_wait=on_wait, purpose="check --repair"):
        before = check_index(store, deep=False)
        done: list[str] = []
        bad = _unreadable_ids(store, progress)
        if bad:
            store.vectors.delete(bad)
            done.append(f"deleted {len(bad)} unreadable vector(s)")
        # Files an emptied catalog lost, and files left half ingested, go through ingest again.
        again = [p for p in before.lost_sources + store.catalog.pending_sources() if Path(p).is_file()]
        if again:
            ingest = Ingestor(store).run(sorted(set(again)), progress=progress)
            done.append(f"re-ingested {ingest.files_ingested} file(s)")
        store.collect_garbage()
        embedded, removed = store.reconcile_vectors(progress=progress)
        if embedded:
            done.append(f"re-embedded {embedded} chunk(s)")
        # A fetched page's rows are written at once: once its vectors are in, it is whole (nothing to fetch).
        pages = [p for p in store.catalog.pending_sources() if is_remote(p)]
        for page in pages:
            store.catalog.finish_source(page)
        if pages:
            done.append(f"finished {len(pages)} fetched page(s) left half ingested")
        if removed:
            done.append(f"deleted {removed} vector(s) the catalog does not know")
        store.commit(rebuild_lexical=True)
        done.append("rebuilt BM25 from the catalog and committed")
        after = check_index(store, deep=True, progress=progress)
        after.repaired = done
        missing_files = [p for p in before.lost_sources if not is_remote(p) and not Path(p).is_file()]
        if missing_files:
            after.repaired.append(f"could not re-ingest {len(missing_files)} lost file(s) that no longer exist: "
                                  f"{_sample(missing_files)}")
        lost_pages = [p for p in before.lost_sources if is_remote(p)]
        if lost_pages:
            after.repaired.append(f"{len(lost_pages)} lost page(s) fetched from the web need `qa ingest URL` "
                                  f"again (repair does not go online): {_sample(lost_pages)}")
        return after


def _unreadable_ids(store: Store, progress: bool) -> list[str]:
    try:
        present = store.vectors.all_ids()
    except QAError:
        return []
    ids = sorted(present)
    bar = _bar(len(ids), "reading vectors", progress)
    try:
        return store.vectors.unreadable(ids, progress=bar.update)
    finally:
        bar.close()
