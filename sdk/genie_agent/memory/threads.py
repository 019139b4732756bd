"""Short-term memory: conversation threads on LangGraph checkpointers.

Each turn is one checkpoint of its thread (``thread_id``; ``checkpoint_ns`` ``""``): the turn itself
(question, answer, domains, SQL, a bounded summary of each result, Genie conversation ids), the
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

import json
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .errors import ThreadNotAvailableError
from .health import Health

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.base import BaseCheckpointSaver, Checkpoint, CheckpointMetadata, CheckpointTuple

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

MAX_SUMMARY_ROWS = 5
"""Rows of each result kept in the thread (the full result is in the turn result, not in memory)."""
MAX_TEXT_CHARS = 8000
"""Longest answer text kept per turn."""
T = TypeVar("T")
_CHECKPOINT_FORMAT = 4  # LangGraph's current format: no pending-sends migration on read


@dataclass(frozen=True)
class ResultSummary:
    """A bounded summary of one space's result: enough to say later what was asked and found."""

    domain: str
    sql: str | None
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    row_count: int
    truncated: bool = False
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "sql": self.sql,
            "columns": list(self.columns),
            "rows": [list(r) for r in self.rows[:MAX_SUMMARY_ROWS]],
            "row_count": self.row_count,
            "truncated": self.truncated,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResultSummary:
        return cls(
            str(data["domain"]),
            data.get("sql"),
            tuple(data.get("columns") or ()),
            tuple(tuple(r) for r in data.get("rows") or ()),
            int(data.get("row_count") or 0),
            bool(data.get("truncated")),
            data.get("error"),
        )


@dataclass(frozen=True)
class TurnRecord:
    """One turn as the thread keeps it."""

    question: str
    status: str
    text: str
    domains: tuple[str, ...]
    genie_conversation_ids: dict[str, str]
    sql: dict[str, str | None]
    results: tuple[ResultSummary, ...] = ()
    turn_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Makes a save idempotent: a retried save of the same turn is not appended twice."""
    created_at: float = field(default_factory=time.time)
    members: dict[str, list[Any]] = field(default_factory=dict)
    """The answer's grouping members per key column: what "those nations" means in the next turn."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "turn_id": self.turn_id,
            "question": self.question,
            "status": self.status,
            "text": self.text[:MAX_TEXT_CHARS],
            "domains": list(self.domains),
            "genie_conversation_ids": dict(self.genie_conversation_ids),
            "sql": dict(self.sql),
            "results": [r.to_dict() for r in self.results],
            "created_at": self.created_at,
            "members": self.members,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TurnRecord:
        return cls(
            question=str(data["question"]),
            status=str(data["status"]),
            text=str(data["text"]),
            domains=tuple(data.get("domains") or ()),
            genie_conversation_ids=dict(data.get("genie_conversation_ids") or {}),
            sql=dict(data.get("sql") or {}),
            results=tuple(ResultSummary.from_dict(r) for r in data.get("results") or ()),
            turn_id=str(data.get("turn_id") or ""),
            created_at=float(data.get("created_at") or 0.0),
            members=dict(data.get("members") or {}),
        )


@dataclass(frozen=True)
class ThreadHead:
    """The checkpoint a :class:`ThreadState` was loaded from: a store may save the next turn in one
    statement that checks the thread still ends there (see ``PostgresThreadStore.append``)."""

    checkpoint_id: str | None
    """None: the thread had no turn."""
    versions: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ThreadState:
    """What a turn needs from the turns before it."""

    thread_id: str
    user: str
    last_domains: tuple[str, ...] = ()
    genie_conversation_ids: dict[str, str] = field(default_factory=dict)
    turns: int = 0
    head: ThreadHead | None = field(default=None, compare=False, repr=False)
    """Where the thread ended when loaded; None when unknown (the state was not loaded from the store)."""
    last_members: dict[str, list[Any]] = field(default_factory=dict)
    """The last answered turn's grouping members per key column (:attr:`TurnRecord.members`)."""


_JSON_CHANNELS = ("turn", "genie_conversation_ids", "last_domains", "last_members")
_STATE_CHANNELS = ("genie_conversation_ids", "last_domains", "last_members")
"""What the next turn needs: the last turn itself (its answer and results) is not decoded for that."""


def _values(latest: CheckpointTuple | None, decode: Sequence[str] = _JSON_CHANNELS) -> dict[str, Any]:
    """A checkpoint's channel values, those in ``decode`` decoded."""
    if latest is None:
        return {}
    values = dict(latest.checkpoint["channel_values"])
    for k in decode:
        if isinstance(values.get(k), str):
            values[k] = json.loads(values[k])
    return values


def _encoded(values: Mapping[str, Any]) -> dict[str, Any]:
    # Structured values go in as JSON text: savers keep strings inline in the checkpoint row
    # (PostgresSaver writes other values to a blob table and joins every blob of the thread on
    # load), so a turn is one row and loading a long thread stays as fast as a short one.
    return {k: _JSON.encode(v) if k in _JSON_CHANNELS else v for k, v in values.items()}


_JSON = json.JSONEncoder(default=str)  # json.dumps(v, default=str) without a new encoder per value


def _turn_id(latest: CheckpointTuple) -> str | None:
    """The id of the checkpoint's turn: from its metadata, else from the turn itself."""
    found = (latest.metadata or {}).get("turn_id")
    if found is None:
        found = (_values(latest, ("turn",)).get("turn") or {}).get("turn_id")
    return cast("str | None", found)


