"""Ingestion: files → articles → chunks → catalog + vectors + BM25. Incremental, one writer at a time, safe
to interrupt at any moment (the next run finishes what was left), bounded memory (files are streamed
through groups of chunks), and committed atomically for readers (qa.store.stamp)."""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from tqdm import tqdm

from qa.sources.articles import SUPPORTED_EXTENSIONS, ArticleError, canonical, discover, load_file
from qa.sources.articles import is_url as is_remote  # a source fetched from the web is named by its URL
from qa.store.catalog import SourceState
from qa.chunking import Chunker
from qa.schema import Article, Chunk
from qa.store import Store

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from qa.sources.feeds import Harvest
    from qa.sources.syndication import NearDuplicates


@dataclass
class IngestReport:
    files_seen: int = 0
    files_ingested: int = 0
    files_unchanged: int = 0
    articles_ingested: int = 0
    duplicates: int = 0  # articles met again in this batch (identical files, repeated lines): stored once
    chunks_embedded: int = 0
    chunks_reembedded: int = 0  # chunks whose vectors were missing from the vector store
    vectors_removed: int = 0  # vectors the catalog did not know
    articles_removed: int = 0
    sources_pruned: int = 0
    copies: int = 0  # syndicated copies of stored articles: recorded as "also published by", stored once
    pages_ingested: int = 0  # fetched pages (URLs, feed items) whose article was new or changed
    pages_unchanged: int = 0
    pages_fetched: int = 0
    feeds_polled: int = 0
    feeds_not_modified: int = 0  # answered 304: nothing fetched but the feed's validators
    items_new: int = 0
    items_changed: int = 0
    items_gone: int = 0  # items that left their feed (their articles stay, unless pruned)
    version: int | None = None  # the commit this ingest published (None: nothing to commit)
    skipped: list[str] = field(default_factory=list)
    errors: list[ArticleError] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return bool(self.errors)

    def to_dict(self) -> dict:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "errors"}
        data["skipped"] = list(self.skipped)
        data["errors"] = [{"path": e.path, "reason": e.reason} for e in self.errors]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "IngestReport":
        data = dict(data)
        errors = [ArticleError(e["path"], e["reason"]) for e in data.pop("errors", [])]
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known, errors=errors)

    def summary(self) -> str:
        parts = []
        if self.feeds_polled or self.pages_fetched or self.pages_unchanged:
            parts.append(f"{self.feeds_polled} feed(s) polled ({self.feeds_not_modified} not modified, "
                         f"{self.items_new} new item(s), {self.items_changed} changed, {self.items_gone} gone)")
            parts.append(f"{self.pages_fetched} page(s) fetched ({self.pages_ingested} new or changed, "
                         f"{self.pages_unchanged} unchanged)")
        files, unchanged = self.files_ingested - self.pages_ingested, self.files_unchanged - self.pages_unchanged
        if files or unchanged or not parts:
            parts.append(f"{files} file(s) ingested")
            parts.append(f"{unchanged} unchanged")
        parts.append(f"{self.articles_ingested} article(s) read, {self.chunks_embedded} chunk(s) embedded")
        counts = [
            (self.copies, "syndicated cop(ies) of stored articles recorded, not stored again"),
            (self.duplicates, "duplicate article(s) stored once"),
            (self.chunks_reembedded, "chunk(s) re-embedded (their vectors were missing)"),
            (self.vectors_removed, "stray vector(s) removed"),
            (self.articles_removed, "old article version(s) removed"),
            (self.sources_pruned, "missing file(s) pruned"),
            (len(self.skipped), "file(s) of unsupported type skipped"),
        ]
        parts += [f"{n} {what}" for n, what in counts if n]
        if self.errors:
            parts.append(f"{len(self.errors)} error(s)")
        return "; ".join(parts) + f" in {self.seconds:.1f}s"


def store_upload(uploads_dir: Path, original_name: str, content: bytes) -> Path:
    """Save an uploaded file under `uploads_dir`, whatever its name says: the name is reduced to a plain
    file name, so "../../etc/passwd" or an absolute path cannot write anywhere else."""
    name = re.sub(r"[^\w.\-]+", "_", Path(original_name.replace("\\", "/")).name).lstrip(".") or "upload"
    if Path(name).suffix.lower() not in SUPPORTED_EXTENSIONS:
        raise ArticleError(original_name, f"unsupported file type '{Path(name).suffix or '(none)'}'")
    uploads_dir.mkdir(parents=True, exist_ok=True)
    target = uploads_dir / name
    stem, suffix, n = target.stem, target.suffix, 1
    while target.exists() and target.read_bytes() != content:
        n += 1
        target = uploads_dir / f"{stem}-{n}{suffix}"
    if target.resolve().parent != uploads_dir.resolve():  # defence in depth
        raise ArticleError(original_name, "invalid file name")
    target.write_bytes(content)
    return target


