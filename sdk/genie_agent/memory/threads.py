"""Short-term memory: conversation threads on LangGraph checkpointers.

Each turn is one checkpoint of its thread (:mod:`.checkpoints`): the turn itself (question, answer,
domains, SQL, a bounded summary of each result, Genie conversation ids: :mod:`.thread_records`), the
thread's owner, its turn count, the Genie conversation ids so far and the last domains asked. The
parent of each checkpoint is the turn before, so ``list()`` is the thread's history and loading a
thread reads one checkpoint.

:class:`ThreadStore` is built on two abstract methods: :meth:`~ThreadStore.reader` and
:meth:`~ThreadStore.writer`, each yielding a ``BaseCheckpointSaver``. The writer is exclusive per
thread across processes and atomic: reading the latest checkpoint and putting the next one cannot
interleave with another writer of that thread, so concurrent turns on one thread append one after
the other and none is lost. Implementations: :class:`InMemoryThreadStore` here (tests),
``SqliteThreadStore`` in :mod:`.sqlite` (the embedded default), ``PostgresThreadStore`` in
:mod:`.postgres` (any Postgres, and Lakebase, through a connection pool).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from .checkpoints import (
    STATE_CHANNELS,
    channel_values,
    checkpoint_turn_id,
    next_turn,
    thread_config,
    thread_state,
)
from .digests import HISTORY_KEY
from .errors import ThreadNotAvailableError
from .health import Health
from .thread_records import (
    MAX_SUMMARY_ROWS,
    MAX_TEXT_CHARS,
    ResultSummary,
    ThreadHead,
    ThreadState,
    TurnRecord,
    summarize_results,
)

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

# The records and next_turn are re-exported: this module is where threads are imported from.
__all__ = [
    "MAX_SUMMARY_ROWS",
    "MAX_TEXT_CHARS",
    "InMemoryThreadStore",
    "ResultSummary",
    "ThreadHead",
    "ThreadState",
    "ThreadStore",
    "TurnLocks",
    "TurnRecord",
    "next_turn",
    "summarize_results",
]

T = TypeVar("T")


class ThreadStore(ABC):
    """Threads on a LangGraph ``BaseCheckpointSaver``. Thread-safe; safe across processes.

    Subclasses provide :meth:`reader` and :meth:`writer`; everything else is built on them. Backend
    failures raise :class:`~genie_agent.memory.errors.MemoryUnavailableError` (through ``health``).
    """

    name = "thread"

    def __init__(self, health: Health) -> None:
        self.health = health

    @abstractmethod
    def reader(self) -> AbstractContextManager[BaseCheckpointSaver[Any]]:
        """A saver to read with."""

    @abstractmethod
    def writer(self, thread_id: str) -> AbstractContextManager[BaseCheckpointSaver[Any]]:
        """A saver holding this thread exclusively (across processes) until the block ends.

        Everything done with it in the block commits together, or not at all when the block raises.
        """

    def setup(self) -> None:
        """Create the saver's tables and indexes (idempotent)."""

        def op() -> None:
            with self.reader() as saver:
                setup = getattr(saver, "setup", None)
                if setup is not None:
                    setup()

        self._run("set up threads", op)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def _run(self, what: str, op: Callable[[], T]) -> T:
        """One backend call under the health guard; backends may retry (see PostgresThreadStore)."""
        with self.health.guard(what):
            return op()

    # --- built on reader/writer ----------------------------------------------------------------------

    @staticmethod
    def _latest(saver: BaseCheckpointSaver[Any], thread_id: str) -> CheckpointTuple | None:
        return saver.get_tuple(thread_config(thread_id))

    def load(self, thread_id: str | None, user: str) -> ThreadState:
        """The thread's state; a new thread when ``thread_id`` is None or unknown.

        Raises :class:`ThreadNotAvailableError` when the thread belongs to another user.
        """
        if thread_id is None:
            return ThreadState(uuid.uuid4().hex, user, head=ThreadHead(None))
        tid = thread_id

        def op() -> CheckpointTuple | None:
            with self.reader() as saver:
                return self._latest(saver, tid)

        latest = self._run("load thread", op)
        if latest is None:
            return ThreadState(thread_id, user, head=ThreadHead(None))
        values = channel_values(latest, STATE_CHANNELS)
        if values.get("owner") != user:
            raise ThreadNotAvailableError(thread_id, user)
        return thread_state(thread_id, user, latest, values)

    def append(self, state: ThreadState, turn: TurnRecord) -> int:
        """Append ``turn`` after the thread's latest turn (whatever other writers added); its number.

        Raises :class:`ThreadNotAvailableError` when another user owns the thread by now.
        """

        def op() -> int:
            with self.writer(state.thread_id) as saver:
                return self._append(saver, state, turn)

        return self._run("save thread", op)

    def _append(self, saver: BaseCheckpointSaver[Any], state: ThreadState, turn: TurnRecord) -> int:
        latest = self._latest(saver, state.thread_id)
        values = channel_values(latest, STATE_CHANNELS)
        if latest is not None and values.get("owner") != state.user:
            raise ThreadNotAvailableError(state.thread_id, state.user)
        # The thread as it ends now, whatever other writers added since it was loaded.
        now = thread_state(state.thread_id, state.user, latest, values)
        if latest is not None and checkpoint_turn_id(latest) == turn.turn_id:
            return now.turns  # a retried save that had committed
        parent, checkpoint, metadata = next_turn(now, turn, saver.get_next_version)
        saver.put(parent, checkpoint, metadata, checkpoint["channel_versions"])
        return now.turns + 1

    def find_by_history(self, history: str, user: str) -> str | None:
        """The id of ``user``'s thread whose questions so far digest to ``history`` (:mod:`.digests`):
        one whose latest turn carries that digest, the most recently continued when several do; None
        when none does. Another user's thread is never found, whatever its questions."""

        def op() -> str | None:
            with self.reader() as saver:
                return self._find(saver, history, user)

        return self._run("find thread", op)

    def _find(self, saver: BaseCheckpointSaver[Any], history: str, user: str) -> str | None:
        """Through the saver's metadata filter (every checkpoint it holds): stores with SQL override it."""
        found: tuple[str, str] | None = None
        for item in saver.list(None, filter={HISTORY_KEY: history, "user": user}):
            configurable = item.config["configurable"]
            thread_id, checkpoint_id = configurable["thread_id"], item.checkpoint["id"]
            if configurable.get("checkpoint_ns", "") != "" or (
                found is not None and found[1] >= checkpoint_id
            ):
                continue
            latest = self._latest(saver, thread_id)
            if (
                latest is not None
                and latest.checkpoint["id"] == checkpoint_id
                and latest.checkpoint["channel_values"].get("owner") == user
            ):
                found = (thread_id, checkpoint_id)
        return found[0] if found is not None else None

    def history(self, thread_id: str, user: str, *, limit: int | None = None) -> list[TurnRecord]:
        """The thread's turns, oldest first (the last ``limit`` when given). Another user's thread raises."""

        def op() -> list[CheckpointTuple]:
            with self.reader() as saver:
                return list(saver.list(thread_config(thread_id), limit=limit))

        items = self._run("read thread", op)
        if items and items[0].checkpoint["channel_values"].get("owner") != user:
            raise ThreadNotAvailableError(thread_id, user)
        return [TurnRecord.from_dict(channel_values(t)["turn"]) for t in reversed(items)]

    def delete(self, thread_id: str, user: str) -> bool:
        """Delete a thread of ``user``; False when there is none. Another user's thread raises."""

        def op() -> bool:
            with self.writer(thread_id) as saver:
                latest = self._latest(saver, thread_id)
                if latest is None:
                    return False
                if latest.checkpoint["channel_values"].get("owner") != user:
                    raise ThreadNotAvailableError(thread_id, user)
                saver.delete_thread(thread_id)
                return True

        return self._run("delete thread", op)


