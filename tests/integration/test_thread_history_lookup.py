"""A thread found by the digest of its questions (memory/digests.py), in every thread store: the one
whose latest turn carries the digest, of the asking user only, the most recent of several, through
an index (SQLite, Postgres) in one statement."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from genie_agent.memory.checkpoints import next_turn
from genie_agent.memory.digests import HISTORY_KEY, history_digest, normalize_message
from genie_agent.memory.health import Health
from genie_agent.memory.postgres import PostgresThreadStore, backend_errors, make_pool
from genie_agent.memory.sqlite import SqliteThreadStore
from genie_agent.memory.threads import InMemoryThreadStore, ThreadState, ThreadStore, TurnRecord
from tests.memory_support import fresh_schema, postgres_or_skip


@pytest.fixture(scope="module")
def schema() -> Iterator[str]:
    with fresh_schema() as name:
        yield name


@pytest.fixture(params=["sqlite", "postgres", "in-memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ThreadStore]:
    made: ThreadStore
    if request.param == "sqlite":
        made = SqliteThreadStore(tmp_path / "memory.sqlite")
    elif request.param == "postgres":
        schema = request.getfixturevalue("schema")
        pool = make_pool(postgres_or_skip(), schema=schema, min_size=1, max_size=2, timeout_s=10)
        made = PostgresThreadStore(pool, Health("Postgres", backend_errors()))
        made.setup()
    else:
        made = InMemoryThreadStore()
    yield made
    made.close()
    pool = getattr(made, "pool", None)
    if pool is not None:
        pool.close()


def _thread(store: ThreadStore, user: str, questions: list[str]) -> str:
    """A new thread of ``user`` with a turn per question; its id."""
    state = store.load(None, user)
    for q in questions:
        store.append(state, TurnRecord(q, "ok", f"answer to {q}", ("sales",), {"sales": "c1"}, {}))
        state = store.load(state.thread_id, user)
    return state.thread_id


def test_digest_reads_user_messages_normalized_and_in_order():
    assert normalize_message("  How MANY\n orders\tin ＡＳＩＡ?  ") == "how many orders in asia?"
    one = history_digest(["How many orders were placed in 1996?", "what about 1995?"])
    assert one == history_digest(["how many orders were placed in 1996? ", "What  about 1995?"])
    assert one != history_digest(["what about 1995?", "How many orders were placed in 1996?"])
    assert one != history_digest(["How many orders were placed in 1996? what about 1995?"])
    assert history_digest([]) == ""


def test_a_thread_is_found_by_its_questions_for_its_owner_only(store: ThreadStore):
    questions = ["How many orders were placed in 1996?", "what about 1995?"]
    ann = _thread(store, "ann", questions)
    digest = history_digest(questions)
    assert store.find_by_history(digest, "ann") == ann
    assert (
        store.find_by_history(
            history_digest(["HOW many orders were placed in 1996?", "what about 1995?"]), "ann"
        )
        == ann
    )
    assert store.find_by_history(digest, "bob") is None  # the same questions, another user: never found
    bob = _thread(store, "bob", questions)
    assert bob != ann
    assert store.find_by_history(digest, "bob") == bob
    assert store.find_by_history(digest, "ann") == ann
    assert store.load(ann, "ann").history == digest  # the state carries it to the next turn's save


def test_only_the_latest_turn_counts_and_the_most_recent_thread_wins(store: ThreadStore):
    first = ["Top 5 nations by revenue in 1996"]
    older = _thread(store, "carol", first)
    newer = _thread(store, "carol", first)
    assert store.find_by_history(history_digest(first), "carol") == newer  # the most recent of two
    state = store.load(newer, "carol")
    store.append(state, TurnRecord("and their suppliers?", "ok", "", ("supply",), {}, {}))
    # ``newer`` moved on: a client still at the first question continues the thread still there.
    assert store.find_by_history(history_digest(first), "carol") == older
    assert store.find_by_history(history_digest([*first, "and their suppliers?"]), "carol") == newer
    assert (
        store.find_by_history(history_digest(["and their suppliers?"]), "carol") is None
    )  # a suffix is not a history
    assert store.delete(newer, "carol")
    assert store.find_by_history(history_digest([*first, "and their suppliers?"]), "carol") is None


def test_a_thread_saved_without_digests_is_not_found(store: ThreadStore):
    """Turns saved before digests were kept: the thread (and the turns after) carry none."""
    state = store.load(None, "dave")
    with store.writer(state.thread_id) as saver:
        parent, checkpoint, metadata = next_turn(
            ThreadState(state.thread_id, "dave", head=state.head, history=None),
            TurnRecord("How many orders were placed in 1996?", "ok", "", ("sales",), {}, {}),
            saver.get_next_version,
        )
        assert HISTORY_KEY not in metadata
        saver.put(parent, checkpoint, metadata, checkpoint["channel_versions"])
    state = store.load(state.thread_id, "dave")
    assert state.turns == 1 and state.history is None
    store.append(state, TurnRecord("what about 1995?", "ok", "", ("sales",), {}, {}))
    for asked in (
        ["How many orders were placed in 1996?"],
        ["How many orders were placed in 1996?", "what about 1995?"],
    ):
        assert store.find_by_history(history_digest(asked), "dave") is None


def test_sqlite_finds_a_thread_through_its_index(tmp_path: Path):
    from genie_agent.memory.sqlite.sql import THREAD_BY_HISTORY

    store = SqliteThreadStore(tmp_path / "memory.sqlite")
    _thread(store, "ann", ["How many orders were placed in 1996?"])
    with store.reader() as saver:
        plan = " ".join(
            str(r[3]) for r in saver.conn.execute("EXPLAIN QUERY PLAN " + THREAD_BY_HISTORY, ("x", "ann"))
        )
    assert "USING INDEX genie_checkpoints_history" in plan, plan
    store.close()


def test_postgres_finds_a_thread_in_one_round_trip_through_its_index(schema: str):
    import psycopg

    from genie_agent.memory.postgres.sql import THREAD_BY_HISTORY

    pool = make_pool(postgres_or_skip(), schema=schema, min_size=1, max_size=1, timeout_s=10)
    store = PostgresThreadStore(pool, Health("Postgres", backend_errors()))
    try:
        store.setup()
        store.setup()  # idempotent: the index is made once
        asked = ["How many orders were placed in 1996?"]
        ann = _thread(store, "ann", asked)
        with tempfile.TemporaryFile("w+") as trace:
            with pool.connection() as conn:
                conn.pgconn.trace(trace.fileno())
                conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
            assert store.find_by_history(history_digest(asked), "ann") == ann
            with pool.connection() as conn:
                conn.pgconn.untrace()
            trace.flush()
            os.fsync(trace.fileno())
            trace.seek(0)
            sent = [line.split("\t")[2] for line in trace.read().splitlines() if line.startswith("F\t")]
        assert sent.count("Sync") + sent.count("Query") == 1, sent
        with pool.connection() as conn, conn.transaction():
            conn.execute("SET LOCAL enable_seqscan = off")  # a tiny table: make the planner show the index
            plan = conn.execute("EXPLAIN " + THREAD_BY_HISTORY, {"history": "x", "user": "ann"}).fetchall()
            valid = conn.execute(
                "SELECT indisvalid AS ok FROM pg_index WHERE indexrelid = to_regclass('genie_checkpoints_history_idx')"
            ).fetchone()
        assert valid is not None and valid["ok"]
        assert "genie_checkpoints_history_idx" in " ".join(str(next(iter(r.values()))) for r in plan), plan
    finally:
        pool.close()
