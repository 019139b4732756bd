"""The Genie API server as raw HTTP clients see it, and ``genie-agent genie-server`` as a process.

In-process (uvicorn in a thread): the status progression a plain httpx poller sees, the JSON of
messages, attachments and statement responses, auth, identities, faults. As a subprocess (the CLI):
``/serving-endpoints/<name>/invocations`` with a token, plain and streamed, through
``mlflow.deployments``, and the agent configured with ``genie_backend: databricks`` against it.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from genie_agent.genie_api import GenieApi, build_genie_api, serve_in_background
from genie_agent.identity import TokenIdentityProvider, UserConfig
from genie_agent.spaces.local.conversations import ConversationStore
from genie_agent.spaces.local.engine import LocalGenieSpace
from genie_agent.spaces.local.executor import ReadOnlyExecutor
from tests.servers import CLI, serve_home, start_server

ANN, BOB = "ann-genie-server-token", "bob-genie-server-token"
USERS_YAML = f"""
users:
  ann: {{token: {ANN}}}
  bob: {{token: {BOB}, spaces: [sales], row_filters: {{sales: {{region: [EUROPE]}}}}}}
"""
BASE = "/api/2.0/genie/spaces"


def auth(token: str = ANN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def served(tpch_catalog, tpch_db, tmp_path_factory) -> Iterator[tuple[GenieApi, str]]:
    executor = ReadOnlyExecutor(tpch_db)
    conversations = ConversationStore(tmp_path_factory.mktemp("genie-server") / "conversations.sqlite")
    spaces = {d.id: LocalGenieSpace(d, executor, conversations) for d in tpch_catalog.spaces}
    users = {
        "ann": UserConfig.model_validate({"token": ANN}),
        "bob": UserConfig.model_validate(
            {"token": BOB, "spaces": ["sales"], "row_filters": {"sales": {"region": ["EUROPE"]}}}
        ),
    }
    api = build_genie_api(spaces, TokenIdentityProvider(users), latency_s={"sales": 0.8})
    with serve_in_background(api) as url:
        yield api, url


@pytest.fixture
def http(served) -> Iterator[httpx.Client]:
    api, url = served
    with httpx.Client(base_url=url, timeout=30) as client:
        yield client
    api.faults.clear()


def start(http: httpx.Client, question: str, space: str = "sales", token: str = ANN) -> dict[str, Any]:
    r = http.post(f"{BASE}/{space}/start-conversation", json={"content": question}, headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()


def poll(http: httpx.Client, space: str, conv: str, msg: str, token: str = ANN) -> tuple[list[str], dict]:
    """Poll every 20 ms until a terminal status; the distinct statuses seen, in order, and the last message."""
    seen: list[str] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        body = http.get(f"{BASE}/{space}/conversations/{conv}/messages/{msg}", headers=auth(token)).json()
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
        if body["status"] in ("COMPLETED", "FAILED", "CANCELLED", "QUERY_RESULT_EXPIRED"):
            return seen, body
        time.sleep(0.02)
    raise AssertionError(f"no terminal status; saw {seen}")


def ask(http: httpx.Client, question: str, space: str = "sales", token: str = ANN) -> tuple[list[str], dict]:
    started = start(http, question, space, token)
    return poll(http, space, started["conversation_id"], started["message_id"], token)


def query_result(
    http: httpx.Client, message: dict, token: str = ANN, verb: str = "query-result"
) -> httpx.Response:
    (attachment,) = [a for a in message["attachments"] if "query" in a]
    path = (
        f"{BASE}/{message['space_id']}/conversations/{message['conversation_id']}/messages/"
        f"{message['message_id']}/attachments/{attachment['attachment_id']}/{verb}"
    )
    if verb == "query-result":
        return http.get(path, headers=auth(token))
    return http.post(path, json={}, headers=auth(token))


# --- the Genie API over HTTP --------------------------------------------------------------------------


def test_a_raw_poller_sees_the_status_progression_and_genie_json(served, http):
    api, _ = served
    started = start(http, "Revenue by region in 1995")
    assert started["message"]["status"] == "SUBMITTED" and "attachments" not in started["message"]
    assert started["conversation"]["conversation_id"] == started["conversation_id"]
    seen, message = poll(http, "sales", started["conversation_id"], started["message_id"])
    assert seen == ["SUBMITTED", "ASKING_AI", "EXECUTING_QUERY", "COMPLETED"]
    query, text = message["attachments"][0]["query"], message["attachments"][1]["text"]
    assert query["title"] and query["description"] and query["query"].startswith("SELECT")
    assert query["statement_id"] and query["query_result_metadata"] == {"row_count": 5, "is_truncated": False}
    assert text["content"] == query["description"]
    assert message["query_result"]["statement_id"] == query["statement_id"]
    trace = api.trace(message["message_id"])
    assert trace is not None and [s for s, _ in trace.timeline] == seen and trace.polls >= 4
    assert 0.7 <= trace.timeline[-1][1] - trace.timeline[0][1] <= 2.0  # the 0.8 s latency of sales

    statement = query_result(http, message).json()["statement_response"]
    assert statement["status"]["state"] == "SUCCEEDED" and statement["statement_id"] == query["statement_id"]
    columns = statement["manifest"]["schema"]["columns"]
    assert [(c["name"], c["type_name"], c["type_text"]) for c in columns] == [
        ("region", "STRING", "STRING"),
        ("revenue", "DECIMAL", "DECIMAL(38,4)"),
    ]
    assert columns[1]["type_precision"] == 38 and columns[1]["type_scale"] == 4
    assert statement["manifest"]["total_row_count"] == 5 and statement["manifest"]["format"] == "JSON_ARRAY"
    assert all(isinstance(v, str) for row in statement["result"]["data_array"] for v in row)


def test_query_results_are_readable_while_executing(served, http):
    started = start(http, "Revenue by region in 1995")
    deadline = time.monotonic() + 10
    path = f"{BASE}/sales/conversations/{started['conversation_id']}/messages/{started['message_id']}"
    while (message := http.get(path, headers=auth()).json())["status"] != "EXECUTING_QUERY":
        assert time.monotonic() < deadline and message["status"] in ("SUBMITTED", "ASKING_AI")
        time.sleep(0.02)
    query = message["attachments"][0]["query"]
    assert query["query"] and "statement_id" not in query and "query_result_metadata" not in query
    assert query_result(http, message).json()["statement_response"]["status"]["state"] == "RUNNING"


def test_follow_ups_no_answers_and_conversation_listing(http):
    started = start(http, "How many customers are there per region?", space="customers")
    _, first = poll(http, "customers", started["conversation_id"], started["message_id"])
    conv = f"{BASE}/customers/conversations/{started['conversation_id']}"
    follow = http.post(f"{conv}/messages", json={"content": "What is the mood of the team?"}, headers=auth())
    assert follow.status_code == 200 and follow.json()["status"] == "SUBMITTED"
    _, declined = poll(http, "customers", started["conversation_id"], follow.json()["message_id"])
    kinds = [next(iter(set(a) - {"attachment_id"})) for a in declined["attachments"]]
    assert declined["status"] == "COMPLETED" and kinds == ["text", "suggested_questions"]
    assert declined["attachments"][1]["suggested_questions"]["questions"]
    listed = http.get(f"{conv}/messages", headers=auth()).json()["messages"]
    assert [m["message_id"] for m in listed] == [first["message_id"], follow.json()["message_id"]]


def test_failed_cancelled_and_pending_warehouse_as_genie_reports_them(served, http):
    api, _ = served
    api.faults.fail_next("customers", "[UNRESOLVED_COLUMN] c_mood", "SQL_EXECUTION_EXCEPTION")
    seen, failed = ask(http, "How many customers are there?", space="customers")
    assert seen[-1] == "FAILED" and "attachments" not in failed
    assert failed["error"] == {"error": "[UNRESOLVED_COLUMN] c_mood", "type": "SQL_EXECUTION_EXCEPTION"}
    api.faults.cancel_next("customers")
    _, cancelled = ask(http, "How many customers are there?", space="customers")
    trace = api.trace(cancelled["message_id"])
    assert trace is not None and [s for s, _ in trace.timeline] == ["SUBMITTED", "ASKING_AI", "CANCELLED"]
    api.faults.warehouse_starting_next("customers", 0.3)
    seen, _ = ask(http, "How many customers are there?", space="customers")
    assert "PENDING_WAREHOUSE" in seen and seen[-1] == "COMPLETED"


def test_an_expired_result_is_closed_until_re_executed(served, http):
    api, _ = served
    api.faults.expire_next("customers")
    seen, message = ask(http, "How many customers are there per region?", space="customers")
    assert seen[-1] == "QUERY_RESULT_EXPIRED"
    closed = query_result(http, message).json()["statement_response"]
    assert closed["status"]["state"] == "CLOSED" and "result" not in closed
    again = query_result(http, message, verb="execute-query").json()["statement_response"]
    assert again["status"]["state"] == "SUCCEEDED" and again["statement_id"] != closed["statement_id"]
    assert len(again["result"]["data_array"]) == 5
    path = f"{BASE}/customers/conversations/{message['conversation_id']}/messages/{message['message_id']}"
    assert http.get(path, headers=auth()).json()["status"] == "COMPLETED"


def test_tokens_decide_spaces_rows_and_conversations(http):
    assert http.get(BASE).status_code == 401
    bad = http.get(BASE, headers=auth("nope"))
    assert bad.status_code == 401 and bad.json()["error_code"] == "UNAUTHENTICATED"
    assert [s["space_id"] for s in http.get(BASE, headers=auth(BOB)).json()["spaces"]] == ["sales"]
    assert len(http.get(BASE, headers=auth(ANN)).json()["spaces"]) == 3
    denied = http.post(f"{BASE}/supply/start-conversation", json={"content": "x y"}, headers=auth(BOB))
    assert denied.status_code == 403 and denied.json()["error_code"] == "PERMISSION_DENIED"
    _, bobs = ask(http, "Revenue by region in 1995", token=BOB)
    rows = query_result(http, bobs, token=BOB).json()["statement_response"]["result"]["data_array"]
    assert [r[0] for r in rows] == ["EUROPE"]
    # ann cannot read bob's message, nor continue his conversation
    path = f"{BASE}/sales/conversations/{bobs['conversation_id']}"
    assert http.get(f"{path}/messages/{bobs['message_id']}", headers=auth(ANN)).status_code == 404
    assert http.post(f"{path}/messages", json={"content": "and 1996?"}, headers=auth(ANN)).status_code == 404
    assert http.get("/api/2.0/preview/scim/v2/Me", headers=auth(BOB)).json()["userName"] == "bob"


def test_bad_requests_and_rate_limits_answer_like_databricks(served, http):
    api, _ = served
    empty = http.post(f"{BASE}/sales/start-conversation", json={"content": "  "}, headers=auth())
    assert empty.status_code == 400 and empty.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    missing = http.get(f"{BASE}/nope", headers=auth())
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert http.get("/api/2.0/nothing", headers=auth()).status_code == 404
    api.faults.rate_limit(1, retry_after_s=3)
    limited = http.post(f"{BASE}/sales/start-conversation", json={"content": "Revenue"}, headers=auth())
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
    assert limited.json()["error_code"] == "RESOURCE_EXHAUSTED"
    assert (
        http.post(f"{BASE}/sales/start-conversation", json={"content": "Revenue"}, headers=auth()).status_code
        == 200
    )
    page = http.get(BASE, params={"page_size": 2}, headers=auth()).json()
    rest = http.get(BASE, params={"page_token": page["next_page_token"]}, headers=auth()).json()
    assert len(page["spaces"]) == 2 and len(rest["spaces"]) == 1 and "next_page_token" not in rest
    assert http.get(BASE, params={"page_size": "x"}, headers=auth()).status_code == 400
    meta = http.get("/.well-known/databricks-config").json()
    assert meta["workspace_id"] and meta["oidc_endpoint"].endswith("/oidc")


def test_the_sdks_own_waiter_and_space_listing_work_against_it(served):
    from databricks.sdk import WorkspaceClient

    _, url = served
    w = WorkspaceClient(host=url, token=ANN)
    assert {s.space_id for s in w.genie.list_spaces().spaces or []} == {"sales", "supply", "customers"}
    assert w.genie.get_space("supply").title == "Supply"
    message = w.genie.start_conversation_and_wait("customers", "How many customers are there per region?")
    assert message.status is not None and message.status.value == "COMPLETED"
    follow = w.genie.create_message_and_wait("customers", message.conversation_id, "Only in ASIA")
    (query,) = [a for a in follow.attachments or [] if a.query is not None]
    assert "ASIA" in (query.query.query or "")
    statement = w.genie.get_message_attachment_query_result(
        "customers", message.conversation_id, follow.message_id, query.attachment_id or ""
    ).statement_response
    assert statement.result.data_array[0][0] == "ASIA"


# --- genie-agent genie-server as a process ------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_server(tmp_path_factory, tpch_db) -> Iterator[str]:
    home = serve_home(tmp_path_factory, tpch_db, "genie-server-home")
    command = [CLI, "genie-server", "--latency", "sales=0.3", "--latency", "*=0.1"]
    proc, url = start_server(home, home, USERS_YAML + 'tracing: "off"\n', command=command, timeout_s=90)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def test_serving_endpoint_invocations_need_a_token_and_answer_like_invocations(cli_server):
    body = {"input": [{"role": "user", "content": "How many customers are there per region?"}]}
    endpoint = f"{cli_server}/serving-endpoints/genie-agent/invocations"
    assert httpx.post(endpoint, json=body, timeout=60).status_code == 401
    r = httpx.post(endpoint, json=body, headers=auth(), timeout=60)
    assert r.status_code == 200 and r.json()["custom_outputs"]["status"] == "ok"
    assert r.json()["output"][-1]["type"] == "message"
    other = httpx.post(
        f"{cli_server}/serving-endpoints/other/invocations", json=body, headers=auth(), timeout=30
    )
    assert other.status_code == 404 and other.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    bad = httpx.post(endpoint, content=b"{not json", headers=auth(), timeout=30)
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]["message"]


def test_serving_endpoint_streams_sse_with_bobs_rows_only(cli_server):
    body = {"input": [{"role": "user", "content": "Revenue by region in 1995"}], "stream": True}
    events = []
    with httpx.stream(
        "POST",
        f"{cli_server}/serving-endpoints/genie-agent/invocations",
        json=body,
        headers=auth(BOB),
        timeout=60,
    ) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    final = json.loads(events[-2])
    assert final["type"] == "response.output_item.done"
    result = final["custom_outputs"]
    assert result["status"] == "ok" and [row[0] for row in result["results"][0]["rows"]] == ["EUROPE"]


def test_mlflow_deployments_client_calls_the_endpoint(cli_server, monkeypatch):
    from mlflow.deployments import get_deploy_client

    monkeypatch.setenv("DATABRICKS_HOST", cli_server)
    monkeypatch.setenv("DATABRICKS_TOKEN", ANN)
    client = get_deploy_client("databricks")
    inputs = {"input": [{"role": "user", "content": "How many suppliers are in ASIA?"}]}
    response = client.predict(endpoint="genie-agent", inputs=inputs)
    assert response["custom_outputs"]["status"] == "ok" and response["custom_outputs"]["domain"] == "supply"
    chunks = list(client.predict_stream(endpoint="genie-agent", inputs=inputs))
    assert chunks and chunks[-1]["type"] == "response.output_item.done"


def test_the_agent_on_the_databricks_backend_runs_end_to_end(cli_server, make_test_agent, monkeypatch):
    for name in [n for n in os.environ if n.startswith("DATABRICKS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/databrickscfg")
    monkeypatch.setenv("DATABRICKS_HOST", cli_server)
    monkeypatch.setenv("DATABRICKS_TOKEN", ANN)
    spaces = {
        "sales": {"space_id": "sales", "title": "Sales", "keywords": ["revenue", "orders"]},
        "supply": {"space_id": "supply", "title": "Supply", "keywords": ["suppliers", "supply cost"]},
    }
    agent = make_test_agent(genie_backend="databricks", genie_spaces=spaces, genie_poll_timeout_s=20)
    result = agent.ask("What was revenue by region in 1995, and how many suppliers does each region have?")
    assert result.source == "genie" and result.status == "ok", result.text
    assert {r.domain for r in result.results} == {"sales", "supply"}
    assert all(r.row_count == 5 for r in result.results)
    local = make_test_agent().ask("What was revenue by region in 1995?")
    sales = next(r for r in result.results if r.domain == "sales")
    assert sorted(map(tuple, sales.rows)) == sorted(map(tuple, local.results[0].rows))


def test_bad_latency_and_open_bind_without_users_exit_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENIE_AGENT_", "MLFLOW_"))}
    env["GENIE_AGENT_HOME"] = str(tmp_path)
    bad = subprocess.run([CLI, "genie-server", "--latency", "sales"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "SPACE=SECONDS" in bad.stderr
    open_bind = subprocess.run(
        [CLI, "genie-server", "--host", "0.0.0.0"], env=env, capture_output=True, text=True
    )
    assert open_bind.returncode == 2 and "without users" in open_bind.stderr
