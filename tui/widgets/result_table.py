"""A result as a scrollable table: numbers right-aligned with thousands separators."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from ..charts import format_measure, to_number
from ..stream import ResultData

__all__ = ["ResultTable", "numeric_columns"]

_PLAIN_INTEGER = re.compile(r"(^|_)(year|yr|yyyy|fy|id|key|code|zip)$|key$|year$", re.I)


def numeric_columns(result: ResultData) -> list[bool]:
    """Whether each column holds numbers only (nulls aside)."""
    flags = []
    for i in range(len(result.columns)):
        values = [row[i] for row in result.rows if i < len(row) and row[i] is not None]
        flags.append(
            bool(values) and all(to_number(v) is not None and not isinstance(v, bool) for v in values)
        )
    return flags


def _cell(value: Any, numeric: bool, plain: bool, fmt: str) -> Text:
    if value is None:
        return Text("—", style="dim", justify="right" if numeric else "left")
    if not numeric:
        return Text(str(value))
    shown = str(value) if plain else format_measure(value, fmt)
    return Text(shown, justify="right")


class ResultTable(DataTable[Text]):
    """Rows of one result. Focus it (Tab) to scroll with the arrow keys, PgUp/PgDn, Home/End."""

    def __init__(self, result: ResultData, *, measure_format: dict[str, str] | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, classes="result-table")
        self.result = result
        self._formats = measure_format or {}

    def on_mount(self) -> None:
        numeric = numeric_columns(self.result)
        plain = [bool(_PLAIN_INTEGER.search(c)) for c in self.result.columns]
        for name, is_number in zip(self.result.columns, numeric, strict=True):
            self.add_column(Text(name, justify="right" if is_number else "left", style="bold"))
        self.add_rows(self._rows(numeric, plain))

    def _rows(self, numeric: Sequence[bool], plain: Sequence[bool]) -> list[list[Text]]:
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
