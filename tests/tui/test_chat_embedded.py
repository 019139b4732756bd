"""The chat on the embedded default: real turns through the in-process target (SDK agent + the SDK's
Responses mapping), driven with Pilot."""

from __future__ import annotations

import csv

import pytest
from rich.text import Text
from textual.widgets import Digits, Markdown

from genie_agent_tui.messages import TurnCompleted
from genie_agent_tui.screens.sessions import SessionsScreen
from genie_agent_tui.widgets.chart import Chart
from genie_agent_tui.widgets.result_table import ResultTable
from genie_agent_tui.widgets.sql_panel import SqlPanel

from .conftest import ask, submit, wait_until

pytestmark = pytest.mark.anyio
SIZE = (100, 30)


async def test_an_answer_streams_in_with_its_route_table_and_chart(embedded_target, make_app):
    completed: list[TurnCompleted] = []

    def hook(message: object) -> None:
        if isinstance(message, TurnCompleted):
            completed.append(message)

    app = make_app(embedded_target)
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await pilot.press(*"Top 5 nations by revenue in 1996", "enter")  # typed, key by key
        await wait_until(pilot, lambda: bool(completed))
        await pilot.pause()
        turn = app.chat_log.turns[-1]
        assert "ETHIOPIA" in turn.text and turn.text.count(";") >= 4  # several deltas, all of them
        assert "ETHIOPIA" in turn.answer.source
        status = turn.status.render_status().plain
        assert "route → sales" in status and "5 rows" in status and "done in" in status
        (view,) = turn.result_views
        table = view.query_one(ResultTable)
        assert table.row_count == 5 and [c.label.plain for c in table.columns.values()] == [
            "nation",
            "revenue",
        ]
        revenue = table.get_row_at(0)[1]
        assert isinstance(revenue, Text) and revenue.justify == "right" and "," in revenue.plain
        chart = view.query_one(Chart)
        assert chart.spec.type == "bar"
        drawn = chart.query_one("._Canvas, .chart-canvas").render()
        assert "ETHIOPIA" in str(drawn) and "█" in str(drawn)
        assert view.query_one(SqlPanel).collapsed  # SQL is collapsed by default
    (message,) = completed
    assert message.outputs.status == "ok" and message.outputs.thread_id


async def test_line_and_kpi_charts_follow_the_hint(embedded_target, make_app):
    app = make_app(embedded_target)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Revenue by month in 1995")
        line = app.chat_log.turns[-1].result_views[0].query_one(Chart)
        assert line.spec.type == "line"
        drawn = str(line.query_one(".chart-canvas").render())
        assert any("\u2800" < ch <= "\u28ff" for ch in drawn) and "1995-01-01" in drawn
        await ask(pilot, "Total revenue in 1995")
        kpi = app.chat_log.turns[-1].result_views[0].query_one(Chart)
        assert kpi.spec.type == "kpi"
        assert "3,144,243,655.72" in str(kpi.query_one(Digits).value)


async def test_sql_is_one_key_away_and_can_be_copied(embedded_target, make_app):
    app = make_app(embedded_target)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "How many customers per nation")
        panel = app.chat_log.query_one(SqlPanel)
        assert panel.collapsed
        await pilot.press("ctrl+s")
        assert not panel.collapsed and app.show_sql
        await pilot.press("ctrl+s")
        assert panel.collapsed
        await pilot.press("ctrl+y")
        assert app.clipboard == panel.sql and panel.sql.lstrip().upper().startswith("SELECT")


async def test_a_followup_carries_the_thread_and_a_new_chat_drops_it(embedded_target, make_app):
    app = make_app(embedded_target)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Top 5 nations by revenue in 1996")
        first = app.chat_log.turns[-1].outputs
        assert first is not None and first.thread_id
        body = app.request_body("Show the top 10 instead.")
        assert body["custom_inputs"] == {
            "thread_id": first.thread_id,
            "genie_conversation_ids": first.genie_conversation_ids,
        }
        await ask(pilot, "Show the top 10 instead.")
        second = app.chat_log.turns[-1].outputs
        assert second is not None and second.thread_id == first.thread_id
        assert second.results[0].row_count == 10  # the follow-up refined the first query
        await pilot.press("ctrl+n")
        assert app.chat_log.turns == [] and app.session.thread_id is None
        assert "custom_inputs" not in app.request_body("anything")
        await ask(pilot, "Total revenue in 1995")
        assert app.session.thread_id not in (None, first.thread_id)
        await submit(pilot, "/new")  # the slash command does the same
        await wait_until(pilot, lambda: app.chat_log.turns == [])
        assert app.session.turns == [] and app.session.thread_id is None


async def test_sessions_are_listed_and_reopen_with_their_thread(embedded_target, make_app):
    app = make_app(embedded_target)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Top 5 nations by revenue in 1996")
        thread = app.session.thread_id
        await pilot.press("ctrl+n")
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.chat_log.turns) == 1)
        await pilot.pause()
        restored = app.chat_log.turns[0]
        assert (
            restored.question == "Top 5 nations by revenue in 1996" and "ETHIOPIA" in restored.answer.source
        )
        assert restored.result_views[0].query_one(ResultTable).row_count == 5
        assert app.session.thread_id == thread
        await ask(pilot, "Show the top 10 instead.")
        assert app.chat_log.turns[-1].outputs.results[0].row_count == 10


async def test_prompt_history_with_the_up_arrow(embedded_target, make_app):
    app = make_app(embedded_target)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Total revenue in 1995")
        await ask(pilot, "How many customers per nation")
        prompt = app.query_one("#prompt")
        await pilot.press("up")
        assert prompt.value == "How many customers per nation"
        await pilot.press("up")
        assert prompt.value == "Total revenue in 1995"
        await pilot.press("down", "down")
        assert prompt.value == ""


async def test_export_writes_the_current_result_to_csv(embedded_target, make_app, tmp_path):
    app = make_app(embedded_target)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Top 5 nations by revenue in 1996")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: app.last_export is not None)
        rows = list(csv.reader(app.last_export.open()))
        assert rows[0] == ["nation", "revenue"] and len(rows) == 6 and rows[1][0] == "ETHIOPIA"


async def test_the_command_palette_runs_chat_commands(embedded_target, make_app):
    app = make_app(embedded_target)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "How many customers per nation")
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"show sql")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.show_sql)
        assert not app.chat_log.query_one(SqlPanel).collapsed


async def test_a_question_the_agent_declines_shows_what_to_ask(embedded_target, make_app):
    app = make_app(embedded_target)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Drop the orders table")
        turn = app.chat_log.turns[-1]
        assert turn.outputs.status == "refused" and turn.result_views == []
        assert turn.query_one(Markdown).source
        await pilot.press("enter")  # an empty prompt asks nothing
        await pilot.pause()
        assert len(app.chat_log.turns) == 1
