"""What a result column holds: numbers, dates or categories, from its values or its type name.

Genie returns every cell as a string (``'3.336E8'``, ``'1995-03-01T00:00:00.000Z'``) or ``None``; the local
engine returns typed Python values. Both are read here; a type name (DuckDB's or Genie's) wins.

A column also has a display *format* (:func:`column_formats`): ``key`` for grouping keys and time buckets
(written as they are, never ``1,992``), ``date``, or a measure's number format (``percent``, ``currency``,
``integer``, ``number``). The result's column metadata declares it where the source knows it (the local
engine's semantic model); otherwise the column's name and values decide, or nothing does (``None``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from collections.abc import Sequence
from typing import Any, Literal, get_args

__all__ = [
    "COLUMN_FORMATS",
    "MEASURE_FORMATS",
    "YEAR_RANGE",
    "ColumnFormat",
    "ColumnKind",
    "column_format",
    "column_formats",
    "infer_column_kind",
    "is_integral",
    "name_tokens",
    "names_a_percent",
    "names_a_year",
    "names_an_identifier",
    "parse_number",
]

ColumnKind = Literal["number", "date", "category", "empty"]
ColumnFormat = Literal["key", "date", "percent", "currency", "integer", "number"]
COLUMN_FORMATS: frozenset[str] = frozenset(get_args(ColumnFormat))
MEASURE_FORMATS: frozenset[str] = frozenset({"percent", "currency", "integer", "number"})
"""The formats of a measure; ``key`` and ``date`` columns label rows and are never measures."""
YEAR_RANGE = (1900, 2100)
"""Integral values in this range, in a column whose name says year, are years."""


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

_YEAR_TOKENS = frozenset({"year", "yr", "yyyy", "fy"})
_ID_TOKENS = frozenset({"id", "key", "code", "zip", "zipcode", "postcode"})


def name_tokens(name: str) -> list[str]:
    """``'o_orderYear'`` -> ``['o', 'order', 'year']``: split on non-alphanumerics and camelCase."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t]


def names_a_year(name: str) -> bool:
    """A token ``year``, ``yr``, ``yyyy`` or ``fy``, or one ending in ``year`` (``o_year``, ``orderYear``)."""
    return any(t in _YEAR_TOKENS or t.endswith("year") for t in name_tokens(name))


def names_an_identifier(name: str) -> bool:
    """A token ``id``, ``key``, ``code``, ``zip``, or one ending in ``key`` (TPC-H's ``c_custkey``)."""
    return any(t in _ID_TOKENS or (t.endswith("key") and len(t) > 3) for t in name_tokens(name))


def names_a_percent(name: str) -> bool:
    """A share or percentage column by its name: ``share of revenue``, ``% revenue``, ``revenue %``,
    ``revenue percent change`` (case and spacing aside). Such a column holds fractions (0.05 is 5%)."""
    text = " ".join(name.lower().split())
    return text == "%" or text.startswith(("share of ", "% ")) or text.endswith((" %", "percent change"))


# --- column formats ------------------------------------------------------------------------------------


def _is_year(name: str, present: Sequence[Any]) -> bool:
    if not names_a_year(name) or not all(is_integral(v) for v in present):
        return False
    low, high = YEAR_RANGE
    return all((n := parse_number(v)) is not None and low <= n <= high for v in present)


def column_format(
    name: str, values: Sequence[Any], column_type: str | None = None, declared: str | None = None
) -> ColumnFormat | None:
    """The display format of one column, or None when neither its metadata nor its name decides.

    In order: the ``declared`` format when it is one of :data:`COLUMN_FORMATS` (the result's column
    metadata: ``key`` for a grouping column, the measure's format from the semantic model); ``percent``
    when the name says share/percentage (:func:`names_a_percent`); ``date`` for a date column; ``key``
    for whole numbers in a column named like a year (1900..2100) or an identifier. None otherwise: the
    column's place in the result decides (a column before the first measure is a grouping key).
    """
    if declared in COLUMN_FORMATS:
        return declared  # type: ignore[return-value]
    if names_a_percent(name):
        return "percent"
    kind = infer_column_kind(values, column_type)
    if kind == "date":
        return "date"
    if kind == "number":
        present = [v for v in values if v is not None]
        if _is_year(name, present) or (names_an_identifier(name) and all(is_integral(v) for v in present)):
            return "key"
    return None


def column_formats(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    column_types: Sequence[str] = (),
    declared: Sequence[str] = (),
) -> tuple[ColumnFormat | None, ...]:
    """:func:`column_format` of every column of a result (``declared`` and ``column_types`` may be
    empty or shorter than ``columns``; an empty string declares nothing)."""
    out: list[ColumnFormat | None] = []
    for i, name in enumerate(columns):
        values = [row[i] if i < len(row) else None for row in rows]
        column_type = column_types[i] if i < len(column_types) else None
        out.append(column_format(name, values, column_type, declared[i] if i < len(declared) else None))
    return tuple(out)
