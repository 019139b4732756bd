"""Terminal charts drawn with Unicode blocks and braille, from a result and its visualization hint.

Pure functions from (hint, columns, rows, width) to Rich ``Text``: no widget, no Textual, so they are
tested on their own. The hint is the SDK's ``visualization_hint`` (``genie_agent.viz``): ``bar``,
``line``, ``pie`` (drawn as a share bar with a legend), ``kpi`` (a number; the widget draws it large)
and ``table`` (no chart).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text

from genie_agent.formatting import format_value

__all__ = [
    "PALETTE",
    "ChartSpec",
    "bar_chart",
    "compact_number",
    "format_measure",
    "kpi_value",
    "line_chart",
    "render_chart",
    "share_chart",
    "to_number",
]

PALETTE = ("#4EA1D3", "#E8A33D", "#6CC26C", "#D95D6A", "#A67DD4", "#52C3B8", "#C9C95B", "#E07BB4")
"""Series and slice colours, readable on dark and light themes."""

_EIGHTHS = " ▏▎▍▌▋▊▉█"
_BRAILLE_BASE = 0x2800
# Bit of each dot in a braille cell, by (row 0..3, column 0..1).
_BRAILLE_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
MAX_BARS = 20
LINE_HEIGHT = 8


@dataclass(frozen=True)
class ChartSpec:
    """The hint's fields the charts use."""

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


