"""Memory is storage: conversation threads (short-term) and what users asked us to remember (long-term).

Threads are LangGraph checkpoints (:mod:`.threads`), user memories live in a LangGraph store with
keyword or embedding recall (:mod:`.store`, :mod:`.embeddings`); :mod:`.actions` lists and forgets
a user's memories. :func:`open_memory` builds the configured backend: SQLite by default, any
Postgres, or Lakebase. Finding preferences in what people write is
:mod:`genie_agent.understanding`; applying them to a turn is :mod:`genie_agent.turn_memory`.
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
