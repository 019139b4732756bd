"""Failure bookkeeping shared by the stores of one memory backend.

A backend that fails makes every call wait for its timeout. After a failure, calls fail at once for
``retry_s`` seconds, then the next call tries the backend again: memory comes back by itself when
its store does, without a restart (the seed switched memory off for the life of the process).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import MemoryUnavailableError

__all__ = ["Health"]


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class Health:
    """Turns backend errors into :class:`MemoryUnavailableError` and fails fast while a backend is down.

    ``errors`` are the exception types that mean "the backend failed" (``sqlite3.OperationalError``,
    ``psycopg.OperationalError``, ...); anything else is a bug and propagates unchanged.
    """

    def __init__(self, name: str, errors: tuple[type[BaseException], ...], *, retry_s: float = 5.0) -> None:
        self.name = name
        self.errors = errors
        self.retry_s = retry_s
        self._lock = threading.Lock()
        self._failed_at: float | None = None
        self._last = ""

    @property
    def last_failure(self) -> str | None:
        """What failed last, or None while the backend works."""
        with self._lock:
            return self._last if self._failed_at is not None else None

    @contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """Run one backend call; raises :class:`MemoryUnavailableError` when it fails or the backend is down."""
        with self._lock:
            failed_at, last = self._failed_at, self._last
        if failed_at is not None:
            wait = self.retry_s - (time.monotonic() - failed_at)
            if wait > 0:
                raise MemoryUnavailableError(
                    f"{what}: {self.name} memory is unavailable ({last}); trying again in {wait:.1f} s."
                )
        try:
            yield
        except MemoryUnavailableError:
            raise
        except self.errors as exc:
            with self._lock:
                self._failed_at, self._last = time.monotonic(), _describe(exc)
            raise MemoryUnavailableError(f"{what}: {self.name} memory failed: {_describe(exc)}") from exc
        with self._lock:
            self._failed_at = None
