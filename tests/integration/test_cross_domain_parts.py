"""Cross-domain turns over the TPC-H spaces: what is said once reaches every part, the parts are
joined in one table, a shared measure is a clarify, and "those nations" reaches another space."""

from __future__ import annotations

import pytest

from tests.conftest import open_readonly


@pytest.fixture
def agent(make_test_agent):
    return make_test_agent()


def _count(tpch_db, sql: str) -> int:
    with open_readonly(tpch_db) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_a_filter_said_once_applies_to_every_part(agent, tpch_db):
    result = agent.ask("number of customers and suppliers in peru?")
    assert result.status == "ok" and result.route.domains == ("customers", "supply")
    by_space = {r.domain: r.rows[0][0] for r in result.results}
    peru = "JOIN nation ON {k} = n_nationkey WHERE n_name = 'PERU'"
    assert by_space["customers"] == _count(
        tpch_db, "SELECT count(*) FROM customer " + peru.format(k="c_nationkey")
    )
    assert by_space["supply"] == _count(
        tpch_db, "SELECT count(*) FROM supplier " + peru.format(k="s_nationkey")
    )


def test_a_condition_on_one_parts_measure_stays_with_that_part(agent):
    result = agent.ask("revenue by nation, and how many suppliers with a balance over 9,500")
    questions = result.route.questions
    assert "9,500" in questions["supply"] and "9,500" not in questions["sales"]


def test_parts_grouped_alike_come_back_as_one_table_with_missing_members_missing(agent):
    result = agent.ask(
        "single table by nation: how many customers we have, and how many suppliers with a balance over 9,500"
    )
    assert result.status == "ok" and result.combined is not None
    assert result.combined.columns == ("nation", "customers (customers)", "suppliers (supply)")
    customers = {r[0] for r in result.results[0].rows}
    suppliers = {r[0] for r in result.results[1].rows}
    assert len(result.combined.rows) == len(customers | suppliers) == 25
    missing = [row for row in result.combined.rows if row[0] not in suppliers]
    assert missing and all(row[2] is None for row in missing)  # missing, never 0
    assert "| nation | customers (customers) | suppliers (supply) |" in result.text
    assert result.to_dict()["combined"]["columns"] == list(result.combined.columns)
    assert result.visualization_hint is not None and result.visualization_hint["x"] == "nation"
    assert result.grounding["ok"]


def test_a_measure_two_spaces_hold_is_a_clarify_naming_both(agent):
    result = agent.ask("Nation with the highest average account balance")
    assert result.status == "clarify" and not result.results
    assert "Customers" in result.text and "Supply" in result.text
    named = agent.ask("Nation with the highest average account balance in Customers")
    assert named.status == "ok" and named.route.domains == ("customers",)


def test_a_part_that_cannot_take_a_stated_filter_says_so(agent):
    result = agent.ask("revenue and suppliers by region in 1996")
    assert result.status == "clarify"
    supply = next(r for r in result.results if r.domain == "supply")
    assert supply.error is not None and "dates" in supply.error


def test_those_nations_are_the_last_answers_members_in_another_space(agent):
    first = agent.ask("which 4 nations brought in the most revenue in 1993?")
    top = [r[0] for r in first.results[0].rows]
    assert len(top) == 4
    second = agent.ask("how many suppliers does each of those nations have?", thread_id=first.thread_id)
    assert second.status == "ok" and second.route.domains == ("supply",)
    assert sorted(r[0] for r in second.results[0].rows) == sorted(top)
    third = agent.ask("and customers?", thread_id=first.thread_id)
    assert third.route.domains == ("customers",)
    assert sorted(r[0] for r in third.results[0].rows) == sorted(top)


def test_a_combined_table_request_is_not_remembered_as_a_chart_preference(agent):
    result = agent.ask(
        "Per region, how many customers have a negative balance and how many suppliers do? one table"
    )
    assert result.status == "ok" and result.combined is not None
    assert "remember" not in result.text
    assert all(row[1] is not None and row[2] is not None for row in result.combined.rows)


def test_a_follow_up_that_only_narrows_stays_with_the_last_answer(agent):
    first = agent.ask("avg order value by priority")
    second = agent.ask("just household customers", thread_id=first.thread_id)
    assert second.route.domains == ("sales",) and second.status == "ok"
    assert "HOUSEHOLD" in (second.results[0].sql or "")
    assert [r[0] for r in second.results[0].rows] != [] and second.results[0].columns == first.results[
        0
    ].columns


def test_a_trailing_grouping_goes_only_to_the_parts_that_know_it(agent):
    # Suppliers have no market segment: the grouping stays with revenue, it is not forced on supply.
    decision = agent.router.route("the number of suppliers and revenue by market segment")
    assert decision.questions == {"supply": "the number of suppliers", "sales": "revenue by market segment"}
    decision = agent.router.route("revenue and suppliers by nation")
    assert decision.questions == {"sales": "revenue by nation", "supply": "suppliers by nation"}


def test_a_statement_after_an_answer_on_the_same_thread_is_remembered(agent):
    first = agent.ask("Revenue by region in 1995")
    stated = agent.ask("my region is EUROPE", thread_id=first.thread_id)
    assert stated.status == "ok" and not stated.results  # a statement: nothing asked, no crash
