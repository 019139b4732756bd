"""Fixtures of the chat tests: the app over a real target, and a helper that asks and waits."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from genie_agent.identity import Identity
from genie_agent_tui.app import GenieChatApp
from genie_agent_tui.targets import ChatTarget, InProcessTarget
from tests.servers import serve_home, start_server

CLI = str(Path(sys.executable).parent / "genie-agent")


def fixed_clock() -> float:
    """The status line's clock in snapshot tests: every turn takes 0.0 s."""
    return 0.0


@pytest.fixture
def embedded_target(make_test_agent) -> ChatTarget:
    """The embedded default: the SDK agent in-process over the session's TPC-H file."""
    agent = make_test_agent()
    return InProcessTarget(lambda: agent, identity=Identity("local"))


@pytest.fixture
def make_app(_isolated_genie_agent_home: Path, tmp_path: Path) -> Callable[..., GenieChatApp]:
    def build(target: ChatTarget, **kwargs: object) -> GenieChatApp:
        return GenieChatApp(
            target,
            home=_isolated_genie_agent_home,
            export_dir=tmp_path / "exports",
            **kwargs,  # type: ignore[arg-type]
        )

    return build


async def wait_until(pilot: Pilot, condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.02)


async def submit(pilot: Pilot, text: str) -> None:
    """Put ``text`` in the question box and press Enter (typing it key by key is slow in Pilot)."""
    from genie_agent_tui.widgets.prompt_input import PromptInput

    prompt = pilot.app.query_one(PromptInput)
    prompt.focus()
    prompt.value = text
    await pilot.press("enter")


async def ask(pilot: Pilot, question: str, *, timeout: float = 30.0) -> None:
    """Type a question, press Enter, and wait until its turn has finished (answered, failed or cancelled)."""
    app = pilot.app
    assert isinstance(app, GenieChatApp)
    before = len(app.chat_log.turns)
    await submit(pilot, question)
    await wait_until(pilot, lambda: len(app.chat_log.turns) > before, timeout)
    turn = app.chat_log.turns[-1]
    await wait_until(pilot, lambda: turn.finished and not app.turn_running, timeout)
    await pilot.pause()


# --- a `genie-agent serve` process: tests/servers.py -------------------------------------------------

start_serve = start_server


__all__ = ["ask", "asyncio", "fixed_clock", "serve_home", "start_serve", "submit", "wait_until"]


@pytest.fixture
def anyio_backend() -> str:
    """Pilot tests run on asyncio (anyio's pytest plugin drives the ``async def`` tests)."""
    return "asyncio"


# --- the embedded agent over Databricks Genie spaces: the Genie emulator, one space slower -------------

GENIE_TOKEN = "chat-genie-sp-token"
SLOW_SPACE_S = 3.0
"""How long the emulator's ``sales`` space takes to answer; the others take 0.1 s."""
GENIE_SPACES = {
    "sales": {"space_id": "sales", "title": "Sales", "keywords": ["revenue", "orders"]},
    "supply": {"space_id": "supply", "title": "Supply", "keywords": ["suppliers", "supply cost"]},
}


@pytest.fixture(scope="session")
def genie_emulator(tpch_catalog, tpch_db, tmp_path_factory):
    """genie-server's Genie API (in this process, so a test can look inside), ``sales`` answering
    after :data:`SLOW_SPACE_S`, the other spaces after 0.1 s."""
    from genie_agent.genie_api import build_genie_api, serve_in_background
    from genie_agent.identity import TokenIdentityProvider, UserConfig
    from genie_agent.spaces.local.conversations import ConversationStore
    from genie_agent.spaces.local.engine import LocalGenieSpace
    from genie_agent.spaces.local.executor import ReadOnlyExecutor

    executor = ReadOnlyExecutor(tpch_db)
    conversations = ConversationStore(tmp_path_factory.mktemp("chat-genie") / "conversations.sqlite")
    spaces = {d.id: LocalGenieSpace(d, executor, conversations) for d in tpch_catalog.spaces}
    users = {"agent-sp": UserConfig.model_validate({"token": GENIE_TOKEN})}
    api = build_genie_api(spaces, TokenIdentityProvider(users), latency_s={"sales": SLOW_SPACE_S, "*": 0.1})
    with serve_in_background(api) as url:
        yield api, url


@pytest.fixture
def make_genie_agent(genie_emulator, make_test_agent, monkeypatch):
    """The embedded agent with ``genie_backend: databricks``, asking the emulator's spaces through
    databricks-sdk (nothing of the machine's DATABRICKS_* configuration leaks in)."""
    import os

    _, url = genie_emulator
    for name in [n for n in os.environ if n.startswith(("DATABRICKS_", "ARM_", "AZURE_", "GOOGLE_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/databrickscfg")
    monkeypatch.setenv("DATABRICKS_HOST", url)
    monkeypatch.setenv("DATABRICKS_TOKEN", GENIE_TOKEN)

    def build(**overrides: object):
        return make_test_agent(genie_backend="databricks", genie_spaces=GENIE_SPACES, **overrides)

    return build
