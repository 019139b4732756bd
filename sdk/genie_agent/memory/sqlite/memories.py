"""User memories in a SQLite file: LangGraph's ``SqliteStore``, recalled through an FTS5 table or,
with an embedder, by meaning over a vector side table."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MemoryUnavailableError
from ..items import memory_item
from ..store import MemoryItem, MemoryStore
from .connection import connect_sqlite, sqlite_health, sqlite_setup_lock
from .sql import (
    FTS_BACKFILL,
    FTS_SEARCH,
    FTS_SETUP,
    GENERATION,
    NOTES_BY_KEY,
    NOTES_WITH_VECTORS,
    SAVE_VECTOR,
    VECTOR_SETUP,
)
from .vectors import NoteVectors, VectorCache

if TYPE_CHECKING:
    from langgraph.store.base import BaseStore
    from langgraph.store.sqlite import SqliteStore

    from ..embeddings import Embedder
    from ..health import Health

__all__ = ["SqliteMemoryStore"]


class SqliteMemoryStore(MemoryStore):
    """Memories in a SQLite file (LangGraph's ``SqliteStore``) with FTS5 keyword recall.

    An FTS5 table holds each item's terms, kept in step with the store's own table by triggers, so
    it changes in the same transaction as the item (``recursive_triggers`` makes SQLite fire the
    delete trigger for the row an ``INSERT OR REPLACE`` replaces).

    With an ``embedder``, notes are recalled by meaning instead: their vectors live in a side table
    (this Python's sqlite3 cannot load a vector extension) and a user's notes are ranked by cosine
    similarity here, exactly; those at least ``min_score`` similar to the question are kept. The
    vectors of the users recalled last stay in memory (up to ``vector_cache_mb``; 0: none) while
    their namespace's generation (see ``genie_memory_generations``) says no process changed them.
    """

    def __init__(
        self,
        path: Path,
        *,
        health: Health | None = None,
        timeout_s: float = 30.0,
        embedder: Embedder | None = None,
        min_score: float = 0.0,
        vector_cache_mb: float = 64.0,
    ) -> None:
        super().__init__(health or sqlite_health())
        self.path = path
        self.embedder = embedder
        self.min_score = min_score
        self._timeout_s = timeout_s
        self._opened: tuple[sqlite3.Connection, SqliteStore] | None = None
        self._open_lock = threading.Lock()
        self._vector_cache = VectorCache(int(vector_cache_mb * 2**20))
        # A file that cannot be opened now does not stop the agent (see SqliteThreadStore).
        with suppress(MemoryUnavailableError):
            self._run("open memories", self._open)

    # --- the file and its tables ---------------------------------------------------------------------

    def _open(self) -> tuple[sqlite3.Connection, SqliteStore]:
        """The connection and store, opened (and their tables set up) on first use."""
        with self._open_lock:
            if self._opened is None:
                from langgraph.store.sqlite import SqliteStore

                conn = connect_sqlite(self.path, self._timeout_s)
                try:
                    conn.execute("PRAGMA recursive_triggers = ON")
                    store = SqliteStore(conn)
                    self._set_up(conn, store)
                except BaseException:
                    conn.close()
                    raise
                self._opened = (conn, store)
            return self._opened

    @property
    def _conn(self) -> sqlite3.Connection:
        return self._open()[0]

    @property
    def _store(self) -> SqliteStore:
        return self._open()[1]

    def setup(self) -> None:
        def op() -> None:
            self._set_up(*self._open())

        self._run("set up memories", op)

    def _set_up(self, conn: sqlite3.Connection, store: SqliteStore) -> None:
        with sqlite_setup_lock(self.path):
            store.setup()
        with store.lock:
            conn.execute("BEGIN IMMEDIATE")  # one process creates the index and fills it
            try:
                if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'genie_memory_fts'").fetchone():
                    for statement in (*FTS_SETUP, FTS_BACKFILL):
                        conn.execute(statement)
                for statement in VECTOR_SETUP:
                    conn.execute(statement)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    @contextmanager
    def store(self) -> Iterator[BaseStore]:
        yield self._store

    def close(self) -> None:
        with self._open_lock:
            if self._opened is not None:
                conn, store = self._opened
                with store.lock:
                    conn.close()
            self._opened = None
        self._vector_cache.clear()

    # --- recall ---------------------------------------------------------------------------------------

    def keyword_search(
        self, store: BaseStore, namespace: tuple[str, ...], terms: Sequence[str], limit: int
    ) -> list[MemoryItem]:
        match = " OR ".join(f'"{t}"*' for t in terms)
        with self._store.lock:
            rows = self._conn.execute(FTS_SEARCH, (match, ".".join(namespace), limit)).fetchall()
        return [
            _item(namespace, (key, value, created, updated), -float(rank))
            for key, value, created, updated, rank in rows
        ]

    def search_notes(
        self, store: BaseStore, namespace: tuple[str, ...], question: str, terms: Sequence[str], limit: int
    ) -> list[MemoryItem]:
        if self.embedder is None:
            return super().search_notes(store, namespace, question, terms, limit)
        if not question.strip():
            return []
        prefix = ".".join(namespace)
        found = self._vectors_and_query(prefix, question)
        if found is None:
            return []
        vectors, query = found
        top = vectors.nearest(query, limit, self.min_score)
        with self._store.lock:
            values = self._values(prefix, [key for key, _ in top])
        return [_item(namespace, (key, *values[key]), score) for key, score in top if key in values]

    def _vectors_and_query(self, prefix: str, question: str) -> tuple[NoteVectors, Sequence[float]] | None:
        """The namespace's note vectors and the question's; None when the namespace has no notes.

        The notes without a vector of this model are embedded with the question: one call, outside the lock.
        """
        assert self.embedder is not None
        model = f"{self.embedder.name}/{self.embedder.dims}"
        vectors = self._cached_vectors(prefix, model)
        if vectors is not None:
            return vectors, self.embedder.embed_documents([question])[0]
        generation, stored, texts = self._load_vectors(prefix, model)
        if not stored and not texts:
            return None
        import numpy as np

        embedded = self.embedder.embed_documents([question, *texts.values()])
        fresh = {
            k: np.asarray(v, dtype=np.float32).tobytes() for k, v in zip(texts, embedded[1:], strict=True)
        }
        return self._save_vectors(prefix, model, generation, [*stored, *fresh.items()], fresh), embedded[0]

    def _cached_vectors(self, prefix: str, model: str) -> NoteVectors | None:
        """The namespace's vectors kept by this process, when no process changed them since."""
        entry = self._vector_cache.get((prefix, model))
        if entry is None:
            return None
        with self._store.lock:
            row = self._conn.execute(GENERATION, (prefix,)).fetchone()
        return entry if (row[0] if row else None) == entry.generation else None

    def _load_vectors(
        self, prefix: str, model: str
    ) -> tuple[int | None, list[tuple[str, bytes]], dict[str, str]]:
        """The namespace's generation, its notes' vectors of ``model`` and the text of the notes that
        have none, read in one snapshot."""
        with self._store.lock:
            conn = self._conn
            conn.execute("BEGIN")
            try:
                row = conn.execute(GENERATION, (prefix,)).fetchone()
                rows = conn.execute(NOTES_WITH_VECTORS, (prefix,)).fetchall()
                missing = [r[0] for r in rows if r[1] != model or r[2] is None]
                values = self._values(prefix, missing) if missing else {}
            finally:
                conn.execute("COMMIT")
        stored = [(r[0], r[2]) for r in rows if r[1] == model and r[2] is not None]
        texts = {k: str(json.loads(values[k][0]).get("text") or "") for k in missing if k in values}
        return (row[0] if row else None), stored, texts

    def _save_vectors(
        self,
        prefix: str,
        model: str,
        generation: int | None,
        vectors: list[tuple[str, bytes]],
        fresh: dict[str, bytes],
    ) -> NoteVectors:
        """Save the ``fresh`` vectors; the namespace's vectors, kept for the next recall when nothing
        else changed the namespace since ``generation`` was read."""
        unchanged = True
        if fresh:
            with self._store.lock:
                conn = self._conn
                conn.execute("BEGIN IMMEDIATE")
                try:
                    row = conn.execute(GENERATION, (prefix,)).fetchone()
                    unchanged = (row[0] if row else None) == generation
                    conn.executemany(
                        SAVE_VECTOR, [(prefix, k, model, blob, prefix, k) for k, blob in fresh.items()]
                    )
                    row = conn.execute(GENERATION, (prefix,)).fetchone()
                    generation = row[0] if row else None
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        entry = NoteVectors.of(generation, vectors)
        if unchanged:
            self._vector_cache.put((prefix, model), entry)
        return entry

    def _values(self, prefix: str, keys: Sequence[str]) -> dict[str, tuple[str, str, str]]:
        """Value, created_at, updated_at of ``keys`` (those that still exist); hold the store's lock."""
        rows = self._conn.execute(NOTES_BY_KEY, (prefix, json.dumps(list(keys)))).fetchall()
        return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _item(namespace: tuple[str, ...], row: Sequence[Any], score: float) -> MemoryItem:
    """The memory of a row of key, value (JSON text), created_at and updated_at (ISO text)."""
    key, value, created, updated = row
    return memory_item(
        namespace,
        key,
        json.loads(value),
        datetime.fromisoformat(created),
        datetime.fromisoformat(updated),
        score,
    )
