"""No lost writes: concurrent turns on several threads from several users, in threads and in processes."""

from __future__ import annotations

import multiprocessing
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from tests.memory_support import POSTGRES_URL, append_turns, fresh_schema

pytestmark = pytest.mark.usefixtures("tpch_db")


@pytest.fixture(params=["sqlite", "postgres"])
def memory_settings(request, tmp_path) -> Iterator[dict[str, object]]:
    settings: dict[str, object] = {"home": str(tmp_path / "home"), "memory_backend": request.param}
    if request.param == "sqlite":
        yield settings
        return
    with fresh_schema() as schema:
        yield settings | {
            "memory_postgres_url": POSTGRES_URL,
            "memory_postgres_schema": schema,
            "memory_timeout_s": 20,
        }


def test_processes_appending_to_shared_threads_lose_nothing(memory_settings):
    users = ["ann", "bob"]
    threads = {u: [uuid.uuid4().hex for _ in range(3)] for u in users}
    per_process = [
        [(u, t, f"p{p}-{u}-{t}-{i}") for i in range(4) for u in users for t in threads[u]] for p in range(4)
    ]  # 4 processes x 24 turns, every thread written by every process
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(4, mp_context=ctx) as pool:
        done = list(pool.map(append_turns, [memory_settings] * 4, per_process))
    assert done == [24] * 4

    from genie_agent.config import load_settings
    from genie_agent.memory import open_memory

    backend = open_memory(load_settings(**memory_settings))
    assert backend.threads is not None
    try:
        for u in users:
            for t in threads[u]:
                history = backend.threads.history(t, u)
                expected = sorted(q for jobs in per_process for (uu, tt, q) in jobs if (uu, tt) == (u, t))
                assert sorted(turn.question for turn in history) == expected  # 16 each, none lost or doubled
                assert backend.threads.load(t, u).turns == 16
    finally:
        backend.close()


def test_concurrent_agent_turns_leave_exactly_the_expected_history(memory_settings, make_test_agent):
    overrides = {k: v for k, v in memory_settings.items() if k != "home"}
    agent = make_test_agent(**overrides)
    questions = ["How many customers are in ASIA?", "What about EUROPE?", "What about AFRICA?"]
    users = ["ann", "bob", "cid"]
    firsts = {u: agent.ask(questions[0], user=u) for u in users}
    threads = {u: [firsts[u].thread_id, agent.ask(questions[0], user=u).thread_id] for u in users}
    jobs = [(u, t, q) for u in users for t in threads[u] for q in questions[1:] * 2]  # 24 turns at once

    def turn(job: tuple[str, str, str]) -> str:
        user, thread_id, question = job
        return agent.ask(question, user=user, thread_id=thread_id).memory_status

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(turn, jobs))
    assert statuses == ["saved"] * len(jobs)
    assert agent.threads is not None
    for u in users:
        for t in threads[u]:
            history = agent.threads.history(t, u)
            assert Counter(h.question for h in history) == Counter(
                [questions[0]] + [q for uu, tt, q in jobs if (uu, tt) == (u, t)]
            )
            assert all(h.status == "ok" and h.domains == ("customers",) for h in history)
