"""Horizontal bars on a value axis (one bar per key, or a group of bars per key, one per series), and
the share view of a ``pie`` hint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text

from .numbers import format_measure, is_percent_fraction, value_axis, value_labels
from .points import read_points
from .ruler import fit, legend, ruler
from .spec import NOTE_STYLE, PALETTE, ChartSpec

__all__ = ["MAX_BARS", "NEAR_EQUAL", "bar_chart", "share_chart"]

MAX_BARS = 20
NEAR_EQUAL = 0.9
"""Bars whose smallest value is at least this share of the largest start at a round value below the
smallest instead of zero (else they all look full), and the chart says so."""
_EIGHTHS = " ▏▎▍▌▋▊▉█"
_NOTHING = Text("Nothing to chart: no numeric values.", style="dim")


def _bar_cells(start: float, end: float, width: int) -> str:
    """The bar between two fractions of the value axis (``start`` at the origin), eighth-cell precise
    to the right of the origin, whole cells to the left of it."""
    origin = round(start * width)
    if end >= start:
        eighths = max(round(end * width * 8) - origin * 8, 0)
        full, part = divmod(eighths, 8)
        return " " * origin + "█" * full + (_EIGHTHS[part] if part else "")
    left = round(end * width)
    return " " * left + "█" * (origin - left)


def bar_chart(spec: ChartSpec, columns: Sequence[str], rows: Sequence[Sequence[Any]], width: int) -> Text:
    """Bars for each ``x`` (sorted by value as the hint says, at most :data:`MAX_BARS`), one per series
    in its colour with a legend, on a value axis with round ticks, the measure and its unit."""
    points = read_points(spec, columns, rows)
    if points is None:
        return _NOTHING
    series = points.series[: len(PALETTE)]
    colours = [PALETTE[i] for i in range(len(series))]
    groups = list(points.keys)
    if spec.sort in ("asc", "desc"):
        groups.sort(
            key=lambda k: sum(points.values[s].get(k, 0.0) for s in series), reverse=spec.sort == "desc"
        )
    bars: list[tuple[str, int, float]] = []
    shown_groups = 0
    for key in groups:
        group = [(key, i, points.values[s][key]) for i, s in enumerate(series) if key in points.values[s]]
        if bars and len(bars) + len(group) > MAX_BARS:
            break
        bars += group
        shown_groups += 1
    if not bars:
        return _NOTHING
    values = [v for _, _, v in bars]
    fraction = is_percent_fraction(spec.format, values)
    lo, hi = min(values), max(values)
    near_equal = lo < hi and ((lo > 0 and lo >= NEAR_EQUAL * hi) or (hi < 0 and hi <= NEAR_EQUAL * lo))
    shown = value_labels(values, spec.format, fraction=fraction)
    label_w = min(max(len(k) for k, _, _ in bars), max(width // 3, 8), 24)
    value_w = max(len(v) for v in shown)
    bar_w = max(width - label_w - value_w - 2, 4)
    max_ticks = max(2, min(6, bar_w // 10))
    if near_equal:
        margin = (hi - lo) * 0.5
        low, high = (lo - margin, hi) if lo > 0 else (lo, hi + margin)
        axis = value_axis(low, high, spec.format, fraction=fraction, max_ticks=max_ticks, keep_zero=False)
    else:
        axis = value_axis(lo, hi, spec.format, fraction=fraction, max_ticks=max_ticks)
    origin = axis.fraction(min(max(0.0, axis.low), axis.high))
    out = Text(no_wrap=True, overflow="crop")
    previous = None
    for (key, s, value), label in zip(bars, shown, strict=True):
        out.append(f"{fit(key, label_w) if key != previous else '':<{label_w}} ")
        colour = colours[s] if points.has_series or value >= 0 else PALETTE[3]
        out.append(f"{_bar_cells(origin, axis.fraction(value), bar_w):<{bar_w}}", style=colour)
        out.append(f" {label:>{value_w}}\n")
        previous = key
    if shown_groups < len(groups):
        out.append(f"… {len(groups) - shown_groups} more in the table\n", style="dim")
    marks = [
        (round(axis.fraction(t) * bar_w), label) for t, label in zip(axis.ticks, axis.labels, strict=True)
    ]
    line, labels = ruler(marks, bar_w + 1, width - label_w - 1)
    pad = " " * (label_w + 1)
    out.append(f"{pad}{line}\n{pad}{labels}\n", style="dim")
    out.append(pad + axis.title(spec.y), style="dim")
    if axis.note:
        out.append(f" · {axis.note}", style=NOTE_STYLE)
    if points.has_series:
        out.append("\n")
        out.append_text(legend(series, colours, width, more=len(points.series) - len(series)))
    return out


def share_chart(spec: ChartSpec, columns: Sequence[str], rows: Sequence[Sequence[Any]], width: int) -> Text:
    """The share view of a ``pie`` hint: one 100% bar split by category, then a legend with percents."""
    points = read_points(spec, columns, rows)
    first = points.values[points.series[0]] if points is not None else {}
    pairs = [(label, v) for label, v in first.items() if v > 0]
    total = sum(v for _, v in pairs)
    if not pairs or total <= 0:
        return Text("Nothing to chart: no positive values.", style="dim")
    pairs.sort(key=lambda p: p[1], reverse=True)
    bar_w = max(width, 10)
    # Largest remainder, so the segments add up to exactly the bar's width.
    exact = [v / total * bar_w for _, v in pairs]
    cells = [int(e) for e in exact]
    for i in sorted(range(len(pairs)), key=lambda i: exact[i] - cells[i], reverse=True)[: bar_w - sum(cells)]:
        cells[i] += 1
    out = Text(no_wrap=True, overflow="crop")
    for i, n in enumerate(cells):
        out.append("█" * n, style=PALETTE[i % len(PALETTE)])
    out.append("\n")
    label_w = min(max(len(label) for label, _ in pairs), 28)
    for i, (label, value) in enumerate(pairs):
        out.append("■ ", style=PALETTE[i % len(PALETTE)])
        out.append(f"{fit(label, label_w):<{label_w}} {value / total:>7.1%}  ")
        out.append(format_measure(value, spec.format), style="dim")
        if i < len(pairs) - 1:
            out.append("\n")
    return out
