"""The embedded default backend: threads and user memories in one SQLite file, safe across processes.

Threads use LangGraph's ``SqliteSaver``, memories its ``SqliteStore`` plus an FTS5 table for recall.
Each store keeps one connection per process (SQLite has one writer at a time anyway) in WAL mode.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import MemoryUnavailableError
from .health import Health
from .store import MemoryItem, MemoryStore
from .threads import ThreadStore

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.store.base import BaseStore
    from langgraph.store.sqlite import SqliteStore

    from .embeddings import Embedder

__all__ = ["SqliteMemoryStore", "SqliteThreadStore", "connect_sqlite", "sqlite_setup_lock"]


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


class SqliteThreadStore(ThreadStore):
    """Threads in a SQLite file (LangGraph's ``SqliteSaver``), safe across threads and processes.

    The writer takes SQLite's write lock first (``BEGIN IMMEDIATE``), so other processes wait for it
    (up to ``timeout_s``) instead of reading a thread that is about to change.
    """

    def __init__(self, path: Path, *, health: Health | None = None, timeout_s: float = 30.0) -> None:
        super().__init__(health or Health("SQLite", (sqlite3.Error, OSError)))
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

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn = self._saver = None


_FTS_SETUP = (
    "CREATE VIRTUAL TABLE genie_memory_fts USING fts5(terms)",
    """CREATE TRIGGER genie_memory_fts_insert AFTER INSERT ON store BEGIN
  INSERT INTO genie_memory_fts(rowid, terms)
  VALUES (new.rowid, COALESCE(json_extract(CAST(new.value AS TEXT), '$.terms'), ''));
END""",
    """CREATE TRIGGER genie_memory_fts_delete AFTER DELETE ON store BEGIN
  DELETE FROM genie_memory_fts WHERE rowid = old.rowid;
END""",
    """CREATE TRIGGER genie_memory_fts_update AFTER UPDATE ON store BEGIN
  UPDATE genie_memory_fts SET terms = COALESCE(json_extract(CAST(new.value AS TEXT), '$.terms'), '')
  WHERE rowid = new.rowid;
END""",
)
_FTS_BACKFILL = """
INSERT INTO genie_memory_fts(rowid, terms)
SELECT rowid, COALESCE(json_extract(CAST(value AS TEXT), '$.terms'), '') FROM store
"""
# Note vectors for recall by meaning, keyed by the store's row and the model that made them. A
# changed or deleted item drops its vector (triggers, so in the item's own transaction); recall
# embeds the notes that have none (saved while embeddings were off, or just now) with the question.
_VECTOR_SETUP = (
    """CREATE TABLE IF NOT EXISTS genie_memory_vectors (
  prefix TEXT NOT NULL, key TEXT NOT NULL, model TEXT NOT NULL, embedding BLOB NOT NULL,
  PRIMARY KEY (prefix, key))""",
    """CREATE TRIGGER IF NOT EXISTS genie_memory_vectors_delete AFTER DELETE ON store BEGIN
  DELETE FROM genie_memory_vectors WHERE prefix = old.prefix AND key = old.key;
END""",
    """CREATE TRIGGER IF NOT EXISTS genie_memory_vectors_update AFTER UPDATE OF value ON store
WHEN old.value IS NOT new.value BEGIN
  DELETE FROM genie_memory_vectors WHERE prefix = old.prefix AND key = old.key;
END""",
    # A namespace's generation: bumped (by triggers, so in the writer's transaction, whichever
    # process writes) whenever one of its items or vectors changes. A process keeps a namespace's
    # vectors in memory while its generation stays the same: one indexed read per recall.
    """CREATE TABLE IF NOT EXISTS genie_memory_generations (
  prefix TEXT PRIMARY KEY, generation INTEGER NOT NULL) WITHOUT ROWID""",
    *(
        f"""CREATE TRIGGER IF NOT EXISTS genie_memory_generation_{name} AFTER {event} BEGIN
  INSERT INTO genie_memory_generations (prefix, generation) VALUES ({row}.prefix, 1)
  ON CONFLICT (prefix) DO UPDATE SET generation = generation + 1;
END"""
        for name, event, row in (
            ("store_insert", "INSERT ON store", "new"),
            ("store_delete", "DELETE ON store", "old"),
            ("store_update", "UPDATE OF value ON store WHEN old.value IS NOT new.value", "new"),
            ("vector_insert", "INSERT ON genie_memory_vectors", "new"),
            ("vector_delete", "DELETE ON genie_memory_vectors", "old"),
        )
    ),
)
_GENERATION = "SELECT generation FROM genie_memory_generations WHERE prefix = ?"
_NOTES_WITH_VECTORS = """
SELECT s.key, v.model, v.embedding
FROM store AS s LEFT JOIN genie_memory_vectors AS v ON v.prefix = s.prefix AND v.key = s.key
WHERE s.prefix = ?
"""
_NOTES_BY_KEY = """
SELECT key, CAST(value AS TEXT), created_at, updated_at FROM store
WHERE prefix = ? AND key IN (SELECT value FROM json_each(?))
"""
_SAVE_VECTOR = """
INSERT OR REPLACE INTO genie_memory_vectors (prefix, key, model, embedding)
SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM store WHERE prefix = ? AND key = ?)
"""
_FTS_SEARCH = """
SELECT s.key, CAST(s.value AS TEXT), s.created_at, s.updated_at, bm25(genie_memory_fts) AS rank
FROM genie_memory_fts JOIN store AS s ON s.rowid = genie_memory_fts.rowid
WHERE genie_memory_fts MATCH ? AND s.prefix = ?
ORDER BY rank LIMIT ?
"""


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
        super().__init__(health or Health("SQLite", (sqlite3.Error, OSError)))
        self.path = path
        self.embedder = embedder
        self.min_score = min_score
        self._timeout_s = timeout_s
        self._opened: tuple[sqlite3.Connection, SqliteStore] | None = None
        self._open_lock = threading.Lock()
        self._vector_cache = _VectorCache(int(vector_cache_mb * 2**20))
        # A file that cannot be opened now does not stop the agent (see SqliteThreadStore).
        with suppress(MemoryUnavailableError):
            self._run("open memories", self._open)

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
                    for statement in (*_FTS_SETUP, _FTS_BACKFILL):
                        conn.execute(statement)
                for statement in _VECTOR_SETUP:
                    conn.execute(statement)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    @contextmanager
    def store(self) -> Iterator[BaseStore]:
        yield self._store

    def search_notes(
        self, store: BaseStore, namespace: tuple[str, ...], question: str, terms: Sequence[str], limit: int
    ) -> list[MemoryItem]:
        if self.embedder is None:
            return super().search_notes(store, namespace, question, terms, limit)
        if not question.strip():
            return []
        import numpy as np

        prefix = ".".join(namespace)
        model = f"{self.embedder.name}/{self.embedder.dims}"
        vectors = self._cached_vectors(prefix, model)
        if vectors is not None:
            query = self.embedder.embed_documents([question])[0]
        else:
            generation, stored, texts = self._load_vectors(prefix, model)
            if not stored and not texts:
                return []
            # The notes without a vector of this model are embedded with the question: one call, outside the lock.
            embedded = self.embedder.embed_documents([question, *texts.values()])
            query = embedded[0]
            fresh = {
                k: np.asarray(v, dtype=np.float32).tobytes() for k, v in zip(texts, embedded[1:], strict=True)
            }
            vectors = self._save_vectors(prefix, model, generation, [*stored, *fresh.items()], fresh)
        q = np.asarray(query, dtype=np.float32)
        scores = vectors.matrix @ (q / (np.linalg.norm(q) or 1.0))
        keys = vectors.keys
        candidates = np.arange(len(keys))
        if len(keys) > limit:  # every note scoring at least the limit-th best (ties included), then in order
            candidates = np.flatnonzero(scores >= np.partition(scores, len(keys) - limit)[len(keys) - limit])
        ranked = candidates[np.argsort(-scores[candidates], kind="stable")][:limit]
        top = [int(i) for i in ranked if scores[i] >= self.min_score]
        with self._store.lock:
            values = self._values(prefix, [keys[i] for i in top])
        return [
            self._item(namespace, (keys[i], *values[keys[i]]), float(scores[i]))
            for i in top
            if keys[i] in values
        ]

    def _cached_vectors(self, prefix: str, model: str) -> _NoteVectors | None:
        """The namespace's vectors kept by this process, when no process changed them since."""
        entry = self._vector_cache.get((prefix, model))
        if entry is None:
            return None
        with self._store.lock:
            row = self._conn.execute(_GENERATION, (prefix,)).fetchone()
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
                row = conn.execute(_GENERATION, (prefix,)).fetchone()
                rows = conn.execute(_NOTES_WITH_VECTORS, (prefix,)).fetchall()
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
    ) -> _NoteVectors:
        """Save the ``fresh`` vectors; the namespace's vectors, kept for the next recall when nothing
        else changed the namespace since ``generation`` was read."""
        import numpy as np

        unchanged = True
        if fresh:
            with self._store.lock:
                conn = self._conn
                conn.execute("BEGIN IMMEDIATE")
                try:
                    row = conn.execute(_GENERATION, (prefix,)).fetchone()
                    unchanged = (row[0] if row else None) == generation
                    conn.executemany(
                        _SAVE_VECTOR, [(prefix, k, model, blob, prefix, k) for k, blob in fresh.items()]
                    )
                    row = conn.execute(_GENERATION, (prefix,)).fetchone()
                    generation = row[0] if row else None
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        matrix = np.frombuffer(b"".join(b for _, b in vectors), dtype=np.float32).reshape(len(vectors), -1)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        entry = _NoteVectors(
            generation,
            tuple(k for k, _ in vectors),
            (matrix / np.where(norms == 0, 1.0, norms)).astype(np.float32),
        )
        if unchanged:
            self._vector_cache.put((prefix, model), entry)
        return entry

    def _values(self, prefix: str, keys: Sequence[str]) -> dict[str, tuple[str, str, str]]:
        """Value, created_at, updated_at of ``keys`` (those that still exist); hold the store's lock."""
        rows = self._conn.execute(_NOTES_BY_KEY, (prefix, json.dumps(list(keys)))).fetchall()
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    @staticmethod
    def _item(namespace: tuple[str, ...], row: Sequence[Any], score: float) -> MemoryItem:
        from datetime import datetime

        from langgraph.store.base import Item

        key, value, created, updated = row
        item = Item(
            value=json.loads(value),
            key=key,
            namespace=namespace,
            created_at=datetime.fromisoformat(created),
            updated_at=datetime.fromisoformat(updated),
        )
        return MemoryItem.from_item(item, score)

    def keyword_search(
        self, store: BaseStore, namespace: tuple[str, ...], terms: Sequence[str], limit: int
    ) -> list[MemoryItem]:
        from datetime import datetime

        from langgraph.store.base import Item

        match = " OR ".join(f'"{t}"*' for t in terms)
        with self._store.lock:
            rows = self._conn.execute(_FTS_SEARCH, (match, ".".join(namespace), limit)).fetchall()
        out = []
        for key, value, created, updated, rank in rows:
            item = Item(
                value=json.loads(value),
                key=key,
                namespace=namespace,
                created_at=datetime.fromisoformat(created),
                updated_at=datetime.fromisoformat(updated),
            )
            out.append(MemoryItem.from_item(item, -float(rank)))
        return out

    def close(self) -> None:
        with self._open_lock:
            if self._opened is not None:
                conn, store = self._opened
                with store.lock:
                    conn.close()
            self._opened = None
        self._vector_cache.clear()


@dataclass(frozen=True)
class _NoteVectors:
    """A namespace's note vectors as of its ``generation``: keys and their rows scaled to unit length."""

    generation: int | None
    keys: tuple[str, ...]
    matrix: Any  # numpy float32, one row per key

    @property
    def nbytes(self) -> int:
        return int(self.matrix.nbytes) + sum(len(k) + 56 for k in self.keys)


class _VectorCache:
    """The note vectors of the namespaces recalled last, at most ``max_bytes`` of them: the least
    recently used go first; a namespace larger than the whole budget is not kept."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, str], _NoteVectors] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> _NoteVectors | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple[str, str], entry: _NoteVectors) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            if entry.nbytes > self.max_bytes:
                return
            self._entries[key] = entry
            self._bytes += entry.nbytes
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.nbytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
