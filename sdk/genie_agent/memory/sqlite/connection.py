"""The SQLite file both stores open: one connection per store and process, in WAL mode; the lock
under which one process at a time sets up the tables; the failures that mean SQLite failed."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..health import Health

__all__ = ["connect_sqlite", "sqlite_health", "sqlite_setup_lock"]


def connect_sqlite(path: Path, timeout_s: float) -> sqlite3.Connection:
    """A connection shared by a process's threads (each store serializes its use with a lock), in WAL mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, timeout=timeout_s, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL stays consistent on a crash; it skips an fsync per turn (power loss may drop the last turn).
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


@contextmanager
def sqlite_setup_lock(path: Path) -> Iterator[None]:
    """One process at a time creates or migrates the tables of ``path`` (LangGraph's SQLite
    migrations are not safe to run concurrently: two processes would both add the same column)."""
    import fcntl

    # The lock file stays: unlinking it would let two processes lock different inodes.
    with open(path.with_name(path.name + ".setup.lock"), "a+b") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def sqlite_health() -> Health:
    """The health of a store given none of its own: a SQLite or file error means the store failed."""
    return Health("SQLite", (sqlite3.Error, OSError))
