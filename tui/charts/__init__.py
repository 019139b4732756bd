"""Terminal charts drawn with Unicode blocks and braille, from a result and its visualization hint.

Pure functions from (hint, columns, rows, width) to Rich ``Text``: no widget, no Textual, so they are
tested on their own. The hint is the SDK's ``visualization_hint`` (``genie_agent.viz``): ``bar`` (one bar
per key, or a group per key with one bar per ``series``), ``line`` (one line per ``series``), ``pie``
(drawn as a share bar with a legend), ``kpi`` (a number; the widget draws it large) and ``table`` (no
chart). Value axes have round ticks and say their unit, and say when they do not start at zero; keys
are written as they are (``1992``). docs/charts.md says why these are drawn here rather than with
plotext.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text

from .bars import MAX_BARS, bar_chart, share_chart
from .lines import LINE_HEIGHT, line_chart
from .numbers import compact_number, format_measure, key_label, to_number
from .spec import PALETTE, ChartSpec

__all__ = [
    "LINE_HEIGHT",
    "MAX_BARS",
    "PALETTE",
    "ChartSpec",
    "bar_chart",
    "compact_number",
    "format_measure",
    "key_label",
    "kpi_value",
    "line_chart",
    "render_chart",
    "share_chart",
    "to_number",
]


def kpi_value(
    spec: ChartSpec, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> tuple[str, str] | None:
    """(label, formatted value) of a KPI hint, or None when the result holds no such number."""
    if spec.y is None or spec.y not in columns or not rows:
        return None
    y = list(columns).index(spec.y)
    if y >= len(rows[0]):
        return None
    value = rows[0][y]
    if to_number(value) is None:
        return None
    return spec.title or str(spec.y), format_measure(value, spec.format)


def render_chart(
    spec: ChartSpec, columns: Sequence[str], rows: Sequence[Sequence[Any]], width: int
) -> Text | None:
    """The chart for a non-KPI hint, or None for ``table`` (and unknown types)."""
    if spec.type == "bar":
        return bar_chart(spec, columns, rows, width)
    if spec.type == "line":
        return line_chart(spec, columns, rows, width)
    if spec.type == "pie":
        return share_chart(spec, columns, rows, width)
    return None