class InMemoryThreadStore(ThreadStore):
    """Threads in this process only (LangGraph's ``InMemorySaver``): for tests and throwaway agents."""

    def __init__(self) -> None:
        from langgraph.checkpoint.memory import InMemorySaver

        super().__init__(Health("in-memory", ()))
        self._saver = InMemorySaver()
        self._lock = threading.Lock()

    @contextmanager
    def reader(self) -> Iterator[BaseCheckpointSaver[Any]]:
        with self._lock:
            yield self._saver

    @contextmanager
    def writer(self, thread_id: str) -> Iterator[BaseCheckpointSaver[Any]]:
        with self._lock:
            yield self._saver


class TurnLocks:
    """In one process, turns on one thread take turns; turns on different threads run at once.

    Held by the agent from loading a thread to saving it, so the second of two concurrent turns on
    a thread sees the first one's domains and conversations. (Across processes the save itself is
    atomic: see :meth:`ThreadStore.writer`.) Every turn runs on the core loop
    (:mod:`genie_agent.aio`), so these are asyncio locks: a turn waiting for its thread holds no thread.
    """

    def __init__(self) -> None:
        self._held: dict[str, list[Any]] = {}

    @asynccontextmanager
    async def hold(self, thread_id: str | None) -> AsyncIterator[None]:
        if thread_id is None:  # a new thread: nobody else can have it
            yield
            return
        entry = self._held.setdefault(thread_id, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._held[thread_id]
