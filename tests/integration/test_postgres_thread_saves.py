"""Postgres threads: a turn is two round trips (load, then lock + conditional insert), its rows are the ones
LangGraph's PostgresSaver writes, and a thread that moved on since it was loaded takes the general path."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from genie_agent.memory.health import Health
from genie_agent.memory.postgres import PostgresThreadStore, backend_errors, make_pool
from genie_agent.memory.threads import ThreadState, TurnRecord
from tests.memory_support import fresh_schema, postgres_or_skip


@pytest.fixture(scope="module")
def schema() -> Iterator[str]:
    with fresh_schema() as name:
        yield name


def _store(schema: str, *, max_size: int = 4) -> PostgresThreadStore:
    pool = make_pool(postgres_or_skip(), schema=schema, min_size=1, max_size=max_size, timeout_s=10)
    store = PostgresThreadStore(pool, Health("Postgres", backend_errors()))
    store.setup()
    return store


@pytest.fixture
def store(schema: str) -> Iterator[PostgresThreadStore]:
    s = _store(schema)
    yield s
    s.pool.close()


def _turn(question: str, domain: str = "sales", conv: str | None = None) -> TurnRecord:
    return TurnRecord(question, "ok", f"answer to {question}", (domain,), {domain: conv or question}, {})


def _rows(store: PostgresThreadStore, thread_id: str) -> list[dict[str, Any]]:
    with store.pool.connection() as conn:
        rows = conn.execute(
            "SELECT checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata FROM checkpoints "
            "WHERE thread_id = %s ORDER BY checkpoint_id",
            (thread_id,),
        ).fetchall()
        blobs = conn.execute("SELECT count(*) AS n FROM checkpoint_blobs WHERE thread_id = %s", (thread_id,))
        assert blobs.fetchone()["n"] == 0  # every value inline: one row per turn
    return rows


def test_a_pooled_turn_is_one_round_trip_to_load_and_one_to_save(schema: str):
    import psycopg

    store = _store(schema, max_size=1)  # one connection: every statement below goes through it
    try:
        state = store.load(None, "ann")
        store.append(state, _turn("first"))
        with tempfile.TemporaryFile("w+") as trace:
            with store.pool.connection() as conn:
                conn.pgconn.trace(trace.fileno())
                conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
            state = store.load(state.thread_id, "ann")
            assert store.append(state, _turn("second")) == 2
            with store.pool.connection() as conn:
                conn.pgconn.untrace()
            trace.flush()
            os.fsync(trace.fileno())
            trace.seek(0)
            sent = [line.split("\t")[2] for line in trace.read().splitlines() if line.startswith("F\t")]
        assert sent.count("Sync") == 2, sent  # libpq waits for the server once per Sync
        assert "Query" not in sent, sent  # no BEGIN/COMMIT round trips
        assert store.history(state.thread_id, "ann")[-1].question == "second"
    finally:
        store.pool.close()


def test_saved_rows_are_the_ones_the_savers_put_writes(store: PostgresThreadStore):
    fast, general = uuid.uuid4().hex, uuid.uuid4().hex
    for i in range(3):
        state = store.load(fast, "ann")
        assert state.head is not None
        store.append(state, _turn(f"q{i}", conv=f"c{i}"))
        # A state not loaded from the store (as the agent makes when loading failed) has no head.
        store.append(ThreadState(general, "ann"), _turn(f"q{i}", conv=f"c{i}"))

    mine, theirs = _rows(store, fast), _rows(store, general)
    assert [r["parent_checkpoint_id"] for r in mine] == [None] + [r["checkpoint_id"] for r in mine[:-1]]
    assert [r["parent_checkpoint_id"] for r in theirs] == [None] + [r["checkpoint_id"] for r in theirs[:-1]]
    for a, b in zip(mine, theirs, strict=True):
        assert a["type"] is None and b["type"] is None
        assert set(a["checkpoint"]) == set(b["checkpoint"])
        assert a["checkpoint"]["v"] == b["checkpoint"]["v"]
        assert set(a["checkpoint"]["channel_versions"]) == set(b["checkpoint"]["channel_versions"])
        versions = [int(r["checkpoint"]["channel_versions"]["seq"].split(".")[0]) for r in (a, b)]
        assert versions[0] == versions[1]
        strip = {"turn"}  # the turn's id and time differ
        assert {k: v for k, v in a["checkpoint"]["channel_values"].items() if k not in strip} == {
            k: v for k, v in b["checkpoint"]["channel_values"].items() if k not in strip
        }
        assert {k: v for k, v in a["metadata"].items() if k != "turn_id"} == {
            k: v for k, v in b["metadata"].items() if k != "turn_id"
        }
    assert [t.question for t in store.history(fast, "ann")] == ["q0", "q1", "q2"]
    state = store.load(fast, "ann")
    assert (state.turns, state.genie_conversation_ids) == (3, {"sales": "c2"})
    with store.reader() as saver:  # LangGraph reads them as its own
        latest = saver.get_tuple({"configurable": {"thread_id": fast, "checkpoint_ns": ""}})
        assert latest is not None and latest.metadata["step"] == 3
        assert len(list(saver.list({"configurable": {"thread_id": fast, "checkpoint_ns": ""}}))) == 3


def test_a_thread_that_moved_on_since_it_was_loaded_gets_the_turn_after_the_other(schema: str):
    one, two = _store(schema), _store(schema)  # two processes
    try:
        thread = uuid.uuid4().hex
        one.append(one.load(thread, "ann"), _turn("first", "sales", "s1"))
        stale = two.load(thread, "ann")
        one.append(one.load(thread, "ann"), _turn("second", "sales", "s2"))
        assert two.append(stale, _turn("third", "supply", "p1")) == 3
        assert [t.question for t in one.history(thread, "ann")] == ["first", "second", "third"]
        state = one.load(thread, "ann")
        assert state.genie_conversation_ids == {"sales": "s2", "supply": "p1"}
        assert state.last_domains == ("supply",)
        parents = [r["parent_checkpoint_id"] for r in _rows(one, thread)]
        assert len(set(parents)) == 3  # a chain, no fork
    finally:
        one.pool.close()
        two.pool.close()


def test_a_retried_save_and_a_save_after_delete(store: PostgresThreadStore):
    thread = uuid.uuid4().hex
    state = store.load(thread, "ann")
    turn = _turn("once")
    assert store.append(state, turn) == 1
    assert store.append(state, turn) == 1  # the first had committed: not appended twice
    assert len(store.history(thread, "ann")) == 1

    state = store.load(thread, "ann")
    assert store.delete(thread, "ann")
    assert store.append(state, _turn("after delete")) == 1  # a new thread, not a turn after a deleted one
    assert [r["parent_checkpoint_id"] for r in _rows(store, thread)] == [None]
