"""One space's result: a header, the chart its visualization hint asks for, the table, the SQL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from ..charts import ChartSpec
from ..stream import ResultData
from .chart import Chart
from .result_table import ResultTable
from .sql_panel import SqlPanel

__all__ = ["ResultView", "hint_for"]


def hint_for(result: ResultData, question: str = "") -> dict[str, Any] | None:
    """A visualization hint for a result the turn's hint is not about (the SDK's own rules)."""
    from genie_agent.viz import suggest_visualization

    try:
        hint = suggest_visualization(result.columns, result.rows, question=question)
    except Exception:  # a result shape the rules do not expect: show the table alone
        return None
    return hint.to_dict() if hint is not None else None


class ResultView(Vertical):
    """Everything about one result. ``result`` is what export and copy act on."""

    def __init__(self, result: ResultData, hint: Mapping[str, Any] | None, *, show_sql: bool) -> None:
        super().__init__(classes="result-view")
        self.result = result
        self.spec = ChartSpec.from_hint(hint) if hint else ChartSpec("table", None, None)
        self.show_sql = show_sql

    def _header(self) -> Text:
        r = self.result
        text = Text()
        text.append(r.domain, style="bold")
        shown = len(r.rows)
        rows = f"{r.row_count:,} row" + ("" if r.row_count == 1 else "s")
        text.append(f" · {rows}", style="dim")
        if r.truncated or shown < r.row_count:
            text.append(f" (first {shown:,} shown)", style="dim")
        if self.spec.type != "table":
            text.append(f" · {'share' if self.spec.type == 'pie' else self.spec.type} chart", style="dim")
        return text

    def compose(self) -> ComposeResult:
        yield Static(self._header(), classes="result-header")
        chart = Chart.for_hint(self.spec, self.result.columns, self.result.rows)
        if chart is not None:
            yield chart
        formats = {self.spec.y: self.spec.format} if self.spec.y else {}
        yield ResultTable(self.result, measure_format=formats)
        if self.result.sql:
            yield SqlPanel(self.result.sql, space=self.result.domain, collapsed=not self.show_sql)

    def set_sql_visible(self, visible: bool) -> None:
        self.show_sql = visible
        for panel in self.query(SqlPanel):
            panel.collapsed = not visible
