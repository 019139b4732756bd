"""The Postgres connection pool, the schema's setup lock, and what both Postgres stores do alike.

The pool never opens a connection per call. Its settings are chosen for failure: a connection wait
of ``timeout_s`` (then the turn goes on without memory), reconnection attempts that give up after
``timeout_s`` too (so a pool that backed off during an outage tries again at once on the next call
instead of after minutes), and TCP keepalives so a dead peer is noticed.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg_pool import ConnectionPool

    from ..health import Health

__all__ = [
    "SCHEMA_NAME",
    "PooledTables",
    "backend_errors",
    "make_pool",
    "retry_stale",
    "scalar",
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


def scalar(row: Any) -> Any:
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
        lock = scalar(conn.execute(key).fetchone())
        deadline = time.monotonic() + timeout_s
        while True:
            got = scalar(conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (lock,)).fetchone())
            if got or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        try:
            path = scalar(conn.execute("SELECT current_setting('search_path') AS path").fetchone())
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


class PooledTables:
    """What the Postgres thread store and memory store do alike: every call borrows a pooled
    connection under the backend's health guard, makes the tables on first use (`genie-agent
    setup-memory` makes them ahead of time), and is tried once more on a connection gone stale.

    Mixed in before the store's base class; the store sets ``pool``, ``health`` and ``_ready`` and
    makes its tables in :meth:`_setup_now`.
    """

    setup_what: ClassVar[str]
    """What a failed setup says it was doing ("set up threads")."""
    pool: ConnectionPool[Any]
    health: Health
    _ready: bool

    def _setup_now(self) -> None:
        raise NotImplementedError

    def setup(self) -> None:
        with self.health.guard(self.setup_what):
            self._setup_now()

    def _run(self, what: str, op: Callable[[], T]) -> T:
        with self.health.guard(what):
            if not self._ready:
                self._setup_now()
            return retry_stale(self.pool, op)
