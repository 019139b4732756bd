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
from .threads import ThreadStore

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.store.base import BaseStore
    from psycopg import Connection
    from psycopg_pool import ConnectionPool

__all__ = [
    "SCHEMA_NAME",
    "PostgresMemoryStore",
    "PostgresThreadStore",
    "backend_errors",
    "make_pool",
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
) -> ConnectionPool[Any]:
    """A connection pool for the memory tables. Opens in the background: an unreachable server
    does not stop the agent from starting."""
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
        options.append(f"-c search_path={schema}")
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


class PostgresThreadStore(ThreadStore):
    """Threads in Postgres (LangGraph's ``PostgresSaver``) through a connection pool.

    Each call borrows one pooled connection; a saver is made over that connection (a few
    microseconds), so calls of different threads run at once instead of queueing on one shared
    saver's lock. The writer runs in a transaction holding a transaction-level advisory lock on the
    thread id: writers of one thread, in any process, take turns.
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
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"genie_agent.thread:{thread_id}",)
            )
            yield PostgresSaver(conn)

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


class PostgresMemoryStore(MemoryStore):
    """Memories in Postgres (LangGraph's ``PostgresStore``) through a connection pool, with full text
    recall over an expression GIN index on the items' terms.

    ``index`` (a LangGraph ``PostgresIndexConfig``: dims, embed, fields) turns on pgvector semantic
    recall instead: the store's own ``search(query=...)``. It needs the ``vector`` extension.
    """

    def __init__(
        self, pool: ConnectionPool[Any], health: Health, *, index: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(health)
        self.pool = pool
        self._index = index
        self._ready = False

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
            PostgresStore(conn, index=cast(Any, self._index)).setup()
            conn.execute(_PG_INDEX)
        self._ready = True

    def _run(self, what: str, op: Callable[[], T]) -> T:
        with self.health.guard(what):
            if not self._ready:
                self._setup_now()
            return retry_stale(self.pool, op)

    def keyword_search(
        self, store: BaseStore, namespace: tuple[str, ...], terms: Sequence[str], limit: int
    ) -> list[MemoryItem]:
        from langgraph.store.base import Item

        if self._index:
            return [
                MemoryItem.from_item(i, i.score)
                for i in store.search(namespace, query=" ".join(terms), limit=limit)
            ]
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
