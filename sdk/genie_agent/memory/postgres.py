"""The Postgres backend (any Postgres, and Lakebase): threads and user memories through one connection pool.

The pool never opens a connection per call. Its settings are chosen for failure: a connection wait
of ``timeout_s`` (then the turn goes on without memory), reconnection attempts that give up after
``timeout_s`` too (so a pool that backed off during an outage tries again at once on the next call
instead of after minutes), and TCP keepalives so a dead peer is noticed.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .health import Health
from .store import MemoryItem, MemoryStore
from .threads import ThreadState, ThreadStore, TurnRecord, next_turn

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.store.base import BaseStore
    from psycopg import Connection
    from psycopg_pool import ConnectionPool

    from .embeddings import Embedder

__all__ = [
    "SCHEMA_NAME",
    "PostgresMemoryStore",
    "PostgresThreadStore",
    "backend_errors",
    "make_pool",
    "pgvector_index",
    "retry_stale",
    "setup_lock",
]

T = TypeVar("T")
SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def backend_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean the database failed or could not be reached (PoolTimeout is one)."""
    import psycopg

    return (psycopg.OperationalError, psycopg.InterfaceError)


def make_pool(
    url: str,
    *,
    schema: str | None = None,
    min_size: int = 1,
    max_size: int = 10,
    timeout_s: float = 3.0,
    name: str = "genie-agent-memory",
    also_search: Sequence[str] = (),
) -> ConnectionPool[Any]:
    """A connection pool for the memory tables. Opens in the background: an unreachable server
    does not stop the agent from starting. ``also_search``: schemas searched after ``schema`` (where
    an extension's types live, e.g. pgvector's ``vector`` in ``public``); tables are made in ``schema``."""
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    kwargs: dict[str, Any] = {
        # What LangGraph's savers and stores expect of their connections.
        "autocommit": True,
        "row_factory": dict_row,
        "connect_timeout": max(2, math.ceil(timeout_s)),  # libpq's minimum is 2 s
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 3,
        "keepalives_count": 3,
    }
    # A commit does not wait for the WAL flush: a server crash may lose the last few hundred
    # milliseconds of saved turns (never corrupts), as SQLite's synchronous=NORMAL may on power loss.
    # It takes the fsync (~3 ms here) out of every save.
    options = ["-c synchronous_commit=off"]
    if schema:
        path = [schema, *(s for s in also_search if s != schema and SCHEMA_NAME.match(s))]
        options.append(f"-c search_path={','.join(path)}")
    kwargs["options"] = " ".join(options)
    return ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        kwargs=kwargs,
        timeout=timeout_s,
        reconnect_timeout=max(timeout_s, 1.0),
        name=name,
        open=True,
    )


def _scalar(row: Any) -> Any:
    """The one value of a row, whatever the connection's row factory (dict or tuple)."""
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


@contextmanager
def setup_lock(pool: ConnectionPool[Any], *, timeout_s: float = 120.0) -> Iterator[Connection[Any]]:
    """A connection holding this schema's setup lock, with the schema created: one process at a time
    runs the migrations.

    The lock is polled (``pg_try_advisory_lock``), not waited for: LangGraph's migrations create
    indexes CONCURRENTLY, which wait for every open transaction, so a session blocked in
    ``pg_advisory_lock`` would deadlock with the one holding it.
    """
    with pool.connection() as conn:
        key = "SELECT hashtextextended('genie_agent.setup:' || current_setting('search_path'), 0) AS k"
        lock = _scalar(conn.execute(key).fetchone())
        deadline = time.monotonic() + timeout_s
        while True:
            got = _scalar(conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (lock,)).fetchone())
            if got or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        try:
            path = _scalar(conn.execute("SELECT current_setting('search_path') AS path").fetchone())
            first = str(path).split(",")[0].strip()
            if SCHEMA_NAME.match(first) and first != "public":
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{first}"')
            yield conn
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (lock,))


def retry_stale(pool: ConnectionPool[Any], op: Callable[[], T]) -> T:
    """Run ``op``; when it fails on a connection that died while idle in the pool (the server
    restarted, the network dropped), check the pool's connections and try once more.

    A pool timeout is not retried: the server is unreachable and waiting again would only double the wait.
    """
    import psycopg
    from psycopg_pool import PoolTimeout

    try:
        return op()
    except PoolTimeout:
        raise
    except psycopg.OperationalError:
        pool.check()
        return op()


