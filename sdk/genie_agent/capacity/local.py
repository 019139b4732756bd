"""The question limiter of one process: a sliding window of grants, served round-robin by user."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import BackendError, ConfigError
from . import schedule
from .base import Clock, MonotonicClock, WaitStatus

__all__ = ["LocalLimiter"]

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Waiter:
    user: str
    arrival: int
    granted: asyncio.Future[None]
    on_wait: Callable[[WaitStatus], None] | None
    told: tuple[int, float] | None = None
    granted_at: float | None = None
    grant_number: int = -1
    served_before: int | None = field(default=None)


class LocalLimiter:
    """At most ``questions_per_minute`` questions in any ``window_s`` seconds (60; another window is
    for tests), granted round-robin by user and first come, first served within a user. A grant
    counts for ``margin_s`` past the window (:data:`~.schedule.GRANT_MARGIN_S`: the workspace
    counts a question when it arrives, a little after the grant).

    Nothing polls: a grant is decided when a question arrives, when one gives its place up, after a
    429, and by one timer set to the moment the next question can go.
    """

    def __init__(
        self,
        questions_per_minute: int,
        *,
        clock: Clock | None = None,
        window_s: float = 60.0,
        backoff_s: float = 10.0,
        max_backoff_s: float = 120.0,
        recover_every_s: float | None = None,
        margin_s: float = schedule.GRANT_MARGIN_S,
    ) -> None:
        if questions_per_minute < 1:
            raise ConfigError(
                f"The question limit must be at least 1 per minute, not {questions_per_minute}.",
                "Set it to the workspace's Genie questions per minute (5 on the free tier), or leave it unset.",
            )
        self.pacing = schedule.Pacing(
            questions_per_minute,
            window_s=window_s,
            backoff_s=backoff_s,
            max_backoff_s=max_backoff_s,
            recover_every_s=recover_every_s,
            margin_s=margin_s,
        )
        self.clock: Clock = clock or MonotonicClock()
        self.pace = schedule.Pace()
        self._grants: deque[float] = deque()
        self._waiting: dict[int, _Waiter] = {}
        self._last_served: dict[str, int] = {}
        self._arrivals = itertools.count()
        self._grant_numbers = itertools.count()
        self._timer: asyncio.Task[None] | None = None
        self._timer_at: float | None = None
        self._closed = False

    @property
    def limit(self) -> int:
        """Questions allowed per window now (lower than configured after a 429, until it recovers)."""
        return schedule.limit_now(self.pacing, self.pace, self.clock.now())

    def granted_in_window(self) -> int:
        self._expire(self.clock.now())
        return len(self._grants)

    async def acquire(self, user: str, on_wait: Callable[[WaitStatus], None] | None = None) -> None:
        if self._closed:
            raise BackendError("The question limiter is closed.", "Build a new agent to ask more questions.")
        waiter = _Waiter(user, next(self._arrivals), asyncio.get_running_loop().create_future(), on_wait)
        self._waiting[waiter.arrival] = waiter
        self._dispatch()
        try:
            await waiter.granted
        except asyncio.CancelledError:
            self._give_up(waiter)
            raise

    def throttled(self, retry_after_s: float | None = None) -> None:
        now = self.clock.now()
        self._expire(now)
        self.pace = schedule.throttle(self.pacing, self.pace, now, len(self._grants), retry_after_s)
        log.info(
            "Genie refused a question for the workspace's rate limit: pausing %.1f s, %d questions per window",
            self.pace.paused_until - now,
            schedule.limit_now(self.pacing, self.pace, now),
        )
        if self._waiting:
            self._dispatch()

    async def aclose(self) -> None:
        self._closed = True
        self._disarm()
        for waiter in self._waiting.values():
            if not waiter.granted.done():
                waiter.granted.set_exception(
                    BackendError("The question limiter closed before the question was sent.", "Ask again.")
                )
        self._waiting.clear()

    def _expire(self, now: float) -> None:
        held = self.pacing.held_s
        while self._grants and self._grants[0] + held <= now:
            self._grants.popleft()
        if len(self._last_served) > 1000:  # forget users not served lately (they rank as never served)
            keep = {w.user for w in self._waiting.values()}
            recent = sorted(self._last_served.values())[-100]
            self._last_served = {u: n for u, n in self._last_served.items() if u in keep or n >= recent}

    def _dispatch(self) -> None:
        """Grant what the window allows, in fair order; tell the rest where they stand; set the timer."""
        now = self.clock.now()
        self._expire(now)
        for arrival in [a for a, w in self._waiting.items() if w.granted.done()]:
            del self._waiting[arrival]  # cancelled, not yet told (its task has not resumed)
        waiting = list(self._waiting.values())
        if not waiting:
            self._disarm()
            return
        decision = schedule.decide(
            self.pacing,
            self.pace,
            now,
            self._grants,
            [(w.arrival, w.user) for w in waiting],
            self._last_served,
        )
        for index in decision.grant:
            self._grant(waiting[index], now)
        for ahead, (index, at) in enumerate(decision.later):
            self._tell(waiting[index], ahead, at, now)
        if decision.later:
            self._arm(decision.later[0][1])
        else:
            self._disarm()

    def _grant(self, waiter: _Waiter, now: float) -> None:
        del self._waiting[waiter.arrival]
        waiter.granted_at = now
        waiter.grant_number = next(self._grant_numbers)
        waiter.served_before = self._last_served.get(waiter.user)
        self._last_served[waiter.user] = waiter.grant_number
        self._grants.append(now)
        waiter.granted.set_result(None)

    def _give_up(self, waiter: _Waiter) -> None:
        """A cancelled question leaves the queue; one granted but not yet resumed gives its grant back."""
        if self._waiting.pop(waiter.arrival, None) is None and waiter.granted_at is not None:
            with contextlib.suppress(ValueError):  # already out of the window
                self._grants.remove(waiter.granted_at)
            if self._last_served.get(waiter.user) == waiter.grant_number:
                if waiter.served_before is None:
                    del self._last_served[waiter.user]
                else:
                    self._last_served[waiter.user] = waiter.served_before
        if not self._closed:
            self._dispatch()

    @staticmethod
    def _tell(waiter: _Waiter, ahead: int, at: float, now: float) -> None:
        if waiter.told == (ahead, at) or waiter.on_wait is None:
            return
        waiter.told = (ahead, at)
        try:
            waiter.on_wait(WaitStatus(ahead, max(0.0, at - now)))
        except Exception:  # a listener's bug must not stop the queue
            log.exception("A question limiter's on_wait callback failed")

    def _arm(self, at: float) -> None:
        if self._timer is not None and self._timer_at == at:
            return
        self._disarm()
        self._timer_at = at
        self._timer = asyncio.get_running_loop().create_task(self._wake(at), name="genie-question-limiter")

    def _disarm(self) -> None:
        if self._timer is not None and self._timer is not asyncio.current_task():
            self._timer.cancel()
        self._timer = self._timer_at = None

    async def _wake(self, at: float) -> None:
        await self.clock.sleep(at - self.clock.now())
        self._timer = self._timer_at = None
        self._dispatch()
