"""Visualization hints: how to chart a query result (the turn result's ``visualization_hint``).

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

:func:`suggest_visualization` then applies its rules in a fixed order (see its docstring).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

from .column_kinds import (
    MEASURE_FORMATS,
    YEAR_RANGE,
    ColumnKind,
    infer_column_kind,
    is_integral,
    names_a_percent,
    parse_number,
)
from .column_kinds import name_tokens as _name_tokens
from .column_kinds import names_a_year as _names_a_year
from .column_kinds import names_an_identifier as _names_an_identifier
from .contract import ChartType, NumberFormat, SortOrder

__all__ = [
    "MAX_BAR_ROWS",
    "MAX_PIE_CATEGORIES",
    "ChartType",
    "ColumnKind",
    "NumberFormat",
    "VisualizationHint",
    "infer_column_kind",
    "suggest_visualization",
]

Role = Literal["time", "measure", "category", "identifier", "empty"]

MAX_BAR_ROWS = 50
"""A bar chart shows at most this many rows (bars); more is a table."""
MAX_PIE_CATEGORIES = 6
"""A pie chart has 2..this many slices; more is a bar chart."""
MAX_KPI_MEASURES = 3
"""A single row where every column is a measure is a KPI card up to this many measures."""


@dataclass(frozen=True)
class VisualizationHint:
    """How to chart one result. ``to_dict()`` is the ``visualization_hint`` of the turn result.

    ``x`` is the category or time column, ``y`` the measure column, ``series`` a second category column
    splitting a line or bar chart into several series, ``format`` the number format of ``y`` and
    ``reason`` one line on why this chart type was chosen.
    """

    type: ChartType
    x: str | None
    y: str | None
    series: str | None
    title: str
    sort: SortOrder | None
    format: NumberFormat
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """The hint as a plain dict with exactly the eight keys of DESIGN.md."""
        return {
            "type": self.type,
            "x": self.x,
            "y": self.y,
            "series": self.series,
            "title": self.title,
            "sort": self.sort,
            "format": self.format,
            "reason": self.reason,
        }


# --- value sniffing ------------------------------------------------------------------------------------

_PERCENT_TOKENS = frozenset({"share", "shares", "rate", "rates", "discount", "discounts"})
_CURRENCY_WORDS = ("revenue", "price", "cost", "value", "balance", "sales", "amount", "fare", "spend")
_COUNT_TOKENS = frozenset({"count", "counts", "qty", "quantity", "num", "number", "cnt"})
_YEAR_RANGE = YEAR_RANGE


@dataclass(frozen=True)
class _Column:
    name: str
    values: tuple[Any, ...]
    kind: ColumnKind
    role: Role

    @property
    def present(self) -> list[Any]:
        return [v for v in self.values if v is not None]


def _role(name: str, values: Sequence[Any], kind: ColumnKind) -> Role:
    if kind == "date":
        return "time"
    if kind == "category":
        return "category"
    if kind == "empty":
        return "empty"
    present = [v for v in values if v is not None]
    integral = all(is_integral(v) for v in present)
    if integral and _names_a_year(name):
        low, high = _YEAR_RANGE
        numbers = [parse_number(v) for v in present]
        if all(n is not None and low <= n <= high for n in numbers):
            return "time"
    if integral and _names_an_identifier(name):
        return "identifier"
    return "measure"


def _columns(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], column_types: Sequence[str] | None
) -> list[_Column]:
    out: list[_Column] = []
    for i, name in enumerate(columns):
        values = tuple(row[i] if i < len(row) else None for row in rows)
        column_type = column_types[i] if column_types is not None and i < len(column_types) else None
        kind = infer_column_kind(values, column_type)
        out.append(_Column(name, values, kind, _role(name, values, kind)))
    return out


# --- number format -------------------------------------------------------------------------------------


def _infer_format(column: _Column | None, declared: str | None = None) -> NumberFormat:
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
    tokens = _name_tokens(column.name)
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


# --- question wording ----------------------------------------------------------------------------------

_SHARE_WORDS = re.compile(
    r"\b(?:break\s*downs?|broken\s+down|shares?|proportions?|percent(?:ages?)?|distribution|split|mix"
    r"|composition)\b|%",
    re.IGNORECASE,
)
# 'least' but not 'at least 5 orders'.
_ASCENDING_WORDS = re.compile(r"\b(?:bottom|lowest|fewest|smallest|(?<!\bat )least)\b", re.IGNORECASE)


def _humanize(name: str) -> str:
    return re.sub(r"[_\s]+", " ", name).strip() or name


def _title(given: str, y: str | None, x: str | None, series: str | None, columns: Sequence[str]) -> str:
    if given:
        return given
    if y and x:
        title = f"{_humanize(y)} by {_humanize(x)}"
        return f"{title} and {_humanize(series)}" if series else title
    if y:
        return _humanize(y)
    shown = ", ".join(_humanize(c) for c in columns[:3])
    return f"{shown}, …" if len(columns) > 3 else shown


def _repeats(column: _Column) -> bool:
    """True when some value occurs on more than one row (so a series column is needed to split it)."""
    present = column.present
    return len(set(map(_hashable, present))) < len(present)


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


# --- the rules -----------------------------------------------------------------------------------------


def suggest_visualization(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    question: str = "",
    title: str = "",
    column_types: Sequence[str] | None = None,
    number_format: str | None = None,
    column_formats: Sequence[str] | None = None,
) -> VisualizationHint | None:
    """Suggest how to chart a result, or None when there is nothing to show (no columns or no rows).

    Columns are classified as described in the module docstring (time axis, measure, category,
    identifier, empty), then the first matching rule wins:

    1. ``kpi``: one row with exactly one measure, or one row where every (non-empty) column is a
       measure and there are at most three (``y`` = the first measure, ``x`` None).
    2. ``line``: a time column (date, timestamp, or a year column) and a measure, two rows or more
       (``x`` = the first time column, ``y`` = the first measure, sort ``asc``). ``series`` is the category
       column when there is exactly one and the time values repeat (otherwise that column is a 1:1 label,
       not a series). When the time values repeat and no single category column splits them, the points
       do not form a line: the result is a ``table``.
    3. ``pie``: only when the question asks for a breakdown, share, proportion, percentage,
       distribution, split, mix or composition, and there is exactly one category column and one
       measure, 2..6 distinct categories each on one row, no negative value and a positive total
       (sort ``desc``). Checked before ``bar``, which would otherwise take every such result.
    4. ``bar``: one or two category columns, a measure, 2..50 rows (``x`` = the first category, ``y`` =
       the first measure; sort ``desc``, or ``asc`` when the question says bottom/lowest/least/fewest/
       smallest). With two category columns ``series`` is the second when the ``x`` values repeat.
    5. ``table`` otherwise, with the reason (no numeric column, too many rows, ...).

    ``format`` is ``number_format`` when given, else the ``y`` column's (for a table: the first
    measure's, if any) measure format in ``column_formats`` (the result's per-column metadata, as
    :class:`~genie_agent.turn.ResultTable` carries it: the semantic model's ``percent``, ``currency``,
    ``integer`` or ``number``), else inferred from that column: ``percent`` when its name is a share
    or percentage (``share of …``, ``% …``, ``… %``, ``… percent change``; values are fractions), or
    when it says percent/pct/share/rate/discount and every
    value lies in [0, 1] or in [0, 100]; ``currency`` when its name contains revenue/price/cost/value/
    balance/sales/amount/fare/spend (and no count word such as count/qty/number); ``integer`` when
    every value is whole; ``number`` otherwise. Inference never yields ``date``.

    ``title`` is the given title, else built from ``y`` and ``x`` ("revenue by region").

    Raises ValueError when ``number_format`` is not one of the five formats.
    """
    if number_format is not None and number_format not in get_args(NumberFormat):
        raise ValueError(f"number_format must be one of {get_args(NumberFormat)}, not {number_format!r}")
    given_format = cast(NumberFormat | None, number_format)
    if not columns or not rows:
        return None

    cols = _columns(columns, rows, column_types)
    declared = dict(zip(columns, column_formats or (), strict=False))
    times = [c for c in cols if c.role == "time"]
    measures = [c for c in cols if c.role == "measure"]
    true_categories = [c for c in cols if c.role == "category"]
    # Identifiers label rows: the category when nothing else is, ignored beside a real category.
    categories = true_categories or [c for c in cols if c.role == "identifier"]
    non_empty = [c for c in cols if c.role != "empty"]
    n_rows = len(rows)

    def hint(
        chart: ChartType,
        reason: str,
        *,
        x: _Column | None = None,
        y: _Column | None = None,
        series: _Column | None = None,
        sort: SortOrder | None = None,
    ) -> VisualizationHint:
        fmt_column = y if y is not None else (measures[0] if measures else None)
        fmt = given_format
        if fmt is None:
            fmt = _infer_format(fmt_column, declared.get(fmt_column.name) if fmt_column else None)
        x_name, y_name = (x.name if x else None), (y.name if y else None)
        series_name = series.name if series else None
        return VisualizationHint(
            type=chart,
            x=x_name,
            y=y_name,
            series=series_name,
            title=_title(title, y_name, x_name, series_name, columns),
            sort=sort,
            format=fmt,
            reason=reason,
        )

    # 1. kpi
    if n_rows == 1 and measures:
        if len(measures) == 1:
            return hint(
                "kpi", f"a single value: one row with one measure ({measures[0].name})", y=measures[0]
            )
        if len(measures) == len(non_empty) and len(measures) <= MAX_KPI_MEASURES:
            return hint("kpi", f"a single row of {len(measures)} measures", y=measures[0])

    # 2. line
    if times and measures and n_rows >= 2:
        x, y = times[0], measures[0]
        if not _repeats(x):
            return hint("line", f"{y.name} over time ({x.name})", x=x, y=y, sort="asc")
        if len(categories) == 1:
            series = categories[0]
            return hint(
                "line",
                f"{y.name} over time ({x.name}), one line per {series.name}",
                x=x,
                y=y,
                series=series,
                sort="asc",
            )
        return hint(
            "table",
            f"{x.name} values repeat and no single category column splits them into lines",
            y=y,
        )

    # 3. pie (before bar, which would match every pie-shaped result)
    if _SHARE_WORDS.search(question) and len(categories) == 1 and len(measures) == 1:
        x, y = categories[0], measures[0]
        n_categories = len(set(map(_hashable, x.values)))
        numbers = [n for n in (parse_number(v) for v in y.present) if n is not None]
        if (
            2 <= n_categories <= MAX_PIE_CATEGORIES
            and n_categories == n_rows
            and numbers
            and all(n >= 0 for n in numbers)
            and sum(numbers) > 0
        ):
            return hint(
                "pie",
                f"the question asks for a share and {n_categories} {x.name} values split {y.name}",
                x=x,
                y=y,
                sort="desc",
            )

    # 4. bar
    if categories and measures and len(categories) <= 2 and 2 <= n_rows <= MAX_BAR_ROWS:
        x, y = categories[0], measures[0]
        bar_series = categories[1] if len(categories) == 2 and _repeats(x) else None
        ascending = bool(_ASCENDING_WORDS.search(question))
        reason = f"{y.name} compared across {n_rows} rows of {x.name}"
        if bar_series is not None:
            reason += f", one bar series per {bar_series.name}"
        if ascending:
            reason += ", lowest first as asked"
        return hint("bar", reason, x=x, y=y, series=bar_series, sort="asc" if ascending else "desc")

    # 5. table
    return hint("table", _table_reason(cols, measures, categories, n_rows))


def _table_reason(
    cols: Sequence[_Column],
    measures: Sequence[_Column],
    categories: Sequence[_Column],
    n_rows: int,
) -> str:
    if not measures:
        empty = [c.name for c in cols if c.role == "empty"]
        if empty:
            return f"no numeric column to chart ({', '.join(empty)} only null)"
        return "no numeric column to chart"
    if n_rows == 1:
        return f"a single row with {len(measures)} measures reads best as a table"
    # A time axis with a measure over 2+ rows was a line (or its own table): none is left here.
    if not categories:
        return "no category or time column for the x axis"
    if len(categories) > 2:
        return f"{len(categories)} category columns; a chart shows at most two"
    # What is left is a bar over too many rows.
    return f"{n_rows} rows are too many for a bar chart (at most {MAX_BAR_ROWS})"
