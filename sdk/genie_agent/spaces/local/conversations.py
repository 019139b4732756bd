"""Local Genie conversations, persisted in SQLite so a follow-up works from another process."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path

from .plan import QueryPlan

__all__ = ["ConversationStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    message_id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    space_id TEXT NOT NULL,
    question TEXT NOT NULL,
    plan TEXT,
    sql TEXT,
    created_at REAL NOT NULL,
    user TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages (conversation_id, created_at);
"""


class ConversationStore:
    """Messages of local Genie conversations: the question, its plan and SQL."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL stays consistent on a crash; it skips an fsync per turn (power loss may drop the last turn).
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(messages)")}
        if "user" not in columns:  # files written before conversations had owners
            self._conn.execute("ALTER TABLE messages ADD COLUMN user TEXT NOT NULL DEFAULT ''")
        self._lock = threading.Lock()

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    def owner(self, conversation_id: str) -> str | None:
        """The user who started the conversation, or None if it does not exist."""
        with self._lock:
            row = self._conn.execute(
                "SELECT user FROM messages WHERE conversation_id = ? ORDER BY created_at, rowid LIMIT 1",
                (conversation_id,),
            ).fetchone()
        return row[0] if row else None

    def last_plan(self, conversation_id: str, space_id: str, user: str) -> QueryPlan | None:
        """The plan of the user's latest answered message in this conversation and space, if any."""
        with self._lock:
            row = self._conn.execute(
                "SELECT plan FROM messages WHERE conversation_id = ? AND space_id = ? AND user = ?"
                " AND plan IS NOT NULL ORDER BY created_at DESC, rowid DESC LIMIT 1",
                (conversation_id, space_id, user),
            ).fetchone()
        return QueryPlan.from_json(json.loads(row[0])) if row else None

    def add(
        self,
        conversation_id: str,
        space_id: str,
        question: str,
        plan: QueryPlan | None,
        sql: str | None,
        user: str,
    ) -> str:
        message_id = self.new_id()
        with self._lock:
            self._conn.execute(
                "INSERT INTO messages (message_id, conversation_id, space_id, question, plan, sql, created_at, user)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    message_id,
                    conversation_id,
                    space_id,
                    question,
                    json.dumps(plan.to_json()) if plan else None,
                    sql,
                    time.time(),
                    user,
                ),
            )
        return message_id

    def close(self) -> None:
        self._conn.close()
