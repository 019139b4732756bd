"""Identity on a workspace, against a real HTTP server speaking the workspace API (``genie-server``'s app).

Model Serving: the served ``GenieResponsesAgent`` (built from settings, as the logged model is) with
the serving environment variables set and the invoker's token where databricks-ai-bridge's
``ModelServingUserCredentials`` reads it outside the Databricks scoring server (the main thread's
``invokers_token``). Databricks Apps: ``genie-agent serve`` as a process with ``auth: apps`` and the
forwarded user token header. The Genie API server maps each token to a user with its own spaces and
row filters, so what Genie answers shows whose credentials reached it.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from genie_agent.errors import ConfigError
from genie_agent.genie_api import build_genie_api, serve_in_background
from genie_agent.identity import AuthenticationError, TokenIdentityProvider, UserConfig
from genie_agent.spaces.local.conversations import ConversationStore
from genie_agent.spaces.local.engine import LocalGenieSpace
from genie_agent.spaces.local.executor import ReadOnlyExecutor
from genie_agent.workspace_identity import AppsIdentityProvider, ModelServingIdentityProvider
from tests.servers import serve_home, start_server

ANN, BOB = "ann-obo-token-0001", "bob-obo-token-0002"
ANN_NAME, BOB_NAME = "ann@example.com", "bob@example.com"
USERS = {
    ANN_NAME: UserConfig.model_validate({"token": ANN}),
    BOB_NAME: UserConfig.model_validate(
        {"token": BOB, "spaces": ["sales"], "row_filters": {"sales": {"region": ["EUROPE"]}}}
    ),
}
SPACES = {
    "sales": {"space_id": "sales", "title": "Sales", "keywords": ["revenue", "orders"]},
    "supply": {"space_id": "supply", "title": "Supply", "keywords": ["suppliers", "supply cost"]},
}
REVENUE = "What was revenue by region in 1995?"
SUPPLIERS = "How many suppliers are there in each region?"
ME = "/api/2.0/preview/scim/v2/Me"


def digest(token: str) -> str:
    return hashlib.sha256(f"Bearer {token}".encode()).hexdigest()


class Recorder:
    """Records the path and the Authorization digest of every request the workspace receives."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            auth = dict(scope["headers"]).get(b"authorization", b"").decode()
            with self._lock:
                self.calls.append((scope["path"], hashlib.sha256(auth.encode()).hexdigest()))
        await self.app(scope, receive, send)

    def count(self, token: str, *, me: bool) -> int:
        with self._lock:
            return sum(1 for path, d in self.calls if d == digest(token) and (path == ME) == me)


@pytest.fixture(scope="module")
def workspace(tpch_catalog, tpch_db, tmp_path_factory) -> Iterator[tuple[Recorder, str]]:
    executor = ReadOnlyExecutor(tpch_db)
    conversations = ConversationStore(tmp_path_factory.mktemp("obo") / "conversations.sqlite")
    spaces = {d.id: LocalGenieSpace(d, executor, conversations) for d in tpch_catalog.spaces}
    recorder = Recorder(build_genie_api(spaces, TokenIdentityProvider(USERS)))
    with serve_in_background(recorder) as url:
        yield recorder, url


