"""Threads in a SQLite file: LangGraph's ``SqliteSaver`` tables on one connection per process, and an
index on the digest of each thread's questions (found by :meth:`SqliteThreadStore.find_by_history`).

A turn reads and writes the checkpoints through :class:`.checkpoint_rows.SqliteCheckpoints` (the
same rows, without importing LangGraph); LangGraph's saver sets the tables up, and serves the rest.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..errors import MemoryUnavailableError
from ..threads import ThreadStore
from .checkpoint_rows import SqliteCheckpoints
from .connection import connect_sqlite, sqlite_health, sqlite_setup_lock
from .setup_marks import is_marked, set_mark, setup_mark
from .sql import HISTORY_INDEX, THREAD_BY_HISTORY

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.checkpoint.sqlite import SqliteSaver

    from ..health import Health

__all__ = ["SqliteThreadStore"]

_PART = "threads"


class SqliteThreadStore(ThreadStore):
    """Threads in a SQLite file (LangGraph's ``SqliteSaver`` tables), safe across threads and processes.

    The writer takes SQLite's write lock first (``BEGIN IMMEDIATE``), so other processes wait for it
    (up to ``timeout_s``) instead of reading a thread that is about to change.
    """

    def __init__(self, path: Path, *, health: Health | None = None, timeout_s: float = 30.0) -> None:
        super().__init__(health or sqlite_health())
        self.path = path
        self._timeout_s = timeout_s
        self._conn: sqlite3.Connection | None = None
        self._rows: SqliteCheckpoints | None = None
        self._saver: SqliteSaver | None = None
        self._lock = threading.Lock()
        # A file that cannot be opened now does not stop the agent: turns say so, and the next
        # use after the retry window opens it again.
        with suppress(MemoryUnavailableError), self._lock:
            self._run("open threads", self._open)

    def _open(self) -> SqliteCheckpoints:
        """The checkpoints, opened (and their tables set up, unless this code already did) on first
        use; hold ``self._lock``."""
        if self._rows is None:
            conn = connect_sqlite(self.path, self._timeout_s)
            try:
                if not is_marked(conn, _PART, _mark()):
                    self._set_up(conn)
            except BaseException:
                conn.close()
                self._saver = None
                raise
            self._conn, self._rows = conn, SqliteCheckpoints(conn, self._langgraph)
        return self._rows

    def _set_up(self, conn: sqlite3.Connection) -> None:
        from langgraph.checkpoint.sqlite import SqliteSaver

        saver = self._saver = SqliteSaver(conn)
        with sqlite_setup_lock(self.path):
            saver.setup()
            conn.execute(HISTORY_INDEX)
            set_mark(conn, _PART, _mark())

    def _langgraph(self) -> SqliteSaver:
        """LangGraph's saver on this store's connection (the tables are set up)."""
        if self._saver is None:
            from langgraph.checkpoint.sqlite import SqliteSaver

            assert self._conn is not None
            self._saver = SqliteSaver(self._conn)
            # Set up already: its setup would commit the transaction a writer holds.
            self._saver.is_setup = True
        return self._saver

    def setup(self) -> None:
        def op() -> None:
            with self._lock:
                self._open()
                assert self._conn is not None
                self._set_up(self._conn)

        self._run("set up threads", op)

    @contextmanager
    def reader(self) -> Iterator[BaseCheckpointSaver[Any]]:
        with self._lock:
            yield cast("BaseCheckpointSaver[Any]", self._open())

    @contextmanager
    def writer(self, thread_id: str) -> Iterator[BaseCheckpointSaver[Any]]:
        with self._lock:
            rows = self._open()
            conn = rows.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield cast("BaseCheckpointSaver[Any]", rows)
            except BaseException:
                if conn.in_transaction:
                    conn.rollback()
                raise
            if conn.in_transaction:
                conn.commit()

    def _find(self, saver: BaseCheckpointSaver[Any], history: str, user: str) -> str | None:
        """One indexed statement (on the digest in each checkpoint's metadata)."""
        row = cast("SqliteCheckpoints", saver).conn.execute(THREAD_BY_HISTORY, (history, user)).fetchone()
        return str(row[0]) if row is not None else None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn = self._rows = self._saver = None


def _mark() -> str | None:
    return setup_mark("checkpoint/sqlite/__init__.py", (HISTORY_INDEX,))
