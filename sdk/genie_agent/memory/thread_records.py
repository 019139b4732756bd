"""What a thread keeps: each turn as a :class:`TurnRecord` (with a bounded :class:`ResultSummary` of
each result), and the :class:`ThreadState` a turn needs from the turns before it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .digests import EMPTY_HISTORY

__all__ = [
    "MAX_SUMMARY_ROWS",
    "MAX_TEXT_CHARS",
    "ResultSummary",
    "ThreadHead",
    "ThreadState",
    "TurnRecord",
    "summarize_results",
]

MAX_SUMMARY_ROWS = 5
"""Rows of each result kept in the thread (the full result is in the turn result, not in memory)."""
MAX_TEXT_CHARS = 8000
"""Longest answer text kept per turn."""


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
    history: str | None = EMPTY_HISTORY
    """The digest of the thread's questions so far (:mod:`.digests`); None for a thread whose turns
    were saved without one (before digests were kept): its next turns are saved without one too."""


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