_PG_LOCK_THREAD = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
# The row PostgresSaver.put writes for a checkpoint whose channel values are all inline (a thread's
# are), inserted only while the thread still ends at the parent (NULL: the thread has no checkpoint).
_PG_APPEND_IF_HEAD = """
INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)
SELECT %(thread_id)s, '', %(id)s, %(parent)s, %(checkpoint)s, %(metadata)s
WHERE (SELECT max(checkpoint_id) FROM checkpoints WHERE thread_id = %(thread_id)s AND checkpoint_ns = '')
  IS NOT DISTINCT FROM %(parent)s
RETURNING checkpoint_id
"""


def _lock_key(thread_id: str) -> str:
    return f"genie_agent.thread:{thread_id}"


class PostgresThreadStore(ThreadStore):
    """Threads in Postgres (LangGraph's ``PostgresSaver``) through a connection pool.

    Each call borrows one pooled connection; a saver is made over that connection (a few
    microseconds), so calls of different threads run at once instead of queueing on one shared
    saver's lock. The writer runs in a transaction holding a transaction-level advisory lock on the
    thread id: writers of one thread, in any process, take turns.

    A turn costs two round trips: loading reads the latest checkpoint, and saving sends the lock and
    a conditional insert of the next checkpoint together (see :meth:`append`). Only when the thread
    moved on since it was loaded (another process's turn, a retried save) does the save take the
    writer's way: lock, read the latest, put, commit.
    """

    def __init__(self, pool: ConnectionPool[Any], health: Health) -> None:
        super().__init__(health)
        self.pool = pool
        self._ready = False

    @contextmanager
    def reader(self) -> Iterator[BaseCheckpointSaver[Any]]:
        from langgraph.checkpoint.postgres import PostgresSaver

        with self.pool.connection() as conn:
            yield PostgresSaver(conn)

    @contextmanager
    def writer(self, thread_id: str) -> Iterator[BaseCheckpointSaver[Any]]:
        from langgraph.checkpoint.postgres import PostgresSaver

        with self.pool.connection() as conn, conn.transaction():
            conn.execute(_PG_LOCK_THREAD, (_lock_key(thread_id),))
            yield PostgresSaver(conn)

    def append(self, state: ThreadState, turn: TurnRecord) -> int:
        if state.head is not None:
            seq = self._run("save thread", lambda: self._append_if_head(state, turn))
            if seq is not None:
                return seq
        return super().append(state, turn)

    def _append_if_head(self, state: ThreadState, turn: TurnRecord) -> int | None:
        """Save ``turn`` in one round trip if the thread still ends where ``state`` was loaded; its
        number, or None when the thread moved on (nothing written)."""
        from langgraph.checkpoint.base import get_serializable_checkpoint_metadata
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.types.json import Jsonb

        assert state.head is not None
        with self.pool.connection() as conn:
            parent, checkpoint, metadata = next_turn(state, turn, PostgresSaver(conn).get_next_version)
            params = {
                "thread_id": state.thread_id,
                "id": checkpoint["id"],
                "parent": state.head.checkpoint_id,
                "checkpoint": Jsonb(checkpoint),
                "metadata": Jsonb(get_serializable_checkpoint_metadata(parent, metadata)),
            }
            # Pipelined without BEGIN, the two statements run in one implicit transaction that ends
            # at the pipeline's one Sync: the lock is held until the insert commits, and an error
            # rolls both back (PostgreSQL's pipeline mode; the connection is in autocommit).
            with conn.pipeline():
                conn.execute(_PG_LOCK_THREAD, (_lock_key(state.thread_id),))
                inserted = conn.execute(_PG_APPEND_IF_HEAD, params)
            return state.turns + 1 if inserted.fetchone() is not None else None

    def setup(self) -> None:
        with self.health.guard("set up threads"):
            self._setup_now()

    def _setup_now(self) -> None:
        from langgraph.checkpoint.postgres import PostgresSaver

        with setup_lock(self.pool) as conn:
            PostgresSaver(conn).setup()
        self._ready = True

    def _run(self, what: str, op: Callable[[], T]) -> T:
        with self.health.guard(what):
            if not self._ready:  # tables on first use; `genie-agent setup-memory` does it ahead of time
                self._setup_now()
            return retry_stale(self.pool, op)


