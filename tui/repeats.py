"""What a turn would show twice: a chart that draws the same points as a chart already shown, and a
Markdown table in the answer text that holds the rows a result view already shows.

A cross-domain answer's combined table is charted by its first measure, which is one space's measure
(``revenue (sales)``) over the same categories that space's own chart has; and the answer text writes
the combined table out, while the chat shows it as a view. Both are decided by content: the points
charted, the cells written.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

from genie_agent.column_kinds import parse_number
from genie_agent.formatting import format_key
from genie_agent.grounding import written_as

from .charts import ChartSpec
from .stream import ResultData

__all__ = ["TableRowsHeld", "chart_points", "without_shown_tables"]

_CHARTED = ("bar", "line", "pie", "kpi")
_DELIMITER = re.compile(r"\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*")
_MISSING = {"", "—", "–", "-", "null", "none"}


def _point_value(value: Any) -> Any:
    number = parse_number(value)
    return number if number is not None else format_key(value) if value is not None else None


def chart_points(
    spec: ChartSpec, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> frozenset[tuple[Any, Any, Any]] | None:
    """The points a chart of ``spec`` draws from the rows: (category, series, measure value) each; None
    when it draws no chart. Two charts with the same points show the same thing, whatever their
    columns are called or however they are sorted."""
    if spec.type not in _CHARTED or spec.y not in columns or not rows:
        return None
    index = {name: i for i, name in enumerate(columns)}
    fields = [index.get(name) if name else None for name in (spec.x, spec.series)]

    def cell(row: Sequence[Any], i: int | None) -> Any:
        return _point_value(row[i]) if i is not None and i < len(row) else None

    y = index[spec.y]
    if spec.type == "kpi":
        return frozenset({(None, None, cell(rows[0], y))})
    return frozenset((cell(row, fields[0]), cell(row, fields[1]), cell(row, y)) for row in rows)


# --- tables in the answer text ------------------------------------------------------------------------


def _is_table_row(line: str) -> bool:
    return line.lstrip().startswith("|")


def _cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]


def _same(written: str, value: Any) -> bool:
    """Whether a table cell writes ``value``: the same text, or the same number to the digits shown
    (``1.2M``, ``5.0%``, ``$1,234.50``)."""
    text = written.strip().strip("*_`").strip()
    if value is None:
        return text.casefold() in _MISSING
    number = parse_number(value)
    if number is not None:
        same = written_as(text[1:] if text[:1] in ("$", "€", "£") else text, number)
        if same is not None:
            return same
    shown_value = value.isoformat() if isinstance(value, dt.date) else format_key(value)
    return text.casefold() in (shown_value.casefold(), str(value).casefold())


def _shows(result: ResultData, body: Sequence[Sequence[str]]) -> bool:
    """Whether every row of a written table is a row of ``result`` (cell by cell)."""
    width = len(result.columns)
    if not body or len(body) > len(result.rows):
        return False
    for n, written in enumerate(body):
        if len(written) != width:
            return False
        # The row at the same place first (a table written in the result's order), then any row.
        candidates = chain(result.rows[n : n + 1], result.rows)
        if not any(all(_same(w, v) for w, v in zip(written, row, strict=False)) for row in candidates):
            return False
    return True


def without_shown_tables(text: str, shown: Iterable[ResultData]) -> str:
    """``text`` without the Markdown tables whose rows a shown result holds; its other lines (and any
    table no shown result holds) as they are."""
    results = [r for r in shown if r.columns]
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    i = 0
    while i < len(lines):
        end = i
        while end < len(lines) and _is_table_row(lines[end]):
            end += 1
        if end == i:
            kept.append(lines[i])
            i += 1
            continue
        block = lines[i:end]
        is_table = len(block) >= 2 and _DELIMITER.fullmatch(block[1].rstrip("\n")) is not None
        body = [_cells(line) for line in block[2:]] if is_table else []
        if not body or not any(_shows(r, body) for r in results):
            kept.extend(block)
        i = end
    if len(kept) == len(lines):
        return text
    return re.sub(r"\n{3,}", "\n\n", "".join(kept)).rstrip()


class TableRowsHeld:
    """Streams an answer's text with its table rows (lines starting with ``|``) held back: whether a
    table repeats a result view is known when the turn is done (the combined result comes last), so
    the tables are put back then, or not (:func:`without_shown_tables`)."""

    def __init__(self) -> None:
        self._line = ""
        self._table: bool | None = None
        """Whether the line being streamed is a table row; None until its first character is in."""

    def take(self, delta: str) -> str:
        """What of ``delta`` to show now."""
        shown: list[str] = []
        for piece in re.split(r"(?<=\n)", delta):
            if not piece:
                continue
            self._line += piece
            if self._table is None:
                head = self._line.lstrip(" \t")
                if head.startswith("|"):
                    self._table = True
                elif head.strip() or head.endswith("\n"):
                    self._table = False
                    shown.append(self._line)
            elif not self._table:
                shown.append(piece)
            if piece.endswith("\n"):
                self._line, self._table = "", None
        return "".join(shown)
