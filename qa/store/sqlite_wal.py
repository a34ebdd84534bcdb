"""Opening a SQLite file in WAL mode from several processes at once.

Switching a new file to WAL takes an exclusive lock, and SQLite answers "database is locked" at once, without
waiting out its busy timeout, where waiting could deadlock: two processes that open a new file at the same
instant (two `qa ingest` runs, the page and the Slack bot) then fail. The other opener is done within
milliseconds, so the setup is tried again until it succeeds or the busy timeout has passed."""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Callable

BUSY_S = 30.0  # how long opening waits for another process that holds the file


def connect(path: Path, set_up: Callable[[sqlite3.Connection], None]) -> sqlite3.Connection:
    """A connection in WAL mode (autocommit, usable from any thread) on which `set_up` has run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=BUSY_S)
    deadline = time.monotonic() + BUSY_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            set_up(conn)
            return conn
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                conn.close()
                raise
        except BaseException:
            conn.close()
            raise
        time.sleep(0.05)
