"""Charts and the footer in the running chat at 80x24: real turns on the embedded default, driven with
Pilot; what the chart canvas draws at the width the layout gives it, and where the footer's keys lie."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.widgets._footer import FooterKey

from genie_agent_tui.charts import PALETTE
from genie_agent_tui.widgets.chart import Chart

from .conftest import ask, wait_until

pytestmark = pytest.mark.anyio
SIZE = (80, 24)
THREE_SEGMENTS = "Revenue by year for the AUTOMOBILE, BUILDING and MACHINERY market segments"
TWO_SEGMENT_BARS = "Revenue by region for the AUTOMOBILE and BUILDING market segments in 1995"


def canvas_of(app) -> tuple[Chart, Text, int]:
    """The last result's chart, what its canvas draws, and the canvas's width on screen."""
    chart = app.chat_log.turns[-1].result_views[0].query_one(Chart)
    canvas = chart.query_one(".chart-canvas")
    drawn = canvas.render()
    assert isinstance(drawn, Text)
    return chart, drawn, canvas.content_size.width


async def test_three_segments_draw_three_lines_with_a_legend_and_years(embedded_target, make_app):
    app = make_app(embedded_target)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, THREE_SEGMENTS)
        chart, drawn, width = canvas_of(app)
        assert chart.spec.type == "line" and chart.spec.series == "market segment"
        lines = drawn.plain.splitlines()
        assert 60 <= width <= 80 and all(len(line) <= width for line in lines)
        line_colours = {
            str(span.style).split()[-1]
            for span in drawn.spans
            if any(0x2800 < ord(ch) <= 0x28FF for ch in drawn.plain[span.start : span.end])
        }
        assert line_colours == set(PALETTE[:3])
        legend = next(line for line in lines if line.startswith("■ "))
        assert [name for name in ("AUTOMOBILE", "BUILDING", "MACHINERY") if f"■ {name}" in legend] == [
            "AUTOMOBILE",
            "BUILDING",
            "MACHINERY",
        ]
        years = next(line for line in lines if "1992" in line)
        assert "1998" in years and "1,99" not in drawn.plain
        # TPC-H's last year is a part year: the lines drop far below the other years, and the y axis,
        # in millions, does not start at zero; the chart says both.
        assert lines[0].startswith("revenue (millions)") and "axis starts at" in lines[0]


async def test_nearly_equal_bars_show_their_differences(embedded_target, make_app):
    app = make_app(embedded_target)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Top 5 nations by revenue in 1996")
        _, drawn, _ = canvas_of(app)
        lines = drawn.plain.splitlines()
        bars = [line.count("█") for line in lines[:5]]
        assert bars == sorted(bars, reverse=True) and bars[0] > bars[-1] + 10
        assert "revenue (millions) · axis starts at" in drawn.plain


async def test_two_segments_draw_a_group_of_bars_per_region_with_a_legend(embedded_target, make_app):
    app = make_app(embedded_target)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, TWO_SEGMENT_BARS)
        chart, drawn, width = canvas_of(app)
        assert chart.spec.type == "bar" and chart.spec.series == "market segment"
        lines = drawn.plain.splitlines()
        assert all(len(line) <= width for line in lines)
        # Five regions, two bars each: the region's name on its first bar only, the second indented.
        bar_lines = [line for line in lines[:10] if "█" in line or "▏" in line]
        assert len(bar_lines) == 10
        regions = [line.split()[0] for line in bar_lines[::2]]
        assert sorted(regions) == ["AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE"]  # MIDDLE EAST
        assert all(line.startswith(" ") for line in bar_lines[1::2])
        values = [float(line.split()[-1].removesuffix("M")) for line in bar_lines]
        sums = [a + b for a, b in zip(values[::2], values[1::2], strict=True)]
        assert sums == sorted(sums, reverse=True)  # groups by their total, as the hint's sort says
        bar_colours = {
            str(span.style).split()[-1] for span in drawn.spans if "█" in drawn.plain[span.start : span.end]
        }
        assert bar_colours == set(PALETTE[:2])
        assert lines[-1] == "■ AUTOMOBILE  ■ BUILDING"
        assert "revenue (millions)" in drawn.plain


def footer_keys(app) -> tuple[list[FooterKey], FooterKey]:
    keys = list(app.screen.query(FooterKey))
    (palette,) = [k for k in keys if k.has_class("-command-palette")]
    return [k for k in keys if k is not palette], palette


def footer_actions(app) -> set[str]:
    """The actions of the footer's keys (none while it is being recomposed)."""
    return {k.action for k in app.screen.query(FooterKey) if not k.has_class("-command-palette")}


async def test_the_footer_fits_80_columns(embedded_target, make_app):
    app = make_app(embedded_target)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "starting" not in app.sub_title)
        await pilot.pause()
        keys, palette = footer_keys(app)
        assert palette.region.right == 80
        for key in keys:
            assert key.region.right <= palette.region.x, f"{key.description} is cut off"
            assert key.region.width >= len(key.key_display) + len(key.description) + 1
        shown = {k.action for k in keys}
        assert {"help", "new_chat", "toggle_sql", "sessions", "memories"} <= shown
        assert "copy_sql" not in shown  # the least needed key is left out...
        await ask(pilot, "How many customers per nation")
        await pilot.press("ctrl+y")  # ...and still works
        assert any("Copied the SQL" in str(n.message) for n in app._notifications)

        await pilot.resize_terminal(120, 24)
        await wait_until(pilot, lambda: "copy_sql" in footer_actions(app))
        await pilot.resize_terminal(80, 24)
        await wait_until(
            pilot, lambda: {"memories"} <= footer_actions(app) - {"copy_sql"} == footer_actions(app)
        )


async def test_the_cancel_key_shows_at_80_columns_while_a_turn_runs(embedded_target, make_app):
    app = make_app(embedded_target)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "starting" not in app.sub_title)
        app.turn_running = True  # what ask() sets while a turn is in flight
        await wait_until(pilot, lambda: "cancel_turn" in footer_actions(app))
        await pilot.pause()
        keys, palette = footer_keys(app)
        assert all(key.region.right <= palette.region.x for key in keys)
        assert {"cancel_turn", "help", "new_chat"} <= {k.action for k in keys}