@pytest.fixture
def clean_sdk_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """databricks-sdk reads DATABRICKS_* and ~/.databrickscfg: nothing of the machine's may leak in."""
    import os

    for name in [n for n in os.environ if n.startswith(("DATABRICKS_", "IS_IN_D", "ARM_", "AZURE_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/databrickscfg")
    return monkeypatch


@pytest.fixture
def serving(workspace, clean_sdk_env) -> Iterator[Any]:
    """Model Serving's environment; ``invoke(token)`` makes the next requests come from that user."""
    _, url = workspace
    mp = clean_sdk_env
    mp.setenv("IS_IN_DB_MODEL_SERVING_ENV", "true")
    mp.setenv("DB_MODEL_SERVING_HOST_URL", url)  # the host comes from the serving environment
    main = threading.main_thread()
    had = "invokers_token" in main.__dict__
    before = main.__dict__.get("invokers_token")

    def invoke(token: str | None) -> None:
        main.__dict__.pop("invokers_token", None)
        if token is not None:
            main.__dict__["invokers_token"] = token

    invoke(None)
    yield invoke
    invoke(before if had else None)


@pytest.fixture
def served_agent(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The served model as Model Serving loads it: settings from GENIE_AGENT_* variables, ``auth`` auto."""
    from genie_agent_model.agent import GenieResponsesAgent

    monkeypatch.setenv("GENIE_AGENT_GENIE_BACKEND", "databricks")
    monkeypatch.setenv("GENIE_AGENT_GENIE_SPACES", json.dumps(SPACES))
    monkeypatch.setenv("GENIE_AGENT_GENIE_POLL_TIMEOUT_S", "20")
    monkeypatch.setenv("GENIE_AGENT_TRACING", "off")
    return GenieResponsesAgent()


def ask(agent: Any, question: str, **custom: Any) -> dict[str, Any]:
    response = agent.predict({"input": [{"role": "user", "content": question}], "custom_inputs": custom})
    return response.model_dump(exclude_none=True)


def regions(out: dict[str, Any]) -> list[str]:
    result = out["custom_outputs"]
    assert result["status"] == "ok", out
    return sorted(row[0] for row in result["results"][0]["rows"])


# --- Model Serving ---------------------------------------------------------------------------------


def test_each_request_acts_as_its_invoker_and_genie_sees_them(workspace, serving, served_agent):
    recorder, _ = workspace
    assert served_agent.agent.spaces  # built (as at load time) before any invoker exists
    serving(ANN)
    ann_genie_calls = recorder.count(ANN, me=False)
    assert regions(ask(served_agent, REVENUE)) == ["AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"]
    assert recorder.count(ANN, me=False) > ann_genie_calls  # Genie was asked with ann's own token
    serving(BOB)
    bob = ask(served_agent, REVENUE)
    assert regions(bob) == ["EUROPE"]  # bob's row filter, applied by Genie to bob's token
    denied = ask(served_agent, SUPPLIERS)
    # Genie refused bob by name (the space error names the workspace user it saw)
    assert denied["custom_outputs"]["status"] == "error" and BOB_NAME in json.dumps(denied["output"])


def test_a_client_set_user_id_is_ignored_and_threads_belong_to_the_invoker(serving, served_agent):
    serving(ANN)
    out = ask(served_agent, REVENUE, user_id=BOB_NAME)
    assert len(regions(out)) == 5  # ann's rows, not bob's filtered ones
    thread = out["custom_outputs"]["thread_id"]
    assert served_agent.agent.threads.load(thread, ANN_NAME).user == ANN_NAME
    serving(BOB)
    stolen = ask(served_agent, "And in 1996?", thread_id=thread, user_id=ANN_NAME)
    assert stolen["custom_outputs"]["status"] == "error" and "results" not in stolen["custom_outputs"]
    serving(ANN)
    follow_up = ask(served_agent, "And in 1996?", thread_id=thread)
    assert (
        follow_up["custom_outputs"]["status"] == "ok" and follow_up["custom_outputs"]["thread_id"] == thread
    )


def test_memories_are_keyed_by_the_invoker(serving, served_agent):
    serving(ANN)
    said = ask(served_agent, "Remember that our fiscal year starts in April", user_id=BOB_NAME)
    assert said["custom_outputs"]["status"] == "ok", said
    listed = ask(served_agent, "", memory_action="list", user_id=BOB_NAME)["custom_outputs"]
    assert listed["user"] == ANN_NAME and any("fiscal year" in m["text"] for m in listed["memories"])
    serving(BOB)
    theirs = ask(served_agent, "", memory_action="list", user_id=ANN_NAME)["custom_outputs"]
    assert theirs["user"] == BOB_NAME and theirs["memories"] == []


def test_the_user_name_is_asked_once_per_token(workspace, serving):
    recorder, _ = workspace
    provider = ModelServingIdentityProvider(ttl_s=0.5)
    before = recorder.count(ANN, me=True)
    serving(ANN)
    first, second = provider.identify({}), provider.identify({})
    assert first.user == second.user == ANN_NAME and first.authenticated
    assert recorder.count(ANN, me=True) == before + 1
    assert first.workspace_client is not second.workspace_client  # a client per request
    assert first.workspace_client is not None
    assert first.workspace_client.config.auth_type == "model_serving_user_credentials"
    assert ANN not in repr(first)
    time.sleep(0.6)  # past the TTL: asked again
    assert provider.identify({}).user == ANN_NAME and recorder.count(ANN, me=True) == before + 2
    small = ModelServingIdentityProvider(max_entries=1)  # bounded: bob's entry pushes ann's out
    for token in (ANN, BOB, ANN):
        serving(token)
        small.identify({})
    assert recorder.count(ANN, me=True) == before + 4


def test_worker_threads_act_as_the_invoker_when_the_token_is_tied_to_the_request_thread(
    workspace, serving, monkeypatch
):
    """If the runtime's token lookup only works on the thread that received the request, the Genie
    questions on worker threads still carry the invoker's token (not databricks-ai-bridge's
    "Bearer None")."""
    from concurrent.futures import ThreadPoolExecutor

    from databricks_ai_bridge import model_serving_obo_credential_strategy as obo

    local = threading.local()
    monkeypatch.setattr(obo, "_get_invokers_token", lambda: getattr(local, "token", None))
    local.token = BOB
    identity = ModelServingIdentityProvider().identify({})
    assert identity.user == BOB_NAME and identity.workspace_client is not None
    config = identity.workspace_client.config
    with ThreadPoolExecutor(1) as pool:
        headers = pool.submit(config.authenticate).result()
        me = pool.submit(identity.workspace_client.current_user.me).result()
    assert headers["Authorization"] == f"Bearer {BOB}"
    assert me.user_name == BOB_NAME


def test_an_invalid_or_missing_invoker_token_gets_an_auth_error_and_no_answer(
    workspace, serving, served_agent
):
    recorder, _ = workspace
    forged = "forged-token-9999"
    serving(forged)
    out = ask(served_agent, REVENUE, user_id=ANN_NAME)
    result = out["custom_outputs"]
    assert result["status"] == "error" and result["error"]["type"] == "AuthenticationError"
    assert [item["type"] for item in out["output"]] == ["message"]  # no Genie call, no rows
    assert forged not in json.dumps(out) and "results" not in result
    assert recorder.count(forged, me=False) == 0
    serving(None)  # no invoker at all: the model was logged without user scopes
    missing = ask(served_agent, REVENUE)["custom_outputs"]
    assert missing["error"]["type"] == "AuthenticationError" and "auth_policy" in missing["error"]["hint"]
    with pytest.raises(AuthenticationError):
        ModelServingIdentityProvider().identify({})


def test_outside_model_serving_the_process_identity_is_used(workspace, clean_sdk_env, served_agent):
    _, url = workspace
    clean_sdk_env.setenv("GENIE_AGENT_AUTH", "model-serving")
    clean_sdk_env.setenv("DATABRICKS_HOST", url)
    clean_sdk_env.setenv("DATABRICKS_TOKEN", BOB)  # default auth: the process runs as bob
    main = threading.main_thread()
    clean_sdk_env.setattr(main, "invokers_token", ANN, raising=False)  # not read outside serving
    out = ask(served_agent, REVENUE, user_id=ANN_NAME)
    assert regions(out) == ["EUROPE"]
    assert served_agent.agent.threads.load(out["custom_outputs"]["thread_id"], BOB_NAME).user == BOB_NAME
    listed = ask(served_agent, "", memory_action="list")["custom_outputs"]
    assert listed["user"] == BOB_NAME


# --- Databricks Apps: `genie-agent serve` with auth: apps ------------------------------------------


@pytest.fixture(scope="module")
def apps_server(workspace, tmp_path_factory, tpch_db) -> Iterator[str]:
    _, url = workspace
    config = f"auth: apps\ngenie_backend: databricks\ngenie_poll_timeout_s: 20\ngenie_spaces: {json.dumps(SPACES)}\n"
    env = {
        "DATABRICKS_HOST": url,
        "DATABRICKS_CONFIG_FILE": "/nonexistent/databrickscfg",
        # An app also has its own service principal in the environment: it must not be used for users.
        "DATABRICKS_CLIENT_ID": "app-service-principal",
        "DATABRICKS_CLIENT_SECRET": "app-secret",
    }
    home = serve_home(tmp_path_factory, tpch_db, "apps-home")
    proc, served = start_server(home, tmp_path_factory.mktemp("apps"), config, env=env)
    yield served
    proc.terminate()
    proc.wait(timeout=10)


def post(url: str, question: str, headers: dict[str, str], **custom: Any) -> httpx.Response:
    body = {"input": [{"role": "user", "content": question}], "custom_inputs": custom}
    return httpx.post(f"{url}/invocations", json=body, headers=headers, timeout=60)


def forwarded(token: str, **extra: str) -> dict[str, str]:
    return {"x-forwarded-access-token": token, **extra}


def test_apps_each_request_acts_as_its_forwarded_user(workspace, apps_server):
    recorder, _ = workspace
    before = recorder.count(BOB, me=True)
    ann = post(apps_server, REVENUE, forwarded(ANN), user_id=BOB_NAME)
    assert ann.status_code == 200 and regions(ann.json()) == [
        "AFRICA",
        "AMERICA",
        "ASIA",
        "EUROPE",
        "MIDDLE EAST",
    ]
    # bob's token with ann's name in the headers Apps also forwards: the token decides.
    spoofed = forwarded(BOB, **{"x-forwarded-email": ANN_NAME, "x-forwarded-user": ANN_NAME})
    bob = post(apps_server, REVENUE, spoofed, user_id=ANN_NAME)
    assert bob.status_code == 200 and regions(bob.json()) == ["EUROPE"]
    again = post(apps_server, REVENUE, forwarded(BOB))
    assert regions(again.json()) == ["EUROPE"]
    assert recorder.count(BOB, me=True) == before + 1  # cached per token in the server
    thread = ann.json()["custom_outputs"]["thread_id"]
    stolen = post(apps_server, "And in 1996?", forwarded(BOB), thread_id=thread)
    assert stolen.status_code == 200 and stolen.json()["custom_outputs"]["status"] == "error"


def test_apps_streams_as_the_forwarded_user(apps_server):
    body = {"input": [{"role": "user", "content": REVENUE}], "stream": True}
    events = []
    with httpx.stream("POST", f"{apps_server}/responses", json=body, headers=forwarded(BOB), timeout=60) as r:
        assert r.status_code == 200
        events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    final = json.loads(events[-2])
    assert regions(final) == ["EUROPE"]


def test_under_mlflows_agent_server_the_agent_reads_the_forwarded_token(workspace, clean_sdk_env):
    """Without `serve`'s gate (MLflow's own AgentServer app), the agent reads the headers the server
    recorded for the request."""
    from mlflow.genai.agent_server.utils import set_request_headers

    from genie_agent_model.agent import GenieResponsesAgent

    _, url = workspace
    clean_sdk_env.setenv("DATABRICKS_HOST", url)
    clean_sdk_env.setenv("GENIE_AGENT_AUTH", "apps")
    clean_sdk_env.setenv("GENIE_AGENT_GENIE_BACKEND", "databricks")
    clean_sdk_env.setenv("GENIE_AGENT_GENIE_SPACES", json.dumps(SPACES))
    clean_sdk_env.setenv("GENIE_AGENT_TRACING", "off")
    agent = GenieResponsesAgent()

    def request(headers: dict[str, str]) -> dict[str, Any]:
        set_request_headers(headers)  # what the agent server does for each request
        return ask(agent, REVENUE, user_id=ANN_NAME)

    # Each in a context of its own, as each request is: the headers do not outlive the test.
    bob = contextvars.copy_context().run(
        request, {"X-Forwarded-Access-Token": BOB, "X-Forwarded-Email": ANN_NAME}
    )
    assert regions(bob) == ["EUROPE"]
    refused = contextvars.copy_context().run(request, {"X-Forwarded-Email": ANN_NAME})["custom_outputs"]
    assert refused["error"]["type"] == "AuthenticationError"


@pytest.mark.parametrize(
    "headers",
    [
        {"x-forwarded-email": ANN_NAME, "x-forwarded-user": ANN_NAME},  # names without a token
        {"Authorization": f"Bearer {ANN}"},  # not how Apps forwards the user
        forwarded("forged-apps-token"),
    ],
    ids=["forged-email", "authorization-header", "invalid-token"],
)
def test_apps_without_a_valid_forwarded_token_is_rejected(apps_server, headers):
    r = post(apps_server, REVENUE, headers, user_id=ANN_NAME)
    assert r.status_code == 401
    error = r.json()["error"]
    assert error["type"] == "AuthenticationError" and error["hint"]
    assert "forged-apps-token" not in r.text and ANN not in r.text


def test_serve_refuses_model_serving_auth_and_apps_may_listen_openly(clean_sdk_env):
    from deploy_scripts.serve import build_app, check_bind_address
    from genie_agent.config import load_settings

    with pytest.raises(ConfigError, match="model-serving"):
        build_app(load_settings(auth="model-serving", tracing="off"), responses_agent=object())
    # serve: the workspace names every caller; genie-server's own Genie API still needs users.
    check_bind_address("0.0.0.0", load_settings(auth="apps"), workspace_auth=True)
    with pytest.raises(ConfigError):
        check_bind_address("0.0.0.0", load_settings(auth="apps"))
    with pytest.raises(ConfigError):
        check_bind_address("0.0.0.0", load_settings(auth="token"), workspace_auth=True)


def test_auth_auto_follows_where_the_process_runs(clean_sdk_env):
    from genie_agent.config import load_settings

    assert load_settings().auth_mode() == "token"
    clean_sdk_env.setenv("DATABRICKS_APP_NAME", "genie-agent")
    assert load_settings().auth_mode() == "apps"
    clean_sdk_env.setenv("IS_IN_DB_MODEL_SERVING_ENV", "true")
    assert load_settings().auth_mode() == "model-serving"
    assert load_settings(auth="token").auth_mode() == "token"


def test_apps_provider_without_a_host_says_what_to_set(clean_sdk_env):
    with pytest.raises(ConfigError, match="Cannot build") as info:
        AppsIdentityProvider().identify(forwarded(ANN))
    assert ANN not in str(info.value) and "DATABRICKS_HOST" in info.value.hint
