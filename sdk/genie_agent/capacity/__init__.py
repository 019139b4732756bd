"""The workspace's question limit: Genie answers a limited number of questions per minute per
workspace (5 on the free tier), and a cross-domain turn spends several.

A :class:`QuestionLimiter` paces the questions a deployment sends: a question calls
``await limiter.acquire(user, on_wait)`` right before it is sent, and ``limiter.throttled(retry_after_s)``
when Genie still answers 429. :class:`LocalLimiter` paces one process; :class:`PostgresLimiter`
every process of a deployment, through a queue table in the memory store's Postgres. Both serve
waiting users in turn, so one user's burst does not starve another user's question.
:func:`make_limiter` builds the configured one (none by default).

Importing this package is cheap: the limiters (and psycopg) load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .base import Clock, MonotonicClock, QuestionLimiter, WaitStatus
from .factory import make_limiter

if TYPE_CHECKING:
    from .local import LocalLimiter
    from .postgres import PostgresLimiter

__all__ = [
    "Clock",
    "LocalLimiter",
    "MonotonicClock",
    "PostgresLimiter",
    "QuestionLimiter",
    "WaitStatus",
    "make_limiter",
]

_LAZY = {"LocalLimiter": ".local", "PostgresLimiter": ".postgres"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
