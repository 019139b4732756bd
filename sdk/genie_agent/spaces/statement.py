"""Genie's query results in the SQL Statement Execution format: type names, every value a string.

Genie answers ``.../attachments/{id}/query-result`` with a ``statement_response``: a manifest
whose schema names each column's ``type_name`` (``LONG``, ``DECIMAL``, ``DOUBLE``, ``DATE``,
``STRING`` ...) and ``type_text`` (``BIGINT``, ``DECIMAL(38,4)``), and ``data_array``: rows in
which every non-null value is a string and nulls are JSON ``null``. Doubles are printed the way
the JVM prints them, so large and tiny ones arrive in scientific notation (``'3.336E8'``,
``'1.0E-4'``), and an empty result has no ``data_array`` at all.

:func:`render_rows` writes that format (the local Genie server); :func:`typed_rows` reads it back
into Python values (the Databricks backend), so a number compares equal to the one DuckDB gave.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "ColumnType",
    "column_type_of",
    "infer_column_type",
    "java_double",
    "parse_value",
    "render_rows",
    "render_value",
    "typed_rows",
]


@dataclass(frozen=True)
class ColumnType:
    """A column's type as Databricks names it: ``type_name`` (the base type) and ``type_text``."""

    type_name: str
    type_text: str
    precision: int | None = None
    scale: int | None = None


_INTEGERS = {
    "TINYINT": ("BYTE", "TINYINT"),
    "UTINYINT": ("SHORT", "SMALLINT"),
    "SMALLINT": ("SHORT", "SMALLINT"),
    "USMALLINT": ("INT", "INT"),
    "INTEGER": ("INT", "INT"),
    "UINTEGER": ("LONG", "BIGINT"),
    # Spark sums integers into BIGINT where DuckDB widens to HUGEINT: Genie would say LONG.
    "BIGINT": ("LONG", "BIGINT"),
    "UBIGINT": ("LONG", "BIGINT"),
    "HUGEINT": ("LONG", "BIGINT"),
    "UHUGEINT": ("LONG", "BIGINT"),
}
_SIMPLE = {
    "BOOLEAN": "BOOLEAN",
    "FLOAT": "FLOAT",
    "REAL": "FLOAT",
    "DOUBLE": "DOUBLE",
    "DATE": "DATE",
    "VARCHAR": "STRING",
    "BLOB": "BINARY",
    "INTERVAL": "INTERVAL",
}
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


def column_type_of(duckdb_type: str) -> ColumnType:
    """The Databricks type of a DuckDB type name (``'DECIMAL(38,4)'`` -> ``DECIMAL``)."""
    t = duckdb_type.strip().upper()
    if t in _INTEGERS:
        return ColumnType(*_INTEGERS[t])
    if t in _SIMPLE:
        return ColumnType(_SIMPLE[t], _SIMPLE[t])
    m = _DECIMAL.fullmatch(t)
    if m:
        p, s = int(m.group(1)), int(m.group(2))
        return ColumnType("DECIMAL", f"DECIMAL({p},{s})", p, s)
    if t.startswith("TIMESTAMP"):
        return ColumnType("TIMESTAMP", "TIMESTAMP")
    if t.endswith("]"):
        return ColumnType("ARRAY", "ARRAY")
    if t.startswith(("STRUCT", "MAP")):
        return ColumnType(t[:6].rstrip("("), t[:6].rstrip("("))
    return ColumnType("STRING", "STRING")


def infer_column_type(values: Sequence[Any]) -> ColumnType:
    """A column type from Python values, for spaces that give no type names."""
    present = [v for v in values if v is not None]
    if not present:
        return ColumnType("STRING", "STRING")
    kinds = {type(v) for v in present}
    if kinds == {bool}:
        return ColumnType("BOOLEAN", "BOOLEAN")
    if kinds == {int}:
        return ColumnType("LONG", "BIGINT")
    if kinds <= {int, float}:
        return ColumnType("DOUBLE", "DOUBLE")
    if kinds <= {int, Decimal}:
        scale = max(-d.as_tuple().exponent for d in present if isinstance(d, Decimal))  # type: ignore[operator]
        return ColumnType("DECIMAL", f"DECIMAL(38,{max(scale, 0)})", 38, max(scale, 0))
    if kinds <= {dt.datetime}:
        return ColumnType("TIMESTAMP", "TIMESTAMP")
    if kinds <= {dt.date}:
        return ColumnType("DATE", "DATE")
    return ColumnType("STRING", "STRING")


def java_double(x: float) -> str:
    """``x`` as ``Double.toString`` prints it: positional from 10^-3 up to 10^7, scientific beyond."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    if 1e-3 <= abs(x) < 1e7:
        return repr(x)  # Python's shortest round-trip digits, positional in this range, as Java's
    sign, digits, exponent = Decimal(repr(x)).as_tuple()
    assert isinstance(exponent, int)
    power = exponent + len(digits) - 1
    text = "".join(map(str, digits)).rstrip("0") or "0"
    return f"{'-' if sign else ''}{text[0]}.{text[1:] or '0'}E{power}"


def render_value(value: Any, type_name: str) -> str | None:
    """One value as Genie's ``data_array`` carries it: a string, or None for null."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if type_name in ("DOUBLE", "FLOAT") and isinstance(value, int | float | Decimal):
        return java_double(float(value))
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds") + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | dict | tuple):
        return json.dumps(value, default=str)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def render_rows(rows: Sequence[Sequence[Any]], type_names: Sequence[str]) -> list[list[str | None]]:
    """Rows as ``data_array``."""
    return [[render_value(v, t) for v, t in zip(row, type_names, strict=False)] for row in rows]


def _number(text: str) -> int | float | Decimal:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        d = Decimal(text)  # '3.336E8' in an integer column
    except InvalidOperation:
        return float(text)
    return int(d) if d.is_finite() and d == d.to_integral_value() else float(d)


def parse_value(text: str | None, type_name: str | None) -> Any:
    """A ``data_array`` string typed by its column's ``type_name`` (unknown types stay text)."""
    if text is None:
        return None
    t = (type_name or "STRING").upper()
    try:
        if t in ("BYTE", "SHORT", "INT", "LONG"):
            return _number(text)
        if t in ("FLOAT", "DOUBLE"):
            return float(text)
        if t == "DECIMAL":
            return Decimal(text)
        if t == "BOOLEAN":
            return text.strip().lower() == "true"
        if t == "DATE":
            return dt.date.fromisoformat(text[:10])
        if t == "TIMESTAMP":
            stamp = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
            # Naive UTC, as DuckDB returns TIMESTAMP: the same instant compares equal.
            return stamp.astimezone(dt.UTC).replace(tzinfo=None) if stamp.tzinfo else stamp
        if t in ("ARRAY", "MAP", "STRUCT"):
            return json.loads(text)
    except (ValueError, InvalidOperation):
        return text  # a value the type name does not describe: keep what Genie sent
    return text


def typed_rows(
    data_array: Sequence[Sequence[str | None]] | None, type_names: Sequence[str | None]
) -> tuple[tuple[Any, ...], ...]:
    """``data_array`` (absent for an empty result) as typed rows."""
    return tuple(
        tuple(parse_value(v, t) for v, t in zip(row, type_names, strict=False)) for row in data_array or ()
    )
