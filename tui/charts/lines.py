"""A braille line chart (2x4 dots a cell): one line per series in its colour, a y axis with round ticks,
the measure and its unit, an x axis with as many key labels as fit, and a legend."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from rich.text import Text

from .numbers import is_percent_fraction, value_axis
from .points import key_position, read_points, sort_key
from .ruler import legend, ruler, spread_marks
from .spec import NOTE_STYLE, PALETTE, ChartSpec

__all__ = ["LINE_HEIGHT", "ZERO_WITHIN", "line_chart"]

LINE_HEIGHT = 9
"""Rows of the plot (10 for four y ticks, so that ticks are evenly apart: 3 rows)."""
ZERO_WITHIN = 0.25
"""The y axis reaches zero when the values come that close to it (the smallest at most a quarter of the
largest); otherwise it starts near the smallest value, and the chart says so."""
_BRAILLE_BASE = 0x2800
# Bit of each dot in a braille cell, by (row 0..3, column 0..1).
_BRAILLE_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))


def _x_fractions(keys: Sequence[str], raw: dict[str, Any]) -> tuple[list[str], dict[str, float]]:
    """Keys in order along the x axis and where each lies (0..1): by value when every key is a number
    or a date (so a gap in the years shows), else evenly in their sorted order."""
    positions = {key: key_position(raw[key]) for key in keys}
    if all(p is not None for p in positions.values()) and len(keys) > 1:
        placed = {k: p for k, p in positions.items() if p is not None}
        ordered = sorted(keys, key=placed.__getitem__)
        first, last = placed[ordered[0]], placed[ordered[-1]]
        if last > first:
            return ordered, {k: (placed[k] - first) / (last - first) for k in ordered}
    ordered = sorted(keys, key=sort_key)
    span = max(len(ordered) - 1, 1)
    return ordered, {k: (i / span if len(ordered) > 1 else 0.5) for i, k in enumerate(ordered)}


def _owner(dots: dict[int, int], col: int) -> int:
    """The series whose colour a cell takes: the one with most dots there; where lines coincide, the
    tied series take turns along the row, so that each still shows."""
    most = max(dots.values())
    tied = sorted(c for c, n in dots.items() if n == most)
    return tied[col % len(tied)]


def line_chart(spec: ChartSpec, columns: Sequence[str], rows: Sequence[Sequence[Any]], width: int) -> Text:
    points = read_points(spec, columns, rows)
    if points is None:
        return Text("Nothing to chart: no numeric values.", style="dim")
    series = points.series[: len(PALETTE)]
    values = [v for s in series for v in points.values[s].values()]
    fraction = is_percent_fraction(spec.format, values)
    lo, hi = min(values), max(values)
    keep_zero = lo == hi or lo <= 0 <= hi or 0 < lo <= ZERO_WITHIN * hi or ZERO_WITHIN * lo <= hi < 0
    axis = value_axis(lo, hi, spec.format, fraction=fraction, keep_zero=keep_zero)
    axis_w = max(len(label) for label in axis.labels)
    plot_w = max(width - axis_w - 2, 8)
    gaps = len(axis.ticks) - 1
    height = gaps * -(-(LINE_HEIGHT - 1) // gaps) + 1
    dots_w, dots_h = plot_w * 2, height * 4
    ordered, where = _x_fractions(points.keys, points.raw_keys)
    bits = [[0] * plot_w for _ in range(height)]
    # Dots each series put in each cell: a cell takes the colour of the series with the most.
    owners: list[list[dict[int, int]]] = [[{} for _ in range(plot_w)] for _ in range(height)]

    def dot_y(value: float) -> int:
        return round((1.0 - axis.fraction(value)) * (dots_h - 1))

    def dot(px: int, py: int, c: int) -> None:
        row, col = py // 4, px // 2
        if 0 <= row < height and 0 <= col < plot_w:
            bits[row][col] |= _BRAILLE_BITS[py % 4][px % 2]
            owners[row][col][c] = owners[row][col].get(c, 0) + 1

    for c, name in enumerate(series):
        pts = points.values[name]
        coords = [(round(where[k] * (dots_w - 1)), dot_y(pts[k])) for k in ordered if k in pts]
        for (x0, y0), (x1, y1) in itertools.pairwise(coords):
            steps = max(abs(x1 - x0), abs(y1 - y0), 1)
            for step in range(steps + 1):
                dot(round(x0 + (x1 - x0) * step / steps), round(y0 + (y1 - y0) * step / steps), c)
        if len(coords) == 1:
            dot(*coords[0], c)

    tick_rows = {dot_y(t) // 4: label for t, label in zip(axis.ticks, axis.labels, strict=True)}
    out = Text(no_wrap=True, overflow="crop")
    out.append(axis.title(spec.y), style="dim")
    if axis.note:
        out.append(f" · {axis.note}", style=NOTE_STYLE)
    out.append("\n")
    for r in range(height):
        label = tick_rows.get(r)
        out.append(f"{label:>{axis_w}} ┤" if label else f"{'':>{axis_w}} │", style="dim")
        for col in range(plot_w):
            b = bits[r][col]
            if b:
                out.append(chr(_BRAILLE_BASE + b), style=PALETTE[_owner(owners[r][col], col)])
            else:
                out.append(" ")
        out.append("\n")
    marks = spread_marks([(round(where[k] * (dots_w - 1)) // 2, k) for k in ordered], plot_w)
    line, labels = ruler(marks, plot_w, plot_w, corner="└")
    indent = " " * (axis_w + 1)
    out.append(f"{indent}{line}\n{indent} {labels}\n", style="dim")
    key = legend(series, list(PALETTE), width, more=len(points.series) - len(series))
    if points.has_series:
        out.append_text(key)
    x_title = spec.x or ""
    last_line = key.plain.rsplit("\n", 1)[-1] if points.has_series else ""
    gap = width - len(last_line) - len(x_title)
    if gap >= 2:
        out.append(" " * gap + x_title, style="dim")
    else:
        out.append("\n" + x_title.rjust(width), style="dim")
    return out
