"""Lakebase memory through the real databricks-langchain classes, against a local "workspace".

``genie-server`` answers the workspace calls ``CheckpointSaver`` and ``DatabricksStore`` make (instance
lookup, current user, credential generation) and points them at the shared PostgreSQL on
127.0.0.1:5432, which they reach over TLS in the database ``databricks_postgres`` as the app's role
``genie-agent-app`` (``.ci/run`` turns on TLS and creates both). Each test has a schema of its own.
Without that setup the tests skip, or fail when ``GENIE_TEST_REQUIRE_POSTGRES=1``.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from genie_agent.memory import MemoryBackend
from tests.contracts import test_memory_conformance as conformance
from tests.integration.test_cli import run
from tests.memory_support import POSTGRES_URL, postgres_or_skip
from tests.servers import CLI, start_server

pytestmark = pytest.mark.usefixtures("tpch_db")

APP_ROLE = "genie-agent-app"  # the Postgres role of the app's workspace identity (.ci/run creates it)
APP_TOKEN = "lakebase-app-token"
INSTANCE = "genie-memory"
DATABASE = "databricks_postgres"


def _admin_url() -> str:
    # Named, so a test's PGAPPNAME (which names the pool's connections) never applies to it.
    parts = urlsplit(POSTGRES_URL)
    return parts._replace(path=f"/{DATABASE}", query="application_name=genie-test-admin").geturl()


def _pg_host() -> str:
    parts = urlsplit(POSTGRES_URL)
    if (parts.port or 5432) != 5432:
        pytest.skip("Lakebase clients always connect on port 5432; GENIE_TEST_POSTGRES_URL uses another")
    return parts.hostname or "127.0.0.1"


@pytest.fixture(scope="module")
def lakebase_postgres() -> str:
    """The PostgreSQL host Lakebase clients are sent to, once TLS, the database and the role are there."""
    import psycopg

    postgres_or_skip()
    host = _pg_host()
    problems = []
    try:
        with psycopg.connect(_admin_url(), connect_timeout=3) as conn:
            if conn.execute("SHOW ssl").fetchone() != ("on",):
                problems.append("TLS is off (ssl = off)")
            role = conn.execute(
                "SELECT has_database_privilege(%s, current_database(), 'CONNECT, CREATE') FROM pg_roles "
                "WHERE rolname = %s AND rolcanlogin",
                (APP_ROLE, APP_ROLE),
            ).fetchone()
            if role != (True,):
                problems.append(f"no login role {APP_ROLE!r} with CONNECT and CREATE on {DATABASE}")
    except psycopg.OperationalError as exc:
        problems.append(f"cannot connect to {DATABASE}: {str(exc).strip()}")
    if problems:
        message = f"PostgreSQL is not set up for Lakebase tests ({'; '.join(problems)}); `.ci/run` sets it up"
        if os.environ.get("GENIE_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return host


def _drop(schema: str) -> None:
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def schema(lakebase_postgres: str) -> Iterator[str]:
    name = f"lakebase_test_{uuid.uuid4().hex[:12]}"
    yield name
    _drop(name)


@pytest.fixture(scope="module")
def workspace(lakebase_postgres: str) -> Iterator[tuple[str, Any]]:
    """genie-server's API in this process (its faults are scripted here): base URL and the app."""
    from genie_agent.genie_api import build_genie_api, serve_in_background
    from genie_agent.identity import TokenIdentityProvider, UserConfig

    users = {APP_ROLE: UserConfig(token=APP_TOKEN), "someone": UserConfig(token="someone-token")}
    api = build_genie_api({}, TokenIdentityProvider(users), lakebase_instances={INSTANCE: lakebase_postgres})
    with serve_in_background(api) as url:
        yield url, api


@pytest.fixture
def databases(workspace, monkeypatch: pytest.MonkeyPatch):
    """The workspace's databases, with this process's Databricks auth pointed at it (the app's token)."""
    url, api = workspace
    monkeypatch.setenv("DATABRICKS_HOST", url)
    monkeypatch.setenv("DATABRICKS_TOKEN", APP_TOKEN)
    for name in [
        k
        for k in os.environ
        if k.startswith("DATABRICKS_") and k not in ("DATABRICKS_HOST", "DATABRICKS_TOKEN")
    ]:
        monkeypatch.delenv(name)
    api.databases.faults.clear()
    yield api.databases
    api.databases.faults.clear()


