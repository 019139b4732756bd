"""A result as a table you can page, sort and search: numbers right-aligned with thousands separators.

DataTable measures every cell of every row it is given before it draws (about 0.2 ms a row of seven
cells here), so a result of 1,000 rows would take ~250 ms to show. The table is given the first
:data:`FIRST_ROWS` rows at once, and :data:`BATCH` more each time it has been drawn, until all are in;
the column widths are set from every row's text up front, so they do not change as the rest arrives
(bench/bench_tui.py times it). Sorting and searching arrange the rows anew the same way: the cells'
text is made once per result, the table shows the rows that match, in the order asked for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.console import JustifyMethod
from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.message import Message
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
    """Rows of one result. Focus it (Tab) to move with the arrow keys, PgUp/PgDn, Ctrl+Home/End;
    ``s`` sorts by the cursor's column (again: descending, a third time: as returned); a click on a
    column's header does the same. :meth:`search` keeps the rows with a cell containing the text.

    ``loaded`` is True once every row shown has been added."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("s", "sort", "Sort", show=False)]

    class Arranged(Message):
        """The rows shown changed order or number (sorted, searched, a new result)."""

    def __init__(self, result: ResultData, *, measure_format: dict[str, str] | None = None) -> None:
        super().__init__(cursor_type="cell", zebra_stripes=True, classes="result-table")
        self.result = result
        self._formats = measure_format or {}
        self._cells: list[list[str | None]] = []
        self._justify: list[JustifyMethod] = []
        self._numeric: list[bool] = []
        self._order: list[int] = []
        """Indices of the rows shown, in the order shown."""
        self._added = 0
        """How many of them the table holds (the rest are added as it is drawn)."""
        self._adding = False
        self.sort_column: int | None = None
        self.sort_descending = False
        self.search_text = ""

    @property
    def loaded(self) -> bool:
        return self._added >= len(self._order)

    @property
    def shown(self) -> int:
        """Rows shown: all of them, or those the search matches."""
        return len(self._order)

    def on_mount(self) -> None:
        self._build()

    def _build(self) -> None:
        """Cells and column widths from every row, then the rows as arranged."""
        numeric = numeric_columns(self.result)
        plain = [bool(_PLAIN_INTEGER.search(c)) for c in self.result.columns]
        self._cells = self.cells(numeric, plain)
        self._numeric = numeric
        self._justify = ["right" if is_number else "left" for is_number in numeric]
        self.clear(columns=True)
        for i, name in enumerate(self.result.columns):
            width = max(
                [
                    cell_len(name) + 2,  # room for the sort arrow
                    1,
                    *(cell_len(cell) for row in self._cells if (cell := row[i]) is not None),
                ]
            )
            self.add_column(self._label(i), width=width)
        self._arrange()

    def _label(self, index: int) -> Text:
        label = Text(self.result.columns[index], justify=self._justify[index], style="bold")
        if index == self.sort_column:
            label.append(" ↓" if self.sort_descending else " ↑", style="bold")
        return label

    def _arrange(self) -> None:
        """Show the rows the search matches, in the sort's order, from the first."""
        order = list(range(len(self._cells)))
        if self.search_text:
            needle = self.search_text.casefold()
            order = [
                i for i in order if any(c is not None and needle in c.casefold() for c in self._cells[i])
            ]
        if self.sort_column is not None:
            order = self._sorted(order, self.sort_column, self.sort_descending)
        self._order = order
        column = self.cursor_coordinate.column
        self.clear()
        first = order[:FIRST_ROWS]
        self.add_rows(self._texts(self._cells[i] for i in first))
        self._added = len(first)
        if column and column < len(self.columns):
            self.cursor_coordinate = Coordinate(0, column)  # the column stays where the user put it
        self.post_message(self.Arranged())

    def _sorted(self, order: list[int], column: int, descending: bool) -> list[int]:
        """``order`` by the column's values (numbers as numbers, text regardless of case); nulls last."""
        rows = self.result.rows

        def value(i: int) -> Any:
            row = rows[i]
            return row[column] if column < len(row) else None

        numeric = self._numeric[column]

        def key(i: int) -> Any:
            return to_number(value(i)) if numeric else str(value(i)).casefold()

        present = [i for i in order if value(i) is not None]
        nulls = [i for i in order if value(i) is None]
        return sorted(present, key=key, reverse=descending) + nulls

    def render_lines(self, crop: Region) -> list[Strip]:
        lines = super().render_lines(crop)
        if not self.loaded and not self._adding:
            self._adding = True
            self.call_after_refresh(self._add_pending)
        return lines

    def _add_pending(self) -> None:
        batch = self._order[self._added : self._added + BATCH]
        self.add_rows(self._texts(self._cells[i] for i in batch))
        self._added += len(batch)
        self._adding = False

    def _texts(self, rows: Any) -> list[list[Text]]:
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

    # --- sorting, searching, a new result ---------------------------------------------------------------
    def sort_by(self, column: int) -> None:
        """Sort by ``column``: ascending, then descending, then as the result came."""
        if column != self.sort_column:
            self.sort_column, self.sort_descending = column, False
        elif not self.sort_descending:
            self.sort_descending = True
        else:
            self.sort_column = None
        for i, key in enumerate(self.columns):
            self.columns[key].label = self._label(i)
        self._arrange()

    def action_sort(self) -> None:
        if self.columns:
            self.sort_by(self.cursor_coordinate.column)

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(event.column_index)

    def search(self, text: str) -> None:
        """Show only the rows with a cell containing ``text`` (any case); empty shows them all."""
        text = text.strip()
        if text != self.search_text:
            self.search_text = text
            self._arrange()

    def set_result(self, result: ResultData, *, measure_format: dict[str, str] | None = None) -> None:
        """Show ``result`` instead (the whole result once the turn is done), keeping the sort, the search
        and the cursor; nothing changes when it is the same."""
        formats = measure_format if measure_format is not None else self._formats
        if result == self.result and formats == self._formats:
            return
        cursor = self.cursor_coordinate
        self.result, self._formats = result, formats
        if self.sort_column is not None and self.sort_column >= len(result.columns):
            self.sort_column = None
        self._build()
        if cursor != Coordinate(0, 0) and self.row_count and self.columns:
            self.move_cursor(
                row=min(cursor.row, self.row_count - 1), column=min(cursor.column, len(self.columns) - 1)
            )
