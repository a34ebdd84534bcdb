"""The commit record: one small JSON file, replaced atomically by the writer when it has finished a change.

It is what readers follow. A reader stats it on every question (microseconds); when it changed, another
writer committed, and the reader reloads BM25 and its vector-store view. It also records what a healthy
index holds (counts, catalog generation, the BM25 manifest), so damage can be told from work in progress."""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

STAMP_NAME = "commit.json"
FORMAT = 1


@dataclass(frozen=True)
class Stamp:
    version: int  # increases with every commit
    generation: int  # the catalog's generation the commit describes
    articles: int
    chunks: int
    vectors: int  # sentence vectors the vector store holds
    bm25: dict = field(default_factory=dict)  # the BM25 manifest (qa.store.lexical)
    writer: str = ""  # "pid@host:token" of the committing process
    written: float = 0.0
    format: int = FORMAT

    @classmethod
    def from_dict(cls, data: dict) -> "Stamp":
        return cls(int(data["version"]), int(data["generation"]), int(data["articles"]), int(data["chunks"]),
                   int(data["vectors"]), dict(data.get("bm25") or {}), str(data.get("writer", "")),
                   float(data.get("written", 0.0)), int(data.get("format", FORMAT)))


class StampError(Exception):
    pass


def stamp_path(index_dir: Path) -> Path:
    return index_dir / STAMP_NAME


def stat_key(index_dir: Path) -> tuple | None:
    """Changes whenever the stamp is replaced (a new inode each time); None when there is none."""
    try:
        st = os.stat(stamp_path(index_dir))
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def read_stamp(index_dir: Path) -> Stamp | None:
    path = stamp_path(index_dir)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StampError(f"{path}: unreadable ({exc.strerror or exc})") from exc
    try:
        return Stamp.from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError) as exc:
        raise StampError(f"{path}: damaged commit record ({exc})") from exc


def write_stamp(index_dir: Path, stamp: Stamp) -> None:
    """Write to a temporary file, flush it to disk, then rename over the old one: readers see the old
    record or the new one, never a torn one, and a crash leaves the old one."""
    path = stamp_path(index_dir)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = asdict(stamp)
    data["written"] = data["written"] or time.time()
    with open(tmp, "w") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    try:
        fd = os.open(index_dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
