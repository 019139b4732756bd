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
