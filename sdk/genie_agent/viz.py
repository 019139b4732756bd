"""Visualization hints: how to chart a query result (the turn result's ``visualization_hint``).

Every column of a result (Genie's strings or the local engine's typed values alike) gets a kind from
its values, then a role from its kind and its name: a time axis, a measure, a category, an identifier
or empty (:mod:`.chart_columns` says how). :func:`suggest_visualization` then applies its rules in a
fixed order (see its docstring), one function per chart: ``_kpi``, ``_line``, ``_pie``, ``_bar``, and
the table that is left.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast, get_args

from .chart_columns import ChartColumn, chart_columns, hashable, infer_format, repeats
from .column_kinds import ColumnKind, infer_column_kind, parse_number
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

    Columns are classified as :mod:`genie_agent.chart_columns` describes (time axis, measure, category,
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
    if not columns or not rows:
        return None
    result = _Result(
        columns,
        chart_columns(columns, rows, column_types),
        len(rows),
        question,
        title,
        cast(NumberFormat | None, number_format),
        dict(zip(columns, column_formats or (), strict=False)),
    )
    return _kpi(result) or _line(result) or _pie(result) or _bar(result) or _table(result)


class _Result:
    """A result as the rules see it: its columns by role, and what every hint of it shares (the
    question, the given title and number format, the declared measure formats)."""

    __slots__ = (
        "categories",
        "cols",
        "columns",
        "declared",
        "given_format",
        "measures",
        "n_rows",
        "non_empty",
        "question",
        "times",
        "title",
    )

    def __init__(
        self,
        columns: Sequence[str],
        cols: list[ChartColumn],
        n_rows: int,
        question: str,
        title: str,
        given_format: NumberFormat | None,
        declared: dict[str, str],
    ) -> None:
        self.columns, self.cols, self.n_rows = columns, cols, n_rows
        self.question, self.title, self.given_format, self.declared = question, title, given_format, declared
        self.times = [c for c in cols if c.role == "time"]
        self.measures = [c for c in cols if c.role == "measure"]
        # Identifiers label rows: the category when nothing else is, ignored beside a real category.
        self.categories = [c for c in cols if c.role == "category"] or [
            c for c in cols if c.role == "identifier"
        ]
        self.non_empty = [c for c in cols if c.role != "empty"]

    def hint(
        self,
        chart: ChartType,
        reason: str,
        *,
        x: ChartColumn | None = None,
        y: ChartColumn | None = None,
        series: ChartColumn | None = None,
        sort: SortOrder | None = None,
    ) -> VisualizationHint:
        """The hint of a ``chart``; its format from ``y`` (for a table: the first measure, if any)."""
        fmt_column = y if y is not None else (self.measures[0] if self.measures else None)
        fmt = self.given_format
        if fmt is None:
            fmt = infer_format(fmt_column, self.declared.get(fmt_column.name) if fmt_column else None)
        x_name, y_name = (x.name if x else None), (y.name if y else None)
        series_name = series.name if series else None
        return VisualizationHint(
            type=chart,
            x=x_name,
            y=y_name,
            series=series_name,
            title=_title(self.title, y_name, x_name, series_name, self.columns),
            sort=sort,
            format=fmt,
            reason=reason,
        )


def _kpi(result: _Result) -> VisualizationHint | None:
    """Rule 1: one row with one measure, or a single row of a few measures and nothing else."""
    measures = result.measures
    if result.n_rows != 1 or not measures:
        return None
    if len(measures) == 1:
        return result.hint(
            "kpi", f"a single value: one row with one measure ({measures[0].name})", y=measures[0]
        )
    if len(measures) == len(result.non_empty) and len(measures) <= MAX_KPI_MEASURES:
        return result.hint("kpi", f"a single row of {len(measures)} measures", y=measures[0])
    return None


def _line(result: _Result) -> VisualizationHint | None:
    """Rule 2: a measure over time; a table when repeated times have no one category to split them."""
    if not (result.times and result.measures and result.n_rows >= 2):
        return None
    x, y = result.times[0], result.measures[0]
    if not repeats(x):
        return result.hint("line", f"{y.name} over time ({x.name})", x=x, y=y, sort="asc")
    if len(result.categories) == 1:
        series = result.categories[0]
        return result.hint(
            "line",
            f"{y.name} over time ({x.name}), one line per {series.name}",
            x=x,
            y=y,
            series=series,
            sort="asc",
        )
    return result.hint(
        "table",
        f"{x.name} values repeat and no single category column splits them into lines",
        y=y,
    )


def _pie(result: _Result) -> VisualizationHint | None:
    """Rule 3 (before bar, which would match every pie-shaped result): a share asked for, over a
    few categories, one row each, of a measure with no negative value and a positive total."""
    if not (
        _SHARE_WORDS.search(result.question) and len(result.categories) == 1 and len(result.measures) == 1
    ):
        return None
    x, y = result.categories[0], result.measures[0]
    n_categories = len(set(map(hashable, x.values)))
    numbers = [n for n in (parse_number(v) for v in y.present) if n is not None]
    if (
        2 <= n_categories <= MAX_PIE_CATEGORIES
        and n_categories == result.n_rows
        and numbers
        and all(n >= 0 for n in numbers)
        and sum(numbers) > 0
    ):
        return result.hint(
            "pie",
            f"the question asks for a share and {n_categories} {x.name} values split {y.name}",
            x=x,
            y=y,
            sort="desc",
        )
    return None


def _bar(result: _Result) -> VisualizationHint | None:
    """Rule 4: a measure across one or two categories over a few rows, largest first unless the
    question asks for the lowest."""
    categories, n_rows = result.categories, result.n_rows
    if not (categories and result.measures and len(categories) <= 2 and 2 <= n_rows <= MAX_BAR_ROWS):
        return None
    x, y = categories[0], result.measures[0]
    bar_series = categories[1] if len(categories) == 2 and repeats(x) else None
    ascending = bool(_ASCENDING_WORDS.search(result.question))
    reason = f"{y.name} compared across {n_rows} rows of {x.name}"
    if bar_series is not None:
        reason += f", one bar series per {bar_series.name}"
    if ascending:
        reason += ", lowest first as asked"
    return result.hint("bar", reason, x=x, y=y, series=bar_series, sort="asc" if ascending else "desc")


def _table(result: _Result) -> VisualizationHint:
    """Rule 5: a table, saying why no chart fits."""
    return result.hint("table", _table_reason(result))


def _table_reason(result: _Result) -> str:
    measures, categories, n_rows = result.measures, result.categories, result.n_rows
    if not measures:
        empty = [c.name for c in result.cols if c.role == "empty"]
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