_PG_INDEX = (
    "CREATE INDEX IF NOT EXISTS genie_memory_terms_idx ON store "
    "USING gin (to_tsvector('simple', value->>'terms')) WITH (fastupdate = off)"
)
_PG_SEARCH = """
SELECT key, value, created_at, updated_at, ts_rank(to_tsvector('simple', value->>'terms'), q) AS score
FROM store, to_tsquery('simple', %s) AS q
WHERE prefix = %s AND to_tsvector('simple', value->>'terms') @@ q
ORDER BY score DESC, updated_at DESC LIMIT %s
"""


def pgvector_index(embedder: Embedder) -> dict[str, Any]:
    """The LangGraph ``PostgresIndexConfig`` for ``embedder``: the notes' text, cosine similarity.

    LangGraph makes no ANN index ("flat"): :class:`PostgresMemoryStore` makes its own HNSW index
    (pgvector 0.8 or later) and uses it only for users with many notes; the others are ranked exactly.
    """
    return {
        "dims": embedder.dims,
        "embed": embedder.embed_documents,
        "fields": ["text"],
        "distance_type": "cosine",
        "ann_index_config": {"kind": "flat"},
    }


_NOTES_WITHOUT_VECTORS = r"""
SELECT s.prefix, s.key, s.value FROM store AS s
WHERE s.prefix LIKE 'genie\_agent.%.notes' AND s.value ? 'text' AND NOT EXISTS (
  SELECT 1 FROM store_vectors AS v WHERE v.prefix = s.prefix AND v.key = s.key)
LIMIT 500
"""
_PG_VECTOR_COUNT = """
SELECT count(*) AS n FROM (SELECT 1 FROM store_vectors WHERE prefix = %s LIMIT %s) AS mine
"""
# Every note of the user ranked; OFFSET 0 keeps the subquery apart, so the ANN index cannot serve the
# ORDER BY (without an iterative scan it would filter the index's first candidates by user).
_PG_EXACT_SEARCH = """
SELECT s.key, s.value, s.created_at, s.updated_at, 1 - top.distance AS score
FROM (
  SELECT key, distance FROM (
    SELECT v.key, v.embedding <=> %(vector)s::vector AS distance
    FROM store_vectors AS v WHERE v.prefix = %(prefix)s OFFSET 0
  ) AS mine ORDER BY distance LIMIT %(limit)s
) AS top JOIN store AS s ON s.prefix = %(prefix)s AND s.key = top.key
ORDER BY top.distance
"""
_ANN_INDEX = "genie_memory_vectors_hnsw_idx"
_PG_ANN_INDEX = f"""
CREATE INDEX CONCURRENTLY IF NOT EXISTS {_ANN_INDEX} ON store_vectors USING hnsw (embedding vector_cosine_ops)
"""
_PG_ANN_INDEX_VALID = f"SELECT indisvalid AS ok FROM pg_index WHERE indexrelid = to_regclass('{_ANN_INDEX}')"
# A sort is the only way the exact query could rank, so with sorts off the planner walks the HNSW
# index; the iterative scan goes on past ef_search candidates until LIMIT notes of this user are found.
_PG_ANN_SETTINGS = "SET LOCAL hnsw.iterative_scan = strict_order; SET LOCAL hnsw.ef_search = 100; SET LOCAL enable_sort = off"
# The index's nearest notes, plus (up to 200) notes sharing a word with the question, all ranked by
# their exact distance: a note the approximate search misses is still found by its words. The
# ranking subquery is kept apart (OFFSET 0) so that it sorts its few candidates instead of walking the index.
_PG_ANN_SEARCH = """
WITH near AS (
  SELECT v.key FROM store_vectors AS v WHERE v.prefix = %(prefix)s
  ORDER BY v.embedding <=> %(vector)s::vector LIMIT %(limit)s
), candidates AS (
  SELECT key FROM near {words}
), top AS MATERIALIZED (
  SELECT key, distance FROM (
    SELECT v.key, v.embedding <=> %(vector)s::vector AS distance
    FROM candidates AS c JOIN store_vectors AS v ON v.prefix = %(prefix)s AND v.key = c.key OFFSET 0
  ) AS scored ORDER BY distance LIMIT %(limit)s
)
SELECT s.key, s.value, s.created_at, s.updated_at, 1 - top.distance AS score
FROM top JOIN store AS s ON s.prefix = %(prefix)s AND s.key = top.key
ORDER BY top.distance
"""
_PG_ANN_WORDS = """
  UNION (SELECT s.key FROM store AS s, to_tsquery('simple', %(terms)s) AS q
  WHERE s.prefix = %(prefix)s AND to_tsvector('simple', s.value->>'terms') @@ q LIMIT 200)"""
