"""A virtual clock for the question limiter's tests: time moves only when the test moves it."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Iterable


class VirtualClock:
    """A :class:`genie_agent.capacity.Clock` whose ``sleep`` waits for the test to move time past it.

    ``run_until``/``run_until_done`` jump from one sleeper's deadline to the next, so a limiter's
    minutes pass in milliseconds; ``sleeps`` counts every sleep (a busy loop would show there)."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = start
        self.sleeps = 0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        wake = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + max(0.0, seconds), next(self._order), wake))
        await wake

    @staticmethod
    async def settle() -> None:
        """Let every task that can run, run (each hop of a wake-up chain is one loop turn)."""
        for _ in range(25):
            await asyncio.sleep(0)

    def fire_next(self) -> float | None:
        """Move time to the earliest sleeper's deadline and wake it, without running anything yet."""
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)  # its sleeper was cancelled
        if not self._sleepers:
            return None
        at, _, wake = heapq.heappop(self._sleepers)
        self.t = max(self.t, at)
        wake.set_result(None)
        return self.t

    async def run_until(self, target: float) -> None:
        await self.settle()
        while True:
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)
            if not self._sleepers or self._sleepers[0][0] > target:
                break
            self.fire_next()
            await self.settle()
        self.t = max(self.t, target)
        await self.settle()

    async def run_until_done(self, tasks: Iterable[asyncio.Task[object]], limit_s: float = 100_000.0) -> None:
        pending = list(tasks)
        await self.settle()
        while not all(t.done() for t in pending):
            if self.fire_next() is None:
                raise AssertionError("tasks wait but nothing sleeps: they would wait forever")
            if self.t > limit_s:
                raise AssertionError(f"tasks still waiting at virtual time {self.t}")
            await self.settle()
