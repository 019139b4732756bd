"""Memory down: the turn is still answered, memory_status says what failed, and memory comes back
when Postgres does, without a restart. The path to the shared PostgreSQL is cut by a TCP proxy the
test controls; the server itself is never stopped."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.memory_support import POSTGRES_URL, TcpProxy, fresh_schema

pytestmark = pytest.mark.usefixtures("tpch_db")


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    with fresh_schema():  # skips when PostgreSQL is not there
        pass
    p = TcpProxy(POSTGRES_URL)
    yield p
    p.close()


@pytest.fixture
def schema() -> Iterator[str]:
    with fresh_schema() as name:
        yield name


def _agent(make_test_agent, proxy: TcpProxy, schema: str):
    return make_test_agent(
        memory_backend="postgres",
        memory_postgres_url=proxy.url,
        memory_postgres_schema=schema,
        memory_timeout_s=1,
        memory_retry_s=2,
    )


def test_memory_down_then_back_without_a_restart(make_test_agent, proxy, schema):
    agent = _agent(make_test_agent, proxy, schema)
    stated = agent.ask("my region is EUROPE", user="ann")
    first = agent.ask("How many customers are there?", user="ann")
    assert (stated.memory_status, first.memory_status) == ("saved", "saved")
    assert "'EUROPE'" in first.results[0].sql

    proxy.cut()
    started = time.monotonic()
    # Without its thread a follow-up could not be understood: a whole question is answered all the same.
    down = agent.ask("How many customers are in ASIA?", user="ann", thread_id=first.thread_id)
    elapsed = time.monotonic() - started
    assert down.status == "ok" and down.results[0].row_count == 1
    assert down.memory_status.startswith("failed: ") and "Postgres memory" in down.memory_status
    assert elapsed < 10, elapsed  # one wait of about memory_timeout_s, not one per memory call

    started = time.monotonic()
    again = agent.ask("How many customers are there?", user="ann")
    assert again.memory_status.startswith("failed: ") and "trying again in" in again.memory_status
    assert time.monotonic() - started < 2  # within the retry window memory is not even tried
    assert "EUROPE" not in again.results[0].sql  # no preferences while memory is down

    proxy.restore()
    time.sleep(2.2)  # the retry window
    back = agent.ask("What about AFRICA?", user="ann", thread_id=first.thread_id)
    assert back.memory_status == "saved", back.memory_status
    assert back.route.kind == "follow_up" and back.route.domains == ("customers",)
    fresh = agent.ask("How many customers are there?", user="ann")
    assert fresh.memory_status == "saved" and "'EUROPE'" in fresh.results[0].sql
    assert agent.threads is not None
    history = agent.threads.history(first.thread_id, "ann")
    assert [h.question for h in history] == ["How many customers are there?", "What about AFRICA?"]


def test_memory_down_when_the_agent_starts(make_test_agent, proxy, schema):
    proxy.cut()
    agent = _agent(make_test_agent, proxy, schema)  # an unreachable server does not stop the agent
    down = agent.ask("I work in the BUILDING segment", user="bob")
    assert down.status == "ok" and down.memory_status.startswith("failed: ")
    assert "couldn't save" in down.text
    proxy.restore()
    time.sleep(2.2)
    assert agent.ask("I work in the BUILDING segment", user="bob").memory_status == "saved"
    result = agent.ask("How many customers are there?", user="bob")
    assert result.memory_status == "saved" and "'BUILDING'" in result.results[0].sql
