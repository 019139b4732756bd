"""The chat's parts on their own: stream reading, SSE parsing, sessions, the CLI command (charts:
test_charts.py)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from genie_agent_cli.main import cli
from genie_agent_tui.sessions import STORED_ROWS, PromptHistory, Session, SessionStore
from genie_agent_tui.stream import (
    RouteInfo,
    SpaceFinished,
    SpaceStarted,
    TextArrived,
    TurnFinished,
    TurnReader,
    Unreadable,
)
from genie_agent_tui.targets import UNREADABLE_EVENT, sse_events


def test_the_reader_follows_the_sdk_mapping(make_test_agent):
    from genie_agent.responses import events_to_responses

    agent = make_test_agent()
    events = [
        e.model_dump(exclude_none=True)
        for e in events_to_responses(
            agent.stream("Revenue by region in 1995, and how many suppliers does each region have?")
        )
    ]
    reader = TurnReader()
    updates = [u for e in events for u in reader.read(e)]
    route = next(u for u in updates if isinstance(u, RouteInfo))
    assert route.domains == ("sales", "supply") and route.kind == "cross_domain" and route.reason
    assert {u.space for u in updates if isinstance(u, SpaceStarted)} == {"sales", "supply"}
    assert {(u.space, u.row_count) for u in updates if isinstance(u, SpaceFinished)} == {
        ("sales", 5),
        ("supply", 5),
    }
    finished = updates[-1]
    assert isinstance(finished, TurnFinished) and finished.text == "".join(
        u.delta for u in updates if isinstance(u, TextArrived)
    )
    assert finished.outputs.thread_id and set(finished.outputs.genie_conversation_ids) == {"sales", "supply"}
    assert [r.domain for r in finished.outputs.results] == ["sales", "supply"] and reader.unreadable == 0


@pytest.mark.parametrize(
    "event",
    [
        None,
        7,
        "text",
        [],
        {},
        {"type": None},
        {"type": "response.output_item.done", "item": "x"},
        {
            "type": "response.output_item.done",
            "item": {"type": "message", "content": 5},
            "custom_outputs": [],
        },
        {"type": "response.output_item.done", "item": {"type": "reasoning", "summary": "nope"}},
        {"type": "response.output_item.done", "item": {"type": "function_call_output", "output": "[]"}},
        {"type": UNREADABLE_EVENT, "data": "{x"},
    ],
)
def test_the_reader_never_raises(event):
    updates = TurnReader().read(event)
    assert all(isinstance(u, Unreadable | TurnFinished | SpaceFinished | RouteInfo) for u in updates)


def test_a_turn_result_with_wrong_types_is_read_as_far_as_it_goes():
    event = {
        "type": "response.output_item.done",
        "item": {"type": "message", "content": [{"type": "output_text", "text": "hi"}]},
        "custom_outputs": {
            "status": 3,
            "results": [{"columns": "x"}, "junk", {"domain": "d", "rows": [[1], "bad"]}],
            "thread_id": 9,
            "genie_conversation_ids": {"a": 1, "b": "c"},
            "visualization_hint": [],
        },
    }
    (finished,) = TurnReader().read(event)
    assert isinstance(finished, TurnFinished) and finished.text == "hi"
    outputs = finished.outputs
    assert (
        outputs.status == "ok" and outputs.thread_id is None and outputs.genie_conversation_ids == {"b": "c"}
    )
    assert [r.rows for r in outputs.results] == [(), ((1,),)] and outputs.visualization_hint is None


async def _lines(*lines: str):
    for line in lines:
        yield line


@pytest.mark.anyio
async def test_sse_parsing():
    lines = _lines(
        "event: x",
        'data: {"a": 1}',
        "",
        ": comment",
        "data: {bad",
        "",
        "data: [1]",
        "",
        'data: {"b":',
        "data: 2}",
        "",
        "data: [DONE]",
        "",
        'data: {"late": 1}',
        "",
    )
    events = [e async for e in sse_events(lines)]
    assert events[0] == {"a": 1} and events[3] == {"b": 2} and len(events) == 4
    assert events[1]["type"] == events[2]["type"] == UNREADABLE_EVENT


def test_sessions_round_trip_bounded_and_newest_first(tmp_path):
    store = SessionStore(tmp_path / "tui")
    older, newer = Session(), Session()
    rows = [[i] for i in range(STORED_ROWS + 50)]
    older.record(
        "q1",
        "a1",
        {
            "thread_id": "t1",
            "genie_conversation_ids": {"sales": "g"},
            "results": [{"rows": rows}],
            "data": rows,
        },
    )
    newer.record("q2", "a2", {"thread_id": "t2"})
    newer.updated += 1
    store.save(older)
    store.save(newer)
    store.save(Session())  # an empty chat is not saved
    assert [s.title for s in store.list()] == ["q2", "q1"]
    loaded = store.load(older.id)
    assert loaded is not None and loaded.custom_inputs() == {
        "thread_id": "t1",
        "genie_conversation_ids": {"sales": "g"},
    }
    assert (
        len(loaded.turns[0].outputs["results"][0]["rows"]) == STORED_ROWS
        and "data" not in loaded.turns[0].outputs
    )
    (tmp_path / "tui" / "index.json").write_text("{broken")
    assert store.list() == [] and store.load("missing") is None


def test_prompt_history_persists_without_duplicates(tmp_path):
    path = tmp_path / "history.json"
    history = PromptHistory(path)
    for q in ("a", "b", "a", "  "):
        history.add(q)
    assert PromptHistory(path).entries == ["b", "a"] and json.loads(path.read_text()) == ["b", "a"]


def test_chat_command_checks_its_options(cli_home):
    runner = CliRunner()
    both = runner.invoke(cli, ["chat", "--url", "http://127.0.0.1:1", "--endpoint", "x"])
    assert both.exit_code == 2 and "not both" in both.output
    token = runner.invoke(cli, ["chat", "--token", "t"])
    assert token.exit_code == 2 and "--token goes with --url" in token.output
    bad = runner.invoke(cli, ["chat", "--url", "ftp://x"])
    assert bad.exit_code == 2 and "not a URL" in bad.output
    assert "--endpoint" in runner.invoke(cli, ["chat", "--help"]).output
