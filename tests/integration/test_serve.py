"""`genie-agent serve` as clients use it: the official openai SDK and raw HTTP with SSE."""

from __future__ import annotations

import json
import os
import subprocess

import httpx
import pytest

from tests.servers import CLI, free_port, serve_home, start_server

ANN, BOB = "ann-token-1234", "bob-token-5678"


@pytest.fixture(scope="module")
def server(tmp_path_factory, tpch_db):
    proc, url = start_server(serve_home(tmp_path_factory, tpch_db), tmp_path_factory.mktemp("serve"))
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def secured(tmp_path_factory, tpch_db):
    config = f"""
users:
  ann: {{token: {ANN}}}
  bob: {{token: {BOB}, spaces: [sales], row_filters: {{sales: {{region: [EUROPE]}}}}}}
"""
    proc, url = start_server(
        serve_home(tmp_path_factory, tpch_db), tmp_path_factory.mktemp("secured"), config
    )
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def _sse(url: str, body: dict, token: str | None = None) -> list[dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    events = []
    with httpx.stream(
        "POST", f"{url}/responses", json={**body, "stream": True}, headers=headers, timeout=60
    ) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                events.append(line[6:])
    assert events[-1] == "[DONE]"
    return [json.loads(e) for e in events[:-1]]


def test_openai_sdk_streams_tool_calls_and_text(server):
    from openai import OpenAI

    client = OpenAI(base_url=server, api_key="unused")
    stream = client.responses.create(
        model="genie-agent", input="How many customers are there per region?", stream=True
    )
    seen = [(e.type, getattr(getattr(e, "item", None), "type", None)) for e in stream]
    assert ("response.output_item.done", "function_call") in seen
    assert ("response.output_item.done", "function_call_output") in seen
    assert sum(t == "response.output_text.delta" for t, _ in seen) >= 1
    assert seen[-1] == ("response.output_item.done", "message")


def test_openai_sdk_without_streaming(server):
    from openai import OpenAI

    response = OpenAI(base_url=server, api_key="unused").responses.create(
        model="genie-agent", input=[{"role": "user", "content": "How many suppliers are in ASIA?"}]
    )
    assert "Supply" in response.output_text


def test_raw_sse_carries_the_turn_result_and_a_followup_uses_it(server):
    events = _sse(server, {"input": [{"role": "user", "content": "Top 5 nations by revenue in 1996"}]})
    final = events[-1]
    assert final["type"] == "response.output_item.done" and final["item"]["type"] == "message"
    result = final["custom_outputs"]
    assert result["status"] == "ok" and result["visualization_hint"]["type"] == "bar"
    followup = _sse(
        server,
        {
            "input": [{"role": "user", "content": "Show the top 10 instead."}],
            "custom_inputs": {
                "thread_id": result["thread_id"],
                "genie_conversation_ids": result["genie_conversation_ids"],
            },
        },
    )
    assert followup[-1]["custom_outputs"]["results"][0]["row_count"] == 10


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (json.dumps({"input": [{"role": "assistant", "content": "hi"}]}).encode(), 400, "no user message"),
        (
            json.dumps(
                {"input": [{"role": "user", "content": "x"}], "custom_inputs": {"thread_id": 7}}
            ).encode(),
            400,
            "thread_id must be a string",
        ),
        (
            json.dumps({"input": [{"role": "user", "content": "x"}], "stream": "yes"}).encode(),
            400,
            "`stream`",
        ),
        (
            json.dumps({"input": [{"role": "user", "content": "x" * 100_000}]}).encode(),
            400,
            "characters long",
        ),
        (json.dumps({"input": [{"role": "user", "content": "x" * 1_100_000}]}).encode(), 413, "larger than"),
        (json.dumps({"input": [{"role": "user", "content": "   "}]}).encode(), 400, "empty"),
    ],
    ids=["bad-json", "not-object", "no-user", "wrong-type", "stream-type", "100kb", "too-large", "blank"],
)
def test_bad_requests_get_a_clear_4xx_and_the_server_keeps_serving(server, content, status, message):
    r = httpx.post(
        f"{server}/responses", content=content, headers={"content-type": "application/json"}, timeout=30
    )
    assert r.status_code == status
    assert message in r.json()["error"]["message"] and r.json()["error"]["hint"]
    assert httpx.get(f"{server}/health", timeout=5).status_code == 200


