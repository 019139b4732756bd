"""User memories in a SQLite file: LangGraph's ``SqliteStore`` tables, recalled through an FTS5 table
or, with an embedder, by meaning over a vector side table.

A turn's recall and save read and write the rows directly (:mod:`.store_rows`, no LangGraph import);
LangGraph's store sets the tables up, and serves listing and forgetting.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..errors import MemoryUnavailableError
from ..items import memory_item
from ..store import (
    DOMAINS_ID,
    PREFERENCES_RECALLED,
    MemoryItem,
    MemoryStore,
    MemoryWrite,
    domain_counts,
    memory_namespace,
)
from .connection import connect_sqlite, sqlite_health, sqlite_setup_lock
from .setup_marks import is_marked, set_mark, setup_mark
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
from .store_rows import get_item, put_items, search_items, transaction
from .vectors import NoteVectors, VectorCache

if TYPE_CHECKING:
    from langgraph.store.base import BaseStore
    from langgraph.store.sqlite import SqliteStore

    from ..embeddings import Embedder
    from ..health import Health

__all__ = ["SqliteMemoryStore"]

_PART = "memories"


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
        self._opened: sqlite3.Connection | None = None
        self._langgraph_store: SqliteStore | None = None
        self._open_lock = threading.Lock()
        self._lock = threading.Lock()  # one statement or transaction at a time on the connection
        self._vector_cache = VectorCache(int(vector_cache_mb * 2**20))
        # A file that cannot be opened now does not stop the agent (see SqliteThreadStore).
        with suppress(MemoryUnavailableError):
            self._run("open memories", self._open)

    # --- the file and its tables ---------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        """The connection, opened (and the tables set up, unless this code already did) on first use."""
        with self._open_lock:
            if self._opened is None:
                conn = connect_sqlite(self.path, self._timeout_s)
                try:
                    conn.execute("PRAGMA recursive_triggers = ON")
                    if not is_marked(conn, _PART, _mark()):
                        self._set_up(conn)
                except BaseException:
                    conn.close()
                    self._langgraph_store = None
                    raise
                self._opened = conn
            return self._opened

    @property
    def _conn(self) -> sqlite3.Connection:
        return self._open()

    def _langgraph(self) -> SqliteStore:
        """LangGraph's store on this connection (the tables are set up), sharing its lock."""
        conn = self._open()
        with self._open_lock:
            if self._langgraph_store is None:
                from langgraph.store.sqlite import SqliteStore

                store = SqliteStore(conn)
                store.lock, store.is_setup = self._lock, True
                self._langgraph_store = store
            return self._langgraph_store

    def setup(self) -> None:
        self._run("set up memories", lambda: self._set_up(self._open()))

    def _set_up(self, conn: sqlite3.Connection) -> None:
        from langgraph.store.sqlite import SqliteStore

        store = SqliteStore(conn)
        store.lock = self._lock
        with sqlite_setup_lock(self.path):
            store.setup()
        with self._lock:
            conn.execute("BEGIN IMMEDIATE")  # one process creates the index and fills it
            try:
                if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'genie_memory_fts'").fetchone():
                    for statement in (*FTS_SETUP, FTS_BACKFILL):
                        conn.execute(statement)
                for statement in VECTOR_SETUP:
                    conn.execute(statement)
                set_mark(conn, _PART, _mark())
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        self._langgraph_store = store

    @contextmanager
    def store(self) -> Iterator[BaseStore]:
        yield self._langgraph()

    @contextmanager
    def _session(self) -> Iterator[BaseStore]:
        # The steps of a turn (below) read and write the rows themselves: no LangGraph store to hand them.
        yield cast("BaseStore", None)

    def close(self) -> None:
        with self._open_lock:
            if self._opened is not None:
                with self._lock:
                    self._opened.close()
            self._opened = self._langgraph_store = None
        self._vector_cache.clear()

    # --- a turn's reads and writes, on the rows ----------------------------------------------------------

    def _preferences(self, store: BaseStore, user: str) -> tuple[tuple[MemoryItem, ...], dict[str, int]]:
        conn = self._conn
        with self._lock, transaction(conn):
            prefs = search_items(conn, memory_namespace(user, "preference"), PREFERENCES_RECALLED)
            domains = get_item(conn, memory_namespace(user, "domains"), DOMAINS_ID)
        return (
            tuple(MemoryItem.of(i.key, i.value, i.created_at, i.updated_at) for i in prefs),
            domain_counts(domains.value if domains is not None else None),
        )

    def _write(self, store: BaseStore, writes: Sequence[MemoryWrite]) -> None:
        conn = self._conn
        with self._lock, transaction(conn):
            put_items(conn, writes)

    # --- recall ---------------------------------------------------------------------------------------

    def keyword_search(
        self, store: BaseStore, namespace: tuple[str, ...], terms: Sequence[str], limit: int
    ) -> list[MemoryItem]:
        match = " OR ".join(f'"{t}"*' for t in terms)
        conn = self._conn
        with self._lock:
            rows = conn.execute(FTS_SEARCH, (match, ".".join(namespace), limit)).fetchall()
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
        conn = self._conn
        with self._lock:
            values = self._values(conn, prefix, [key for key, _ in top])
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
        conn = self._conn
        with self._lock:
            row = conn.execute(GENERATION, (prefix,)).fetchone()
        return entry if (row[0] if row else None) == entry.generation else None

    def _load_vectors(
        self, prefix: str, model: str
    ) -> tuple[int | None, list[tuple[str, bytes]], dict[str, str]]:
        """The namespace's generation, its notes' vectors of ``model`` and the text of the notes that
        have none, read in one snapshot."""
        conn = self._conn
        with self._lock:
            conn.execute("BEGIN")
            try:
                row = conn.execute(GENERATION, (prefix,)).fetchone()
                rows = conn.execute(NOTES_WITH_VECTORS, (prefix,)).fetchall()
                missing = [r[0] for r in rows if r[1] != model or r[2] is None]
                values = self._values(conn, prefix, missing) if missing else {}
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
            conn = self._conn
            with self._lock:
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

    @staticmethod
    def _values(
        conn: sqlite3.Connection, prefix: str, keys: Sequence[str]
    ) -> dict[str, tuple[str, str, str]]:
        """Value, created_at, updated_at of ``keys`` (those that still exist); hold the connection's lock."""
        rows = conn.execute(NOTES_BY_KEY, (prefix, json.dumps(list(keys)))).fetchall()
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


def _mark() -> str | None:
    return setup_mark("store/sqlite/base.py", (*FTS_SETUP, FTS_BACKFILL, *VECTOR_SETUP))
