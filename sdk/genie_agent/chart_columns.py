"""A result's columns as a chart reads them: each column's role, and the number format of a measure.

Results arrive in two shapes. Genie returns *every* cell as a string (``'3.336E8'``, ``'1234.5'``,
``'1995-03-01'``, ``'1995-03-01T00:00:00.000Z'``, ``'true'``) or ``None`` for null; the local engine returns
typed Python values (``int``, ``float``, ``Decimal``, ``datetime.date``/``datetime.datetime``). Both go
through the same inference, and a column type name (DuckDB's or Genie's) wins over sniffing values.

Every column gets a *kind* from its values (:func:`infer_column_kind`), then a *role* from its kind and
its name:

* ``date`` -> a time axis;
* ``number`` -> a measure, except
  - a year column: integral values all in 1900..2100 **and** a name that says year (a token ``year``,
    ``yr``, ``yyyy`` or ``fy``, or a token ending in ``year``: ``year``, ``o_year``, ``fiscal_year``,
    ``orderYear``). It is a time axis. Values alone never make a year: ``size`` or ``c1`` holding
    1995..1998 stays a measure, because plenty of measures (counts, sizes, codes) fall in that range.
  - an identifier: integral values and a name that says key (a token ``id``, ``key``, ``code``, ``zip``,
    or a token ending in ``key`` such as TPC-H's ``c_custkey``). It labels rows, it is never a measure.
    Identifiers act as the category when the result has no other category column and are ignored
    otherwise (they duplicate the label beside them).
* ``category`` -> a category (dimension);
* ``empty`` (all null) -> ignored.

:func:`genie_agent.viz.suggest_visualization` then applies its rules in a fixed order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from .column_kinds import (
    MEASURE_FORMATS,
    YEAR_RANGE,
    ColumnKind,
    infer_column_kind,
    is_integral,
    name_tokens,
    names_a_percent,
    names_a_year,
    names_an_identifier,
    parse_number,
)
from .contract import NumberFormat

__all__ = ["ChartColumn", "Role", "chart_columns", "column_role", "hashable", "infer_format", "repeats"]

Role = Literal["time", "measure", "category", "identifier", "empty"]

_PERCENT_TOKENS = frozenset({"share", "shares", "rate", "rates", "discount", "discounts"})
_CURRENCY_WORDS = ("revenue", "price", "cost", "value", "balance", "sales", "amount", "fare", "spend")
_COUNT_TOKENS = frozenset({"count", "counts", "qty", "quantity", "num", "number", "cnt"})


@dataclass(frozen=True)
class ChartColumn:
    """One column of a result: its values, their kind, and the role the chart gives it."""

    name: str
    values: tuple[Any, ...]
    kind: ColumnKind
    role: Role

    @property
    def present(self) -> list[Any]:
        return [v for v in self.values if v is not None]


def column_role(name: str, values: Sequence[Any], kind: ColumnKind) -> Role:
    """The column's role from its kind, and for numbers from its name (a year, a key) and values."""
    if kind == "date":
        return "time"
    if kind == "category":
        return "category"
    if kind == "empty":
        return "empty"
    present = [v for v in values if v is not None]
    integral = all(is_integral(v) for v in present)
    if integral and names_a_year(name):
        low, high = YEAR_RANGE
        numbers = [parse_number(v) for v in present]
        if all(n is not None and low <= n <= high for n in numbers):
            return "time"
    if integral and names_an_identifier(name):
        return "identifier"
    return "measure"


def chart_columns(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], column_types: Sequence[str] | None
) -> list[ChartColumn]:
    """Each column of ``rows`` with its kind (a ``column_types`` name wins over its values) and role."""
    out: list[ChartColumn] = []
    for i, name in enumerate(columns):
        values = tuple(row[i] if i < len(row) else None for row in rows)
        column_type = column_types[i] if column_types is not None and i < len(column_types) else None
        kind = infer_column_kind(values, column_type)
        out.append(ChartColumn(name, values, kind, column_role(name, values, kind)))
    return out


def infer_format(column: ChartColumn | None, declared: str | None = None) -> NumberFormat:
    """The number format of the measure: percent, currency, integer or number (never date).

    A measure format ``declared`` by the result's column metadata wins; then a share/percentage name
    (``share of …``, ``% …``, ``… %``, ``… percent change``: fractions, so any value); then the name
    and values.
    """
    if declared in MEASURE_FORMATS:
        return cast(NumberFormat, declared)
    if column is None:
        return "number"
    if names_a_percent(column.name):
        return "percent"
    numbers = [n for n in (parse_number(v) for v in column.present) if n is not None]
    tokens = name_tokens(column.name)
    lowered = column.name.lower()
    says_percent = any(t in _PERCENT_TOKENS or t.startswith(("percent", "pct")) for t in tokens)
    if (
        says_percent
        and numbers
        and (all(0 <= n <= 1 for n in numbers) or all(0 <= n <= 100 for n in numbers))
    ):
        return "percent"
    says_count = any(t in _COUNT_TOKENS for t in tokens)
    if any(word in lowered for word in _CURRENCY_WORDS) and not says_count:
        return "currency"
    if column.present and all(is_integral(v) for v in column.present):
        return "integer"
    return "number"


def repeats(column: ChartColumn) -> bool:
    """True when some value occurs on more than one row (so a series column is needed to split it)."""
    present = column.present
    return len(set(map(hashable, present))) < len(present)


def hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value