def test_invocations_route_answers_too(server):
    r = httpx.post(
        f"{server}/invocations",
        json={"input": [{"role": "user", "content": "Drop the orders table"}]},
        timeout=30,
    )
    assert r.status_code == 200 and r.json()["custom_outputs"]["status"] == "refused"


def test_tokens_are_required_when_users_are_configured(secured):
    body = {"input": [{"role": "user", "content": "How many customers are there?"}]}
    assert httpx.post(f"{secured}/responses", json=body, timeout=30).status_code == 401
    bad = httpx.post(f"{secured}/responses", json=body, headers={"Authorization": "Bearer nope"}, timeout=30)
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
    ok = httpx.post(f"{secured}/responses", json=body, headers={"Authorization": f"Bearer {ANN}"}, timeout=30)
    assert ok.status_code == 200 and ok.json()["custom_outputs"]["status"] == "ok"


def test_identity_comes_from_the_token_not_the_body(secured):
    ann = _sse(secured, {"input": [{"role": "user", "content": "Revenue by region in 1995"}]}, ANN)[-1]
    thread = ann["custom_outputs"]["thread_id"]
    # bob claims to be ann in the body and reuses her thread: the token decides, and the thread is not his
    bob = _sse(
        secured,
        {
            "input": [{"role": "user", "content": "What about 1996?"}],
            "custom_inputs": {"thread_id": thread, "user_id": "ann"},
        },
        BOB,
    )[-1]
    assert bob["custom_outputs"]["status"] == "error" and "not available" in bob["item"]["content"][0]["text"]
    # bob's own question sees only his rows and only his spaces
    mine = _sse(
        secured,
        {
            "input": [{"role": "user", "content": "Revenue by region in 1995"}],
            "custom_inputs": {"user_id": "ann"},
        },
        BOB,
    )[-1]["custom_outputs"]
    assert [row[0] for row in mine["results"][0]["rows"]] == ["EUROPE"]
    denied = _sse(secured, {"input": [{"role": "user", "content": "How many suppliers are in ASIA?"}]}, BOB)[
        -1
    ]
    assert denied["custom_outputs"]["status"] == "refused"


def test_serving_beyond_loopback_needs_users(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENIE_AGENT_")}
    env["GENIE_AGENT_HOME"] = str(tmp_path)
    proc = subprocess.run(
        [CLI, "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "without users" in proc.stderr


def test_an_experiment_the_tracking_server_refuses_is_a_clear_startup_error(tmp_path):
    """A deleted experiment (on a workspace: a name that is not an absolute path) stops serve with
    what to set, not a traceback."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.delete_experiment(mlflow.create_experiment("gone"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENIE_AGENT_")}
    env |= {"GENIE_AGENT_HOME": str(tmp_path), "MLFLOW_TRACKING_URI": uri}
    env |= {"GENIE_AGENT_MLFLOW_TRACKING_URI": uri, "GENIE_AGENT_MLFLOW_EXPERIMENT": "gone"}
    proc = subprocess.run(
        [CLI, "serve", "--port", str(free_port())], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "refused the experiment 'gone'" in proc.stderr and "GENIE_AGENT_MLFLOW_EXPERIMENT" in proc.stderr


def test_what_start_up_built_is_left_out_of_the_collectors_full_passes():
    """serve settles its heap before it listens: a full collection (which holds every turn in flight)
    walks what turns made since, not the imports and the agent."""
    import gc

    import genie_agent_model.agent  # noqa: F401  (what serve imports: MLflow, the agent)
    from genie_agent_cli.serve import settle_heap

    assert len(gc.get_objects()) > 100_000
    try:
        settle_heap()
        assert len(gc.get_objects()) < 5_000
    finally:
        gc.unfreeze()
