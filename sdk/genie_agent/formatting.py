"""How numbers and labels are written in answers (grounding reads them back the same way)."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["SCALES", "format_measure", "format_value", "is_number", "number_scale"]

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


@contextmanager
def number_scale(scale: str | None) -> Iterator[None]:
    """Write measures in ``scale`` (thousands, millions, billions) inside the block; None: as they are."""
    token = _SCALE.set(scale)
    try:
        yield
    finally:
        _SCALE.reset(token)
