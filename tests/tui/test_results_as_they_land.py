"""Each space's result shows the moment the space replies, above the answer that then streams in; when
the turn is done the same views take the whole results and the turn's chart hint, and a cross-domain
answer's combined table is added after them, with nothing shown twice.

The embedded agent asks Databricks Genie spaces on the Genie emulator, whose ``sales`` space answers
seconds after ``supply``; a scripted HTTP stream (httpx transport: the network edge) holds a turn after
a space's first rows, to see the view before and after the whole result."""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from textual.widgets import Markdown

from genie_agent_tui.targets import InProcessTarget, ResponsesEndpointTarget, TargetSpec
from genie_agent_tui.widgets.chart import Chart
from genie_agent_tui.widgets.result_table import ResultTable
from genie_agent_tui.widgets.result_view import ResultView

from .conftest import SLOW_SPACE_S, ask, submit, wait_until

pytestmark = pytest.mark.anyio
SIZE = (100, 30)
CROSS = "What was revenue by region in 1995, and how many suppliers does each region have?"


async def test_a_space_s_result_shows_before_the_slower_space_and_the_answer(make_genie_agent, make_app):
    from genie_agent.identity import Identity

    agent = make_genie_agent()
    app = make_app(InProcessTarget(lambda: agent, identity=Identity("local")))
    async with app.run_test(size=SIZE) as pilot:
        await submit(pilot, CROSS)
        await wait_until(
            pilot, lambda: bool(app.chat_log.turns) and bool(app.chat_log.turns[-1].result_views)
        )
        turn = app.chat_log.turns[-1]
        (landed,) = turn.result_views
        status = turn.status.render_status().plain
        # supply has replied; sales (seconds slower) is still running; no answer text yet
        assert landed.result.domain == "supply" and not landed.final and not turn.finished
        assert "supply ✓ 5 rows" in status and "sales" in status and "running" in status
        assert turn.text == "" and turn.answer.source == ""
        assert landed.query_one(ResultTable).row_count == 5 and landed.query_one(Chart).spec.type == "bar"
        results, answer = turn.query_one(".turn-results"), turn.query_one(Markdown)
        assert turn.children.index(results) < turn.children.index(answer)  # the answer streams below

        await wait_until(pilot, lambda: turn.finished, timeout=SLOW_SPACE_S + 30)
        await pilot.pause()
        views = turn.result_views
        assert [v.result.domain for v in views] == ["supply", "sales", "combined"]
        assert views[0] is landed and all(v.final for v in views)  # the same view, not a second one
        assert len(turn.query(Chart)) == 2 and "ASIA" in turn.answer.source  # none drawn twice
        combined = views[2]
        assert combined.spec.title == turn.outputs.visualization_hint["title"]
        assert combined.result == turn.outputs.result.combined
        assert views[1].result == next(r for r in turn.outputs.results if r.domain == "sales")


def _sse(event: dict) -> bytes:
    return f"data: {json.dumps(event)}\n\n".encode()


def _item(item: dict, **extra: object) -> dict:
    return {"type": "response.output_item.done", "item": item, **extra}


ROWS = [[f"part {i:03d}", 1_000 - i] for i in range(120)]
SQL = "SELECT part, quantity FROM lineitem"


def _reply(rows: list[list[object]]) -> dict:
    output = {
        "status": "completed",
        "sql": SQL,
        "columns": ["part", "quantity"],
        "rows": rows,
        "row_count": len(ROWS),
        "truncated": len(rows) < len(ROWS),
    }
    return _item({"type": "function_call_output", "call_id": "c1", "output": json.dumps(output)})


def _turn_head() -> list[bytes]:
    route = "Route: sales (single, confidence 0.90) — Sales: 'quantity' (measure)"
    arguments = json.dumps({"space": "sales", "question": "Quantity by part"})
    return [
        _sse(_item({"type": "reasoning", "id": "rs", "summary": [{"type": "summary_text", "text": route}]})),
        _sse(
            _item(
                {
                    "type": "function_call",
                    "id": "fc",
                    "call_id": "c1",
                    "name": "genie_sales",
                    "arguments": arguments,
                }
            )
        ),
        _sse(_reply(ROWS[:50])),
    ]


def _turn_tail(text: str = "Quantity by part: part 000 leads with 1,000.") -> list[bytes]:
    outputs = {
        "status": "ok",
        "turn_id": "tr-0123",
        "route": {"kind": "single", "domains": ["sales"], "confidence": 0.9, "reason": "Sales"},
        "results": [
            {
                "domain": "sales",
                "sql": SQL,
                "columns": ["part", "quantity"],
                "rows": ROWS,
                "row_count": len(ROWS),
            }
        ],
        "visualization_hint": {"type": "bar", "x": "part", "y": "quantity", "title": "top parts by quantity"},
        "thread_id": "thread-1",
    }
    message = {
        "type": "message",
        "id": "m1",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }
    delta = {"type": "response.output_text.delta", "item_id": "m1", "delta": text}
    return [_sse(delta), _sse(_item(message, custom_outputs=outputs))]


class _Held(httpx.AsyncByteStream):
    def __init__(self, gate: asyncio.Event) -> None:
        self.gate = gate

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in _turn_head():
            yield chunk
        await self.gate.wait()
        for chunk in _turn_tail():
            yield chunk


