"""Threads in Postgres: LangGraph's ``PostgresSaver`` over the pool, a turn saved in one round trip,
a thread found by the digest of its questions in one more (an index on the checkpoints' metadata)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from ..checkpoints import next_turn
from ..threads import ThreadState, ThreadStore, TurnRecord
from .pool import PooledTables, scalar, setup_lock
from .sql import (
    APPEND_IF_HEAD,
    HISTORY_INDEX,
    HISTORY_INDEX_NAME,
    HISTORY_INDEX_VALID,
    LOCK_THREAD,
    THREAD_BY_HISTORY,
)

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg import Connection
    from psycopg_pool import ConnectionPool

    from ..health import Health

__all__ = ["PostgresThreadStore"]


def _lock_key(thread_id: str) -> str:
    return f"genie_agent.thread:{thread_id}"


class PostgresThreadStore(PooledTables, ThreadStore):
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

    setup_what = "set up threads"

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
            conn.execute(LOCK_THREAD, (_lock_key(thread_id),))
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
                conn.execute(LOCK_THREAD, (_lock_key(state.thread_id),))
                inserted = conn.execute(APPEND_IF_HEAD, params)
            return state.turns + 1 if inserted.fetchone() is not None else None

    def _find(self, saver: BaseCheckpointSaver[Any], history: str, user: str) -> str | None:
        """One indexed statement (on the digest in each checkpoint's metadata): one round trip."""
        conn = cast("Connection[Any]", cast("PostgresSaver", saver).conn)  # the reader's pooled connection
        row = conn.execute(THREAD_BY_HISTORY, {"history": history, "user": user}).fetchone()
        return str(scalar(row)) if row is not None else None

    def _setup_now(self) -> None:
        from langgraph.checkpoint.postgres import PostgresSaver

        with setup_lock(self.pool) as conn:
            PostgresSaver(conn).setup()
            # CONCURRENTLY: turns are saved while it is built. An interrupted build leaves an invalid
            # index that IF NOT EXISTS would keep: it is dropped and built again.
            valid = conn.execute(HISTORY_INDEX_VALID).fetchone()
            if valid is not None and not scalar(valid):
                conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {HISTORY_INDEX_NAME}")
            conn.execute(HISTORY_INDEX)
        self._ready = True
