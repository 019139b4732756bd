"""One conformance suite every memory backend runs: in-memory, SQLite, and real PostgreSQL.

Threads: new/continued state, history with bounded result summaries, ownership (another user can
neither read nor continue), idempotent saves, no lost writes under concurrency, a second process
continuing a thread. User memories: list, recall by keywords, forget one/all, isolation between users.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from genie_agent.memory import MemoryBackend, ThreadNotAvailableError, TurnRecord, in_memory
from genie_agent.memory.store import MemoryChange
from genie_agent.memory.threads import MAX_SUMMARY_ROWS, ResultSummary
from tests.memory_support import fresh_schema

Opener = Callable[[], MemoryBackend]


@pytest.fixture(scope="module")
def pg_schema() -> Iterator[str]:
    with fresh_schema() as schema:
        yield schema


@pytest.fixture(params=["in-memory", "sqlite", "postgres"])
def opener(request, tmp_path) -> Iterator[Opener]:
    """Opens the backend; each call is a new instance on the same storage (as another process would)."""
    from genie_agent.config import load_settings
    from genie_agent.memory import open_memory

    opened: list[MemoryBackend] = []
    if request.param == "in-memory":
        shared = in_memory()

        def open_backend() -> MemoryBackend:
            return shared

    else:
        overrides: dict[str, object] = {"home": tmp_path, "memory_backend": request.param}
        if request.param == "postgres":
            from tests.memory_support import POSTGRES_URL

            overrides |= {
                "memory_postgres_url": POSTGRES_URL,
                "memory_postgres_schema": request.getfixturevalue("pg_schema"),
                "memory_timeout_s": 10,
            }
        settings = load_settings(**overrides)

        def open_backend() -> MemoryBackend:
            backend = open_memory(settings)
            opened.append(backend)
            return backend

    yield open_backend
    for backend in opened:
        backend.close()


@pytest.fixture
def backend(opener: Opener) -> MemoryBackend:
    return opener()


def _user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


def _turn(
    question: str, domains: tuple[str, ...] = ("sales",), conv: dict[str, str] | None = None
) -> TurnRecord:
    rows = tuple((f"N{i}", i * 1.5) for i in range(12))
    summary = ResultSummary("sales", "SELECT 1", ("nation", "revenue"), rows, 12)
    return TurnRecord(
        question,
        "ok",
        f"answer to {question}",
        domains,
        conv or {d: f"conv-{d}" for d in domains},
        {d: "SELECT 1" for d in domains},
        (summary,),
    )


def test_a_new_thread_is_empty_and_each_turn_is_saved(backend: MemoryBackend):
    threads = backend.threads
    assert threads is not None
    user = _user()
    state = threads.load(None, user)
    assert state.turns == 0 and state.last_domains == () and state.user == user
    assert threads.load(state.thread_id, user).turns == 0  # unknown id: a new thread under that id
    assert threads.append(state, _turn("q1")) == 1
    loaded = threads.load(state.thread_id, user)
    assert (loaded.turns, loaded.last_domains, loaded.genie_conversation_ids) == (
        1,
        ("sales",),
        {"sales": "conv-sales"},
    )


def test_state_carries_domains_and_conversations(backend: MemoryBackend):
    threads = backend.threads
    assert threads is not None
    user = _user()
    state = threads.load(None, user)
    threads.append(state, _turn("q1", ("sales",), {"sales": "c1"}))
    threads.append(state, _turn("q2", ("supply",), {"sales": "c1", "supply": "c2"}))
    threads.append(state, _turn("out of scope", ()))  # no domains: the last ones stay
    loaded = threads.load(state.thread_id, user)
    assert loaded.turns == 3 and loaded.last_domains == ("supply",)
    assert loaded.genie_conversation_ids == {"sales": "c1", "supply": "c2"}


def test_history_is_every_turn_in_order_with_bounded_summaries(backend: MemoryBackend):
    threads = backend.threads
    assert threads is not None
    user = _user()
    state = threads.load(None, user)
    for i in range(4):
        threads.append(state, _turn(f"question {i}"))
    history = threads.history(state.thread_id, user)
    assert [t.question for t in history] == [f"question {i}" for i in range(4)]
    first = history[0]
    assert first.text == "answer to question 0" and first.sql == {"sales": "SELECT 1"}
    (summary,) = first.results
    assert summary.row_count == 12 and len(summary.rows) == MAX_SUMMARY_ROWS
    assert summary.rows[1] == ("N1", 1.5)
    assert [t.question for t in threads.history(state.thread_id, user, limit=2)] == [
        "question 2",
        "question 3",
    ]


def test_another_user_can_neither_read_nor_continue_a_thread(backend: MemoryBackend):
    threads = backend.threads
    assert threads is not None
    ann, bob = _user(), _user()
    state = threads.load(None, ann)
    threads.append(state, _turn("ann's question"))
    with pytest.raises(ThreadNotAvailableError):
        threads.load(state.thread_id, bob)
    with pytest.raises(ThreadNotAvailableError):
        threads.history(state.thread_id, bob)
    with pytest.raises(ThreadNotAvailableError):  # even with a state forged for the thread id
        threads.append(type(state)(state.thread_id, bob), _turn("bob's question"))
    with pytest.raises(ThreadNotAvailableError):
        threads.delete(state.thread_id, bob)
    assert [t.question for t in threads.history(state.thread_id, ann)] == ["ann's question"]


def test_a_retried_save_is_not_appended_twice(backend: MemoryBackend):
    threads = backend.threads
    assert threads is not None
    user = _user()
    state = threads.load(None, user)
    turn = _turn("once")
    assert threads.append(state, turn) == 1
    assert threads.append(state, turn) == 1
    assert len(threads.history(state.thread_id, user)) == 1


def test_delete_forgets_the_thread(backend: MemoryBackend):
    threads = backend.threads
    assert threads is not None
    user = _user()
    state = threads.load(None, user)
    threads.append(state, _turn("q"))
    assert threads.delete(state.thread_id, user) is True
    assert threads.load(state.thread_id, user).turns == 0
    assert threads.delete(state.thread_id, user) is False


def test_concurrent_turns_on_many_threads_from_many_users_lose_nothing(opener: Opener):
    """N turns on M threads from K users, from several store instances at once: exactly N saved."""
    instances = [opener() for _ in range(3)]
    users = [_user() for _ in range(3)]
    thread_ids = {u: [uuid.uuid4().hex for _ in range(3)] for u in users}
    jobs = [(u, t, i) for u in users for t in thread_ids[u] for i in range(6)]  # 54 turns

    def save(job: tuple[str, str, int]) -> int:
        user, thread_id, i = job
        store = instances[i % len(instances)].threads
        assert store is not None
        return store.append(store.load(thread_id, user), _turn(f"{thread_id}-{i}"))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(save, jobs))
    threads = instances[0].threads
    assert threads is not None
    for user in users:
        for thread_id in thread_ids[user]:
            history = threads.history(thread_id, user)
            assert sorted(t.question for t in history) == sorted(f"{thread_id}-{i}" for i in range(6))
            assert threads.load(thread_id, user).turns == 6


def test_another_instance_continues_the_thread(opener: Opener):
    first, second = opener(), opener()
    assert first.threads is not None and second.threads is not None
    user = _user()
    state = first.threads.load(None, user)
    first.threads.append(state, _turn("in the first process", ("customers",)))
    loaded = second.threads.load(state.thread_id, user)
    assert loaded.turns == 1 and loaded.last_domains == ("customers",)
    second.threads.append(loaded, _turn("in the second"))
    assert [t.question for t in first.threads.history(state.thread_id, user)] == [
        "in the first process",
        "in the second",
    ]


def _note(text: str) -> MemoryChange:
    return MemoryChange.note(text)


def test_memories_are_listed_recalled_and_forgotten(backend: MemoryBackend):
    memories = backend.memories
    assert memories is not None
    user = _user()
    pref = MemoryChange(
        "preference", "pref-chart", "Tables instead of charts", {"slot": "chart", "values": ["table"]}
    )
    memories.apply(user, [pref, _note("Our fiscal year starts in April"), _note("Revenue excludes tax")])
    listed = memories.list(user)
    assert [m.kind for m in listed] == ["preference", "note", "note"]
    assert listed[0].id == "pref-chart" and listed[0].data["values"] == ["table"]

    recall = memories.recall(user, "What was revenue by fiscal year?")
    assert [p.id for p in recall.preferences] == ["pref-chart"]
    assert {n.text for n in recall.notes} == {"Our fiscal year starts in April", "Revenue excludes tax"}
    assert memories.recall(user, "fiscal").notes[0].text == "Our fiscal year starts in April"
    assert memories.recall(user, "How many suppliers?").notes == ()  # nothing in common

    # restating a slot replaces it
    memories.apply(
        user, [MemoryChange("preference", "pref-chart", "Bar charts", {"slot": "chart", "values": ["bar"]})]
    )
    assert [m.text for m in memories.list(user, kind="preference")] == ["Bar charts"]

    note_id = next(m.id for m in listed if m.text.startswith("Revenue"))
    assert memories.forget(user, note_id) is True
    assert memories.forget(user, note_id) is False
    assert memories.forget(user, "pref-no-such-thing") is False
    assert memories.recall(user, "revenue tax").notes == ()
    assert memories.forget_all(user) == 2
    assert memories.list(user) == []
    assert memories.recall(user, "fiscal year") == type(recall)()


def test_memories_are_isolated_between_users(backend: MemoryBackend):
    memories = backend.memories
    assert memories is not None
    base = _user()
    users = [base, f"{base}.x", f"{base}x", f"{base}@corp.example"]  # names that prefix each other
    for u in users:
        memories.apply(u, [_note(f"note of {u} about revenue")])
    for u in users:
        assert [m.text for m in memories.list(u)] == [f"note of {u} about revenue"]
        assert [n.text for n in memories.recall(u, "revenue").notes] == [f"note of {u} about revenue"]
    assert memories.forget_all(users[0]) == 1
    assert all(len(memories.list(u)) == 1 for u in users[1:])


def test_recall_finds_the_relevant_note_among_many(backend: MemoryBackend):
    memories = backend.memories
    assert memories is not None
    user = _user()
    filler = [_note(f"filler note number {i} about shipping modes and containers") for i in range(200)]
    memories.apply(user, [*filler, _note("The fiscal calendar starts in April")])
    notes = memories.recall(user, "revenue by fiscal quarter", limit=3).notes
    assert [n.text for n in notes] == ["The fiscal calendar starts in April"]
    assert len(memories.recall(user, "shipping containers", limit=5).notes) == 5


def test_setup_is_idempotent(backend: MemoryBackend):
    backend.setup()
    backend.setup()
    assert backend.threads is not None
    user = _user()
    state = backend.threads.load(None, user)
    backend.threads.append(state, _turn("after setup"))
    assert backend.threads.load(state.thread_id, user).turns == 1
