"""Ingestion: files → articles → chunks → catalog + vectors + BM25. Incremental and safe to interrupt."""
from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from tqdm import tqdm

from qa.articles import SUPPORTED_EXTENSIONS, ArticleError, ParsedFile, discover, load_file
from qa.catalog import SourceState
from qa.chunking import Chunker
from qa.schema import Chunk
from qa.store import Store

@dataclass
class IngestReport:
    files_seen: int = 0
    files_ingested: int = 0
    files_unchanged: int = 0
    articles_ingested: int = 0
    chunks_embedded: int = 0
    articles_removed: int = 0
    sources_pruned: int = 0
    skipped: list[str] = field(default_factory=list)
    errors: list[ArticleError] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return bool(self.errors)

    def summary(self) -> str:
        parts = [
            f"{self.files_ingested} file(s) ingested ({self.articles_ingested} articles, "
            f"{self.chunks_embedded} chunks embedded)",
            f"{self.files_unchanged} unchanged",
        ]
        if self.articles_removed:
            parts.append(f"{self.articles_removed} old article version(s) removed")
        if self.sources_pruned:
            parts.append(f"{self.sources_pruned} missing file(s) pruned")
        if self.skipped:
            parts.append(f"{len(self.skipped)} file(s) of unsupported type skipped")
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


class Ingestor:
    def __init__(self, store: Store, chunker: Chunker | None = None):
        self.store = store
        self.chunker = chunker or Chunker.from_settings(store.encoder.count_tokens, store.settings)

    def run(self, paths: Iterable[Path | str], prune: bool = False, progress: bool = True) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport()
        found = discover(paths)
        report.files_seen = len(found.files)
        report.skipped = [str(p) for p in found.skipped]
        report.errors.extend(found.errors)
        catalog = self.store.catalog
        generation_before = catalog.generation()

        # 1. Read, hash, parse and chunk what changed.
        todo: list[tuple[str, str, ParsedFile, list[Chunk]]] = []
        for path in tqdm(found.files, desc="reading", unit="file", disable=not progress, leave=False):
            try:
                data = path.read_bytes()
            except OSError as exc:
                report.errors.append(ArticleError(path, f"cannot read file ({exc.strerror or exc})"))
                continue
            file_hash = hashlib.sha256(data).hexdigest()
            if catalog.source_state(str(path)) == (file_hash, SourceState.DONE):
                report.files_unchanged += 1
                continue
            try:
                parsed = load_file(path, data)
            except ArticleError as exc:
                report.errors.append(exc)  # what was stored from an earlier version of the file stays
                continue
            report.errors.extend(parsed.errors)
            chunks = [chunk for article in parsed.articles for chunk in self.chunker.split(article)]
            todo.append((str(path), file_hash, parsed, chunks))

        # 2. Record, embed and store. Files are recorded in groups, so that many small files still make
        # full encoder batches; a file is marked done only once all its vectors are stored. (Writing in
        # a background thread gains nothing: Chroma's insert holds the GIL, which stalls the encoder.)
        size = self.store.settings.ingest_group_chunks
        total_chunks = sum(len(chunks) for *_, chunks in todo)
        groups: list[list] = [[]]
        in_group = 0
        for item in todo:
            if in_group >= size:
                groups.append([])
                in_group = 0
            groups[-1].append(item)
            in_group += len(item[3])
        with tqdm(total=total_chunks, desc="embedding", unit="chunk", disable=not progress or not todo) as bar:
            for group in filter(None, groups):
                for path, file_hash, parsed, chunks in group:
                    catalog.begin_source(path, file_hash, parsed.articles, chunks)
                group_chunks = [c for *_, file_chunks in group for c in file_chunks]
                for i in range(0, len(group_chunks), size):
                    report.chunks_embedded += self.store.add_vectors(group_chunks[i : i + size])
                    bar.update(len(group_chunks[i : i + size]))
                for path, _, parsed, _ in group:
                    catalog.finish_source(path, [a.id for a in parsed.articles])
                    report.files_ingested += 1
                    report.articles_ingested += len(parsed.articles)

        # 3. Sources whose files are gone (on request), then articles nobody references any more.
        if prune:
            for source in catalog.source_paths():
                if not Path(source).exists():
                    catalog.remove_source(source)
                    report.sources_pruned += 1
        report.articles_removed = self.store.collect_garbage()
        if catalog.generation() != generation_before:
            self.store.rebuild_lexical()
        report.seconds = time.perf_counter() - started
        return report
