"""The SDK client as scripts use it: one script against every target — the agent in-process over the
session's TPC-H, a real `genie-agent serve`, and a serving endpoint through databricks-sdk's unified auth
(the Model Serving route of a real `genie-agent genie-server`). Asking, streaming, follow-ups, async,
memories, ratings and typed errors; nothing of ours is replaced."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import mlflow
import pytest

import genie_agent
from genie_agent import contract
from genie_agent.client import (
    Client,
    Done,
    HttpClient,
    LocalClient,
    RouteChosen,
    ServingClient,
    SpaceReplied,
    TextDelta,
    VisualizationReady,
    connect,
)
from genie_agent.errors import PermissionDeniedError, UserInputError
from genie_agent.feedback import FEEDBACK_NAME, TurnNotTracedError, UnknownTurnError, user_ratings
from genie_agent.genie_api import GenieApi, build_genie_api, serve_in_background
from genie_agent.identity import TokenIdentityProvider, UserConfig
from genie_agent.spaces.local.conversations import ConversationStore
from genie_agent.spaces.local.engine import LocalGenieSpace
from genie_agent.spaces.local.executor import ReadOnlyExecutor
from tests.servers import CLI, free_port, serve_home, start_server

pytestmark = pytest.mark.slow

TOKENS = {"ann": "ann-client-token-1234", "bob": "bob-client-token-5678"}
USERS = "users:\n" + "".join(f"  {user}: {{token: {token}}}\n" for user, token in TOKENS.items())
TARGETS = ("local", "http", "endpoint")
ENDPOINT = "genie-agent"
GENIE_SPACES = {
    "sales": {"space_id": "sales", "title": "Sales", "keywords": ["revenue", "orders"]},
    "supply": {"space_id": "supply", "title": "Supply", "keywords": ["suppliers", "supply cost"]},
}


def _server(tmp_path_factory, tpch_db, name: str, **kwargs: Any) -> Iterator[str]:
    proc, url = start_server(
        serve_home(tmp_path_factory, tpch_db, f"{name}-home"), tmp_path_factory.mktemp(name), USERS, **kwargs
    )
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def serve_url(tmp_path_factory, tpch_db) -> Iterator[str]:
    """`genie-agent serve` with two users."""
    yield from _server(tmp_path_factory, tpch_db, "serve")


@pytest.fixture(scope="module")
def workspace_url(tmp_path_factory, tpch_db) -> Iterator[str]:
    """`genie-agent genie-server`: the agent as the serving endpoint `genie-agent`, the same two users."""
    yield from _server(tmp_path_factory, tpch_db, "genie-server", command=[CLI, "genie-server"])


@pytest.fixture
def make_client(request, make_test_agent, monkeypatch) -> Iterator[Callable[..., Client]]:
    """A client of ``target`` asking as ``user``: the servers start only for the targets a test uses."""
    made: list[Client] = []

    def build(target: str, user: str = "ann") -> Client:
        client: Client
        if target == "local":
            client = LocalClient(make_test_agent(), user=user)
        elif target == "http":
            monkeypatch.setenv("GENIE_AGENT_TOKEN", TOKENS[user])
            client = connect(request.getfixturevalue("serve_url"))  # the token from the environment
        else:
            monkeypatch.setenv("DATABRICKS_HOST", request.getfixturevalue("workspace_url"))
            monkeypatch.setenv("DATABRICKS_TOKEN", TOKENS[user])
            monkeypatch.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/.databrickscfg")
            client = connect(f"endpoint:{ENDPOINT}")
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


def _normalized(events: list[Any]) -> list[Any]:
    """The events with what differs between two runs of one turn left out (ids, timings)."""
    out: list[Any] = []
    for event in events:
        if isinstance(event, SpaceReplied):
            out.append(("replied", event.domain, event.status, event.sql, event.columns, event.rows))
        elif isinstance(event, Done):
            result = event.result.model_dump(mode="json")
            for key in ("turn_id", "thread_id", "genie_conversation_ids", "timings_ms"):
                result.pop(key)
            for table in result["results"]:
                table.pop("conversation_id"), table.pop("message_id")
            out.append(("done", result))
        else:
            out.append(event)
    return out


@pytest.mark.parametrize("target", TARGETS)
def test_ask_stream_and_a_followup_on_the_carried_thread(make_client, target):
    client = make_client(target)
    events = list(client.stream("How many orders were placed in 1996?"))
    route, *middle, hint, done = events
    assert isinstance(route, RouteChosen) and route.route.domains == ("sales",)
    assert isinstance(hint, VisualizationReady) and hint.hint["type"] == "kpi"
    assert isinstance(done, Done) and isinstance(done.result, contract.TurnResult)
    (replied,) = [e for e in middle if isinstance(e, SpaceReplied)]
    assert (replied.domain, replied.status, replied.row_count) == ("sales", "completed", 1)
    first = done.result
    assert first.status == "ok" and "22,715" in first.text
    assert first.text == "".join(e.text for e in middle if isinstance(e, TextDelta))
    assert client.thread.thread_id == first.thread_id and first.genie_conversation_ids

    second = client.ask("what about 1995?")  # the thread goes with it: a follow-up
    assert second.route is not None and second.route.kind == "follow_up"
    assert "22,909" in second.text and second.thread_id == first.thread_id

    client.new_thread()  # the same words on a fresh thread are not a follow-up
    assert client.ask("what about 1995?").route.kind != "follow_up"
    again = client.ask("Show it by order priority", thread_id=first.thread_id)  # an explicit thread
    assert again.thread_id == first.thread_id and again.route.kind == "follow_up"


def test_every_target_streams_the_same_events(make_client):
    question = "Top 5 nations by revenue in 1996"
    runs = {target: _normalized(list(make_client(target).stream(question))) for target in TARGETS}
    assert runs["http"] == runs["local"] and runs["endpoint"] == runs["local"]
    assert [type(e).__name__ for e in runs["local"] if not isinstance(e, tuple)][:2] == [
        "RouteChosen",
        "SpaceQueryStarted",
    ]


@pytest.mark.parametrize("target", TARGETS)
def test_the_async_variants_answer_the_same(make_client, target):
    client = make_client(target)

    async def script() -> tuple[contract.TurnResult, list[Any]]:
        async with client:
            first = await client.aask("How many orders were placed in 1996?")
            events = [e async for e in client.astream("what about 1995?")]
            return first, events

    first, events = asyncio.run(script())
    done = events[-1]
    assert first.status == "ok" and "22,715" in first.text
    assert (
        isinstance(done, Done) and done.result.thread_id == first.thread_id and "22,909" in done.result.text
    )


@pytest.mark.parametrize("target", TARGETS)
def test_memories_are_listed_and_forgotten(make_client, target):
    client = make_client(target, user="bob")
    assert client.ask("my region is EUROPE").memory_status == "saved"
    (region,) = [m for m in client.memories() if "EUROPE" in m.text]
    assert region.kind == "preference" and region.id
    assert client.forget(region.id) is True
    assert region.id not in {m.id for m in client.memories()}
    assert client.forget(region.id) is False  # nothing left of that id
    client.forget_all()
    assert client.memories() == ()
    assert asyncio.run(client.amemories()) == ()


@pytest.mark.parametrize("target", TARGETS)
def test_the_agents_own_error_is_the_same_class_on_every_target(make_client, target):
    with pytest.raises(UserInputError, match="The question is empty") as caught:
        make_client(target).ask("   ")
    assert caught.value.hint


@pytest.fixture(scope="module")
def genie_workspace(tpch_catalog, tpch_db, tmp_path_factory) -> Iterator[tuple[GenieApi, str]]:
    """The Genie API emulator in this process (its faults scripted here), over the TPC-H spaces."""
    executor = ReadOnlyExecutor(tpch_db)
    conversations = ConversationStore(tmp_path_factory.mktemp("genie-api") / "conversations.sqlite")
    spaces = {d.id: LocalGenieSpace(d, executor, conversations) for d in tpch_catalog.spaces}
    users = {"ann": UserConfig.model_validate({"token": TOKENS["ann"]})}
    api = build_genie_api(spaces, TokenIdentityProvider(users))
    with serve_in_background(api) as url:
        yield api, url


@pytest.mark.parametrize("target", ["local", "http"])
def test_no_space_answering_is_a_space_failed_error(
    request, make_test_agent, genie_workspace, tmp_path_factory, tpch_db, monkeypatch, target
):
    api, url = genie_workspace
    workspace = {
        "DATABRICKS_HOST": url,
        "DATABRICKS_TOKEN": TOKENS["ann"],
        "DATABRICKS_CONFIG_FILE": "/nonexistent/.databrickscfg",
    }
    for name, value in workspace.items():
        monkeypatch.setenv(name, value)
    client: Client
    if target == "local":
        client = LocalClient(make_test_agent(genie_backend="databricks", genie_spaces=GENIE_SPACES))
    else:
        config = USERS + "genie_backend: databricks\ngenie_spaces: " + json.dumps(GENIE_SPACES) + "\n"
        home = serve_home(tmp_path_factory, tpch_db, "genie-backend-home")
        proc, served = start_server(home, tmp_path_factory.mktemp("genie-backend"), config, env=workspace)
        request.addfinalizer(lambda: (proc.terminate(), proc.wait(timeout=10)))
        client = HttpClient(served, token=TOKENS["ann"])
    api.faults.fail_next("sales", "[UNRESOLVED_COLUMN] A column cannot be resolved.", times=2)
    with pytest.raises(genie_agent.SpaceFailedError) as caught:
        client.ask("How many orders were placed in 1996?")
    failed = caught.value
    assert failed.domains == ("sales",) and "UNRESOLVED_COLUMN" in failed.message and failed.hint
    assert failed.result is not None and failed.result.status == "error" and "Sales" in failed.result.text
    events = list(client.stream("How many orders were placed in 1996?"))  # streamed, it is the events
    assert any(isinstance(e, genie_agent.SpaceFailed) and e.domain == "sales" for e in events)
    assert isinstance(events[-1], Done) and events[-1].result.status == "error"
    assert client.ask("How many orders were placed in 1996?").status == "ok"  # the space is back


def test_an_address_nobody_answers_is_unreachable_with_a_hint():
    client = HttpClient(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(genie_agent.TargetUnreachableError) as caught:
        client.ask("How many orders were placed in 1996?")
    assert "Cannot reach" in caught.value.message and "genie-agent serve" in caught.value.hint
    assert isinstance(caught.value.__cause__, httpx.ConnectError)  # the cause, never what is raised
    with pytest.raises(genie_agent.TargetUnreachableError):
        asyncio.run(client.aask("How many orders were placed in 1996?"))
    with pytest.raises(UserInputError, match="not a URL"):
        HttpClient("127.0.0.1:8000")
    with pytest.raises(UserInputError, match="not a target"):
        connect("ftp://127.0.0.1")


@pytest.mark.parametrize(("token", "hint"), [(None, "pass token="), ("wrong", "Check the token")])
def test_a_refused_token_is_an_auth_error_with_a_hint(serve_url, token, hint):
    with pytest.raises(genie_agent.TargetAuthError) as caught:
        HttpClient(serve_url, token=token).ask("How many orders were placed in 1996?")
    assert caught.value.status == 401 and "(401)" in caught.value.message and hint in caught.value.hint
    with pytest.raises(genie_agent.TargetAuthError):
        HttpClient(serve_url, token=token).memories()


def test_an_endpoint_refusing_the_credentials_or_unknown_says_what_to_do(workspace_url, monkeypatch):
    monkeypatch.setenv("DATABRICKS_HOST", workspace_url)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/.databrickscfg")
    monkeypatch.setenv("DATABRICKS_TOKEN", "wrong")
    with pytest.raises(genie_agent.TargetAuthError) as refused:
        ServingClient(ENDPOINT).ask("How many orders were placed in 1996?")
    assert refused.value.status == 401 and "databricks auth login" in refused.value.hint
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKENS["ann"])
    with pytest.raises(genie_agent.TargetRequestError) as missing:
        connect(serving_endpoint="no-such-endpoint").ask("How many orders were placed in 1996?")
    assert missing.value.status == 404 and "serving-endpoints list" in missing.value.hint
    for name in ("DATABRICKS_HOST", "DATABRICKS_TOKEN"):
        monkeypatch.delenv(name)
    with pytest.raises(genie_agent.TargetAuthError, match="No Databricks credentials") as none:
        ServingClient(ENDPOINT).connect()
    assert "databricks auth login" in none.value.hint


def test_connect_reads_the_target_from_the_environment(monkeypatch):
    monkeypatch.setenv("GENIE_AGENT_TARGET", "http://127.0.0.1:8000/")
    monkeypatch.setenv("GENIE_AGENT_TOKEN", "t")
    client = connect()
    assert isinstance(client, HttpClient) and client.url == "http://127.0.0.1:8000" and client.token == "t"
    monkeypatch.setenv("GENIE_AGENT_TARGET", "endpoint:agents_main")
    assert isinstance(connect(), ServingClient) and connect().label == "endpoint agents_main"
    monkeypatch.delenv("GENIE_AGENT_TARGET")
    assert isinstance(connect(), LocalClient) and connect(user="ann").label == "embedded as ann"


def test_a_remote_client_imports_neither_the_agent_nor_mlflow_nor_databricks():
    code = (
        "import sys, genie_agent; c = genie_agent.connect('http://127.0.0.1:9'); "
        "print([m for m in ('httpx', 'mlflow', 'databricks.sdk', 'duckdb', 'genie_agent.agent') "
        "if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['httpx']"


# --- feedback: a rating of the caller's own traced turn ---------------------------------------------------


@pytest.fixture(scope="module")
def traced_store(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('client-feedback') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def traced_serve_url(tmp_path_factory, tpch_db, traced_store) -> Iterator[str]:
    """`genie-agent serve` with the two users, tracing on into ``traced_store``."""
    env = {
        "GENIE_AGENT_MLFLOW_TRACKING_URI": traced_store,
        "GENIE_AGENT_MLFLOW_EXPERIMENT": "client-feedback",
    }
    # start_server turns tracing off for the servers it starts; this one is about traces.
    command = ["env", "GENIE_AGENT_TRACING=on", CLI, "serve"]
    yield from _server(tmp_path_factory, tpch_db, "traced-serve", command=command, env=env)


@pytest.fixture
def traced_client(request, make_test_agent, traced_store) -> Iterator[Callable[..., Client]]:
    """A client of a target whose turns are traced into ``traced_store``, asking as ``user``."""
    made: list[Client] = []
    agent: list[Any] = []

    def build(target: str, user: str = "ann") -> Client:
        client: Client
        if target == "local":
            if not agent:  # one agent, so two users' clients share its store
                agent.append(
                    make_test_agent(
                        tracing="on", mlflow_tracking_uri=traced_store, mlflow_experiment="client-feedback"
                    )
                )
            client = LocalClient(agent[0], user=user)
        else:
            client = HttpClient(request.getfixturevalue("traced_serve_url"), token=TOKENS[user])
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()
    mlflow.set_tracking_uri(None)


@pytest.mark.parametrize("target", ["local", "http"])
def test_a_user_rates_their_turn_and_rating_again_replaces_it(traced_client, traced_store, target):
    client = traced_client(target)
    turn = client.ask("How many orders were placed in 1996?")
    assert turn.turn_id.startswith("tr-")

    up = client.feedback(turn.turn_id, "up")
    assert (up.turn_id, up.rating, up.replaced, up.user) == (turn.turn_id, "up", False, "ann")
    assert up.text.startswith("Thanks") and up.genie == {}  # local spaces: no Genie message to rate
    down = asyncio.run(client.afeedback(turn.turn_id, "down", "Wrong year: I meant 1995"))
    assert down.replaced is True and "replacing your earlier rating" in down.text

    mlflow.set_tracking_uri(traced_store)
    trace = mlflow.get_trace(turn.turn_id)
    assert [(r.user, r.positive, r.comment) for r in user_ratings(trace)] == [
        ("ann", False, "Wrong year: I meant 1995")
    ]
    (current,) = [a for a in trace.info.assessments if a.name == FEEDBACK_NAME and a.valid]
    assert current.assessment_id == down.assessment_id

    with pytest.raises(PermissionDeniedError, match="another user"):
        traced_client(target, user="bob").feedback(turn.turn_id, "up")
    with pytest.raises(UnknownTurnError) as unknown:
        client.feedback("tr-" + "0" * 32, "up")
    assert unknown.value.hint
    with pytest.raises(UserInputError, match="'up' or 'down'"):
        client.feedback(turn.turn_id, "meh")  # type: ignore[arg-type]


@pytest.mark.parametrize("target", ["local", "http"])
def test_rating_a_turn_answered_without_tracing_says_how_to_turn_it_on(make_client, target):
    client = make_client(target)  # tracing off, as `ask` and the module's servers have it
    turn = client.ask("How many suppliers are in ASIA?")
    with pytest.raises(TurnNotTracedError) as caught:
        client.feedback(turn.turn_id, "down")
    assert "GENIE_AGENT_TRACING=on" in caught.value.hint
