"""Conversation threads: what a later turn needs from earlier ones, keyed by thread and user.

A small store behind an interface; the memory work replaces it with LangGraph checkpointers.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .errors import UserInputError

__all__ = ["SqliteThreadStore", "ThreadState", "ThreadStore", "TurnRecord"]


@dataclass(frozen=True)
class ThreadState:
    thread_id: str
    user: str
    last_domains: tuple[str, ...] = ()
    genie_conversation_ids: dict[str, str] = field(default_factory=dict)
    turns: int = 0


@dataclass(frozen=True)
class TurnRecord:
    question: str
    status: str
    text: str
    domains: tuple[str, ...]
    genie_conversation_ids: dict[str, str]
    sql: dict[str, str | None]


class ThreadStore(Protocol):
    def load(self, thread_id: str | None, user: str) -> ThreadState:
        """The thread's state; a new thread when ``thread_id`` is None or unknown.

        Raises :class:`UserInputError` when the id belongs to another user's thread.
        """
        ...

    def append(self, state: ThreadState, turn: TurnRecord) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (thread_id TEXT PRIMARY KEY, user TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS turns (
    thread_id TEXT NOT NULL REFERENCES threads(thread_id), seq INTEGER NOT NULL, question TEXT NOT NULL,
    status TEXT NOT NULL, text TEXT NOT NULL, domains TEXT NOT NULL, conversation_ids TEXT NOT NULL,
    sql TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (thread_id, seq)
);
"""


class SqliteThreadStore:
    """Threads in a SQLite file, safe across processes (WAL) and threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL stays consistent on a crash; it skips an fsync per turn (power loss may drop the last turn).
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def load(self, thread_id: str | None, user: str) -> ThreadState:
        if thread_id is None:
            return ThreadState(uuid.uuid4().hex, user)
        with self._lock:
            owner = self._conn.execute(
                "SELECT user FROM threads WHERE thread_id = ?", (thread_id,)
            ).fetchone()
            if owner is None:
                return ThreadState(thread_id, user)
            if owner[0] != user:
                raise UserInputError(
                    f"Thread {thread_id!r} is not available to user {user!r}.",
                    "Omit --thread-id to start a new thread, or use one of your own.",
                )
            rows = self._conn.execute(
                "SELECT domains, conversation_ids FROM turns WHERE thread_id = ? ORDER BY seq", (thread_id,)
            ).fetchall()
        conv_ids: dict[str, str] = {}
        last: tuple[str, ...] = ()
        for domains, ids in rows:
            conv_ids.update(json.loads(ids))
            if json.loads(domains):
                last = tuple(json.loads(domains))
        return ThreadState(thread_id, user, last, conv_ids, len(rows))

    def append(self, state: ThreadState, turn: TurnRecord) -> None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "INSERT OR IGNORE INTO threads VALUES (?, ?, ?)",
                    (state.thread_id, state.user, time.time()),
                )
                seq = self._conn.execute(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM turns WHERE thread_id = ?", (state.thread_id,)
                ).fetchone()[0]
                self._conn.execute(
                    "INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        state.thread_id,
                        seq,
                        turn.question,
                        turn.status,
                        turn.text,
                        json.dumps(turn.domains),
                        json.dumps(turn.genie_conversation_ids),
                        json.dumps(turn.sql),
                        time.time(),
                    ),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        self._conn.close()
