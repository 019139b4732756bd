"""The emulator's own counters at ``GET /_genie_server/stats``: questions admitted and refused, get-message
polls, and the seconds messages took from SUBMITTED to their end (so a benchmark can tell how often a
client polled per question)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from genie_agent.genie_api import GenieApi, build_genie_api, serve_in_background
from genie_agent.identity import TokenIdentityProvider, UserConfig
from genie_agent.spaces.local.conversations import ConversationStore
from genie_agent.spaces.local.engine import LocalGenieSpace
from genie_agent.spaces.local.executor import ReadOnlyExecutor

TOKEN = "ann-stats-token"
BASE = "/api/2.0/genie/spaces"
LATENCY_S = 0.6


@pytest.fixture
def served(tpch_catalog, tpch_db, tmp_path) -> Iterator[tuple[GenieApi, httpx.Client]]:
    executor = ReadOnlyExecutor(tpch_db)
    conversations = ConversationStore(tmp_path / "conversations.sqlite")
    spaces = {d.id: LocalGenieSpace(d, executor, conversations) for d in tpch_catalog.spaces}
    users = {"ann": UserConfig.model_validate({"token": TOKEN})}
    api = build_genie_api(
        spaces, TokenIdentityProvider(users), latency_s={"*": LATENCY_S}, questions_per_minute=2
    )
    with serve_in_background(api) as url, httpx.Client(base_url=url, timeout=30) as http:
        http.headers["Authorization"] = f"Bearer {TOKEN}"
        yield api, http
    api.close()


def _stats(http: httpx.Client) -> dict[str, float]:
    r = http.get("/_genie_server/stats", headers={"Authorization": ""})  # no token needed
    assert r.status_code == 200, r.text
    return r.json()


def test_stats_count_questions_polls_refusals_and_message_seconds(served):
    api, http = served
    assert _stats(http) == {
        "questions": 0,
        "refused": 0,
        "polls": 0,
        "messages_ended": 0,
        "message_seconds": 0.0,
        "in_flight": 0,
    }
    started = http.post(f"{BASE}/sales/start-conversation", json={"content": "Revenue by region in 1995"})
    assert started.status_code == 200, started.text
    body = started.json()
    path = f"{BASE}/sales/conversations/{body['conversation_id']}/messages/{body['message_id']}"
    assert _stats(http)["in_flight"] == 1
    polls = 0
    while True:
        polls += 1
        if http.get(path).json()["status"] == "COMPLETED":
            break
        time.sleep(0.1)
    follow = http.post(
        f"{BASE}/sales/conversations/{body['conversation_id']}/messages", json={"content": "by year"}
    )
    assert follow.status_code == 200
    refused = http.post(f"{BASE}/supply/start-conversation", json={"content": "How many suppliers?"})
    assert refused.status_code == 429  # the third question within the minute
    stats = _stats(http)
    assert stats["questions"] == 2 and stats["refused"] == 1
    assert stats["polls"] == polls >= 3
    assert stats["messages_ended"] == 1 and stats["in_flight"] == 1  # the follow-up is still answering
    assert LATENCY_S <= stats["message_seconds"] < LATENCY_S + 0.5
    assert api.stats().polls == polls
