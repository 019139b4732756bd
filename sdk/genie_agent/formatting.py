"""How numbers and labels are written in answers (grounding reads them back the same way)."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from .column_kinds import is_integral, parse_number

__all__ = [
    "SCALES",
    "format_cell",
    "format_key",
    "format_measure",
    "format_percent",
    "format_value",
    "is_number",
    "number_scale",
    "scaled",
]

SCALES: dict[str, tuple[float, str]] = {
    "thousands": (1e3, "K"),
    "millions": (1e6, "M"),
    "billions": (1e9, "B"),
}
"""Number scales a user may ask answers in: unit and suffix (grounding reads "1.23M" back)."""
_SCALE: ContextVar[str | None] = ContextVar("genie_agent_number_scale", default=None)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool)


def format_value(value: Any) -> str:
    """Thousands separators; two decimals for large fractional values, four significant for small."""
    if value is None:
        return "—"
    if isinstance(value, dt.date):
        return value.isoformat()
    if not is_number(value):
        return str(value)
    number = float(value)
    if number == int(number) and abs(number) < 1e15:
        return f"{int(number):,}"
    if abs(number) >= 100:
        return f"{number:,.2f}"
    return f"{number:.4g}"


def format_measure(value: Any) -> str:
    """A measure value: in the scale set by :func:`number_scale` ("133.30M") when it reaches the unit."""
    scale = _SCALE.get()
    if scale is not None and is_number(value):
        unit, suffix = SCALES[scale]
        if abs(float(value)) >= unit:
            return f"{float(value) / unit:,.2f}{suffix}"
    return format_value(value)


def format_key(value: Any) -> str:
    """A grouping key or time bucket (a year, an id, a size, a month): as it is, never ``1,992``.

    Whole numbers are plain integers, dates ISO (``1996-03-01``), anything else its own text.
    """
    if value is None:
        return "—"
    if isinstance(value, dt.date):
        return value.isoformat()
    if is_number(value) and is_integral(value) and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def format_percent(value: Any) -> str:
    """A fraction as a percent with one decimal: 0.05 -> ``5.0%``, -0.125 -> ``-12.5%`` (grounding reads
    ``5.0%`` back as 0.05). Number text (Genie's ``'0.05'``) too; anything else as :func:`format_value`."""
    number = parse_number(value)
    if number is None:
        return format_value(value)
    return f"{round(number * 100, 1) + 0.0:,.1f}%"  # + 0.0: no "-0.0%"


def format_cell(value: Any, column_format: str | None) -> str:
    """A cell in its column's format (:func:`genie_agent.column_kinds.column_format`): ``key`` and
    ``date`` as keys, ``percent`` as a percent, any other (or None) as a measure."""
    if column_format in ("key", "date"):
        return format_key(value)
    if column_format == "percent":
        return format_percent(value)
    return format_measure(value)


@contextmanager
def number_scale(scale: str | None) -> Iterator[None]:
    """Write measures in ``scale`` (thousands, millions, billions) inside the block; None: as they are."""
    token = _SCALE.set(scale)
    try:
        yield
    finally:
        _SCALE.reset(token)


def scaled(chunks: Iterable[str], scale: str | None) -> Iterator[str]:
    """Produce each chunk with numbers written in ``scale``; the scale is not in force between chunks."""
    if scale is None:
        yield from chunks
        return
    it = iter(chunks)
    while True:
        with number_scale(scale):
            chunk = next(it, None)
        if chunk is None:
            return
        yield chunk
