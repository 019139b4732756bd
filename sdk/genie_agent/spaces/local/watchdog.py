"""One thread for every query's time limit, instead of a timer thread per query.

:func:`call_later` runs a callback after a delay unless cancelled first; the local engine's
executor uses it to interrupt a query that runs past its limit. A query that ends in time costs a
heap entry, not a thread start.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable

__all__ = ["Alarm", "call_later"]


class Alarm:
    """A pending callback; :meth:`cancel` before it fires and it never runs."""

    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class _Watchdog:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Alarm]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Alarm:
        alarm = Alarm(callback)
        with self._wake:
            heapq.heappush(self._heap, (time.monotonic() + delay_s, next(self._order), alarm))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="genie-query-watchdog", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is alarm:  # sooner than what the thread waits for
                self._wake.notify()
        return alarm

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait()
                    continue
                due = self._heap[0][0] - time.monotonic()
                if due > 0:
                    self._wake.wait(due)
                    continue
                _, _, alarm = heapq.heappop(self._heap)
            if not alarm.cancelled:
                with contextlib.suppress(Exception):  # one failing callback must not stop every time limit
                    alarm.callback()


_watchdog = _Watchdog()


def call_later(delay_s: float, callback: Callable[[], None]) -> Alarm:
    """Run ``callback`` in the watchdog thread after ``delay_s`` seconds, unless cancelled first."""
    return _watchdog.call_later(delay_s, callback)
