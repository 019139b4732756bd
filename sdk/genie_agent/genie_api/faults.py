"""Scripted misbehaviour of the Genie emulator: what a real workspace does now and then.

Each message fault applies to the next message(s) of one space, in the order they were scripted.
Two faults answer a request that asks a question (start-conversation, create-message) with HTTP 429
before anything is asked: :meth:`GenieFaults.rate_limit` the next ``times`` of them, and
:meth:`GenieFaults.limit_questions` every one beyond N in any window of a minute, across all spaces
and users, as a workspace's Genie throughput limit does. Safe to call from any thread.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Literal

__all__ = ["GenieFaults", "MessageFault", "MessageFaultKind", "QuestionLimit"]

MessageFaultKind = Literal["failed", "cancelled", "expired", "expired_on_fetch", "pending_warehouse"]


@dataclass(frozen=True)
class MessageFault:
    """``failed``: FAILED with ``error`` of ``error_type``. ``cancelled``: CANCELLED while asking the AI.
    ``expired``: ends QUERY_RESULT_EXPIRED. ``expired_on_fetch``: ends COMPLETED, but its result has
    already expired (the statement is CLOSED). ``pending_warehouse``: PENDING_WAREHOUSE for ``seconds``
    before the query runs (a stopped warehouse starting)."""

    kind: MessageFaultKind
    error: str = ""
    error_type: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class QuestionLimit:
    """At most ``questions`` questions in any ``window_s`` seconds (a minute on a workspace; shorter
    in tests); a question beyond it is refused until the oldest one in the window is that old."""

    questions: int
    window_s: float = 60.0

    def __post_init__(self) -> None:
        if self.questions < 1 or not self.window_s > 0:
            raise ValueError("a question limit needs at least 1 question in a positive window")


class GenieFaults:
    """Faults for the next messages of a space, and HTTP 429 for questions (see the module)."""

    def __init__(self, question_limit: QuestionLimit | None = None) -> None:
        self._lock = threading.Lock()
        self._next: dict[str, deque[MessageFault]] = {}
        self._rate_limited = 0
        self._retry_after_s = 1
        self._configured = self._limit = question_limit
        self._asked: deque[float] = deque()  # when each question admitted within the window was
        self.refused = 0
        """How many questions were answered with HTTP 429 so far (either fault)."""

    def add(self, space_id: str, fault: MessageFault, times: int = 1) -> None:
        with self._lock:
            self._next.setdefault(space_id, deque()).extend([fault] * times)

    def fail_next(
        self,
        space_id: str,
        error: str = "[UNRESOLVED_COLUMN] A column cannot be resolved.",
        error_type: str = "SQL_EXECUTION_EXCEPTION",
        *,
        times: int = 1,
    ) -> None:
        self.add(space_id, MessageFault("failed", error, error_type), times)

    def cancel_next(self, space_id: str) -> None:
        self.add(space_id, MessageFault("cancelled"))

    def expire_next(self, space_id: str, *, on_fetch: bool = False) -> None:
        self.add(space_id, MessageFault("expired_on_fetch" if on_fetch else "expired"))

    def warehouse_starting_next(self, space_id: str, seconds: float) -> None:
        self.add(space_id, MessageFault("pending_warehouse", seconds=seconds))

    def rate_limit(self, times: int = 1, *, retry_after_s: int = 1) -> None:
        """Answer the next ``times`` questions (start-conversation, create-message) with HTTP 429."""
        with self._lock:
            self._rate_limited, self._retry_after_s = times, retry_after_s

    def limit_questions(self, questions: int | None, *, window_s: float = 60.0) -> None:
        """Admit at most ``questions`` questions in any ``window_s`` seconds (a minute), across all
        spaces and users; answer the others with HTTP 429 and the seconds until a place frees as
        Retry-After. None lifts the limit. Questions refused do not count against it."""
        limit = QuestionLimit(questions, window_s) if questions is not None else None
        with self._lock:
            self._limit, self._asked = limit, deque()

    @property
    def question_limit(self) -> QuestionLimit | None:
        return self._limit

    def clear(self) -> None:
        """No scripted faults any more; the question limit is again the one the server was built with
        (the questions it already admitted still count while it is)."""
        with self._lock:
            self._next.clear()
            self._rate_limited = 0
            if self._limit != self._configured:
                self._limit, self._asked = self._configured, deque()

    def take(self, space_id: str) -> MessageFault | None:
        with self._lock:
            queue = self._next.get(space_id)
            return queue.popleft() if queue else None

    def take_rate_limit(self) -> int | None:
        """The Retry-After seconds to answer this question with, or None to answer it (it then
        counts against the question limit)."""
        with self._lock:
            if self._rate_limited > 0:
                self._rate_limited -= 1
                self.refused += 1
                return self._retry_after_s
            if self._limit is None:
                return None
            now = time.monotonic()
            while self._asked and now - self._asked[0] >= self._limit.window_s:
                self._asked.popleft()
            if len(self._asked) < self._limit.questions:
                self._asked.append(now)
                return None
            self.refused += 1
            # Retry-After is whole seconds (databricks-sdk reads it as an int): round up, at least 1.
            return max(1, math.ceil(self._asked[0] + self._limit.window_s - now))
