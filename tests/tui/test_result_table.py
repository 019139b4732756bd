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
