"""How the chat looks in its main states (pytest-textual-snapshot; `--snapshot-update` to accept changes).

Turns run for real on the embedded default; the status line's clock is fixed so times read 0.0 s.
"""

from __future__ import annotations

import httpx

from genie_agent_tui.screens.memory import MemoryScreen
from genie_agent_tui.targets import ResponsesEndpointTarget, TargetSpec
from genie_agent_tui.widgets.chart import Chart

from .conftest import ask, fixed_clock, wait_until


async def _ready(pilot) -> None:
    """Wait until the target is connected (the header stops saying "starting…")."""
    await wait_until(pilot, lambda: "starting" not in pilot.app.sub_title)


async def _palette(pilot) -> None:
    await _ready(pilot)
    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: len(pilot.app.screen.query("CommandList Option, CommandList")) > 0)
    await wait_until(pilot, lambda: pilot.app.screen.query_one("CommandList").option_count >= 8)
    pilot.app.screen.query_one("CommandInput").cursor_blink = False  # a blinking cursor differs per run
    await pilot.pause(0.2)


def _answered(question: str, *, keys: tuple[str, ...] = ()):
    async def run_before(pilot) -> None:
        await _ready(pilot)
        await ask(pilot, question)
        await pilot.press(*keys)
        await pilot.pause(0.2)
        turn = pilot.app.chat_log.turns[-1]
        pilot.app.chat_log.scroll_to_widget(turn, top=True, animate=False)
        await pilot.pause(0.2)

    return run_before


def test_empty_chat(snap_compare, embedded_target, make_app):
    app = make_app(embedded_target, clock=fixed_clock)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_ready)


def test_answered_turn_with_a_bar_chart(snap_compare, embedded_target, make_app):
    app = make_app(embedded_target, clock=fixed_clock)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_answered("Top 5 nations by revenue in 1996"))


def test_answered_turn_with_a_line_chart(snap_compare, embedded_target, make_app):
    app = make_app(embedded_target, clock=fixed_clock)
    assert snap_compare(app, terminal_size=(100, 30), run_before=_answered("Revenue by month in 1995"))


def test_line_chart_with_three_series(snap_compare, embedded_target, make_app):
    """One line per segment with a legend, years as 1992, the y axis in millions said not to start at 0."""
    app = make_app(embedded_target, clock=fixed_clock)
    answered = _answered("Revenue by year for the AUTOMOBILE, BUILDING and MACHINERY market segments")

    async def then_show_the_chart(pilot) -> None:
        await answered(pilot)
        chart = pilot.app.chat_log.query_one(Chart)
        pilot.app.chat_log.scroll_to_widget(chart, top=True, animate=False)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(80, 24), run_before=then_show_the_chart)


def test_grouped_bars_with_two_series(snap_compare, embedded_target, make_app):
    """A group of bars per region, one bar per market segment in its colour, and the legend."""
    app = make_app(embedded_target, clock=fixed_clock)
    answered = _answered("Revenue by region for the AUTOMOBILE and BUILDING market segments in 1995")

    async def then_show_the_chart(pilot) -> None:
        await answered(pilot)
        chart = pilot.app.chat_log.query_one(Chart)
        pilot.app.chat_log.scroll_to_widget(chart, top=True, animate=False)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(80, 24), run_before=then_show_the_chart)


def test_sql_shown(snap_compare, embedded_target, make_app):
    app = make_app(embedded_target, clock=fixed_clock)
    run_before = _answered("How many customers per nation", keys=("ctrl+s",))

    async def then_show_the_sql(pilot) -> None:
        await run_before(pilot)
        panel = pilot.app.chat_log.query_one("SqlPanel")
        pilot.app.chat_log.scroll_to_widget(panel, top=True, animate=False)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(100, 30), run_before=then_show_the_sql)


def test_error(snap_compare, make_app):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    target = ResponsesEndpointTarget(
        TargetSpec("url", "http://127.0.0.1:8000"), transport=httpx.MockTransport(refuse)
    )
    app = make_app(target, clock=fixed_clock)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_answered("Revenue by region in 1995"))


def test_command_palette(snap_compare, embedded_target, make_app):
    app = make_app(embedded_target, clock=fixed_clock)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_palette)


def test_memory_panel(snap_compare, embedded_target, make_app):
    app = make_app(embedded_target, clock=fixed_clock)
    answered = _answered("please show tables, not charts")

    async def open_the_panel(pilot) -> None:
        await answered(pilot)
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, MemoryScreen))
        await wait_until(pilot, lambda: not pilot.app.screen.busy and bool(pilot.app.screen.entries))
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_the_panel)
