"""Fixtures of the chat tests: the app over a real target, and a helper that asks and waits."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from textual.pilot import Pilot

from genie_agent.identity import Identity
from genie_agent_tui.app import GenieChatApp
from genie_agent_tui.targets import ChatTarget, InProcessTarget

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


# --- a `genie-agent serve` process -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(
    home: Path, cwd: Path, config: str | None = None, *, command: list[str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """Start ``genie-agent serve`` (or ``command`` + ``--port``) and wait for its /health."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("GENIE_AGENT_", "MLFLOW_", "DATABRICKS_"))
    }
    env["GENIE_AGENT_HOME"] = str(home)
    env["GENIE_AGENT_TRACING"] = "off"
    if config is not None:
        path = cwd / "config.yaml"
        path.write_text(config)
        env["GENIE_AGENT_CONFIG"] = str(path)
    port = free_port()
    proc = subprocess.Popen(
        [*(command or [CLI, "serve"]), "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("serve did not start within 60 s")


def serve_home(tmp_path_factory: pytest.TempPathFactory, tpch_db: Path) -> Path:
    home = tmp_path_factory.mktemp("tui-serve-home")
    (home / "data").mkdir()
    (home / "data" / "tpch-sf0.1.duckdb").symlink_to(tpch_db)
    return home


__all__ = ["ask", "asyncio", "fixed_clock", "serve_home", "start_serve", "submit", "wait_until"]


@pytest.fixture
def anyio_backend() -> str:
    """Pilot tests run on asyncio (anyio's pytest plugin drives the ``async def`` tests)."""
    return "asyncio"
