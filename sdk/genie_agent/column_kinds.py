"""What a result column holds: numbers, dates or categories, from its values or its type name.

Genie returns every cell as a string (``'3.336E8'``, ``'1995-03-01T00:00:00.000Z'``) or ``None``; the local
engine returns typed Python values. Both are read here; a type name (DuckDB's or Genie's) wins.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from collections.abc import Sequence
from typing import Any, Literal

__all__ = ["ColumnKind", "infer_column_kind", "is_integral", "parse_number"]

ColumnKind = Literal["number", "date", "category", "empty"]


_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# A leading zero before another digit ('007', '02134') is a code, not a number.
_ZERO_PADDED = re.compile(r"[+-]?0\d")
# ISO dates, months and timestamps: '1995-03', '1995-03-01', '1995-03-01T00:00:00.000Z',
# '1995-03-01 12:30:00+02:00'.
_DATE_TEXT = re.compile(
    r"(?P<y>\d{4})-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?)?"
)

_NUMBER_TYPES = frozenset(
    (
        "TINYINT SMALLINT INTEGER INT BIGINT HUGEINT UTINYINT USMALLINT UINTEGER UBIGINT UHUGEINT INT1 INT2 "
        "INT4 INT8 INT16 INT32 INT64 INT128 BYTE SHORT LONG SIGNED FLOAT FLOAT4 FLOAT8 DOUBLE REAL DECIMAL "
        "NUMERIC DEC NUMBER"
    ).split()
)
_DATE_TYPES = frozenset(
    "DATE DATETIME TIMESTAMP TIMESTAMPTZ TIMESTAMP_NTZ TIMESTAMP_LTZ TIMESTAMP_S TIMESTAMP_MS TIMESTAMP_NS "
    "TIMESTAMP_US".split()
) | {"TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITHOUT TIME ZONE"}
_CATEGORY_TYPES = frozenset(
    (
        "STRING VARCHAR CHAR BPCHAR TEXT NVARCHAR BOOLEAN BOOL LOGICAL BINARY BLOB BYTEA VARBINARY UUID ENUM "
        "TIME TIMETZ INTERVAL ARRAY LIST MAP STRUCT UNION JSON VARIANT USER_DEFINED_TYPE"
    ).split()
) | {"TIME WITH TIME ZONE"}


def _kind_from_type(column_type: str) -> ColumnKind | None:
    """The kind a type name says, or None for a name not known here (then the values decide)."""
    name = column_type.strip().upper()
    if not name:
        return None
    if name.endswith("]"):  # DuckDB lists: 'INTEGER[]', 'VARCHAR[3]'
        return "category"
    base = re.split(r"[(<]", name, maxsplit=1)[0].strip()
    if base in _NUMBER_TYPES:
        return "number"
    if base in _DATE_TYPES:
        return "date"
    if base in _CATEGORY_TYPES:
        return "category"
    return None


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def parse_number(value: Any) -> float | None:
    """The value as a finite float when it is a number or a number written as text, else None."""
    if _is_bool(value):
        return None
    if isinstance(value, int):
        return float(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, str):
        text = value.strip()
        if not _NUMBER_TEXT.fullmatch(text) or _ZERO_PADDED.match(text):
            return None
        number = float(text)
        return number if math.isfinite(number) else None
    return None


def is_integral(value: Any) -> bool:
    """True when the value is a whole number (``3``, ``3.0``, ``Decimal('3.00')``, ``'3.336E8'``)."""
    if isinstance(value, decimal.Decimal):
        return value.is_finite() and value == value.to_integral_value()
    if isinstance(value, str):
        if parse_number(value) is None:
            return False
        exact = decimal.Decimal(value.strip())
        return exact == exact.to_integral_value()
    number = parse_number(value)  # ints, floats; None for bools and anything else
    return number is not None and number.is_integer()


def _looks_like_date(value: Any) -> bool:
    if isinstance(value, dt.date):  # datetime.datetime is a date too
        return True
    if not isinstance(value, str):
        return False
    match = _DATE_TEXT.fullmatch(value.strip())
    if match is None:
        return False
    try:
        dt.date(int(match["y"]), int(match["m"]), int(match["d"] or 1))
    except ValueError:
        return False
    return True


def infer_column_kind(values: Sequence[Any], column_type: str | None = None) -> ColumnKind:
    """The kind of one column: ``number``, ``date``, ``category`` or ``empty``.

    Nulls (``None``) are ignored; a column of nulls only is ``empty`` whatever its type. A known type
    name (``'DECIMAL(18,2)'``, ``'BIGINT'``, ``'LONG'``, ``'DATE'``, ``'TIMESTAMP'``, ``'STRING'``,
    ``'VARCHAR'`` ...) decides when given, so a ``STRING`` column of numeric-looking ids stays a category;
    an unknown or missing type name leaves it to the values:

    * ``number`` when every value is a number (``int``, ``float``, ``Decimal``; not ``bool``) or number
      text in plain or scientific notation (``'1234.5'``, ``'3.336E8'``); zero-padded text (``'007'``)
      is a code, not a number;
    * ``date`` when every value is a ``date``/``datetime`` or ISO text (``'1995-03'``, ``'1995-03-01'``,
      ``'1995-03-01T00:00:00.000Z'``);
    * ``category`` otherwise (text, booleans, ``'true'``, mixed values).

    Bare years (``1995``) are numbers here; whether they are a time axis depends on the column name and
    is decided by :func:`suggest_visualization`.
    """
    present = [v for v in values if v is not None]
    if not present:
        return "empty"
    if column_type:
        kind = _kind_from_type(column_type)
        if kind is not None:
            return kind
    if all(parse_number(v) is not None for v in present):
        return "number"
    if all(_looks_like_date(v) for v in present):
        return "date"
    return "category"


# --- column roles --------------------------------------------------------------------------------------
