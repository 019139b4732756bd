"""One space's result: a header, the chart its visualization hint asks for, the table, the SQL.

A space's result is shown as soon as the space replies (its first rows), and given the whole result
and the turn's visualization hint when the turn is done (:meth:`ResultView.update_result`): the same
view, its chart redrawn only when the hint or the rows changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Static

from ..charts import ChartSpec
from ..stream import ResultData
from .chart import Chart
from .result_table import ResultTable
from .sql_panel import SqlPanel

__all__ = ["ResultView", "SearchInput", "hint_for"]


def hint_for(result: ResultData, question: str = "") -> dict[str, Any] | None:
    """A visualization hint for a result the turn's hint is not about (the SDK's own rules)."""
    from genie_agent.viz import suggest_visualization

    try:
        hint = suggest_visualization(result.columns, result.rows, question=question)
    except Exception:  # a result shape the rules do not expect: show the table alone
        return None
    return hint.to_dict() if hint is not None else None


def _spec(hint: Mapping[str, Any] | None, result: ResultData) -> ChartSpec:
    """The chart the hint asks for, titled as Genie titled its own chart of the result, when it drew one
    (the hint still says which chart is drawn here)."""
    spec = ChartSpec.from_hint(hint) if hint else ChartSpec("table", None, None)
    genie = result.genie_visualization
    return dataclasses.replace(spec, title=genie.title) if genie is not None and genie.title else spec


class SearchInput(Input):
    """The table's search box: the rows follow as you type; Enter goes back to the table, Esc clears."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Clear the search", show=False)]

    def action_close(self) -> None:
        self.value = ""
        view = next(a for a in self.ancestors if isinstance(a, ResultView))
        view.close_search()


class ResultView(Vertical):
    """Everything about one result. ``result`` is what export and copy act on."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", show=False),
        Binding("g", "app.genie_chart", "Genie's chart", show=False),
    ]

    def __init__(self, result: ResultData, hint: Mapping[str, Any] | None, *, show_sql: bool) -> None:
        super().__init__(classes="result-view")
        self.result = result
        self.spec = _spec(hint, result)
        self.show_sql = show_sql
        self.final = False
        """Whether ``result`` is the whole result (the turn is done), not the first rows a space sent."""

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
        if r.genie_visualization is not None:
            text.append(" · Genie's chart: Ctrl+G", style="dim")
        return text

    def _formats(self) -> dict[str, str]:
        return {self.spec.y: self.spec.format} if self.spec.y else {}

    @property
    def table(self) -> ResultTable:
        return self.query_one(ResultTable)

    def compose(self) -> ComposeResult:
        yield Static(self._header(), classes="result-header")
        chart = Chart.for_hint(self.spec, self.result.columns, self.result.rows)
        if chart is not None:
            yield chart
        yield ResultTable(self.result, measure_format=self._formats())
        yield Static("", classes="table-status")
        yield SearchInput(
            placeholder="search the rows (Enter: the table, Esc: clear)", classes="table-search"
        )
        if self.result.sql:
            yield SqlPanel(self.result.sql, space=self.result.domain, collapsed=not self.show_sql)

    async def update_result(self, result: ResultData, hint: Mapping[str, Any] | None) -> None:
        """Show the whole result with the turn's hint: the header, the table's rows and the SQL in place;
        the chart anew only when the hint or the rows differ."""
        spec = _spec(hint, result)
        redraw = spec != self.spec or result.columns != self.result.columns or result.rows != self.result.rows
        self.result, self.spec, self.final = result, spec, True
        with self.app.batch_update():  # one frame: no view without its chart in between
            self.query_one(".result-header", Static).update(self._header())
            if redraw:
                await self.query(Chart).remove()
                chart = Chart.for_hint(spec, result.columns, result.rows)
                if chart is not None:
                    await self.mount(chart, before=self.table)
            self.table.set_result(result, measure_format=self._formats())
            panels = self.query(SqlPanel)
            if not result.sql:
                await panels.remove()
            elif not panels:
                await self.mount(SqlPanel(result.sql, space=result.domain, collapsed=not self.show_sql))
            elif panels.first().sql != result.sql:
                panels.first().set_sql(result.sql)

    def set_sql_visible(self, visible: bool) -> None:
        self.show_sql = visible
        for panel in self.query(SqlPanel):
            panel.collapsed = not visible

    # --- paging, sorting and searching the table --------------------------------------------------------
    def action_search(self) -> None:
        search = self.query_one(SearchInput)
        search.display = True
        search.focus()
        self._show_status()

    def close_search(self) -> None:
        self.table.search("")
        self.query_one(SearchInput).display = False
        self.table.focus()

    @on(Input.Changed, ".table-search")
    def _searching(self, event: Input.Changed) -> None:
        event.stop()
        self.table.search(event.value)

    @on(Input.Submitted, ".table-search")
    def _searched(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip():
            self.query_one(SearchInput).display = False
        self.table.focus()

    @on(ResultTable.Arranged)
    @on(ResultTable.CellHighlighted)
    def _moved(self, event: ResultTable.Arranged | ResultTable.CellHighlighted) -> None:
        self._show_status()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self._show_status()

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        self.call_after_refresh(self._show_status)

    def status_text(self) -> Text:
        """Where the cursor is among the rows shown, the sort and the search; the keys."""
        table = self.table
        total = len(self.result.rows)
        text = Text(style="dim")
        if table.shown:
            text.append(f"row {table.cursor_row + 1:,} of {table.shown:,}")
        else:
            text.append("no row matches")
        if table.search_text:
            text.append(f" · {table.shown:,} of {total:,} match “{table.search_text}”")
        if table.sort_column is not None:
            arrow = "↓" if table.sort_descending else "↑"
            text.append(f" · sorted by {self.result.columns[table.sort_column]} {arrow}")
        text.append(" · PgUp/PgDn · s sort · / search")
        return text

    def _show_status(self) -> None:
        if not self.is_mounted:
            return
        table = self.table
        focused = self.app.focused
        within = focused is not None and (focused is self or self in focused.ancestors)
        status = self.query_one(".table-status", Static)
        status.display = within or table.sort_column is not None or bool(table.search_text)
        if status.display:
            status.update(self.status_text())