def _lakebase(schema: str, **extra: Any) -> dict[str, Any]:
    return {
        "memory_backend": "lakebase",
        "lakebase_instance": INSTANCE,
        "memory_postgres_schema": schema,
        **extra,
    }


def _release(agent: Any) -> None:
    """Let go of the agent's share of the process's Lakebase pool."""
    agent.threads.pool.close()


def _app_backends(appname: str) -> int:
    """Terminate the pool's server connections (as after a Lakebase restart); how many there were."""
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (appname,)
        ).fetchall()
    return len(rows)


# --- the workspace's database API, as databricks-sdk reads it ------------------------------------------


def test_the_database_api_answers_databricks_sdk(databases, workspace, lakebase_postgres):
    from datetime import datetime

    from databricks.sdk import WorkspaceClient
    from databricks.sdk.errors import NotFound, PermissionDenied, Unauthenticated
    from databricks.sdk.service.database import DatabaseInstanceState

    from genie_agent.genie_api import parse_instance

    w = WorkspaceClient(host=workspace[0], token=APP_TOKEN)
    instance = w.database.get_database_instance(INSTANCE)
    assert (instance.name, instance.read_write_dns) == (INSTANCE, lakebase_postgres)
    assert instance.state is DatabaseInstanceState.AVAILABLE
    assert [i.name for i in w.database.list_database_instances()] == [INSTANCE]
    cred = w.database.generate_database_credential(request_id="r1", instance_names=[INSTANCE])
    assert cred.token and cred.token == databases.issued[-1].token
    assert datetime.fromisoformat(str(cred.expiration_time)) > datetime.now().astimezone()
    assert w.current_user.me().user_name == APP_ROLE  # the Postgres user the pool connects as
    with pytest.raises(NotFound, match="does not exist"):
        w.database.get_database_instance("nope")
    with pytest.raises(NotFound):
        w.database.generate_database_credential(request_id="r2", instance_names=["nope"])
    databases.faults.fail_credentials()
    with pytest.raises(PermissionDenied):
        w.database.generate_database_credential(request_id="r3", instance_names=[INSTANCE])
    with pytest.raises(Unauthenticated):
        WorkspaceClient(host=workspace[0], token="wrong").database.get_database_instance(INSTANCE)

    assert parse_instance("memory=127.0.0.1:5432") == ("memory", "127.0.0.1")
    with pytest.raises(ValueError, match="port 5432"):
        parse_instance("memory=127.0.0.1:6543")


# --- the real classes, the real workspace calls, TLS ---------------------------------------------------


def test_the_real_classes_connect_over_tls_as_the_app_identity(make_test_agent, databases, schema):
    from databricks_langchain import CheckpointSaver, DatabricksStore

    first = make_test_agent(**_lakebase(schema))
    stated = first.ask("my region is EUROPE", user="ann")
    answer = first.ask("How many customers are there?", user="ann")
    assert (stated.memory_status, answer.memory_status) == ("saved", "saved")
    assert "'EUROPE'" in answer.results[0].sql

    lakebase = first.threads.pool
    assert isinstance(lakebase._saver, CheckpointSaver) and isinstance(lakebase._store, DatabricksStore)
    assert lakebase._store._lakebase is lakebase._saver._lakebase  # one pool for threads and memories
    assert lakebase._store.index_config is None  # no embeddings: PostgreSQL 15 here has no pgvector
    with lakebase.connection() as conn:
        row = conn.execute(
            "SELECT current_user AS who, current_database() AS db, s.ssl, (current_schemas(false))[1] AS sch "
            "FROM pg_stat_ssl AS s WHERE s.pid = pg_backend_pid()"
        ).fetchone()
    assert row == {"who": APP_ROLE, "db": DATABASE, "ssl": True, "sch": schema}
    # The password was a credential minted for the app's identity and this instance.
    assert databases.issued and {(c.user, c.instance_names) for c in databases.issued} == {
        (APP_ROLE, (INSTANCE,))
    }

    # A second agent of the process shares the open instance: no new pool, no new credential.
    minted = len(databases.issued)
    second = make_test_agent(**_lakebase(schema))
    assert second.threads.pool is lakebase
    followup = second.ask("What about AFRICA?", user="ann", thread_id=answer.thread_id)
    assert followup.memory_status == "saved" and followup.route.kind == "follow_up"
    assert len(databases.issued) == minted
    _release(first)
    assert lakebase._saver is not None  # the second agent still holds it
    _release(second)
    assert lakebase._saver is None


