"""Backpressure, not collapse: `serve` on the Databricks backend (against `genie-agent genie-server`
answering after 2 s) admits `max_inflight_turns` turns; the rest are refused at once with 503 and
`Retry-After`, and the admitted turns are answered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.servers import CLI, serve_home, start_server

TOKEN = "ann-backpressure-token"
QUESTION = "How many suppliers are in ASIA?"


@pytest.fixture(scope="module")
def genie(tmp_path_factory, tpch_db) -> Iterator[str]:
    home = serve_home(tmp_path_factory, tpch_db, "backpressure-genie")
    config = f"users:\n  ann: {{token: {TOKEN}}}\n"
    proc, url = start_server(
        home, home, config, command=[CLI, "genie-server", "--latency", "*=2"], timeout_s=90
    )
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def served(tmp_path_factory, tpch_db, genie) -> Iterator[str]:
    home = serve_home(tmp_path_factory, tpch_db, "backpressure-serve")
    config = (
        "genie_backend: databricks\n"
        "genie_spaces:\n"
        "  supply: {space_id: supply, title: Supply, keywords: [suppliers]}\n"
        "max_inflight_turns: 2\n"
        "memory_backend: 'off'\n"
    )
    env = {"DATABRICKS_HOST": genie, "DATABRICKS_TOKEN": TOKEN, "DATABRICKS_CONFIG_FILE": "/nonexistent"}
    proc, url = start_server(home, home, config, env=env, timeout_s=90)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def test_beyond_max_inflight_turns_requests_get_503_at_once_and_the_rest_are_answered(served):
    async def burst():
        async with httpx.AsyncClient(base_url=served, timeout=60) as client:

            async def one(i: int):
                await asyncio.sleep(0 if i < 2 else 0.5)  # two admitted first; four arrive while they run
                started = time.monotonic()
                r = await client.post("/invocations", json={"input": [{"role": "user", "content": QUESTION}]})
                return r, time.monotonic() - started

            return await asyncio.gather(*(one(i) for i in range(6)))

    replies = asyncio.run(burst())
    admitted = [(r, s) for r, s in replies if r.status_code == 200]
    refused = [(r, s) for r, s in replies if r.status_code == 503]
    assert len(admitted) == 2 and len(refused) == 4, [r.status_code for r, _ in replies]
    for r, seconds in refused:
        assert r.headers["retry-after"] == "2" and seconds < 1.0  # at once, not after the turns ahead
        assert "max_inflight_turns" in r.json()["error"]["message"]
    for r, seconds in admitted:
        outputs = r.json()["custom_outputs"]
        assert outputs["status"] == "ok" and outputs["source"] == "genie" and seconds >= 1.5
    # Once they are done, the server admits again.
    again = httpx.post(
        f"{served}/invocations", json={"input": [{"role": "user", "content": QUESTION}]}, timeout=60
    )
    assert again.status_code == 200
