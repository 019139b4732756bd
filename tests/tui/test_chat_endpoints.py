"""The chat against real servers: `genie-agent serve` through --url (with users and tokens), and the
Model Serving route of `genie-agent genie-server` through the --endpoint code path (databricks-sdk
unified auth from DATABRICKS_HOST / DATABRICKS_TOKEN)."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from genie_agent_tui.screens.memory import MemoryScreen
from genie_agent_tui.targets import ResponsesEndpointTarget, ServingEndpointTarget, TargetSpec
from genie_agent_tui.widgets.chart import Chart
from genie_agent_tui.widgets.notice import Notice
from genie_agent_tui.widgets.result_table import ResultTable

from .conftest import ask, serve_home, start_serve, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
SIZE = (100, 30)
ANN = "ann-chat-token-1234"


@pytest.fixture(scope="module")
def secured_url(tmp_path_factory, tpch_db):
    config = f"users:\n  ann: {{token: {ANN}}}\n"
    proc, url = start_serve(serve_home(tmp_path_factory, tpch_db), tmp_path_factory.mktemp("serve"), config)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


async def test_a_local_endpoint_answers_and_keeps_the_thread(secured_url, make_app):
    app = make_app(ResponsesEndpointTarget(TargetSpec("url", secured_url, token=ANN)))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Top 5 nations by revenue in 1996")
        turn = app.chat_log.turns[-1]
        assert turn.outputs.status == "ok" and "ETHIOPIA" in turn.answer.source
        assert "sales ✓ 5 rows" in turn.status.render_status().plain
        view = turn.result_views[0]
        assert view.query_one(ResultTable).row_count == 5 and view.query_one(Chart).spec.type == "bar"
        await ask(pilot, "Show the top 10 instead.")
        second = app.chat_log.turns[-1].outputs
        assert second.thread_id == turn.outputs.thread_id and second.results[0].row_count == 10


async def test_the_memory_panel_lists_what_a_local_endpoint_remembers(secured_url, make_app):
    app = make_app(ResponsesEndpointTarget(TargetSpec("url", secured_url, token=ANN)))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "my region is EUROPE")
        assert app.chat_log.turns[-1].outputs.raw.get("memory_status") == "saved"
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, MemoryScreen))
        screen = app.screen
        await wait_until(pilot, lambda: not screen.busy)
        await pilot.pause()
        assert not screen.query(Notice)
        (index,) = [i for i, m in enumerate(screen.entries) if "EUROPE" in m.text]
        memory = screen.entries[index]
        assert memory.kind and memory.text in str(screen.option_list.get_option_at_index(index).prompt)


@pytest.mark.parametrize(("token", "hint"), [(None, "pass --token"), ("wrong", "Check --token")])
async def test_a_local_endpoint_refusing_the_token_says_what_to_do(secured_url, make_app, token, hint):
    app = make_app(ResponsesEndpointTarget(TargetSpec("url", secured_url, token=token)))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "How many customers are there?")
        (notice,) = app.chat_log.turns[-1].query(Notice)
        assert notice.kind == "error" and "(401)" in notice.message and hint in notice.hint


_HAS_GENIE_SERVER = importlib.util.find_spec("genie_agent_cli.genie_server") is not None


@pytest.fixture(scope="module")
def genie_server_url(tmp_path_factory, tpch_db):
    from genie_agent_cli import genie_server  # noqa: F401 - the route this test needs

    # Run through the CLI group whether or not main.py registers the command yet.
    command = [
        sys.executable,
        "-c",
        "from genie_agent_cli.main import cli; from genie_agent_cli.genie_server import genie_server;"
        " cli.add_command(genie_server); cli()",
        "genie-server",
    ]
    home = serve_home(tmp_path_factory, tpch_db)
    proc, url = start_serve(home, tmp_path_factory.mktemp("genie-server"), command=command)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.skipif(
    not _HAS_GENIE_SERVER,
    reason="needs `genie-agent genie-server` with POST /serving-endpoints/{name}/invocations "
    "(deploy_scripts/genie_server.py, the Genie API issue)",
)
async def test_the_endpoint_path_through_databricks_unified_auth(genie_server_url, make_app, monkeypatch):
    monkeypatch.setenv("DATABRICKS_HOST", genie_server_url)
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-local-test")
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/.databrickscfg")
    app = make_app(ServingEndpointTarget(TargetSpec("endpoint", "genie-agent")))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Revenue by region in 1995")
        turn = app.chat_log.turns[-1]
        assert turn.outputs.status == "ok" and "ASIA" in turn.answer.source
        assert turn.result_views[0].query_one(ResultTable).row_count == 5
        await ask(pilot, "What about 1996?")
        second = app.chat_log.turns[-1].outputs
        assert second.status == "ok" and second.thread_id == turn.outputs.thread_id
    missing = make_app(ServingEndpointTarget(TargetSpec("endpoint", "no-such-endpoint")))
    async with missing.run_test(size=SIZE) as pilot:
        await ask(pilot, "Revenue by region in 1995")
        (notice,) = missing.chat_log.turns[-1].query(Notice)
        assert "(404)" in notice.message and "serving-endpoints list" in notice.hint