def test_credential_failure_is_reported_and_memory_recovers(make_test_agent, databases, schema, monkeypatch):
    appname = f"genie-lakebase-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("PGAPPNAME", appname)  # libpq names this test's connections
    agent = make_test_agent(
        **_lakebase(schema, lakebase_token_cache_s=1, memory_timeout_s=1, memory_retry_s=2)
    )
    first = agent.ask("How many customers are there?", user="ann")
    assert first.memory_status == "saved", first.memory_status

    databases.faults.fail_credentials()
    time.sleep(1.2)  # the pool's cached credential expires
    assert _app_backends(appname) >= 1  # its connections are gone: new ones need a new credential
    started = time.monotonic()
    down = agent.ask("How many customers are in ASIA?", user="ann", thread_id=first.thread_id)
    assert down.status == "ok" and down.results[0].row_count == 1  # answered all the same
    assert down.memory_status.startswith("failed: ") and "Lakebase" in down.memory_status
    assert "generating its database credential fails" in down.memory_status, down.memory_status
    assert "may not generate credentials" in down.memory_status  # the workspace's own reason
    assert time.monotonic() - started < 15

    databases.faults.clear()
    minted = len(databases.issued)
    time.sleep(2.2)  # memory_retry_s
    back = agent.ask("What about AFRICA?", user="ann", thread_id=first.thread_id)
    assert back.memory_status == "saved", back.memory_status
    assert back.route.kind == "follow_up"
    assert len(databases.issued) > minted  # a fresh credential, without a restart
    history = agent.threads.history(first.thread_id, "ann")
    assert [h.question for h in history] == ["How many customers are there?", "What about AFRICA?"]
    _release(agent)


def test_an_unknown_instance_is_reported_until_it_exists(make_test_agent, databases, schema):
    name = f"late-{uuid.uuid4().hex[:6]}"
    agent = make_test_agent(
        **{**_lakebase(schema, memory_retry_s=1), "lakebase_instance": name}
    )  # the workspace is asked nothing until the first turn
    down = agent.ask("How many customers are there?", user="bob")
    assert down.status == "ok" and down.memory_status.startswith("failed: ")
    assert f"Lakebase instance '{name}'" in down.memory_status and "does not exist" in down.memory_status
    databases.instances[name] = databases.instances[INSTANCE]  # the instance is created
    time.sleep(1.2)
    back = agent.ask("How many customers are there?", user="bob")
    assert back.memory_status == "saved", back.memory_status
    del databases.instances[name]
    _release(agent)


# --- across processes: genie-server and the CLI as users run them -------------------------------------


