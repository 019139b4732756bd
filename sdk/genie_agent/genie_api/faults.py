"""Scripted misbehaviour of the Genie emulator: what a real workspace does now and then.

Each fault applies to the next message(s) of one space, in the order they were scripted; the rate
limit applies to the next requests that ask a question. Safe to call from any thread.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Literal

__all__ = ["GenieFaults", "MessageFault", "MessageFaultKind"]

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


class GenieFaults:
    """Faults for the next messages of a space, and HTTP 429 for the next questions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: dict[str, deque[MessageFault]] = {}
        self._rate_limited = 0
        self._retry_after_s = 1

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

    def clear(self) -> None:
        with self._lock:
            self._next.clear()
            self._rate_limited = 0

    def take(self, space_id: str) -> MessageFault | None:
        with self._lock:
            queue = self._next.get(space_id)
            return queue.popleft() if queue else None

    def take_rate_limit(self) -> int | None:
        """The Retry-After seconds to answer this question with, or None to answer it."""
        with self._lock:
            if self._rate_limited <= 0:
                return None
            self._rate_limited -= 1
            return self._retry_after_s
