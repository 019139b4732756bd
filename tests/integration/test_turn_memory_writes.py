"""Where a turn's memory writes happen: the domain counts and what a message stated go to the store
in one call while the spaces work (taken back when no space answers); the thread is saved after the
last text. Real spaces over DuckDB and the real SQLite stores; the store is wrapped only to count and
time its calls."""

from __future__ import annotations

import time
from typing import Any

import pytest

from genie_agent.turn import SpaceAnswered, TextDelta, TurnDone

pytestmark = pytest.mark.usefixtures("tpch_db")

CROSS = "What was revenue by region in 1995, and how many suppliers does each region have?"
UNANSWERABLE = "What is the mood of the sales team?"  # routed to sales, which cannot map it: clarify


class _CallLog:
    """Delegates to the real memory store and notes when each write happened."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.applies: list[tuple[float, list[Any]]] = []

    def apply(self, user: str, changes: Any) -> None:
        changes = list(changes)
        self._inner.apply(user, changes)
        self.applies.append((time.perf_counter(), changes))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _SlowSpace:
    """A real space that takes ``delay`` longer to answer (a Genie backend under load)."""

    def __init__(self, inner: Any, delay: float) -> None:
        self._inner, self._delay = inner, delay

    @property
    def info(self) -> Any:
        return self._inner.info

    def routing_terms(self) -> Any:
        return self._inner.routing_terms()

    def ask(self, question: str, conversation_id: str | None = None, *, identity: Any = None) -> Any:
        time.sleep(self._delay)
        return self._inner.ask(question, conversation_id, identity=identity)


def _agent(make_test_agent, *, delay: float = 0.0):
    from genie_agent.agent import Agent

    base = make_test_agent()
    assert base.memories is not None and base.threads is not None
    log = _CallLog(base.memories)
    spaces = {k: _SlowSpace(s, delay) for k, s in base.spaces.items()} if delay else base.spaces
    return Agent(spaces, base.threads, memories=log, limits=base.limits), log  # type: ignore[arg-type]


def _counts(agent, user: str) -> dict[str, int]:
    return dict(agent.memories.recall(user, "anything").domains)


def test_domain_counts_are_written_while_the_spaces_work(make_test_agent):
    agent, log = _agent(make_test_agent, delay=0.3)
    answered_at = done_at = 0.0
    last_text_at = 0.0
    for event in agent.stream(CROSS, user="ann"):
        if isinstance(event, SpaceAnswered) and not answered_at:
            answered_at = time.perf_counter()
        elif isinstance(event, TextDelta):
            last_text_at = time.perf_counter()
        elif isinstance(event, TurnDone):
            done_at = time.perf_counter()
            assert event.result.status == "ok" and event.result.memory_status == "saved"
    assert len(log.applies) == 1
    written_at, changes = log.applies[0]
    assert [c.kind for c in changes] == ["domains"]
    assert written_at < answered_at  # before the first space answered, not after the answer
    assert last_text_at < done_at
    assert _counts(agent, "ann") == {"sales": 1, "supply": 1}


def test_counts_follow_answered_turns_only(make_test_agent):
    agent, log = _agent(make_test_agent)
    assert agent.ask("What was total revenue in 1996?", user="ann").status == "ok"
    assert agent.ask(CROSS, user="ann").status == "ok"
    assert _counts(agent, "ann") == {"sales": 2, "supply": 1}

    unanswered = agent.ask(UNANSWERABLE, user="ann")
    assert unanswered.status == "clarify" and unanswered.route.domains == ("sales",)
    assert unanswered.memory_status == "saved"
    assert _counts(agent, "ann") == {"sales": 2, "supply": 1}  # counted while asked, then taken back

    first = agent.ask(UNANSWERABLE, user="bob")  # nothing counted before: no counts item afterwards
    assert first.status == "clarify"
    assert agent.memories.list("bob", kind="domains") == []
    assert len(log.applies) == 6  # one write per turn, and one taking back each unanswered turn's


def test_a_statement_and_a_question_are_saved_in_one_store_call(make_test_agent):
    agent, log = _agent(make_test_agent)
    result = agent.ask("I only care about GERMANY. Revenue by market segment in 1995?", user="ann")
    assert result.status == "ok" and result.memory_status == "saved"
    assert "'GERMANY'" in result.results[0].sql and "I'll remember" in result.text
    assert len(log.applies) == 1
    kinds = sorted(c.kind for c in log.applies[0][1])
    assert kinds == ["domains", "preference"]
    assert {m.kind for m in agent.memories.list("ann")} == {"preference", "domains"}


def test_a_statement_is_saved_when_no_space_answers(make_test_agent):
    agent, log = _agent(make_test_agent)
    result = agent.ask(f"I only care about GERMANY. {UNANSWERABLE}", user="ann")
    assert result.status == "clarify" and result.memory_status == "saved"
    assert "I'll remember" in result.text
    prefs = agent.memories.list("ann", kind="preference")
    assert [m.id for m in prefs] == ["pref-filter-nation"]
    assert [sorted(c.kind for c in changes) for _, changes in log.applies] == [
        ["domains", "preference"],
        ["domains"],
    ]
    assert agent.memories.list("ann", kind="domains") == []  # written with the statement, taken back


def test_a_statement_alone_is_saved_before_its_answer(make_test_agent):
    agent, log = _agent(make_test_agent)
    first_text_at = 0.0
    for event in agent.stream("my region is EUROPE", user="ann"):
        if isinstance(event, TextDelta) and not first_text_at:
            first_text_at = time.perf_counter()
            assert "I'll remember" in event.text
    assert len(log.applies) == 1 and log.applies[0][0] < first_text_at
    assert [c.kind for c in log.applies[0][1]] == ["preference"]


def test_deterministic_chunks_end_at_line_breaks_or_late_spaces():
    from genie_agent.synthesis import DeterministicSynthesizer
    from genie_agent.turn import ResultTable

    rows = tuple((f"NATION NUMBER {i}", 1000.5 + i) for i in range(12))
    table = ResultTable("sales", "SELECT 1", ("nation", "revenue"), rows, 12, False, None, None, (), "")
    chunks = list(DeterministicSynthesizer().stream("q", [table, table], {}, {"sales": "Sales"}))
    text = "".join(chunks)
    assert len(chunks) > 3 and "\n\n" in text
    for chunk in chunks[:-1]:
        assert chunk.endswith("\n") or (chunk.endswith(" ") and len(chunk) > 61)
        assert "\n" not in chunk[:-1]  # a line break always ends a chunk
        assert " " not in chunk[61:-1]  # the first space past 61 characters does too
