"""The Genie API server under load and under a workspace's question limit.

Hundreds of conversations at once end on time while the server holds no thread per message (the
spaces answer in a bounded pool, the latency elapses on the event loop's timers), and their answers
are the ones the engine gives one at a time (DuckDB shared safely by that pool). Beyond N questions
a minute the server answers HTTP 429 with Retry-After and Databricks' error body, which the real
databricks-sdk reads as ``TooManyRequests`` and waits out.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from genie_agent.genie_api import GenieApi, build_genie_api, serve_in_background
from genie_agent.identity import TokenIdentityProvider, UserConfig
from genie_agent.spaces.local.conversations import ConversationStore
from genie_agent.spaces.local.engine import LocalGenieSpace
from genie_agent.spaces.local.executor import ReadOnlyExecutor
from genie_agent.spaces.statement import render_rows
from tests.servers import CLI, serve_home, start_server

ANN = "ann-genie-load-token"
BASE = "/api/2.0/genie/spaces"
WORKERS = 2
HEADERS = {"Authorization": f"Bearer {ANN}"}


@pytest.fixture(scope="module")
def spaces(tpch_catalog, tpch_db, tmp_path_factory) -> dict[str, LocalGenieSpace]:
    executor = ReadOnlyExecutor(tpch_db)
    conversations = ConversationStore(tmp_path_factory.mktemp("genie-load") / "conversations.sqlite")
    return {d.id: LocalGenieSpace(d, executor, conversations) for d in tpch_catalog.spaces}


@pytest.fixture(scope="module")
def served(spaces) -> Iterator[tuple[GenieApi, str]]:
    users = TokenIdentityProvider({"ann": UserConfig.model_validate({"token": ANN})})
    api = build_genie_api(
        spaces, users, latency_s={"*": 1.0}, engine_workers=WORKERS, questions_per_minute=None
    )
    with serve_in_background(api) as url:
        yield api, url
    api.close()


@pytest.fixture
def api(served) -> Iterator[GenieApi]:
    yield served[0]
    served[0].faults.clear()


def start(http: httpx.Client, question: str, space: str = "customers") -> httpx.Response:
    return http.post(f"{BASE}/{space}/start-conversation", json={"content": question}, headers=HEADERS)


# --- load ---------------------------------------------------------------------------------------------


class ThreadPeak:
    """The most threads this process had alive at once while it ran (itself not counted)."""

    def __init__(self) -> None:
        self.peak: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="thread-peak", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            names = [t.name for t in threading.enumerate() if t is not self._thread]
            if len(names) > len(self.peak):
                self.peak = names
            self._stop.wait(0.005)

    def __enter__(self) -> ThreadPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def converse_all(url: str, asks: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Every conversation at once, from a client in its own process (its CPU and threads are not the
    server's); the last message of each."""
    client = Path(__file__).with_name("genie_load_client.py")
    done = subprocess.run(
        [sys.executable, str(client), url, ANN],
        input=json.dumps(asks),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    messages: list[dict[str, Any]] = json.loads(done.stdout)
    return messages


def test_300_conversations_end_on_time_without_a_thread_each(served):
    api, url = served
    # A question the engine declines at once: what is measured is the server, not the engine.
    asks = [("customers", "What is the weather like?")] * 300
    before = {t.name for t in threading.enumerate()}
    with ThreadPeak() as threads:
        messages = converse_all(url, asks)
    assert {m["status"] for m in messages} == {"COMPLETED"}
    assert all("weather" in m["attachments"][0]["text"]["content"] for m in messages)
    # As the server recorded them: each message ended its 1 s latency after it was sent...
    traces = [api.trace(m["id"]) for m in messages]
    timelines = [t.timeline for t in traces if t is not None]
    spans = [t[-1][1] - t[0][1] for t in timelines]
    # (timers may fire a few ms early; the recorded times are wall-clock, the timers monotonic)
    assert len(spans) == 300 and min(spans) > 0.98 and max(spans) < 1.5, (min(spans), max(spans))
    # ... and most were in flight at once (all 300, unless the client was slow to send them).
    sent = sorted(t[0][1] for t in timelines)
    in_flight = max(sum(1 for t in timelines if t[0][1] <= at < t[-1][1]) for at in sent)
    assert in_flight >= 200, in_flight
    # 300 messages in flight held the engine's threads (each with the timer that bounds its DuckDB
    # query) and nothing per message.
    # The engine's threads may have been started by an earlier test on the module's server.
    engine = {name for name in threads.peak if name.startswith("genie-engine")}  # other servers reuse names
    new = [name for name in threads.peak if name not in before]
    assert 1 <= len(engine) <= WORKERS and len(new) <= 2 * WORKERS, (engine, new)


def test_answers_computed_concurrently_are_the_engines_one_at_a_time(served, spaces):
    _, url = served
    asks = [(d, q) for d in ("sales", "supply", "customers") for q in spaces[d].info.sample_questions]
    messages = converse_all(url, asks * 3)
    expected = {(d, q): spaces[d].ask(q) for d, q in asks}
    with httpx.Client(base_url=url, headers=HEADERS, timeout=30) as http:
        for (space, question), message in zip(asks * 3, messages, strict=True):
            answer = expected[(space, question)]
            assert message["status"] == "COMPLETED", message
            (query,) = [a for a in message["attachments"] if "query" in a]
            assert query["query"]["query"] == answer.sql
            path = (
                f"{BASE}/{space}/conversations/{message['conversation_id']}/messages/{message['id']}"
                f"/attachments/{query['attachment_id']}/query-result"
            )
            result = http.get(path).json()["statement_response"]
            types = [c["type_name"] for c in result["manifest"]["schema"]["columns"]]
            assert result["manifest"]["total_row_count"] == answer.row_count > 0
            # As sets of rows: rows tied on the ORDER BY (three nations with 47 suppliers) come back
            # in any order, asked concurrently or not.
            assert sorted(result["result"]["data_array"], key=_row_key) == sorted(
                render_rows(answer.rows, types), key=_row_key
            ), question


def _row_key(row: list[str | None]) -> list[tuple[bool, str]]:
    return [(v is None, v or "") for v in row]


# --- a workspace's question limit -----------------------------------------------------------------------


def test_questions_beyond_the_limit_get_429_with_retry_after_and_databricks_error_body(served, api):
    _, url = served
    api.faults.limit_questions(3)  # a minute
    refused = api.faults.refused
    with httpx.Client(base_url=url, timeout=30) as http:
        first = start(http, "How many customers are in each market segment?").json()
        assert start(http, "Average account balance by region").status_code == 200
        conv = f"{BASE}/customers/conversations/{first['conversation_id']}"
        follow_up = http.post(f"{conv}/messages", json={"content": "and by nation?"}, headers=HEADERS)
        assert follow_up.status_code == 200  # the third question of the minute
        # Reading is not asking: polls, listings and results do not count.
        for _ in range(5):
            assert http.get(f"{conv}/messages/{first['message_id']}", headers=HEADERS).status_code == 200
            assert http.get(BASE, headers=HEADERS).status_code == 200

        limited = start(http, "Top 5 nations by number of customers")
        assert limited.status_code == 429
        assert 58 <= int(limited.headers["Retry-After"]) <= 60
        body = limited.json()
        assert set(body) == {"error_code", "message"} and body["error_code"] == "RESOURCE_EXHAUSTED"
        assert (
            "rate limit" in body["message"]
            and f"Retry after {limited.headers['Retry-After']} s" in body["message"]
        )
        again = http.post(f"{conv}/messages", json={"content": "and by region?"}, headers=HEADERS)
        assert again.status_code == 429 and again.json()["error_code"] == "RESOURCE_EXHAUSTED"
        assert api.faults.refused == refused + 2

        # A shorter window: the place frees when the oldest question is that old, not before.
        api.faults.limit_questions(2, window_s=0.6)
        assert start(http, "Average account balance by region").status_code == 200
        assert start(http, "Average account balance by region").status_code == 200
        refused_now = start(http, "Average account balance by region")
        assert refused_now.status_code == 429 and refused_now.headers["Retry-After"] == "1"
        time.sleep(0.65)
        assert start(http, "Average account balance by region").status_code == 200

        api.faults.clear()  # back to the limit the server was built with: none
        assert all(start(http, "Average account balance by region").status_code == 200 for _ in range(4))


def test_the_question_limit_is_set_when_the_server_is_built(spaces):
    users = TokenIdentityProvider({"ann": UserConfig.model_validate({"token": ANN})})
    api = build_genie_api(spaces, users, questions_per_minute=1)
    try:
        with serve_in_background(api) as url, httpx.Client(base_url=url, timeout=30) as http:
            assert start(http, "Average account balance by region").status_code == 200
            assert start(http, "Average account balance by region").status_code == 429
            api.faults.clear()  # clearing the scripted faults keeps the configured limit
            assert start(http, "Average account balance by region").status_code == 429
            api.faults.limit_questions(None)
            assert start(http, "Average account balance by region").status_code == 200
    finally:
        api.close()


@pytest.fixture
def sdk_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """databricks-sdk reads DATABRICKS_* and ~/.databrickscfg: nothing of the machine's may leak in."""
    import os

    for name in [n for n in os.environ if n.startswith(("DATABRICKS_", "ARM_", "AZURE_", "GOOGLE_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/databrickscfg")


def _workspace(url: str, retry_timeout_s: int) -> Any:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config

    return WorkspaceClient(config=Config(host=url, token=ANN, retry_timeout_seconds=retry_timeout_s))


def test_databricks_sdk_reads_the_429_as_too_many_requests_and_waits_retry_after(
    served, api, sdk_env, caplog
):
    from databricks.sdk.errors import ResourceExhausted, TooManyRequests

    _, url = served
    api.faults.limit_questions(1, window_s=1.0)
    refused = api.faults.refused
    # SDK retries bounded at 1 s: the 429 says wait 1 s, so the SDK waits, then gives up with it.
    w = _workspace(url, retry_timeout_s=1)
    w.genie.start_conversation("customers", "Average account balance by region")
    with pytest.raises(TimeoutError) as timed_out:
        w.genie.start_conversation("customers", "Average account balance by region")
    error = timed_out.value.__cause__
    assert isinstance(error, TooManyRequests) and isinstance(error, ResourceExhausted)
    assert error.error_code == "RESOURCE_EXHAUSTED" and error.retry_after_secs == 1
    assert "rate limit" in str(error)
    assert api.faults.refused == refused + 1

    # With room to retry, the SDK waits the Retry-After and the question goes through.
    api.faults.limit_questions(1, window_s=1.0)
    with httpx.Client(base_url=url, timeout=30) as http:
        assert start(http, "Average account balance by region").status_code == 200
    w = _workspace(url, retry_timeout_s=30)
    with caplog.at_level(logging.DEBUG, logger="databricks.sdk"):
        sent = time.monotonic()
        message = w.genie.start_conversation("customers", "Average account balance by region")
        assert message.conversation_id and time.monotonic() - sent >= 0.9
    assert api.faults.refused == refused + 2
    assert any("throttled by platform" in r.getMessage() for r in caplog.records)


def test_genie_server_takes_the_question_limit_on_its_command_line(tmp_path_factory, tpch_db):
    home = serve_home(tmp_path_factory, tpch_db, "genie-server-limit-home")
    command = [CLI, "genie-server", "--questions-per-minute", "2"]
    proc, url = start_server(home, home, 'tracing: "off"\n', command=command, timeout_s=90)
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            assert [start(http, "Average account balance by region").status_code for _ in range(3)] == [
                200,
                200,
                429,
            ]
            limited = start(http, "Average account balance by region")
            assert limited.json()["error_code"] == "RESOURCE_EXHAUSTED" and limited.headers["Retry-After"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert "question limit:   2 a minute" in (proc.stdout.read() if proc.stdout else "")
