"""Threads in a SQLite file: LangGraph's ``SqliteSaver`` on one connection per process, and an index
on the digest of each thread's questions (found by :meth:`SqliteThreadStore.find_by_history`)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..errors import MemoryUnavailableError
from ..threads import ThreadStore
from .connection import connect_sqlite, sqlite_health, sqlite_setup_lock
from .sql import HISTORY_INDEX, THREAD_BY_HISTORY

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.checkpoint.sqlite import SqliteSaver

    from ..health import Health

__all__ = ["SqliteThreadStore"]


class SqliteThreadStore(ThreadStore):
    """Threads in a SQLite file (LangGraph's ``SqliteSaver``), safe across threads and processes.

    The writer takes SQLite's write lock first (``BEGIN IMMEDIATE``), so other processes wait for it
    (up to ``timeout_s``) instead of reading a thread that is about to change.
    """

    def __init__(self, path: Path, *, health: Health | None = None, timeout_s: float = 30.0) -> None:
        super().__init__(health or sqlite_health())
        self.path = path
        self._timeout_s = timeout_s
        self._conn: sqlite3.Connection | None = None
        self._saver: SqliteSaver | None = None
        self._lock = threading.Lock()
        # A file that cannot be opened now does not stop the agent: turns say so, and the next
        # use after the retry window opens it again.
        with suppress(MemoryUnavailableError), self._lock:
            self._run("open threads", self._open)

    def _open(self) -> SqliteSaver:
        """The saver, opened (and its tables set up) on first use; hold ``self._lock``."""
        if self._saver is None:
            from langgraph.checkpoint.sqlite import SqliteSaver

            conn = connect_sqlite(self.path, self._timeout_s)
            try:
                saver = SqliteSaver(conn)
                with sqlite_setup_lock(self.path):
                    saver.setup()
                    conn.execute(HISTORY_INDEX)
            except BaseException:
                conn.close()
                raise
            self._conn, self._saver = conn, saver
        return self._saver

    @contextmanager
    def reader(self) -> Iterator[BaseCheckpointSaver[Any]]:
        with self._lock:
            yield self._open()

    @contextmanager
    def writer(self, thread_id: str) -> Iterator[BaseCheckpointSaver[Any]]:
        with self._lock:
            saver = self._open()
            conn = saver.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield saver
            except BaseException:
                if conn.in_transaction:
                    conn.rollback()
                raise
            if conn.in_transaction:
                conn.commit()

    def _find(self, saver: BaseCheckpointSaver[Any], history: str, user: str) -> str | None:
        """One indexed statement (on the digest in each checkpoint's metadata)."""
        row = cast("SqliteSaver", saver).conn.execute(THREAD_BY_HISTORY, (history, user)).fetchone()
        return str(row[0]) if row is not None else None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn = self._saver = None