_VECTOR_DIMS = """
SELECT a.atttypmod AS dims FROM pg_attribute AS a
WHERE a.attrelid = to_regclass('store_vectors') AND a.attname = 'embedding'
"""


class PostgresMemoryStore(MemoryStore):
    """Memories in Postgres (LangGraph's ``PostgresStore``) through a connection pool, with full text
    recall over an expression GIN index on the items' terms.

    ``index`` (a LangGraph ``PostgresIndexConfig``: dims, embed, fields; see :func:`pgvector_index`)
    turns on pgvector semantic recall of notes instead, keeping the notes at least ``min_score``
    similar to the question. It needs the ``vector`` extension. A user's notes are ranked exactly
    while there are at most ``exact_max`` of them; beyond that (with pgvector 0.8 or later) through an
    HNSW index with an iterative scan, which filters by user as it goes, plus the notes sharing a word
    with the question, re-ranked exactly.
    """

    def __init__(
        self,
        pool: ConnectionPool[Any],
        health: Health,
        *,
        index: Mapping[str, Any] | None = None,
        min_score: float = 0.0,
        exact_max: int = 2000,
    ) -> None:
        super().__init__(health)
        self.pool = pool
        self._index = index
        self.min_score = min_score
        self.exact_max = exact_max
        self._ready = False
        self._ann = False  # the HNSW index exists and pgvector has iterative scans (set by setup)

    @contextmanager
    def store(self) -> Iterator[BaseStore]:
        from langgraph.store.postgres import PostgresStore

        with self.pool.connection() as conn:
            yield PostgresStore(conn, index=cast(Any, self._index))

    def setup(self) -> None:
        with self.health.guard("set up memories"):
            self._setup_now()

    def _setup_now(self) -> None:
        from langgraph.store.postgres import PostgresStore

        with setup_lock(self.pool) as conn:
            if self._index:
                self._check_pgvector(conn)
            store = PostgresStore(conn, index=cast(Any, self._index))
            store.setup()
            conn.execute(_PG_INDEX)
            if self._index:
                self._check_dims(conn)
                self._embed_missing(conn, store)
                self._ann = self._ann_index(conn)
        self._ready = True

    def _check_pgvector(self, conn: Connection[Any]) -> None:
        row = conn.execute(
            "SELECT count(*) AS n FROM pg_available_extensions WHERE name = 'vector'"
        ).fetchone()
        from ..errors import ConfigError

        if not _scalar(row):
            raise ConfigError(
                "memory_embeddings needs the pgvector extension, which this Postgres server does not have.",
                "Install pgvector on the server (Lakebase and most managed Postgres have it), or set "
                "GENIE_AGENT_MEMORY_EMBEDDINGS=off for keyword recall.",
            )
        if _scalar(
            conn.execute("SELECT count(*) AS n FROM pg_extension WHERE extname = 'vector'").fetchone()
        ):
            return
        import psycopg

        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.errors.InsufficientPrivilege:
            database = _scalar(conn.execute("SELECT current_database() AS d").fetchone())
            role = _scalar(conn.execute("SELECT current_user AS u").fetchone())
            raise ConfigError(
                f"The pgvector extension is not installed in database {database!r}, and role {role!r} "
                "may not install it.",
                f"Ask an administrator to run `CREATE EXTENSION vector;` in {database!r} (on Lakebase, as "
                "the instance's owner), then run `genie-agent setup-memory` again; or set "
                "GENIE_AGENT_MEMORY_EMBEDDINGS=off for keyword recall.",
            ) from None

    def _check_dims(self, conn: Connection[Any]) -> None:
        assert self._index is not None
        row = conn.execute(_VECTOR_DIMS).fetchone()
        have = _scalar(row) if row is not None else None
        if have is not None and int(have) != int(self._index["dims"]):
            from ..errors import ConfigError

            raise ConfigError(
                f"The store_vectors table holds {have}-dimensional vectors; the embedding model makes "
                f"{self._index['dims']}.",
                "Go back to the model the notes were embedded with, or drop the tables store_vectors and "
                "vector_migrations and run `genie-agent setup-memory` to embed every note again.",
            )

    def _embed_missing(self, conn: Connection[Any], store: BaseStore) -> None:
        """Embed notes saved while embeddings were off (or by a process without them)."""
        from langgraph.store.base import PutOp

        seen: set[tuple[str, str]] = set()
        while True:
            rows = conn.execute(_NOTES_WITHOUT_VECTORS).fetchall()
            keys = {(r["prefix"], r["key"]) for r in rows}
            if not rows or keys <= seen:  # done, or these cannot be embedded (no progress)
                return
            seen |= keys
            store.batch([PutOp(tuple(r["prefix"].split(".")), r["key"], r["value"]) for r in rows])

    def _ann_index(self, conn: Connection[Any]) -> bool:
        """Create the HNSW index when pgvector has iterative scans (0.8); whether it can be used.

        CONCURRENTLY: notes are saved while it is built. A build that was interrupted leaves an
        invalid index, which ``IF NOT EXISTS`` would keep forever: it is dropped and built again.
        """
        row = conn.execute("SELECT extversion AS v FROM pg_extension WHERE extname = 'vector'").fetchone()
        version = tuple(int(p) for p in re.findall(r"\d+", str(_scalar(row))))[:2] if row else ()
        if version < (0, 8):
            return False
        valid = conn.execute(_PG_ANN_INDEX_VALID).fetchone()
        if valid is not None and not _scalar(valid):
            conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_ANN_INDEX}")
        conn.execute(_PG_ANN_INDEX)
        return True

    def _run(self, what: str, op: Callable[[], T]) -> T:
        with self.health.guard(what):
            if not self._ready:
                self._setup_now()
            return retry_stale(self.pool, op)

    def search_notes(
        self, store: BaseStore, namespace: tuple[str, ...], question: str, terms: Sequence[str], limit: int
    ) -> list[MemoryItem]:
        if not self._index:
            return super().search_notes(store, namespace, question, terms, limit)
        if not question.strip():
            return []
        from langgraph.store.base import Item
        from psycopg.rows import dict_row

        # The store's own search(query=) matches the namespace with `prefix = .. OR prefix LIKE ..`,
        # which scans every user's vectors; these read one user's through store_vectors' primary key.
        vector = "[" + ",".join(repr(float(x)) for x in self._index["embed"]([question])[0]) + "]"
        prefix = ".".join(namespace)
        params = {
            "vector": vector,
            "prefix": prefix,
            "limit": limit,
            "terms": " | ".join(f"{t}:*" for t in terms),
        }
        conn = cast(Any, store).conn
        rows: list[dict[str, Any]] = []
        with conn.cursor(row_factory=dict_row) as cur:
            if self._ann and self._exceeds(cur, prefix, self.exact_max):
                with conn.transaction():
                    cur.execute(_PG_ANN_SETTINGS)
                    sql = _PG_ANN_SEARCH.format(words=_PG_ANN_WORDS if terms else "")
                    rows = cur.execute(sql, params).fetchall()
            if len(rows) < limit:  # a small user, or the index scan gave up before finding enough
                rows = cur.execute(_PG_EXACT_SEARCH, params).fetchall()
        return [
            MemoryItem.from_item(
                Item(
                    value=r["value"],
                    key=r["key"],
                    namespace=namespace,
                    created_at=r["created_at"],
                    updated_at=r["updated_at"],
                ),
                float(r["score"]),
            )
            for r in rows
            if float(r["score"]) >= self.min_score
        ]

    @staticmethod
    def _exceeds(cur: Any, prefix: str, count: int) -> bool:
        """Whether the namespace has more than ``count`` vectors (reads at most count + 1 index entries)."""
        return int(cur.execute(_PG_VECTOR_COUNT, (prefix, count + 1)).fetchone()["n"]) > count

    def keyword_search(
        self, store: BaseStore, namespace: tuple[str, ...], terms: Sequence[str], limit: int
    ) -> list[MemoryItem]:
        from langgraph.store.base import Item
        from psycopg.rows import dict_row

        conn = cast(Any, store).conn
        query = " | ".join(f"{t}:*" for t in terms)
        with conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(_PG_SEARCH, (query, ".".join(namespace), limit)).fetchall()
        return [
            MemoryItem.from_item(
                Item(
                    value=r["value"],
                    key=r["key"],
                    namespace=namespace,
                    created_at=r["created_at"],
                    updated_at=r["updated_at"],
                ),
                float(r["score"]),
            )
            for r in rows
        ]
