"""A result's numbers as the charts read them: one value per key (the hint's ``x``) and series."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .numbers import key_label, to_number
from .spec import ChartSpec

__all__ = ["Points", "key_position", "read_points"]


@dataclass(frozen=True)
class Points:
    """``values[series][key]``; keys in the order the rows first give them, series sorted (years
    ascending, names alphabetically). Without a ``series`` column there is one series named ``""``."""

    keys: list[str]
    raw_keys: dict[str, Any]
    """The first cell each key label came from (a date, a year, a string)."""
    series: list[str]
    values: dict[str, dict[str, float]]

    @property
    def has_series(self) -> bool:
        return self.series != [""]


def _column(columns: Sequence[str], name: str | None) -> int | None:
    if name is None:
        return None
    try:
        return list(columns).index(name)
    except ValueError:
        return None


def sort_key(label: str) -> tuple[int, float, str]:
    """Numbers by value first, then text."""
    number = to_number(label)
    return (0, number, "") if number is not None else (1, 0.0, label)


def read_points(spec: ChartSpec, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Points | None:
    """None when the hint's columns are missing or no row has a number to chart."""
    x, y, s = _column(columns, spec.x), _column(columns, spec.y), _column(columns, spec.series)
    if x is None or y is None:
        return None
    keys: dict[str, Any] = {}
    values: dict[str, dict[str, float]] = {}
    for row in rows:
        if max(x, y) >= len(row):
            continue
        value = to_number(row[y])
        if value is None:
            continue
        key = key_label(row[x])
        keys.setdefault(key, row[x])
        name = key_label(row[s]) if s is not None and s < len(row) else ""
        values.setdefault(name, {})[key] = value
    if not values:
        return None
    return Points(list(keys), keys, sorted(values, key=sort_key), values)


def key_position(value: Any) -> float | None:
    """Where a key lies on a numeric or time axis (a number, days for dates); None for a category."""
    if isinstance(value, dt.datetime):
        return value.toordinal() + (value.hour * 3600 + value.minute * 60 + value.second) / 86400
    if isinstance(value, dt.date):
        return float(value.toordinal())
    number = to_number(value)
    if number is not None:
        return number
    if isinstance(value, str) and len(value) >= 10 and value[4:5] == "-" and value[7:8] == "-":
        try:
            return key_position(dt.datetime.fromisoformat(value))
        except ValueError:
            return None
    return None
