"""The chat against scripted HTTP streams (an httpx transport is the network edge): text shows while
it streams, Esc cancels, and no malformed event or failing server takes the app down."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from genie_agent_tui.targets import ResponsesEndpointTarget, TargetSpec
from genie_agent_tui.widgets.notice import Notice
from genie_agent_tui.widgets.result_table import ResultTable

from .conftest import ask, submit, wait_until

pytestmark = pytest.mark.anyio
SIZE = (100, 30)
URL = "http://127.0.0.1:9"


def _sse(event: object) -> bytes:
    data = event if isinstance(event, str) else json.dumps(event)
    return f"data: {data}\n\n".encode()


def _route() -> dict:
    summary = "Route: sales (single, confidence 0.90) — Sales: 'revenue' (measure)"
    return {
        "type": "response.output_item.done",
        "item": {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": summary}]},
    }


def _call() -> dict:
    args = json.dumps({"space": "sales", "question": "Revenue by region"})
    return {
        "type": "response.output_item.done",
        "item": {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "c1",
            "name": "genie_sales",
            "arguments": args,
        },
    }


def _output() -> dict:
    out = json.dumps({"status": "completed", "row_count": 2, "rows": [], "columns": []})
    return {
        "type": "response.output_item.done",
        "item": {"type": "function_call_output", "call_id": "c1", "output": out},
    }


def _delta(text: str) -> dict:
    return {"type": "response.output_text.delta", "item_id": "m1", "delta": text}


def _done(text: str) -> dict:
    outputs = {
        "status": "ok",
        "route": {"kind": "single", "domains": ["sales"], "confidence": 0.9, "reason": "Sales"},
        "results": [
            {
                "domain": "sales",
                "sql": "SELECT 1",
                "columns": ["region", "revenue"],
                "rows": [["ASIA", 10.5], ["EUROPE", 7]],
                "row_count": 2,
                "truncated": False,
                "conversation_id": "g1",
                "error": None,
            }
        ],
        "visualization_hint": {
            "type": "bar",
            "x": "region",
            "y": "revenue",
            "series": None,
            "title": "t",
            "sort": "desc",
            "format": "currency",
            "reason": "r",
        },
        "thread_id": "thread-1",
        "genie_conversation_ids": {"sales": "g1"},
    }
    item = {
        "type": "message",
        "id": "m1",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
    return {"type": "response.output_item.done", "item": item, "custom_outputs": outputs}


class _Script(httpx.AsyncByteStream):
    """SSE chunks; ``gate`` (when given) holds the stream after the chunks before it."""

    def __init__(
        self, before: list[bytes], gate: asyncio.Event | None = None, after: list[bytes] = ()
    ) -> None:
        self.before, self.gate, self.after = before, gate, list(after)
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.before:
            yield chunk
        if self.gate is not None:
            await self.gate.wait()
        for chunk in self.after:
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


def _target(handler) -> ResponsesEndpointTarget:
    return ResponsesEndpointTarget(TargetSpec("url", URL), transport=httpx.MockTransport(handler))


def _streaming(stream: _Script, seen: list[dict] | None = None):
    async def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(json.loads(request.content))
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=stream)

    return handler


async def test_text_shows_while_it_streams_and_the_turn_result_comes_last(make_app):
    gate = asyncio.Event()
    seen: list[dict] = []
    stream = _Script(
        [_sse(_route()), _sse(_call()), _sse(_output()), _sse(_delta("**ASIA** leads: 10.5; "))],
        gate,
        [_sse(_delta("EUROPE: 7.")), _sse(_done("**ASIA** leads: 10.5; EUROPE: 7.")), _sse("[DONE]")],
    )
    app = make_app(_target(_streaming(stream, seen)))
    async with app.run_test(size=SIZE) as pilot:
        await submit(pilot, "Revenue by region")
        await wait_until(
            pilot, lambda: bool(app.chat_log.turns) and "ASIA" in app.chat_log.turns[-1].answer.source
        )
        turn = app.chat_log.turns[-1]
        assert not turn.finished and app.turn_running  # the first words are on screen, the rest is coming
        status = turn.status.render_status().plain
        assert "route → sales" in status and "sales ✓ 2 rows" in status and "writing the answer" in status
        gate.set()
        await wait_until(pilot, lambda: turn.finished and not app.turn_running)
        await pilot.pause()
        assert turn.answer.source == "**ASIA** leads: 10.5; EUROPE: 7."
        assert turn.result_views[0].query_one(ResultTable).row_count == 2
        assert seen[0]["stream"] is True and seen[0]["input"][-1]["content"] == "Revenue by region"
        # the follow-up sends the conversation state back
        stream.gate = None
        await ask(pilot, "What about 1996?")
        assert seen[1]["custom_inputs"] == {
            "thread_id": "thread-1",
            "genie_conversation_ids": {"sales": "g1"},
        }


async def test_esc_cancels_the_turn_in_flight(make_app):
    gate = asyncio.Event()
    stream = _Script([_sse(_route()), _sse(_call())], gate, [_sse(_done("late"))])
    app = make_app(_target(_streaming(stream)))
    async with app.run_test(size=SIZE) as pilot:
        await submit(pilot, "Revenue by region")
        turn = await _first_turn(pilot, app)
        await wait_until(pilot, lambda: "sales" in turn.status.spaces)
        await pilot.press("escape")
        await wait_until(pilot, lambda: turn.finished and not app.turn_running)
        await pilot.pause()
        assert turn.status.phase == "cancelled" and "sales" in turn.status.spaces
        assert any(n.kind == "warning" and n.message == "Cancelled." for n in turn.query(Notice))
        assert stream.closed  # the request was closed, not left running
        assert app.session.turns == [] and "late" not in turn.answer.source


async def _first_turn(pilot, app):
    await wait_until(pilot, lambda: bool(app.chat_log.turns))
    return app.chat_log.turns[-1]


async def test_malformed_events_are_skipped_and_counted_never_fatal(make_app):
    garbage = [
        _sse("{not json"),
        _sse([1, 2]),
        _sse({"type": "response.output_item.done"}),
        _sse({"type": "response.output_item.done", "item": {"type": "function_call_output", "call_id": 5}}),
        _sse({"type": "response.output_text.delta", "delta": None}),
        _sse({"type": "something.else"}),
        _sse({"type": "response.output_item.done", "item": {"type": "function_call", "arguments": "{bad"}}),
    ]
    stream = _Script([_sse(_route()), *garbage, _sse(_delta("fine")), _sse(_done("fine")), _sse("[DONE]")])
    app = make_app(_target(_streaming(stream)))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Revenue by region")
        turn = app.chat_log.turns[-1]
        assert turn.outputs is not None and turn.outputs.status == "ok" and turn.answer.source == "fine"
        assert turn.unreadable == 5
        assert any(n.kind == "warning" and "could not be read" in n.message for n in turn.query(Notice))


async def test_a_stream_that_breaks_off_or_reports_an_error_says_so(make_app):
    streams = iter(
        [
            _Script([_sse(_route()), _sse(_delta("half"))]),  # ends without the turn result
            _Script([_sse({"error": "boom in the agent"}), _sse("[DONE]")]),  # the agent server's error chunk
        ]
    )

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=next(streams))

    app = make_app(_target(handler))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "one")
        notices = list(app.chat_log.turns[-1].query(Notice))
        assert any(n.kind == "error" and "ended before it was complete" in n.message for n in notices)
        await ask(pilot, "two")
        notices = list(app.chat_log.turns[-1].query(Notice))
        assert any("boom in the agent" in n.message for n in notices)


async def test_http_errors_render_with_what_to_do(make_app):
    answers = iter(
        [
            httpx.Response(
                401, json={"error": {"type": "AuthenticationError", "message": "Authentication required."}}
            ),
            httpx.Response(
                400, json={"error": {"message": "The question is empty.", "hint": "Ask something."}}
            ),
            httpx.Response(502, text="Bad gateway"),
        ]
    )

    async def handler(request: httpx.Request) -> httpx.Response:
        return next(answers)

    app = make_app(_target(handler))
    async with app.run_test(size=SIZE) as pilot:
        expected = [
            ("refused the credentials (401)", "--token"),
            ("The question is empty.", "Ask something."),
            ("answered 502: Bad gateway", "Try again."),
        ]
        for message, hint in expected:
            await ask(pilot, "Revenue by region")
            (notice,) = app.chat_log.turns[-1].query(Notice)
            assert notice.kind == "error" and message in notice.message and hint in notice.hint
            assert app.chat_log.turns[-1].status.phase == "failed"


async def test_an_unreachable_url_says_how_to_start_the_server(make_app):
    from tests.servers import free_port

    target = ResponsesEndpointTarget(TargetSpec("url", f"http://127.0.0.1:{free_port()}"))
    app = make_app(target)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Revenue by region")
        (notice,) = app.chat_log.turns[-1].query(Notice)
        assert "Cannot reach" in notice.message and "genie-agent serve" in notice.hint


async def test_a_failed_space_is_named_with_what_to_do(make_app):
    failed = json.dumps(
        {
            "status": "failed",
            "error": "supply did not answer within 120 s",
            "hint": "Try again.",
            "retryable": True,
        }
    )
    output = {
        "type": "response.output_item.done",
        "item": {"type": "function_call_output", "call_id": "c1", "output": failed},
    }
    done = _done("Sales answered; supply failed.")
    done["custom_outputs"]["status"] = "partial"
    stream = _Script(
        [
            _sse(_route()),
            _sse(_call()),
            _sse(output),
            _sse(_delta("Sales answered; supply failed.")),
            _sse(done),
        ]
    )
    app = make_app(_target(_streaming(stream)))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Revenue and suppliers by region")
        turn = app.chat_log.turns[-1]
        status = turn.status.render_status().plain
        assert "sales ✗ failed" in status and "partial answer" in status
        (notice,) = [n for n in turn.query(Notice) if n.kind == "error"]
        assert (
            "The sales space failed: supply did not answer" in notice.message and notice.hint == "Try again."
        )