def to_number(value: Any) -> float | None:
    """A cell as a float: numbers, and numeric strings as Genie sends them; else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.replace(",", ""))
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _is_percent_fraction(fmt: str, values: Sequence[float]) -> bool:
    return fmt == "percent" and all(-1.0 <= v <= 1.0 for v in values)


def compact_number(value: float, fmt: str = "number", *, fraction: bool = False) -> str:
    """Short form for axes and bars: 1.2K, 3.4M, 5.6B; percents as 12.5%."""
    if fmt == "percent":
        return f"{value * 100 if fraction else value:.1f}%"
    magnitude = abs(value)
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if magnitude >= limit:
            return f"{value / limit:.3g}{suffix}"
    if value == int(value):
        return f"{int(value)}"
    return f"{value:.3g}"


def format_measure(value: Any, fmt: str = "number") -> str:
    """A cell as the table shows it: thousands separators; percent fractions as percents."""
    number = to_number(value)
    if number is None:
        return format_value(value)
    if fmt == "percent" and -1.0 <= number <= 1.0 and not isinstance(value, int):
        return f"{number * 100:.2f}%"
    if isinstance(value, str):
        return format_value(int(number) if number == int(number) and abs(number) < 1e15 else number)
    return format_value(value)


def _column(columns: Sequence[str], name: str | None) -> int | None:
    if name is None:
        return None
    try:
        return list(columns).index(name)
    except ValueError:
        return None


def _label(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and len(value) >= 10 and value[4:5] == "-" and value[7:8] == "-":
        return value[:10] if value[10:].strip("T:0.Z ") == "" else value
    return format_value(value)


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _pairs(
    spec: ChartSpec, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[tuple[str, float]] | None:
    x, y, s = _column(columns, spec.x), _column(columns, spec.y), _column(columns, spec.series)
    if x is None or y is None:
        return None
    pairs = []
    for row in rows:
        value = to_number(row[y]) if y < len(row) else None
        if value is None or x >= len(row):
            continue
        label = _label(row[x])
        if s is not None and s < len(row):
            label = f"{label} · {_label(row[s])}"
        pairs.append((label, value))
    return pairs or None


def bar_chart(spec: ChartSpec, columns: Sequence[str], rows: Sequence[Sequence[Any]], width: int) -> Text:
    """Horizontal bars: label, bar (eighth-block precision), value. At most :data:`MAX_BARS` bars."""
    pairs = _pairs(spec, columns, rows)
    if not pairs:
        return Text("Nothing to chart: no numeric values.", style="dim")
    if spec.sort in ("asc", "desc"):
        pairs.sort(key=lambda p: p[1], reverse=spec.sort == "desc")
    more = len(pairs) - MAX_BARS
    pairs = pairs[:MAX_BARS]
    fraction = _is_percent_fraction(spec.format, [v for _, v in pairs])
    values = [compact_number(v, spec.format, fraction=fraction) for _, v in pairs]
    label_w = min(max(len(label) for label, _ in pairs), max(width // 3, 8), 24)
    value_w = max(len(v) for v in values)
    bar_w = max(width - label_w - value_w - 3, 4)
    peak = max(abs(v) for _, v in pairs) or 1.0
    out = Text(no_wrap=True, overflow="crop")
    for i, ((label, value), shown) in enumerate(zip(pairs, values, strict=True)):
        eighths = round(abs(value) / peak * bar_w * 8)
        full, part = divmod(eighths, 8)
        bar = "█" * full + (_EIGHTHS[part] if part else "")
        colour = PALETTE[0] if value >= 0 else PALETTE[3]
        out.append(f"{_fit(label, label_w):<{label_w}} ", style="bold" if i == 0 else "")
        out.append(f"{bar:<{bar_w}}", style=colour)
        out.append(f" {shown:>{value_w}}")
        out.append("\n")
    if more > 0:
        out.append(f"… {more} more in the table", style="dim")
    else:
        out.rstrip()
    return out


def share_chart(spec: ChartSpec, columns: Sequence[str], rows: Sequence[Sequence[Any]], width: int) -> Text:
    """The share view of a ``pie`` hint: one 100% bar split by category, then a legend with percents."""
    pairs = [(label, v) for label, v in (_pairs(spec, columns, rows) or []) if v > 0]
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
        out.append(f"{_fit(label, label_w):<{label_w}} {value / total:>7.1%}  ")
        out.append(format_measure(value, spec.format), style="dim")
        if i < len(pairs) - 1:
            out.append("\n")
    return out


def _series_points(
    spec: ChartSpec, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> tuple[list[str], dict[str, dict[str, float]]] | None:
    x, y, s = _column(columns, spec.x), _column(columns, spec.y), _column(columns, spec.series)
    if x is None or y is None:
        return None
    series: dict[str, dict[str, float]] = {}
    for row in rows:
        if max(x, y) >= len(row):
            continue
        value = to_number(row[y])
        if value is None:
            continue
        name = _label(row[s]) if s is not None and s < len(row) else ""
        series.setdefault(name, {})[_label(row[x])] = value
    if not series:
        return None
    xs = sorted({key for points in series.values() for key in points}, key=_sort_key)
    return xs, series


def _sort_key(label: str) -> tuple[int, float, str]:
    number = to_number(label)
    return (0, number, "") if number is not None else (1, 0.0, label)


def line_chart(spec: ChartSpec, columns: Sequence[str], rows: Sequence[Sequence[Any]], width: int) -> Text:
    """A braille line chart (2x4 dots a cell), y axis labelled with the maximum and minimum, one colour
    per series with a legend."""
    points = _series_points(spec, columns, rows)
    if points is None:
        return Text("Nothing to chart: no numeric values.", style="dim")
    xs, series = points
    series_items = list(series.items())[: len(PALETTE)]
    values = [v for _, pts in series_items for v in pts.values()]
    lo, hi = min(values), max(values)
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    fraction = _is_percent_fraction(spec.format, values)
    top, bottom = (
        compact_number(hi, spec.format, fraction=fraction),
        compact_number(lo, spec.format, fraction=fraction),
    )
    axis_w = max(len(top), len(bottom))
    plot_w = max(width - axis_w - 2, 8)
    dots_w, dots_h = plot_w * 2, LINE_HEIGHT * 4
    # cells[row][col] = (bits, colour index)
    bits = [[0] * plot_w for _ in range(LINE_HEIGHT)]
    colour = [[0] * plot_w for _ in range(LINE_HEIGHT)]
    position = {label: i for i, label in enumerate(xs)}
    span = max(len(xs) - 1, 1)

    def dot(px: int, py: int, c: int) -> None:
        row, col = py // 4, px // 2
        if 0 <= row < LINE_HEIGHT and 0 <= col < plot_w:
            bits[row][col] |= _BRAILLE_BITS[py % 4][px % 2]
            colour[row][col] = c

    for c, (_, pts) in enumerate(series_items):
        coords = [
            (
                round(position[label] / span * (dots_w - 1)) if len(xs) > 1 else dots_w // 2,
                round((hi - value) / (hi - lo) * (dots_h - 1)),
            )
            for label, value in sorted(pts.items(), key=lambda kv: position[kv[0]])
        ]
        for (x0, y0), (x1, y1) in itertools.pairwise(coords):
            steps = max(abs(x1 - x0), abs(y1 - y0), 1)
            for step in range(steps + 1):
                dot(round(x0 + (x1 - x0) * step / steps), round(y0 + (y1 - y0) * step / steps), c)
        if len(coords) == 1:
            dot(*coords[0], c)
    out = Text(no_wrap=True, overflow="crop")
    for r in range(LINE_HEIGHT):
        label = top if r == 0 else bottom if r == LINE_HEIGHT - 1 else ""
        out.append(f"{label:>{axis_w}} ┤" if label else f"{'':>{axis_w}} │", style="dim")
        for col in range(plot_w):
            b = bits[r][col]
            if b:
                out.append(chr(_BRAILLE_BASE + b), style=PALETTE[colour[r][col]])
            else:
                out.append(" ")
        out.append("\n")
    out.append(f"{'':>{axis_w}} └" + "─" * plot_w + "\n", style="dim")
    first, last = xs[0], xs[-1]
    gap = plot_w - len(first) - len(last)
    axis = (
        f"{'':>{axis_w}}  {first}{' ' * gap}{last}" if len(xs) > 1 and gap > 0 else f"{'':>{axis_w}}  {first}"
    )
    out.append(axis, style="dim")
    if len(series_items) > 1 or (series_items and series_items[0][0]):
        out.append("\n")
        for c, (name, _) in enumerate(series_items):
            out.append("■ ", style=PALETTE[c])
            out.append(f"{name}  ")
        if len(series) > len(series_items):
            out.append(f"(+{len(series) - len(series_items)} more in the table)", style="dim")
        out.rstrip()
    return out


def kpi_value(
    spec: ChartSpec, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> tuple[str, str] | None:
    """(label, formatted value) of a KPI hint, or None when the result holds no such number."""
    y = _column(columns, spec.y)
    if y is None or not rows or y >= len(rows[0]):
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
