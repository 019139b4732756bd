"""Genie's own chart in the chat, on the embedded agent over Databricks Genie spaces (genie-server): the
chart of a result Genie drew a chart of carries Genie's title (our hint still picks the chart type),
Ctrl+G saves Genie's PNG under the export directory and says where; a result Genie drew none of, or
a target that cannot download it, is told so."""

from __future__ import annotations

import pytest

from genie_agent.identity import Identity
from genie_agent_tui.targets import InProcessTarget
from genie_agent_tui.widgets.result_view import ResultView

from .conftest import ask, wait_until

pytestmark = pytest.mark.anyio

SIZE = (110, 40)
CHARTED = "How many suppliers does each region have?"
NOT_CHARTED = "How many suppliers are there?"


def _notes(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


@pytest.mark.slow
async def test_genies_chart_titles_the_chart_and_ctrl_g_saves_its_image(make_genie_agent, make_app, tmp_path):
    agent = make_genie_agent()
    app = make_app(InProcessTarget(lambda: agent, identity=Identity("local")))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, CHARTED, timeout=60)
        (view,) = app.chat_log.turns[-1].query(ResultView)
        genie = view.result.genie_visualization
        assert genie is not None and genie.title and genie.space_id == "supply"
        assert view.spec.type == "bar" and view.spec.title == genie.title  # our type, Genie's title
        title = view.query_one(".chart-title")
        assert str(title.render()) == genie.title
        assert "Genie's chart: Ctrl+G" in str(view.query_one(".result-header").render())

        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: app.last_image is not None, timeout=20)
        path = app.last_image
        assert path is not None and path.parent == tmp_path / "exports" and path.suffix == ".png"
        assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        assert any(str(path) in note and genie.title in note for note in _notes(app))
        view.table.focus()
        await pilot.press("g")  # on a focused table: the same
        await wait_until(pilot, lambda: app.last_image != path, timeout=20)
        assert app.last_image is not None and app.last_image.read_bytes() == path.read_bytes()

        await ask(pilot, NOT_CHARTED, timeout=60)
        (plain,) = app.chat_log.turns[-1].query(ResultView)
        assert plain.result.genie_visualization is None
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: any("Genie drew no chart of supply" in n for n in _notes(app)))


async def test_ctrl_g_says_why_when_the_target_cannot_download(embedded_target, make_app):
    """The local spaces are not Genie's: no result of theirs has a Genie chart, and the key says so."""
    app = make_app(embedded_target)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, CHARTED)
        (view,) = app.chat_log.turns[-1].query(ResultView)
        assert view.result.genie_visualization is None
        assert "Genie's chart" not in str(view.query_one(".result-header").render())
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: any("Genie drew no chart" in n for n in _notes(app)))
        assert app.last_image is None
