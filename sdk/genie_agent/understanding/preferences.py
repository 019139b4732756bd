"""A preference: what it is, how it is described and how it is stored.

A preference is a standing choice a user stated in plain language (:mod:`.extraction` finds them):
a chart type, a number scale, or the values of a dimension to keep (a default filter). A later
statement on the same ``slot`` replaces it; an :class:`Extraction` is what one message states and asks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from ..memory.store import MemoryChange, MemoryItem

__all__ = [
    "CLEAR_ALL",
    "CLEAR_FILTERS",
    "ChartChoice",
    "Extraction",
    "Preference",
    "Scale",
    "describe_all",
    "preferences_from",
]

ChartChoice = Literal["table", "bar", "line", "pie"]
Scale = Literal["thousands", "millions", "billions"]
CLEAR_ALL = "*"
CLEAR_FILTERS = "filter:*"


@dataclass(frozen=True)
class Preference:
    """One standing preference. A later statement on the same ``slot`` replaces it.

    Slots: ``chart`` (values: the chart type wanted), ``chart-avoid`` (types not wanted), ``scale``
    (thousands/millions/billions), ``filter:<dimension>`` (values to keep; ``spaces`` that have them).
    """

    slot: str
    values: tuple[str, ...]
    dimension: str | None = None
    spaces: tuple[str, ...] = ()
    source: str = ""

    @property
    def key(self) -> str:
        return "pref-" + re.sub(r"[^a-z0-9]+", "-", self.slot.lower()).strip("-")

    def describe(self) -> str:
        if self.slot == "chart":
            return "tables instead of charts" if self.values[0] == "table" else f"{self.values[0]} charts"
        if self.slot == "chart-avoid":
            return "no " + " or ".join(self.values) + " charts"
        if self.slot == "scale":
            return f"numbers in {self.values[0]}"
        where = f"{self.dimension} " if self.dimension else ""
        return f"only {where}{', '.join(self.values)}"

    def to_change(self) -> MemoryChange:
        data = {
            "slot": self.slot,
            "values": list(self.values),
            "dimension": self.dimension,
            "spaces": list(self.spaces),
            "source": self.source,
        }
        text = self.describe()
        return MemoryChange("preference", self.key, text[:1].upper() + text[1:], data, "")

    @classmethod
    def from_memory(cls, item: MemoryItem) -> Preference | None:
        data = item.data
        if item.kind != "preference" or not data.get("slot") or not data.get("values"):
            return None
        return cls(
            str(data["slot"]),
            tuple(str(v) for v in data["values"]),
            data.get("dimension"),
            tuple(data.get("spaces") or ()),
            str(data.get("source") or ""),
        )


@dataclass(frozen=True)
class Extraction:
    """What a message says to remember, and what it asks."""

    question: str
    """What is left to answer once statements are taken out ("" when the message only stated preferences)."""
    preferences: tuple[Preference, ...] = ()
    transient: tuple[Preference, ...] = ()
    """Display choices for this question only ("... in millions?")."""
    notes: tuple[str, ...] = ()
    clears: tuple[str, ...] = ()
    """Slots to forget; ``filter:*`` every filter, ``*`` everything."""
    sources: tuple[str, ...] = field(default=(), compare=False)

    @property
    def remembers(self) -> bool:
        return bool(self.preferences or self.notes or self.clears)


def preferences_from(items: Iterable[MemoryItem]) -> dict[str, Preference]:
    """Remembered preferences by slot."""
    out: dict[str, Preference] = {}
    for item in items:
        pref = Preference.from_memory(item)
        if pref is not None:
            out[pref.slot] = pref
    return out


def describe_all(prefs: Iterable[Preference]) -> str:
    return "; ".join(p.describe() for p in prefs)