@dataclass
class _Pending:
    """Files on their way into the index: rows and chunks gathered until a group is full."""

    hashes: dict[str, str] = field(default_factory=dict)
    articles: dict[str, list[Article]] = field(default_factory=dict)
    chunks: dict[str, list[Chunk]] = field(default_factory=dict)
    ended: list[str] = field(default_factory=list)  # files whose last article is gathered
    begun: set[str] = field(default_factory=set)  # files already marked pending in the catalog
    batch: set[str] = field(default_factory=set)  # ids of every article met in this run
    copies: dict[str, list[tuple[str, Article, float]]] = field(default_factory=dict)  # (stored id, copy, similarity)
    signatures: dict[str, bytes] = field(default_factory=dict)  # of the gathered articles
    size: int = 0

    def add(self, path: str, article: Article, chunks: list[Chunk]) -> None:
        self.articles.setdefault(path, []).append(article)
        self.chunks.setdefault(path, []).extend(chunks)
        self.size += len(chunks)

    def add_copy(self, path: str, stored_id: str, copy: Article, similarity: float) -> None:
        self.articles.setdefault(path, [])
        self.chunks.setdefault(path, [])
        self.copies.setdefault(path, []).append((stored_id, copy, similarity))
        self.size += 1  # a row to write: a source of copies alone is still flushed in time

    def text_of(self, article_id: str) -> str | None:
        for articles in self.articles.values():
            for article in articles:
                if article.id == article_id:
                    return article.text
        return None

    def drop(self, path: str) -> None:
        self.size -= len(self.chunks.pop(path, [])) + len(self.copies.pop(path, []))
        for article in self.articles.pop(path, []):
            self.signatures.pop(article.id, None)


