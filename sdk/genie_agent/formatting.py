"""How numbers and labels are written in answers (grounding reads them back the same way)."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

__all__ = ["format_value", "is_number"]


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
