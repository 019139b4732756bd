"""The local engine answers the example question set, with verified queries turned off.

Expected results come from hand-written SQL in examples/tpch/questions.yaml, run on the same data.
"""

from __future__ import annotations

import pytest

from tests.question_set import load_cases, normalize, same_result


@pytest.fixture(scope="module")
def engine(tpch_catalog, tmp_path_factory):
    from genie_agent.spaces.local.conversations import ConversationStore
    from genie_agent.spaces.local.engine import LocalGenieSpace
    from genie_agent.spaces.local.executor import ReadOnlyExecutor

    executor = ReadOnlyExecutor(tpch_catalog.databases["tpch"].path)
    conversations = ConversationStore(tmp_path_factory.mktemp("conv") / "c.sqlite")
    spaces = {
        s.id: LocalGenieSpace(s, executor, conversations, use_verified_queries=False)
        for s in tpch_catalog.spaces
    }
    yield spaces, executor
    executor.close()


def _check(engine, space: str, question: str, expected_sql: str, ordered: bool, conversation_id=None):
    spaces, executor = engine
    answer = spaces[space].ask(question, conversation_id)
    expected = executor._execute_unchecked(expected_sql).rows
    assert answer.status == "completed", answer.text
    assert same_result(answer.rows, expected, ordered), (
        f"{question}\nSQL:\n{answer.sql}\ngot      {normalize(answer.rows, ordered)[:5]}\n"
        f"expected {normalize(expected, ordered)[:5]}"
    )
    return answer


@pytest.mark.parametrize("case", load_cases("single"), ids=lambda c: c["id"])
def test_single_space_question(engine, case):
    space = case["spaces"][0]
    _check(engine, space, case["question"], case["expected_sql"][space], case.get("ordered", False))


@pytest.mark.parametrize("case", load_cases("followup"), ids=lambda c: c["id"])
def test_followups_refine_the_previous_query(engine, case):
    conversation_id = None
    for turn in case["turns"]:
        space = turn["spaces"][0]
        answer = _check(
            engine,
            space,
            turn["question"],
            turn["expected_sql"][space],
            turn.get("ordered", False),
            conversation_id,
        )
        conversation_id = answer.conversation_id


@pytest.mark.parametrize("case", load_cases("cross"), ids=lambda c: c["id"])
def test_each_part_of_a_cross_question_is_answerable_by_its_space(engine, case, make_test_agent):
    # The agent splits the question; each space's part must give that space's expected result.
    agent = make_test_agent(verified_queries=False)
    result = agent.ask(case["question"])
    assert result.status == "ok", result.text
    assert [r.domain for r in result.results] == case["spaces"]
    _, executor = engine
    for table in result.results:
        expected = executor._execute_unchecked(case["expected_sql"][table.domain]).rows
        assert same_result(table.rows, expected, case.get("ordered", False)), (table.domain, table.sql)


def test_unanswerable_question_says_so_with_suggestions(engine):
    spaces, _ = engine
    answer = spaces["sales"].ask("What is the mood of the sales team?")
    assert answer.status == "no_answer"
    assert answer.rows == () and answer.sql is None
    assert "Sales" in answer.text and answer.suggested_questions


def test_unknown_grouping_is_not_guessed(engine):
    spaces, _ = engine
    answer = spaces["sales"].ask("revenue by weather in 1995")
    assert answer.status == "no_answer"
    assert "'weather'" in answer.text and "region" in answer.text


def test_verified_query_wins_when_it_matches(engine, tpch_catalog):
    from genie_agent.spaces.local.engine import LocalGenieSpace

    spaces, executor = engine
    sales = tpch_catalog.space("sales")
    verified = LocalGenieSpace(sales, executor, spaces["sales"]._conversations, use_verified_queries=True)
    answer = verified.ask("what was total revenue in 1996")
    assert answer.text.startswith("Verified answer")
    assert answer.sql == sales.verified_queries[0].sql
    compiled = spaces["sales"].ask("what was total revenue in 1996")
    assert not compiled.text.startswith("Verified")
    assert same_result(answer.rows, compiled.rows, ordered=True)