class Ingestor:
    """Files and fetched documents → the index. Keep one for a process that ingests again and again (`qa
    watch`): the near-duplicate index it holds is then only brought up to date between runs."""

    def __init__(self, store: Store, chunker: Chunker | None = None):
        self.store = store
        self.chunker = chunker or Chunker.from_settings(store.encoder.count_tokens, store.settings)
        self._near: NearDuplicates | None = None
        self._synced = False

    def run(self, paths: Iterable[Path | str], prune: bool = False, progress: bool = True, wait: bool = True,
            on_wait: Callable[[str], None] | None = None, harvest: "Harvest | None" = None) -> IngestReport:
        """Ingest under the index's writer lock (waiting for another writer, or IndexBusyError if not `wait`).
        `harvest`: documents fetched from URLs (qa.sources.feeds), stored with the files, their feeds'
        state recorded in the same run."""
        paths = list(paths)
        with self.store.writing(wait=wait, on_wait=on_wait, purpose="ingest"):
            return self._run(paths, prune, progress, harvest)

    @property
    def near_duplicates(self) -> "NearDuplicates | None":
        """The signatures of the stored articles (None when syndicated copies are not looked for)."""
        if not self.store.settings.near_duplicates:
            return None
        if self._near is None:
            from qa.sources.syndication import NearDuplicates

            self._near = NearDuplicates(threshold=self.store.settings.near_duplicate_threshold)
        return self._near

    def _sync_near_duplicates(self) -> None:
        """Bring the in-memory signatures up to the catalog's (other processes ingest and remove too)."""
        near = self.near_duplicates
        if near is None:
            return
        self.store.catalog.drop_orphan_signatures()
        stored = self.store.catalog.signature_ids()
        for article_id in near.ids() - stored:
            near.remove(article_id)
        near.add_many(self.store.catalog.signatures(sorted(stored - near.ids())))

    def _run(self, paths: list[Path | str], prune: bool, progress: bool, harvest: "Harvest | None") -> IngestReport:
        started = time.perf_counter()
        report = IngestReport()
        found = discover(paths)
        report.files_seen = len(found.files)
        report.skipped = [str(p) for p in found.skipped]
        report.errors.extend(found.errors)
        catalog = self.store.catalog
        generation_before = catalog.generation()
        self._synced = False  # the signatures are loaded when the first new article needs them
        pending = _Pending()
        self._bar = tqdm(desc="embedding", unit="chunk", disable=not progress, leave=False)
        try:
            for path in tqdm(found.files, desc="reading", unit="file", disable=not progress or len(found.files) < 2,
                             leave=False):
                self._ingest_file(path, pending, report)
            if harvest is not None:
                self._ingest_harvest(harvest, pending, report)
            self._flush(pending, report)
        finally:
            self._bar.close()
        if harvest is not None:
            harvest.record(catalog)

        # Sources whose files are gone (on request), then articles nobody references any more. A fetched
        # page is never pruned for not being a file; an item that left its feed is, on request.
        if prune:
            for source in catalog.source_paths():
                if not is_remote(source) and not Path(source).exists():
                    catalog.remove_source(source)
                    report.sources_pruned += 1
            for source in harvest.gone_sources if harvest is not None else ():
                if catalog.source_state(source) is not None:
                    catalog.remove_source(source)
                    report.sources_pruned += 1
        report.articles_removed = self.store.collect_garbage()
        self._read_facts(progress)
        # A vector store that lost vectors (deleted folder, interrupted write) or holds strays is mended here.
        report.chunks_reembedded, report.vectors_removed = self.store.reconcile_vectors(progress=progress)
        stamp = self.store._read_stamp_or_none()
        if (stamp is None or catalog.generation() != generation_before or stamp.generation != catalog.generation()
                or report.chunks_reembedded or report.vectors_removed
                or self.store.bm25_outdated(stamp)):
            report.version = self.store.commit().version
        report.seconds = time.perf_counter() - started
        return report

    def _read_facts(self, progress: bool) -> int:
        """Quotes, speakers, people and dates of every article not yet read by this extraction (new ones,
        and those of an index built before it, or by an older version): qa.news. A crash before they are
        stored only means the next ingest reads them."""
        from qa.news.facts import VERSION, extract
        from qa.news.nlp import PipelineMissing

        catalog = self.store.catalog
        todo = catalog.articles_without_facts(VERSION)
        if not todo:
            return 0
        done = []
        try:
            for article_id, text, published in tqdm(todo, desc="reading quotes", unit="article",
                                                    disable=not progress or len(todo) < 5, leave=False):
                done.append((article_id, extract(text, published)))
                if len(done) >= 50:
                    catalog.set_facts(VERSION, done)
                    done.clear()
        except PipelineMissing as error:
            log.warning("%s; quotes and speakers are not read", error)
        catalog.set_facts(VERSION, done)
        return len(todo)

    def _ingest_file(self, path: Path, pending: _Pending, report: IngestReport) -> None:
        from qa.sources.articles import file_sha256

        key = str(path)
        try:
            file_hash = file_sha256(path)
        except OSError as exc:
            report.errors.append(ArticleError(path, f"cannot read file ({exc.strerror or exc})"))
            return
        if self.store.catalog.source_state(key) == (file_hash, SourceState.DONE):
            report.files_unchanged += 1
            return
        self._ingest_items(key, file_hash, self._articles(path), pending, report)

    def _ingest_harvest(self, harvest: "Harvest", pending: _Pending, report: IngestReport) -> None:
        """Fetched documents: a source each, named by its URL, whose content hash is that of its articles
        (a page re-fetched with other ads or another timestamp but the same article is unchanged: free)."""
        import hashlib

        for name in ("pages_fetched", "feeds_polled", "feeds_not_modified", "items_new", "items_changed",
                     "items_gone"):
            setattr(report, name, getattr(report, name) + getattr(harvest, name))
        report.errors.extend(harvest.errors)
        report.files_seen += harvest.pages_not_modified
        report.files_unchanged += harvest.pages_not_modified
        report.pages_unchanged += harvest.pages_not_modified
        for document in harvest.documents:
            report.files_seen += 1
            digest = "articles:" + hashlib.sha256(" ".join(a.id for a in document.articles).encode()).hexdigest()
            if self.store.catalog.source_state(document.key) == (digest, SourceState.DONE):
                report.files_unchanged += 1
                report.pages_unchanged += 1
                continue
            before = report.files_ingested + len(pending.ended)
            self._ingest_items(document.key, digest, iter(document.articles), pending, report)
            report.pages_ingested += report.files_ingested + len(pending.ended) > before

    def _ingest_items(self, key: str, content_hash: str, items: Iterable[Article | ArticleError], pending: _Pending,
                      report: IngestReport) -> None:
        catalog = self.store.catalog
        # The articles this source held before: its new version is never taken for a copy of its old one.
        previous = set(catalog.articles_of_source(key))
        seen: set[str] = set()
        try:
            for item in items:
                if isinstance(item, ArticleError):
                    report.errors.append(item)
                    continue
                item = canonical(item)  # NFC, valid Unicode, whatever the format or source
                if item.id in seen:
                    report.duplicates += 1
                    continue
                seen.add(item.id)
                if key not in pending.hashes:
                    pending.hashes[key] = content_hash
                if item.id in pending.batch:  # another file of the batch holds it: one more source, same rows
                    report.duplicates += 1
                elif not catalog.has_article(item.id) and (match := self._copy_of(item, previous, pending)):
                    pending.add_copy(key, match.article_id, item, match.similarity)
                    report.copies += 1
                    continue
                pending.batch.add(item.id)
                pending.add(key, item, self.chunker.split(item))
                if pending.size >= self.store.settings.ingest_group_chunks:
                    self._flush(pending, report)
        except ArticleError as exc:
            # What was stored from an earlier version of the file stays; a file that failed half-way
            # through stays pending, so the next run takes it up again.
            report.errors.append(exc)
            if key not in pending.begun:
                pending.hashes.pop(key, None)
            pending.drop(key)
            return
        if not seen:
            if not any(e.path.startswith(key) for e in report.errors):
                report.errors.append(ArticleError(key, "no article text found"))
            return
        pending.ended.append(key)
        report.articles_ingested += len(seen)
        if key not in pending.articles:  # its last rows went out with the previous group: done now
            self._finish(pending, report)

    def _copy_of(self, article: Article, exclude: set[str], pending: _Pending):
        """The stored (or gathered) article this one is a syndicated copy of, else None; an article that is
        not a copy has its signature kept, for the copies that come after it."""
        near = self.near_duplicates
        if near is None:
            return None
        if not self._synced:
            self._sync_near_duplicates()
            self._synced = True

        def text_of(article_id: str) -> str:
            """Always a text: a candidate is verified on its words, never on its signature alone (an
            article gone since its signature was loaded has none, and matches nothing)."""
            text = pending.text_of(article_id)
            if text is None:
                stored = self.store.catalog.article(article_id)
                text = stored.text if stored else ""
            return text

        match = near.match(article.text, text_of=text_of, exclude=exclude)
        if match is None and (signature := near.signature(article.text)) is not None:
            near.add(article.id, signature)
            pending.signatures[article.id] = signature
        return match

    @staticmethod
    def _articles(path: Path) -> Iterator[Article | ArticleError]:
        if path.suffix.lower() == ".jsonl":
            from qa.sources.articles import iter_jsonl_articles

            yield from iter_jsonl_articles(path)
            return
        parsed = load_file(path)
        yield from parsed.errors
        yield from parsed.articles

    def _flush(self, pending: _Pending, report: IngestReport) -> None:
        """Record the gathered rows, embed their chunks, then mark the files whose every article is in."""
        catalog = self.store.catalog
        for path in list(pending.articles):
            signatures = {a.id: pending.signatures.pop(a.id) for a in pending.articles[path] if a.id in pending.signatures}
            rows = (pending.articles[path], pending.chunks[path], pending.copies.get(path, ()), signatures)
            if path in pending.begun:
                catalog.add_rows(path, *rows)
            else:
                catalog.begin_source(path, pending.hashes[path], *rows)
                pending.begun.add(path)
        chunks = [c for path in pending.chunks for c in pending.chunks[path]]
        size = self.store.settings.ingest_group_chunks
        for i in range(0, len(chunks), size):
            report.chunks_embedded += self.store.add_vectors(chunks[i : i + size])
            self._bar.update(len(chunks[i : i + size]))
        pending.articles.clear()
        pending.chunks.clear()
        pending.copies.clear()
        pending.size = 0
        self._finish(pending, report)

    def _finish(self, pending: _Pending, report: IngestReport) -> None:
        """Mark done the ended files none of whose rows still wait in `pending`."""
        still = []
        for path in pending.ended:
            if path in pending.articles:
                still.append(path)
                continue
            self.store.catalog.finish_source(path)
            report.files_ingested += 1
            pending.begun.discard(path)
            pending.hashes.pop(path, None)
        pending.ended[:] = still
