"""The visualization hint's fields the charts use, and the colours they draw with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["PALETTE", "ChartSpec"]

PALETTE = ("#4EA1D3", "#E8A33D", "#6CC26C", "#D95D6A", "#A67DD4", "#52C3B8", "#C9C95B", "#E07BB4")
"""Series and slice colours, readable on dark and light themes."""
NOTE_STYLE = "italic #E8A33D"
"""What the reader must not miss (an axis that does not start at zero)."""


@dataclass(frozen=True)
class ChartSpec:
    """The hint's fields the charts use (``genie_agent.viz``: type, x, y, series, title, sort, format)."""

    type: str
    x: str | None
    y: str | None
    series: str | None = None
    title: str = ""
    sort: str | None = None
    format: str = "number"

    @classmethod
    def from_hint(cls, hint: Mapping[str, Any]) -> ChartSpec:
        def text(key: str) -> str | None:
            value = hint.get(key)
            return value if isinstance(value, str) and value else None

        return cls(
            type=text("type") or "table",
            x=text("x"),
            y=text("y"),
            series=text("series"),
            title=text("title") or "",
            sort=text("sort"),
            format=text("format") or "number",
        )
