"""Memory: conversation threads (short-term) and what users asked us to remember (long-term).

Threads are LangGraph checkpoints (:mod:`.threads`), user memories live in a LangGraph store with
keyword recall (:mod:`.store`), preferences are extracted from plain statements
(:mod:`.preferences`) and applied to each turn (:mod:`.apply`). :func:`open_memory` builds the
configured backend: SQLite by default, any Postgres, or Lakebase.
"""

from __future__ import annotations

from .actions import MemoryAction, MemoryActionResult, run_memory_action
from .backends import MemoryBackend, in_memory, open_memory
from .errors import MemoryUnavailableError, ThreadNotAvailableError
from .store import MemoryItem, MemoryStore, Recall
from .threads import ThreadState, ThreadStore, TurnRecord

__all__ = [
    "MemoryAction",
    "MemoryActionResult",
    "MemoryBackend",
    "MemoryItem",
    "MemoryStore",
    "MemoryUnavailableError",
    "Recall",
    "ThreadNotAvailableError",
    "ThreadState",
    "ThreadStore",
    "TurnRecord",
    "in_memory",
    "open_memory",
    "run_memory_action",
]
