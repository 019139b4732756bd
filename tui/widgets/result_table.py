"""A result as a scrollable table: numbers right-aligned with thousands separators.

DataTable measures every cell of every row it is given before it draws (about 0.2 ms a row of seven
cells here), so a result of 1,000 rows would take ~250 ms to show. The table is given the first
:data:`FIRST_ROWS` rows at once, and :data:`BATCH` more each time it has been drawn, until all are in;
the column widths are set from every row's text up front, so they do not change as the rest arrives
(bench/bench_tui.py times it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len
from rich.console import JustifyMethod
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable

from ..charts import format_measure, to_number
from ..stream import ResultData

__all__ = ["BATCH", "FIRST_ROWS", "ResultTable", "numeric_columns"]

_PLAIN_INTEGER = re.compile(r"(^|_)(year|yr|yyyy|fy|id|key|code|zip)$|key$|year$", re.I)
FIRST_ROWS = 100
"""Rows the table shows at once; far more than it has room for."""
BATCH = 250
"""Rows added per refresh after the first ones."""


def numeric_columns(result: ResultData) -> list[bool]:
    """Whether each column holds numbers only (nulls aside)."""
    flags = []
    for i in range(len(result.columns)):
        values = [row[i] for row in result.rows if i < len(row) and row[i] is not None]
        flags.append(
            bool(values) and all(to_number(v) is not None and not isinstance(v, bool) for v in values)
        )
    return flags


def _cell(value: Any, numeric: bool, plain: bool, fmt: str) -> str | None:
    """The cell's text; None for a null."""
    if value is None:
        return None
    if not numeric:
        return str(value)
    return str(value) if plain else format_measure(value, fmt)


class ResultTable(DataTable[Text]):
    """Rows of one result. Focus it (Tab) to scroll with the arrow keys, PgUp/PgDn, Home/End.

    ``loaded`` is True once every row has been added."""

    def __init__(self, result: ResultData, *, measure_format: dict[str, str] | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, classes="result-table")
        self.result = result
        self._formats = measure_format or {}
        self._pending: list[list[str | None]] = []
        self._justify: list[JustifyMethod] = []
        self._adding = False

    @property
    def loaded(self) -> bool:
        return not self._pending

    def on_mount(self) -> None:
        numeric = numeric_columns(self.result)
        plain = [bool(_PLAIN_INTEGER.search(c)) for c in self.result.columns]
        rows = self.cells(numeric, plain)
        self._justify = ["right" if is_number else "left" for is_number in numeric]
        for i, name in enumerate(self.result.columns):
            width = max(
                [cell_len(name), 1, *(cell_len(cell) for row in rows if (cell := row[i]) is not None)]
            )
            self.add_column(Text(name, justify=self._justify[i], style="bold"), width=width)
        self.add_rows(self._texts(rows[:FIRST_ROWS]))
        self._pending = rows[FIRST_ROWS:]

    def render_lines(self, crop: Region) -> list[Strip]:
        lines = super().render_lines(crop)
        if self._pending and not self._adding:
            self._adding = True
            self.call_after_refresh(self._add_pending)
        return lines

    def _add_pending(self) -> None:
        batch, self._pending = self._pending[:BATCH], self._pending[BATCH:]
        self.add_rows(self._texts(batch))
        self._adding = False

    def _texts(self, rows: Sequence[Sequence[str | None]]) -> list[list[Text]]:
        return [
            [
                Text(cell, justify=justify) if cell is not None else Text("—", style="dim", justify=justify)
                for cell, justify in zip(row, self._justify, strict=True)
            ]
            for row in rows
        ]

    def cells(self, numeric: Sequence[bool], plain: Sequence[bool]) -> list[list[str | None]]:
        """Every row's cells as text, in each column's format (None: null)."""
        columns = self.result.columns
        return [
            [
                _cell(
                    row[i] if i < len(row) else None,
                    numeric[i],
                    plain[i],
                    self._formats.get(columns[i], "number"),
                )
                for i in range(len(columns))
            ]
            for row in self.result.rows
        ]