async def test_the_first_rows_become_the_whole_result_in_the_same_view(make_app, tmp_path):
    gate = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=_Held(gate))

    target = ResponsesEndpointTarget(
        TargetSpec("url", "http://127.0.0.1:9"), transport=httpx.MockTransport(handler)
    )
    app = make_app(target)
    async with app.run_test(size=SIZE) as pilot:
        await submit(pilot, "Quantity by part")
        await wait_until(
            pilot, lambda: bool(app.chat_log.turns) and bool(app.chat_log.turns[-1].result_views)
        )
        turn = app.chat_log.turns[-1]
        (view,) = turn.result_views
        table = view.query_one(ResultTable)
        assert table.row_count == 50 and not view.final
        assert "120 rows (first 50 shown)" in str(view.query_one(".result-header").render())
        await pilot.press("ctrl+r")  # the rest has not come yet: nothing is written
        await pilot.pause()
        assert app.last_export is None

        gate.set()
        await wait_until(pilot, lambda: turn.finished)
        await wait_until(pilot, lambda: table.loaded)
        assert turn.result_views == [view] and view.query_one(ResultTable) is table
        assert view.final and table.row_count == 120 and table.get_row_at(119)[0].plain == "part 119"
        header = str(view.query_one(".result-header").render())
        assert "120 rows" in header and "first" not in header
        assert view.query_one(Chart).spec.title == "top parts by quantity"  # the turn's hint, at the end
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: app.last_export is not None)
        rows = list(csv.reader(app.last_export.open()))
        assert rows[0] == ["part", "quantity"] and len(rows) == 121 and rows[-1] == ["part 119", "881"]
    assert isinstance(view, ResultView)


# --- nothing shown twice ---------------------------------------------------------------------------------


def _drawn(chart: Chart) -> frozenset[tuple[str, float]]:
    """The (category, value) points a bar chart draws."""
    x, y = chart.columns.index(chart.spec.x), chart.columns.index(chart.spec.y)
    return frozenset((str(row[x]), round(float(row[y]), 2)) for row in chart.rows)


async def test_a_cross_domain_turn_shows_each_chart_and_table_once(embedded_target, make_app):
    app = make_app(embedded_target)
    async with app.run_test(size=(80, 24)) as pilot:
        await ask(pilot, "Revenue by region in 1995 and how many suppliers each region has")
        turn = app.chat_log.turns[-1]
        views = {v.result.domain: v for v in turn.result_views}
        assert sorted(views) == ["combined", "sales", "supply"]
        charts = list(turn.query(Chart))
        drawn = [_drawn(chart) for chart in charts]
        # one chart per space; the combined result's first measure is the sales chart again: not drawn
        assert len(charts) == 2 and len(set(drawn)) == 2
        assert {c.spec.y for c in charts} == {"revenue", "suppliers"}
        combined = views["combined"]
        assert not combined.query(Chart) and combined.query_one(ResultTable).row_count == 5
        assert "chart" not in str(combined.query_one(".result-header").render())
        assert combined.query_one(ResultTable).columns  # the combined table itself stays
        # The answer as sent writes the combined table out; the chat shows the text around it only.
        assert "| region | revenue (sales) | suppliers (supply) |" in turn.text
        source = turn.answer.source
        assert "**Together** — joined on region" in source and "AFRICA: 639,835,184.38" in source
        assert not [line for line in source.splitlines() if line.lstrip().startswith("|")]
        assert not turn.answer.query("MarkdownTable")


_TABLES_TEXT = (
    "Quantity by part: part 000 leads.\n\n"
    "| part | quantity |\n|---|---:|\n| part 000 | 1,000 |\n| part 001 | 999 |\n\n"
    "Compared with last year:\n\n"
    "| part | last year |\n|---|---:|\n| part 000 | 870 |\n\n"
    "That is all."
)


class _Gated(httpx.AsyncByteStream):
    """The turn's head and its answer text; the end once ``gate`` is set."""

    def __init__(self, gate: asyncio.Event, text: str) -> None:
        self.gate, self.text = gate, text

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in _turn_head():
            yield chunk
        for at in range(0, len(self.text), 7):  # deltas that cut lines anywhere
            delta = self.text[at : at + 7]
            yield _sse({"type": "response.output_text.delta", "item_id": "m1", "delta": delta})
        await self.gate.wait()
        yield _turn_tail(self.text)[-1]


async def test_the_answer_s_tables_wait_for_the_end_and_only_those_no_view_shows_come(make_app):
    gate = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        stream = _Gated(gate, _TABLES_TEXT)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=stream)

    target = ResponsesEndpointTarget(
        TargetSpec("url", "http://127.0.0.1:9"), transport=httpx.MockTransport(handler)
    )
    app = make_app(target)
    async with app.run_test(size=SIZE) as pilot:
        await submit(pilot, "Quantity by part")
        await wait_until(pilot, lambda: bool(app.chat_log.turns) and "all." in app.chat_log.turns[-1].text)
        turn = app.chat_log.turns[-1]
        await wait_until(pilot, lambda: "That is all." in turn.answer.source)
        streaming = turn.answer.source  # all of the text has come: its prose shows, its tables wait
        assert "Quantity by part" in streaming and "Compared with last year:" in streaming
        assert "|" not in streaming and not turn.finished

        gate.set()
        await wait_until(pilot, lambda: turn.finished)
        await pilot.pause()
        source = turn.answer.source
        assert turn.text == _TABLES_TEXT  # the answer as sent
        # The first table's rows are the sales view's rows: left out. The second is in no view: it stays.
        assert "| part 000 | 1,000 |" not in source and "| part 000 | 870 |" in source
        assert "Compared with last year:" in source and source.endswith("That is all.")
        (table,) = turn.answer.query("MarkdownTable")
        cells = [str(cell.render()) for cell in table.query("MarkdownTableCellContents")]
        assert cells == ["part", "last year", "part 000", "870"]
