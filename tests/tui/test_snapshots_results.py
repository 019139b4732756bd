"""How results and ratings look (pytest-textual-snapshot; `--snapshot-update` to accept changes): a
space's result shown while a slower space still runs, a sorted and searched table of 500 rows, and a
rated answer. The status line's clock is fixed, so times read 0.0 s."""

from __future__ import annotations

from genie_agent.identity import Identity
from genie_agent_tui.targets import InProcessTarget, ResponsesEndpointTarget, TargetSpec
from genie_agent_tui.widgets.result_table import ResultTable

from .conftest import fixed_clock, submit, wait_until
from .test_rating import _scripted
from .test_snapshots import _answered, _ready

CROSS = "What was revenue by region in 1995, and how many suppliers does each region have?"


def test_a_space_result_shows_while_a_slower_space_runs(snap_compare, make_genie_agent, make_app):
    agent = make_genie_agent()
    app = make_app(InProcessTarget(lambda: agent, identity=Identity("local")), clock=fixed_clock)

    async def supply_has_replied(pilot) -> None:
        await _ready(pilot)
        await submit(pilot, CROSS)
        await wait_until(
            pilot, lambda: bool(app.chat_log.turns) and bool(app.chat_log.turns[-1].result_views)
        )
        turn = app.chat_log.turns[-1]
        await pilot.pause(0.1)
        app.chat_log.scroll_to_widget(turn, top=True, animate=False)
        await pilot.pause(0.1)
        assert not turn.finished  # sales is still running when the screen is taken

    assert snap_compare(app, terminal_size=(80, 30), run_before=supply_has_replied)


def test_a_500_row_table_sorted_and_searched(snap_compare, embedded_target, make_app):
    app = make_app(embedded_target, clock=fixed_clock)
    answered = _answered("Top 500 customers by revenue in 1995")

    async def sort_and_search(pilot) -> None:
        await answered(pilot)
        table = app.chat_log.query_one(ResultTable)
        table.focus()
        await pilot.press("right", "s", "s", "slash", *"0001")
        await wait_until(pilot, lambda: table.loaded and table.search_text == "0001")
        app.chat_log.scroll_to_widget(table, top=True, animate=False)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(80, 24), run_before=sort_and_search)


def test_a_rated_answer(snap_compare, make_app):
    recorded = {
        "status": "ok",
        "feedback": {"turn_id": "tr-1", "rating": "up", "user": "ann", "replaced": False, "genie": {}},
    }
    transport = _scripted([], turn_id="tr-1", feedback=recorded)
    app = make_app(
        ResponsesEndpointTarget(TargetSpec("url", "http://127.0.0.1:8000"), transport=transport),
        clock=fixed_clock,
    )
    answered = _answered("Total revenue in 1995")

    async def rate_it(pilot) -> None:
        await answered(pilot)
        turn = app.chat_log.turns[-1]
        turn.focus()
        await pilot.press("plus")
        await wait_until(pilot, lambda: turn.rating is not None)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(80, 24), run_before=rate_it)
