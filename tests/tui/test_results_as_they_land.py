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

from .conftest import SLOW_SPACE_S, submit, wait_until

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
        assert len(turn.query(Chart)) == 3 and "ASIA" in turn.answer.source
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


def _turn_tail() -> list[bytes]:
    text = "Quantity by part: part 000 leads with 1,000."
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
