"""What the SQLite and Postgres memory stores do alike with a search's rows: each row becomes a
:class:`~.store.MemoryItem` with its score."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .store import MemoryItem

__all__ = ["memory_item"]


def memory_item(
    namespace: tuple[str, ...],
    key: str,
    value: dict[str, Any],
    created_at: datetime,
    updated_at: datetime,
    score: float,
) -> MemoryItem:
    """The memory of one row (its value and times decoded by the store), as LangGraph's ``Item`` would give it."""
    return MemoryItem.of(key, value, created_at, updated_at, score)
