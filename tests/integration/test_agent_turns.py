"""Whole turns through the agent: routing, fan-out, statuses, follow-ups across agents, refusals."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.question_set import load_cases

pytestmark = pytest.mark.usefixtures("tpch_db")


@pytest.fixture
def agent(make_test_agent):
    return make_test_agent(verified_queries=False)


@pytest.mark.parametrize("case", load_cases("single", "cross"), ids=lambda c: c["id"])
def test_router_picks_the_expected_spaces(agent, case):
    decision = agent.router.route(case["question"])
    assert set(decision.domains) == set(case["spaces"]), decision.reason
    assert decision.kind == ("cross_domain" if case["kind"] == "cross" else "single")
    assert 0 < decision.confidence <= 1 and decision.reason


@pytest.mark.parametrize("case", load_cases("out_of_scope"), ids=lambda c: c["id"])
def test_out_of_scope_is_declined_with_what_we_can_answer(agent, case):
    result = agent.ask(case["question"])
    assert result.status == "out_of_scope"
    assert result.results == () and result.route.domains == ()
    assert "Sales" in result.text and result.suggested_questions
    assert result.grounding["ok"]


def _fingerprint(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("case", load_cases("unsafe"), ids=lambda c: c["id"])
def test_requests_to_change_data_are_refused_and_nothing_changes(agent, case, tpch_db):
    before = _fingerprint(tpch_db)
    result = agent.ask(case["question"])
    assert result.status == "refused"
    assert "nothing was changed" in result.text.lower()
    assert _fingerprint(tpch_db) == before


def test_space_refuses_writes_even_when_asked_directly(agent, tpch_db):
    before = _fingerprint(tpch_db)
    result = agent.ask("delete all orders from 1992", domains=["sales"])
    assert result.status == "refused"
    assert _fingerprint(tpch_db) == before


def test_turn_result_contract(agent):
    result = agent.ask("What was the revenue for each region between 1994 and 1996?").to_dict()
    assert result["status"] == "ok" and result["domain"] == "sales" and result["domains"] == ["sales"]
    assert set(result["route"]) >= {"domains", "confidence", "reason"}
    (table,) = result["results"]
    assert table["columns"] == ["region", "revenue"] and table["row_count"] == 5 and not table["truncated"]
    assert all(isinstance(row[1], float) for row in table["rows"])  # numbers as JSON numbers
    assert result["data"][0].keys() == {"region", "revenue"}
    assert result["grounding"] == {"ok": True, "unsupported_numbers": []}
    assert result["memory_status"] == "saved" and result["source"] == "local"
    assert result["genie_conversation_ids"]["sales"] == table["conversation_id"]
    hint = result["visualization_hint"]
    assert (hint["type"], hint["x"], hint["y"], hint["format"]) == ("bar", "region", "revenue", "currency")
    json.dumps(result)  # serializable as is


def test_every_number_in_the_answer_comes_from_a_result(agent):
    result = agent.ask("Top 5 nations by revenue in 1995")
    assert result.grounding["ok"], result.grounding
    for row in result.results[0].rows:
        assert row[0] in result.text


def test_followup_across_agents_uses_the_thread(make_test_agent):
    first = make_test_agent().ask("What was the revenue by region in 1995?", user="ann")
    # A new agent (as a new process would build) continues the thread from disk.
    second = make_test_agent().ask("What about 1996?", user="ann", thread_id=first.thread_id)
    assert second.route.kind == "follow_up" and second.route.domains == ("sales",)
    assert "1996" in second.results[0].sql and "1995" not in second.results[0].sql
    assert second.genie_conversation_ids["sales"] == first.genie_conversation_ids["sales"]


def test_another_user_cannot_continue_a_thread(make_test_agent):
    from genie_agent.errors import UserInputError

    first = make_test_agent().ask("How many suppliers are in ASIA?", user="ann")
    with pytest.raises(UserInputError, match="not available"):
        make_test_agent().ask("What about EUROPE?", user="bob", thread_id=first.thread_id)


@pytest.mark.parametrize(
    ("question", "message"),
    [("", "empty"), ("   \n ", "empty"), ("x" * 100_000, "characters long")],
)
def test_bad_questions_raise_a_clear_error(agent, question, message):
    from genie_agent.errors import UserInputError

    with pytest.raises(UserInputError, match=message):
        agent.ask(question)


def test_unknown_domain_is_a_clear_error(agent):
    from genie_agent.errors import UnknownSpaceError

    with pytest.raises(UnknownSpaceError, match="weather") as info:
        agent.ask("revenue in 1995", domains=["weather"])
    assert "sales" in info.value.hint


class _SlowSpace:
    """A space that never answers in time: stands in for a Genie backend that hangs."""

    def __init__(self, inner, delay: float) -> None:
        self._inner, self._delay = inner, delay

    @property
    def info(self):
        return self._inner.info

    def routing_terms(self):
        return self._inner.routing_terms()

    def ask(self, question, conversation_id=None, *, identity=None):
        import time

        time.sleep(self._delay)
        return self._inner.ask(question, conversation_id, identity=identity)


def test_a_space_that_times_out_leaves_a_partial_answer_from_the_others(make_test_agent):
    from genie_agent.agent import Agent, AgentLimits

    base = make_test_agent()
    spaces = dict(base.spaces)
    spaces["supply"] = _SlowSpace(spaces["supply"], delay=3)
    agent = Agent(spaces, base.threads, limits=AgentLimits(space_timeout_s=0.5))
    result = agent.ask("What was revenue by region in 1995, and how many suppliers does each region have?")
    assert result.status == "partial"
    assert [r.domain for r in result.results] == ["sales"]
    assert "Supply" in result.text and "did not answer" in result.text
    assert result.grounding["ok"]  # nothing filled in for the missing space


def test_three_spaces_finish_in_about_the_slowest(make_test_agent):
    import time

    from genie_agent.agent import Agent
    from genie_agent.turn import SpaceAnswered, SpaceQueryStarted

    base = make_test_agent()
    delays = {"sales": 0.3, "supply": 0.5, "customers": 0.7}
    agent = Agent({k: _SlowSpace(v, delays[k]) for k, v in base.spaces.items()}, base.threads)
    start = time.perf_counter()
    events = list(
        agent.stream("How many customers are in each region?", domains=["sales", "supply", "customers"])
    )
    elapsed = time.perf_counter() - start
    # The slowest space (0.7 s) plus a margin for a loaded machine; in sequence it would be 1.5 s.
    assert elapsed < 1.25
    started = [e.domain for e in events if isinstance(e, SpaceQueryStarted)]
    answered = [e.domain for e in events if isinstance(e, SpaceAnswered)]
    assert started == ["sales", "supply", "customers"]
    assert answered == ["sales", "supply", "customers"]  # each emitted the moment it lands: fastest first


def test_every_event_kind_of_a_turn(make_test_agent):
    from genie_agent.turn import (
        Clarification,
        RouteDecided,
        SpaceAnswered,
        SpaceQueryStarted,
        TextDelta,
        TurnDone,
        VisualizationReady,
    )

    agent = make_test_agent()
    answered = list(agent.stream("Top 5 nations by revenue in 1995"))
    kinds = [type(e) for e in answered]
    assert kinds[0] is RouteDecided and kinds[1] is SpaceQueryStarted and kinds[2] is SpaceAnswered
    assert TextDelta in kinds and kinds[-2] is VisualizationReady and kinds[-1] is TurnDone
    assert answered[-2].hint == answered[-1].result.visualization_hint

    unclear = list(agent.stream("What is the mood of the sales team?"))
    clarification = next(e for e in unclear if isinstance(e, Clarification))
    assert "mood" in clarification.text and clarification.suggested_questions
    assert unclear[-1].result.status == "clarify" and not any(
        isinstance(e, VisualizationReady) for e in unclear
    )


def test_dimension_values_index_is_cached_per_data_version(make_test_agent, _isolated_genie_agent_home):
    make_test_agent().ask("How many customers are in each region?")
    caches = sorted((_isolated_genie_agent_home / "cache").glob("values-customers-*.json"))
    assert len(caches) == 1
    values = json.loads(caches[0].read_text())
    assert sorted(values["region"]) == ["AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"]
    # A new process reads the index instead of querying: a value only the cache has is understood.
    values["region"].append("ATLANTIS")
    caches[0].write_text(json.dumps(values))
    result = make_test_agent().ask("How many customers are in atlantis?", domains=["customers"])
    assert "'ATLANTIS'" in result.results[0].sql
