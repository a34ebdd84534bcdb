"""The index's writer lock: one writer at a time (any process, any interface), readers never take it.

An OS file lock (filelock; released by the kernel when its holder dies, so a killed ingest never leaves the
index locked) plus a note naming the holder, so a second writer can say whom it waits for."""
from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from qa.errors import IndexBusyError

LOCK_NAME = "writer.lock"
HOLDER_NAME = "writer.json"
_in_process: dict[str, threading.Lock] = {}  # per index: threads of one process take turns first
_in_process_guard = threading.Lock()
_held = threading.local()  # how deep the current thread holds it (a writer may call another writer step)


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    command: str
    since: float

    def describe(self) -> str:
        started = time.strftime("%H:%M:%S", time.localtime(self.since))
        return f"pid {self.pid} on {self.host} ({self.command}, since {started})"

    def alive(self) -> bool:
        if self.host != socket.gethostname():
            return True  # cannot tell; assume it is
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def current_holder(index_dir: Path) -> Holder | None:
    """Who holds the writer lock now, from its note; None when nobody does (or the holder died)."""
    try:
        data = json.loads((index_dir / HOLDER_NAME).read_text())
        holder = Holder(int(data["pid"]), str(data["host"]), str(data["command"]), float(data["since"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return holder if holder.alive() else None


def _command() -> str:
    args = [Path(sys.argv[0]).name, *sys.argv[1:4]] if sys.argv and sys.argv[0] else ["python"]
    text = " ".join(args)
    return text[:120]


@contextmanager
def writer_lock(index_dir: Path, wait: bool = True, purpose: str | None = None,
                on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the index's writer lock. `wait=False` raises IndexBusyError at once when another writer holds
    it; otherwise `on_wait` is told (once) whom we wait for, and we wait."""
    from filelock import FileLock, Timeout

    index_dir.mkdir(parents=True, exist_ok=True)
    held = getattr(_held, "dirs", None)
    if held is None:
        held = _held.dirs = set()
    key = str(index_dir.resolve())
    if key in held:  # re-entered by the thread that holds it
        yield
        return
    with _in_process_guard:
        local = _in_process.setdefault(key, threading.Lock())
    if not local.acquire(blocking=wait):
        raise IndexBusyError(f"{index_dir}: another writer in this process is changing the index")
    try:
        lock = FileLock(str(index_dir / LOCK_NAME), thread_local=False)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            holder = current_holder(index_dir)
            who = holder.describe() if holder else "another process"
            if not wait:
                raise IndexBusyError(f"{index_dir} is being written by {who}; try again when it finishes") from None
            if on_wait:
                on_wait(f"waiting for the index at {index_dir}: it is being written by {who}")
            lock.acquire()
        try:
            note = {"pid": os.getpid(), "host": socket.gethostname(), "command": purpose or _command(),
                    "since": time.time()}
            (index_dir / HOLDER_NAME).write_text(json.dumps(note))
            held.add(key)
            yield
        finally:
            held.discard(key)
            try:
                (index_dir / HOLDER_NAME).unlink(missing_ok=True)
            finally:
                lock.release()
    finally:
        local.release()