@pytest.mark.slow
def test_threads_and_memories_across_processes(cli_home, lakebase_postgres, schema, tmp_path_factory):
    config = f"users:\n  {APP_ROLE}:\n    token: {APP_TOKEN}\n"
    server_dir = tmp_path_factory.mktemp("lakebase-server")
    command = [CLI, "genie-server", "--lakebase-instance", f"{INSTANCE}={lakebase_postgres}:5432"]
    proc, url = start_server(server_dir, server_dir, config, command=command)
    try:
        env = {
            "DATABRICKS_HOST": url,
            "DATABRICKS_TOKEN": APP_TOKEN,
            "GENIE_AGENT_MEMORY_BACKEND": "lakebase",
            "GENIE_AGENT_LAKEBASE_INSTANCE": INSTANCE,
            "GENIE_AGENT_MEMORY_POSTGRES_SCHEMA": schema,
            "GENIE_AGENT_TRACING": "off",
        }
        ask: Callable[..., dict[str, Any]] = lambda *args: _ask(cli_home, env, *args)  # noqa: E731

        for _ in range(2):  # idempotent
            done = run("setup-memory", home=cli_home, env=env)
            assert done.returncode == 0 and "threads (lakebase)" in done.stdout, done.stderr
        first = ask("--user", "ann", "How many customers are there?")
        assert first["memory_status"] == "saved", first["memory_status"]
        follow = ask("--user", "ann", "--thread-id", first["thread_id"], "What about AFRICA?")
        assert follow["memory_status"] == "saved" and follow["route"]["kind"] == "follow_up"
        assert "AFRICA" in follow["results"][0]["sql"]
        # Another user can neither read nor continue ann's thread.
        bob = run("ask", "--json", "--user", "bob", "--thread-id", first["thread_id"], "What about ASIA?",
                  home=cli_home, env=env)  # fmt: skip
        assert bob.returncode == 2 and "not available to user 'bob'" in bob.stderr, bob.stderr

        # A preference stated in one process is listed, applied and forgotten in others.
        assert ask("--user", "ann", "my region is EUROPE")["memory_status"] == "saved"
        assert "pref-filter-region" in {m["id"] for m in _memories(cli_home, env, "ann")}
        filtered = ask("--user", "ann", "How many customers are there?")
        assert "'EUROPE'" in filtered["results"][0]["sql"]
        gone = run("memory", "forget", "pref-filter-region", "--user", "ann", home=cli_home, env=env)
        assert gone.returncode == 0, gone.stderr
        assert "EUROPE" not in ask("--user", "ann", "How many customers are there?")["results"][0]["sql"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _ask(home, env: dict[str, str], *args: str) -> dict[str, Any]:
    proc = run("ask", "--json", *args, home=home, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _memories(home, env: dict[str, str], user: str) -> list[dict[str, Any]]:
    proc = run("memory", "list", "--json", "--user", user, home=home, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["memories"]


# --- the memory conformance suite, on Lakebase ------------------------------------------------------


@pytest.fixture(scope="module")
def conformance_schema(lakebase_postgres: str) -> Iterator[str]:
    name = f"lakebase_test_{uuid.uuid4().hex[:12]}"
    yield name
    _drop(name)


@pytest.fixture
def opener(databases, conformance_schema, tmp_path) -> Iterator[Callable[[], MemoryBackend]]:
    from genie_agent.config import load_settings
    from genie_agent.memory import open_memory

    settings = load_settings(home=tmp_path, memory_timeout_s=10, **_lakebase(conformance_schema))
    opened: list[MemoryBackend] = []

    def open_backend() -> MemoryBackend:
        opened.append(open_memory(settings))
        return opened[-1]

    yield open_backend
    for backend in opened:
        backend.close()


@pytest.fixture
def backend(opener: Callable[[], MemoryBackend]) -> MemoryBackend:
    return opener()


test_a_new_thread_is_empty_and_each_turn_is_saved = (
    conformance.test_a_new_thread_is_empty_and_each_turn_is_saved
)
test_history_is_every_turn_in_order = conformance.test_history_is_every_turn_in_order_with_bounded_summaries
test_another_user_can_neither_read_nor_continue = (
    conformance.test_another_user_can_neither_read_nor_continue_a_thread
)
test_a_retried_save_is_not_appended_twice = conformance.test_a_retried_save_is_not_appended_twice
test_concurrent_turns_lose_nothing = (
    conformance.test_concurrent_turns_on_many_threads_from_many_users_lose_nothing
)
test_another_instance_continues_the_thread = conformance.test_another_instance_continues_the_thread
test_memories_are_listed_recalled_and_forgotten = conformance.test_memories_are_listed_recalled_and_forgotten
test_memories_are_isolated_between_users = conformance.test_memories_are_isolated_between_users
test_setup_is_idempotent = conformance.test_setup_is_idempotent
