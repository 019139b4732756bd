"""What a question limiter promises, what a waiting question is told, and the clock it keeps time by."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "MonotonicClock", "QuestionLimiter", "WaitStatus"]


@dataclass(frozen=True)
class WaitStatus:
    """What a question waiting for the workspace's question limit is told."""

    ahead: int
    """Questions that will be sent before it (0: it is next)."""
    eta_s: float
    """Estimated seconds until it is sent, if nothing changes (a new user's question may go first)."""


@runtime_checkable
class QuestionLimiter(Protocol):
    """Paces the questions sent to Genie so a workspace's questions-per-minute limit is not exceeded,
    serving the users who wait in turn (one user's burst does not starve another's question)."""

    async def acquire(self, user: str, on_wait: Callable[[WaitStatus], None] | None = None) -> None:
        """Return when ``user``'s question may be sent now; the grant counts against the limit.

        While it waits, ``on_wait`` is called at once and again whenever its place or estimate
        changes. Cancelling the awaiting task gives its place up: nothing is counted."""
        ...

    def throttled(self, retry_after_s: float | None) -> None:
        """Genie answered HTTP 429: hold every question for ``retry_after_s`` (a growing backoff
        when None) and lower the rate. Call it on the event loop that acquires."""
        ...

    async def aclose(self) -> None:
        """Stop: questions still waiting fail with a BackendError."""
        ...


class Clock(Protocol):
    """Where a limiter reads the time and how it waits (tests pass a virtual clock)."""

    def now(self) -> float:
        """Seconds, from any fixed origin; never goes backwards."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    """The process's monotonic clock. Good for one process only: another process's monotonic
    time has another origin (the Postgres limiter keeps its window in the database's clock)."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