def _config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}


def _next_id(after: str | None, seq: int) -> str:
    """A checkpoint id greater than ``after``: savers order a thread's checkpoints by id."""
    from langgraph.checkpoint.base.id import uuid6

    for _ in range(10_000):
        new = str(uuid6(clock_seq=seq))
        if after is None or new > after:
            return new
    raise RuntimeError("the clock went backwards: no checkpoint id after the latest")  # pragma: no cover


def next_turn(
    state: ThreadState, turn: TurnRecord, next_version: Callable[[Any, None], Any]
) -> tuple[RunnableConfig, Checkpoint, CheckpointMetadata]:
    """The checkpoint of ``turn`` after ``state`` (whose ``head`` must be set), its parent config and
    metadata: what ``BaseCheckpointSaver.put`` takes. ``next_version``: the saver's ``get_next_version``."""
    assert state.head is not None
    seq = state.turns + 1
    new_values: dict[str, Any] = {
        "owner": state.user,
        "seq": seq,
        "turn": turn.to_dict(),
        "genie_conversation_ids": {**state.genie_conversation_ids, **turn.genie_conversation_ids},
        "last_domains": list(turn.domains) or list(state.last_domains),
        "last_members": turn.members or state.last_members,
    }
    versions = state.head.versions
    new_versions = {k: next_version(versions.get(k), None) for k in new_values}
    checkpoint: Checkpoint = {
        "v": _CHECKPOINT_FORMAT,
        "id": _next_id(state.head.checkpoint_id, seq),
        "ts": datetime.now(UTC).isoformat(),
        "channel_values": _encoded(new_values),
        "channel_versions": new_versions,
        "versions_seen": {},
        "updated_channels": list(new_values),
    }
    parent = _config(state.thread_id)
    if state.head.checkpoint_id is not None:
        parent["configurable"]["checkpoint_id"] = state.head.checkpoint_id
    metadata = {"source": "input", "step": seq, "user": state.user, "turn_id": turn.turn_id}
    return parent, checkpoint, cast("CheckpointMetadata", metadata)


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
        return saver.get_tuple(_config(thread_id))

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
        values = _values(latest, _STATE_CHANNELS)
        if values.get("owner") != user:
            raise ThreadNotAvailableError(thread_id, user)
        return ThreadState(
            thread_id,
            user,
            tuple(values.get("last_domains") or ()),
            dict(values.get("genie_conversation_ids") or {}),
            int(values.get("seq") or 0),
            ThreadHead(latest.checkpoint["id"], dict(latest.checkpoint["channel_versions"])),
            dict(values.get("last_members") or {}),
        )

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
        values = _values(latest, _STATE_CHANNELS)
        if latest is not None and values.get("owner") != state.user:
            raise ThreadNotAvailableError(state.thread_id, state.user)
        seq = int(values.get("seq") or 0)
        if latest is not None and _turn_id(latest) == turn.turn_id:
            return seq  # a retried save that had committed
        now = ThreadState(  # the thread as it ends now, whatever other writers added since it was loaded
            state.thread_id,
            state.user,
            tuple(values.get("last_domains") or ()),
            dict(values.get("genie_conversation_ids") or {}),
            seq,
            ThreadHead(latest.checkpoint["id"], latest.checkpoint["channel_versions"])
            if latest
            else ThreadHead(None),
            dict(values.get("last_members") or {}),
        )
        parent, checkpoint, metadata = next_turn(now, turn, saver.get_next_version)
        saver.put(parent, checkpoint, metadata, checkpoint["channel_versions"])
        return seq + 1

    def history(self, thread_id: str, user: str, *, limit: int | None = None) -> list[TurnRecord]:
        """The thread's turns, oldest first (the last ``limit`` when given). Another user's thread raises."""

        def op() -> list[CheckpointTuple]:
            with self.reader() as saver:
                return list(saver.list(_config(thread_id), limit=limit))

        items = self._run("read thread", op)
        if items and items[0].checkpoint["channel_values"].get("owner") != user:
            raise ThreadNotAvailableError(thread_id, user)
        return [TurnRecord.from_dict(_values(t)["turn"]) for t in reversed(items)]

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


def summarize_results(results: Sequence[Any]) -> tuple[ResultSummary, ...]:
    """Bounded summaries of :class:`~genie_agent.turn.ResultTable` objects."""
    return tuple(
        ResultSummary(
            r.domain,
            r.sql,
            tuple(r.columns),
            tuple(tuple(row) for row in r.rows[:MAX_SUMMARY_ROWS]),
            r.row_count,
            r.truncated,
            r.error,
        )
        for r in results
    )


class TurnLocks:
    """In one process, turns on one thread take turns; turns on different threads run at once.

    Held by the agent from loading a thread to saving it, so the second of two concurrent turns on
    a thread sees the first one's domains and conversations. (Across processes the save itself is
    atomic: see :meth:`ThreadStore.writer`.) ``threading.Lock`` may be released by another thread,
    which a streamed turn resumed on another worker needs.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, list[Any]] = {}

    @contextmanager
    def hold(self, thread_id: str | None) -> Iterator[None]:
        if thread_id is None:  # a new thread: nobody else can have it
            yield
            return
        with self._lock:
            entry = self._held.setdefault(thread_id, [threading.Lock(), 0])
            entry[1] += 1
        entry[0].acquire()
        try:
            yield
        finally:
            entry[0].release()
            with self._lock:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._held[thread_id]
