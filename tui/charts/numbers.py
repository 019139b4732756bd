"""Numbers and keys as the charts write them, and value axes with round ticks.

Keys (a year, a date, a code) are written as they are (``1992``, never ``1,992``); measures in a short
form (``7.18B``, ``12.5%``). A value axis spans round tick values; whether it starts at zero is the
caller's choice, and :attr:`Axis.note` says so when it does not.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from genie_agent.formatting import format_key, format_value

__all__ = [
    "Axis",
    "compact_number",
    "format_measure",
    "key_label",
    "to_number",
    "value_axis",
    "value_labels",
]

# Divisor, suffix and the word for an axis title, largest first.
_SCALES = ((1e12, "T", "trillions"), (1e9, "B", "billions"), (1e6, "M", "millions"), (1e3, "K", "thousands"))
_NICE_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)


def to_number(value: Any) -> float | None:
    """A cell as a float: numbers, and numeric strings as Genie sends them; else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | decimal.Decimal):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.replace(",", ""))
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def is_percent_fraction(fmt: str, values: Sequence[float]) -> bool:
    """A ``percent`` measure whose values are fractions (0.125 is 12.5%)."""
    return fmt == "percent" and all(-1.0 <= v <= 1.0 for v in values)


def compact_number(value: float, fmt: str = "number", *, fraction: bool = False, digits: int = 3) -> str:
    """Short form for bars and points: 1.2K, 3.4M, 5.6B (``digits`` significant); percents as 12.5%."""
    if fmt == "percent":
        shown = value * 100 if fraction else value
        return f"{shown:.{max(digits - 2, 1)}f}%"
    magnitude = abs(value)
    for limit, suffix, _ in _SCALES:
        if magnitude >= limit:
            return f"{value / limit:.{digits}g}{suffix}"
    if value == int(value):
        return f"{int(value)}"
    return f"{value:.{digits}g}"


def value_labels(values: Sequence[float], fmt: str, *, fraction: bool) -> list[str]:
    """:func:`compact_number` of each value, with as many digits as it takes to tell different values
    apart (7.14B and 7.12B, not 7.1B twice)."""
    labels: list[str] = []
    for digits in (3, 4, 5, 6):
        labels = [compact_number(v, fmt, fraction=fraction, digits=digits) for v in values]
        if len(set(labels)) == len(set(values)):
            break
    return labels


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


def key_label(value: Any) -> str:
    """A key on an axis or in a legend: a year as ``1992``, a date (or a midnight timestamp) as
    ``1996-03-01``, anything else its own text."""
    if isinstance(value, str) and len(value) >= 10 and value[4:5] == "-" and value[7:8] == "-":
        return value[:10] if value[10:].strip("T:0.Z ") == "" else value
    return format_key(value)


@dataclass(frozen=True)
class Axis:
    """A value axis from ``low`` to ``high`` (both ticks), its tick labels sharing one unit."""

    low: float
    high: float
    ticks: tuple[float, ...]
    labels: tuple[str, ...]
    unit: str
    """``billions``, ``millions``, ``thousands``, ``trillions``, ``%`` or empty."""

    def fraction(self, value: float) -> float:
        """Where ``value`` lies between ``low`` (0.0) and ``high`` (1.0)."""
        return (value - self.low) / (self.high - self.low)

    def label(self, value: float) -> str:
        return self.labels[self.ticks.index(value)] if value in self.ticks else str(value)

    @property
    def note(self) -> str | None:
        """What a reader must be told: the axis does not reach zero."""
        if self.low > 0:
            return f"axis starts at {self.labels[0]}, not 0"
        if self.high < 0:
            return f"axis ends at {self.labels[-1]}, not 0"
        return None

    def title(self, name: str | None) -> str:
        """The axis title: the measure's name and its unit, ``revenue (billions)``."""
        name = name or "value"
        return f"{name} ({self.unit})" if self.unit else name


def _nice_step(rough: float) -> float:
    power = 10 ** math.floor(math.log10(rough))
    return next(step * power for step in _NICE_STEPS if step * power >= rough * (1 - 1e-9))


def value_axis(
    low: float, high: float, fmt: str, *, fraction: bool, max_ticks: int = 5, keep_zero: bool = True
) -> Axis:
    """An axis over [low, high] with at most ``max_ticks`` round ticks (1, 2, 2.5 or 5 times a power of
    ten). ``keep_zero``: widen it to reach zero; else it may start (or end) away from zero."""
    if keep_zero:
        low, high = min(low, 0.0), max(high, 0.0)
    if low == high:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    min_step = 1.0 if fmt == "integer" else 0.0
    step = max(_nice_step((high - low) / max(max_ticks - 1, 1)), min_step)
    while True:
        first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
        if last - first + 1 <= max_ticks:
            break
        step = _nice_step(step * 1.01)
    ticks = tuple(float(f"{i * step:.12g}") + 0.0 for i in range(first, last + 1))
    labels, unit = _tick_labels(ticks, step, fmt, fraction)
    return Axis(ticks[0], ticks[-1], ticks, labels, unit)


def _tick_labels(
    ticks: Sequence[float], step: float, fmt: str, fraction: bool
) -> tuple[tuple[str, ...], str]:
    if fmt == "percent":
        scaled = [t * 100 if fraction else t for t in ticks]
        decimals = _decimals(scaled)
        return tuple(f"{t:.{decimals}f}%" for t in scaled), "%"
    top = max(abs(t) for t in ticks)
    # Thousands only from 10,000: 2,500 reads better than 2.5K.
    divisor, suffix, unit = next(((d, s, u) for d, s, u in _SCALES if top >= max(d, 1e4)), (1.0, "", ""))
    scaled = [t / divisor for t in ticks]
    decimals = _decimals(scaled)
    return tuple(f"{t:,.{decimals}f}{suffix}" if t else "0" for t in scaled), unit


def _decimals(values: Sequence[float]) -> int:
    """The fewest decimals that write every value exactly (at most 4)."""
    for decimals in range(5):
        if all(abs(round(v, decimals) - v) < 1e-9 * max(1.0, abs(v)) for v in values):
            return decimals
    return 4
