"""The memory panel (F2): what the agent remembers about the user, listed and forgotten through the
target's ``stream()`` — on the embedded agent here, on `genie-agent serve` in test_chat_endpoints."""

from __future__ import annotations

import httpx
import pytest

from genie_agent.identity import Identity
from genie_agent_tui.memory import memory_request
from genie_agent_tui.screens.memory import ConfirmScreen, MemoryScreen
from genie_agent_tui.targets import (
    ChatTarget,
    InProcessTarget,
    ResponsesEndpointTarget,
    TargetFeatures,
    TargetSpec,
)
from genie_agent_tui.widgets.notice import Notice

from .conftest import ask, wait_until

pytestmark = pytest.mark.anyio
SIZE = (100, 30)


async def open_panel(pilot) -> MemoryScreen:
    """F2, then wait until the panel has listed the memories (or shown why it could not)."""
    await pilot.press("f2")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, MemoryScreen))
    screen = pilot.app.screen
    await wait_until(pilot, lambda: not screen.busy)
    await pilot.pause()
    return screen


async def settle(pilot, screen: MemoryScreen) -> None:
    await wait_until(pilot, lambda: not screen.busy)
    await pilot.pause()


async def test_a_stated_preference_is_listed_and_forgotten(make_test_agent, make_app):
    agent = make_test_agent()
    app = make_app(InProcessTarget(lambda: agent, identity=Identity("local")))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "please show tables, not charts")
        assert app.chat_log.turns[-1].outputs.raw.get("memory_status") == "saved"
        await ask(pilot, "my region is EUROPE")
        screen = await open_panel(pilot)
        assert not screen.query(Notice)
        ids = [m.id for m in screen.entries]
        assert "pref-chart" in ids and len(ids) == 2
        chart = screen.entries[ids.index("pref-chart")]
        label = str(screen.option_list.get_option_at_index(ids.index("pref-chart")).prompt)
        assert chart.kind in label and chart.text in label and "just now" in label

        screen.option_list.highlighted = ids.index("pref-chart")
        await pilot.press("d")
        await settle(pilot, screen)
        assert [m.id for m in screen.entries] == [i for i in ids if i != "pref-chart"]
        assert "pref-chart" not in {m.id for m in agent.memories.list("local")}  # gone in the SDK too

        await pilot.press("a")  # forget all asks first; n keeps them
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is screen)
        assert len(screen.entries) == 1 and len(agent.memories.list("local")) == 1
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: app.screen is screen)
        await settle(pilot, screen)
        assert screen.entries == [] and agent.memories.list("local") == []
        assert "nothing" in str(screen.option_list.get_option_at_index(0).prompt)

        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, MemoryScreen))


async def test_the_palette_offers_memories(embedded_target, make_app):
    app = make_app(embedded_target)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"memories")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, MemoryScreen))
        screen = app.screen
        await settle(pilot, screen)
        assert screen.entries == [] and not screen.query(Notice)


def _answering(status: int, body: dict) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    return httpx.MockTransport(handler)


def _refusing() -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    ("transport", "said"),
    [
        (_answering(400, {"error": {"message": "The request has no user message."}}), "answered 400"),
        (_refusing(), "Cannot reach"),
    ],
    ids=["no-memory-actions", "unreachable"],
)
async def test_a_target_that_cannot_answer_leaves_a_notice(make_app, transport, said):
    target = ResponsesEndpointTarget(TargetSpec("url", "http://127.0.0.1:9"), transport=transport)
    app = make_app(target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_panel(pilot)
        (notice,) = screen.query(Notice)
        assert notice.kind == "error" and said in notice.message and notice.hint
        await pilot.press("r")  # refreshing again is fine too
        await settle(pilot, screen)
        assert len(screen.query(Notice)) == 1 and screen.entries == []


class _TurnOnly(ChatTarget):
    """An agent without memory actions that runs a turn for any request."""

    features = TargetFeatures(memory=True)

    async def stream(self, body):
        assert body == memory_request("list")
        yield {"type": "response.output_item.done", "item": {}, "custom_outputs": {"status": "ok"}}


class _NoMemory(ChatTarget):
    async def stream(self, body):  # pragma: no cover - never asked
        yield {}


async def test_an_agent_without_memory_actions_or_the_feature(make_app):
    app = make_app(_TurnOnly(TargetSpec("url", "http://old")))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_panel(pilot)
        (notice,) = screen.query(Notice)
        assert "does not offer memory actions" in notice.message
    app = make_app(_NoMemory(TargetSpec("url", "http://none")))
    async with app.run_test(size=SIZE) as pilot:
        assert "memories" not in {b.binding.action for b in app.active_bindings.values()}
        assert "Memories" not in {c.title for c in app.get_system_commands(app.screen)}
        await pilot.press("f2")
        await pilot.pause()
        assert not isinstance(app.screen, MemoryScreen)
