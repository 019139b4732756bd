"""A long result's table: on screen with its first rows at once, the rest added as it is drawn, its
column widths set from every row up front."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll

from genie_agent.contract import ResultTable as ResultData
from genie_agent_tui.widgets.result_table import FIRST_ROWS, ResultTable

from .conftest import wait_until

pytestmark = pytest.mark.anyio


class Holder(App[None]):
    def compose(self) -> ComposeResult:
        yield VerticalScroll()


async def test_a_long_result_comes_in_batches_with_its_widths_set_from_every_row():
    rows = [[i, f"part {i}", i * 1_000.5, None if i % 7 else 1] for i in range(1_000)]
    rows[-1][1] = "the longest part name, in the last row"
    data = ResultData(domain="sales", columns=("id", "part", "revenue", "flag"), rows=rows, row_count=1_000)
    app = Holder()
    async with app.run_test(size=(80, 24)) as pilot:
        table = ResultTable(data)
        await app.query_one(VerticalScroll).mount(table)
        assert FIRST_ROWS <= table.row_count < 1_000 and not table.loaded
        widths = {c.label.plain: c.width for c in table.columns.values()}
        assert widths["part"] == len(rows[-1][1]) and widths["revenue"] == len("999,499.50")
        await wait_until(pilot, lambda: table.loaded and table.row_count == 1_000)
        assert {c.label.plain: c.width for c in table.columns.values()} == widths
        last = table.get_row_at(999)
        assert last[1].plain == rows[-1][1] and last[2].plain == "999,499.50" and last[2].justify == "right"
        assert table.get_row_at(1)[3].plain == "—"


def _five_hundred() -> ResultData:
    """500 rows: an id, a name, a revenue with some nulls, a date."""
    rows = [
        [
            i,
            f"Customer#{(i * 7919) % 500:06d}",
            None if i % 50 == 7 else round((i * 37) % 1_000 * 10.5, 2),
            f"1995-{i % 12 + 1:02d}-01",
        ]
        for i in range(500)
    ]
    return ResultData(
        domain="sales", columns=("id", "customer", "revenue", "month"), rows=rows, row_count=500
    )


def _numbers(cells: list[str]) -> list[float]:
    return [float(c.replace(",", "")) for c in cells]


def _column(table: ResultTable, index: int) -> list[str]:
    return [table.get_row_at(r)[index].plain for r in range(table.row_count)]


async def test_a_500_row_table_sorts_by_a_column_both_ways_and_back():
    data = _five_hundred()
    app = Holder()
    async with app.run_test(size=(80, 24)) as pilot:
        table = ResultTable(data)
        await app.query_one(VerticalScroll).mount(table)
        await wait_until(pilot, lambda: table.loaded)
        table.focus()
        await pilot.press("right", "right", "s")  # the cursor's column: revenue, ascending
        await wait_until(pilot, lambda: table.loaded and table.row_count == 500)
        values = [data.rows[i][2] for i in range(500)]
        ascending = sorted(v for v in values if v is not None)
        shown = _column(table, 2)
        assert _numbers(shown[: len(ascending)]) == ascending  # numbers as numbers
        assert shown[len(ascending) :] == ["—"] * values.count(None)  # nulls last
        assert table.sort_column == 2 and "revenue ↑" in str(list(table.columns.values())[2].label)
        assert table.cursor_coordinate.column == 2  # the cursor stays in the column
        await pilot.press("s")
        await wait_until(pilot, lambda: table.loaded)
        assert _numbers(_column(table, 2)[: len(ascending)]) == ascending[::-1]
        await pilot.press("left", "s")  # text, regardless of case
        await wait_until(pilot, lambda: table.loaded)
        assert _column(table, 1) == sorted(str(r[1]) for r in data.rows)
        await pilot.press("s", "s")  # descending, then as the result came
        await wait_until(pilot, lambda: table.loaded)
        assert table.sort_column is None and _column(table, 0) == [str(i) for i in range(500)]


async def test_a_500_row_table_searches_and_pages():
    data = _five_hundred()
    app = Holder()
    async with app.run_test(size=(80, 24)) as pilot:
        table = ResultTable(data)
        await app.query_one(VerticalScroll).mount(table)
        await wait_until(pilot, lambda: table.loaded)
        table.focus()
        await pilot.press("pagedown")
        first_page = table.cursor_row
        assert first_page > 5  # a page is what the table's height shows
        await pilot.press("pagedown")
        assert table.cursor_row > first_page
        await pilot.press("ctrl+end")
        assert table.cursor_row == 499
        table.search("customer#00001")  # any case, any column
        await wait_until(pilot, lambda: table.loaded)
        expected = [str(r[1]) for r in data.rows if "customer#00001" in str(r[1]).casefold()]
        assert table.shown == len(expected) == table.row_count and _column(table, 1) == expected
        table.search("1995-03")
        assert table.shown == sum(r[3] == "1995-03-01" for r in data.rows)
        table.search("no such text")
        assert table.shown == 0 and table.row_count == 0
        table.search("")
        await wait_until(pilot, lambda: table.loaded)
        assert table.row_count == 500


async def test_the_whole_result_keeps_the_sort_search_and_cursor():
    data = _five_hundred()
    first = ResultData(
        domain="sales", columns=data.columns, rows=data.rows[:50], row_count=500, truncated=True
    )
    app = Holder()
    async with app.run_test(size=(80, 24)) as pilot:
        table = ResultTable(first)
        await app.query_one(VerticalScroll).mount(table)
        table.focus()
        await pilot.press("right", "s", "down", "down")
        table.search("Customer#0001")
        cursor = table.cursor_coordinate
        table.set_result(data)
        await wait_until(pilot, lambda: table.loaded)
        expected = sorted(str(r[1]) for r in data.rows if "customer#0001" in str(r[1]).casefold())
        assert _column(table, 1) == expected and table.sort_column == 1
        assert table.cursor_coordinate == cursor
        table.set_result(data)  # the same result again: nothing to do
        assert table.cursor_coordinate == cursor
