"""Many ``aask`` calls on one event loop: every question waits on the loop, none holds a thread.

The Genie API emulator runs as its own process (``genie-agent genie-server``), so every thread
counted here is the client's.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from genie_agent.spaces.base import SpaceAnswer
from genie_agent.spaces.databricks import DatabricksGenieSpace, GenieSpaceConfig
from genie_agent.spaces.genie_connections import aclose_connections, loop_clients
from tests.servers import CLI, serve_home, start_server

TOKEN = "ann-aask-concurrency-token"
LATENCY_S = 1.0
QUESTIONS = {
    "sales": ["Revenue by region in 1995", "Top 5 nations by revenue in 1995"],
    "supply": ["How many suppliers are in ASIA?"],
    "customers": ["How many customers are there per region?"],
}
IN_FLIGHT = 200


@pytest.fixture(scope="module")
def genie_server(tmp_path_factory, tpch_db) -> Iterator[str]:
    home = serve_home(tmp_path_factory, tpch_db, "aask-genie-server")
    config = f'users:\n  ann: {{token: {TOKEN}}}\ntracing: "off"\n'
    command = [CLI, "genie-server", "--latency", f"*={LATENCY_S:g}"]
    proc, url = start_server(home, home, config, command=command, timeout_s=90)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def spaces(genie_server, monkeypatch) -> dict[str, DatabricksGenieSpace]:
    import os

    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config

    for name in [n for n in os.environ if n.startswith("DATABRICKS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/databrickscfg")
    client = WorkspaceClient(config=Config(host=genie_server, token=TOKEN))
    return {
        d: DatabricksGenieSpace(d, GenieSpaceConfig(space_id=d), lambda _: client, timeout_s=60)
        for d in QUESTIONS
    }


def test_200_questions_in_flight_on_one_loop_hold_no_thread(spaces):
    asks = [(d, q) for d, qs in QUESTIONS.items() for q in qs]
    asks = (asks * (IN_FLIGHT // len(asks) + 1))[:IN_FLIGHT]

    async def main() -> tuple[list[SpaceAnswer], int, int, float]:
        loop_clients()  # made before counting: a pool per loop, not per question
        before = threading.active_count()
        peak = before
        stop = asyncio.Event()

        async def watch() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, threading.active_count())
                await asyncio.sleep(0.01)

        watcher = asyncio.create_task(watch())
        started = time.monotonic()
        try:
            answers = await asyncio.gather(*(spaces[d].aask(q) for d, q in asks))
        finally:
            stop.set()
            await watcher
            await aclose_connections()
        return answers, before, peak, time.monotonic() - started

    answers, before, peak, wall = asyncio.run(main())
    assert peak == before, f"{peak - before} threads started while {IN_FLIGHT} questions were in flight"
    assert all(a.status == "completed" and a.rows for a in answers)
    first: dict[str, Any] = {}
    for (_, question), answer in zip(asks, answers, strict=True):
        assert answer.rows == first.setdefault(question, answer.rows)  # every asking the same rows
    assert len({a.conversation_id for a in answers}) == IN_FLIGHT
    # One at a time they would take IN_FLIGHT x LATENCY_S; together, a few latencies.
    assert wall < IN_FLIGHT * LATENCY_S / 10


def test_connections_are_shared_per_event_loop():
    async def twice() -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        try:
            return loop_clients(), loop_clients()
        finally:
            await aclose_connections()

    first, again = asyncio.run(twice())
    other, _ = asyncio.run(twice())
    assert first == again and not set(map(id, first)) & set(map(id, other))
    assert all(client.is_closed for client in first + other)
