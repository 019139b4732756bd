"""Routing to remote Genie spaces, whose values the router never sees (open world).

A local space's routing terms hold every indexed value, so a name none of them knows is declined.
A Databricks Genie space is known only by its configured keywords and description: a question naming
one of its values ("revenue in Germany") must reach it, while a question nothing of any space matches
("the weather in Paris") is still declined. The spaces are built from config exactly as the agent
builds them; routing never calls the client, and the last tests ask them through the Genie API.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from genie_agent.genie_api import build_genie_api, serve_in_background
from genie_agent.identity import Identity, TokenIdentityProvider, UserConfig
from genie_agent.spaces.base import GenieSpace
from genie_agent.spaces.databricks import DatabricksGenieSpace, GenieSpaceConfig
from genie_agent.spaces.local.conversations import ConversationStore
from genie_agent.spaces.local.engine import LocalGenieSpace
from genie_agent.spaces.local.executor import ReadOnlyExecutor
from genie_agent.understanding.routing import Router
from genie_agent.understanding.vocabulary import SpaceVocabulary
from tests.conftest import open_readonly

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

# The README's "Deploy to your workspace" config for the TPC-H spaces.
GENIE_SPACES = {
    "sales": {
        "space_id": "sales",
        "description": "Orders and their line items, with revenue, order counts, quantities and discounts "
        "by the customer's nation, region and market segment.",
        "keywords": ["revenue", "orders", "order value", "units", "quantity", "discount"],
        "sample_questions": ["Revenue by region in 1995", "Top 5 nations by revenue"],
    },
    "supply": {
        "space_id": "supply",
        "description": "Suppliers, parts and part supply; supplier counts and account balances by the "
        "supplier's nation and region, supply cost, available quantity and inventory value by part brand, "
        "type, size, container and manufacturer.",
        "keywords": ["suppliers", "supply cost", "inventory value", "available quantity"],
    },
    "customers": {
        "space_id": "customers",
        "description": "Customers with their nation, region and market segment; customer counts and "
        "account balances.",
        "keywords": ["customers", "account balance"],
    },
}
HR = GenieSpaceConfig(
    space_id="hr", description="Employees, their salaries and offices.", keywords=("salary", "headcount")
)
TOKEN = "open-world-token"


def _no_client(identity: Identity | None) -> WorkspaceClient:
    raise AssertionError("routing must not reach the workspace")


def _remote(configs: dict[str, GenieSpaceConfig]) -> list[DatabricksGenieSpace]:
    return [DatabricksGenieSpace(d, c, _no_client) for d, c in configs.items()]


def _router(spaces: Sequence[GenieSpace]) -> Router:
    return Router(SpaceVocabulary((s.info, s.routing_terms()) for s in spaces))


@pytest.fixture(scope="module")
def remote() -> Router:
    return _router(_remote({d: GenieSpaceConfig.model_validate(c) for d, c in GENIE_SPACES.items()}))


@pytest.fixture(scope="module")
def local_spaces(tpch_catalog, tpch_db, tmp_path_factory) -> list[LocalGenieSpace]:
    executor = ReadOnlyExecutor(tpch_db)
    conversations = ConversationStore(tmp_path_factory.mktemp("open-world") / "conversations.sqlite")
    return [LocalGenieSpace(d, executor, conversations) for d in tpch_catalog.spaces]


def test_remote_spaces_are_open_world_and_local_ones_closed(remote, local_spaces):
    assert {info.knows_values for info in remote.spaces.values()} == {False}
    assert {s.info.knows_values for s in local_spaces} == {True}


@pytest.mark.parametrize(
    ("question", "space"),
    [
        ("What was revenue in Germany in 1997?", "sales"),
        ("How many suppliers are in ASIA?", "supply"),
        ("How many customers are in the AUTOMOBILE segment?", "customers"),
    ],
)
def test_a_question_naming_a_value_goes_to_the_open_world_space(remote, question, space):
    decision = remote.route(question)
    assert (decision.kind, decision.domains) == ("single", (space,)), decision
    assert decision.questions == {space: question}


def test_the_same_question_is_declined_by_closed_world_spaces(local_spaces):
    decision = _router(local_spaces).route("How many Apple phones did we sell?")
    assert (decision.kind, decision.reason) == ("out_of_scope", "no space knows Apple")
    assert _router(local_spaces).route("How many customers are in Atlantis?").kind == "out_of_scope"


@pytest.mark.parametrize(
    ("previous", "question", "kind"),
    [
        ("sales", "Only for the BUILDING segment.", "follow_up"),
        ("supply", "Only in Asia.", "follow_up"),
        ("customers", "Only for customers in France.", "single"),  # names its measure: same space
    ],
)
def test_a_follow_up_naming_a_value_continues_on_the_open_world_space(remote, previous, question, kind):
    decision = remote.route(question, (previous,))
    assert (decision.kind, decision.domains, dict(decision.questions)) == (
        kind,
        (previous,),
        {previous: question},
    )


@pytest.mark.parametrize(
    "question",
    [
        "What will the weather be like in Paris tomorrow?",
        "What is the current stock price of Apple?",
        "What is the average salary of our employees?",
        "Write me a poem about the ocean.",
        "How many Apple phones did we sell?",
    ],
)
def test_what_no_space_matches_is_still_declined(remote, question):
    decision = remote.route(question)
    assert decision.kind == "out_of_scope" and decision.domains == (), decision


def test_requests_to_change_data_are_refused(remote):
    assert remote.route("Delete all orders in Germany.").kind == "refused"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (
            "How many customers and how many suppliers are there in each nation?",
            {
                "customers": "How many customers in each nation",
                "supply": "how many suppliers are there in each nation",
            },
        ),
        (
            "How many customers and how many suppliers does each nation have?",
            {
                "customers": "How many customers for each nation",
                "supply": "how many suppliers does each nation have",
            },
        ),
        (
            "What was total revenue and how many customers were there per year?",
            {
                "sales": "What was total revenue per year",
                "customers": "how many customers were there per year",
            },
        ),
        (  # the grouping each part already has is not added twice; one inside a clause stays there
            "What was revenue by region in 1995, and how many suppliers does each region have?",
            {
                "sales": "What was revenue by region in 1995",
                "supply": "how many suppliers does each region have",
            },
        ),
        (
            "What was total revenue in 1996, and how many customers do we have?",
            {"sales": "What was total revenue in 1996", "customers": "how many customers do we have"},
        ),
        (
            "How many orders were placed in Germany in 1997, and how many suppliers are in Germany?",
            {
                "sales": "How many orders were placed in Germany in 1997",
                "supply": "how many suppliers are in Germany",
            },
        ),
    ],
)
def test_a_trailing_grouping_goes_to_every_open_world_part(remote, question, expected):
    decision = remote.route(question)
    assert decision.kind == "cross_domain" and dict(decision.questions) == expected, decision


def test_mixed_spaces_send_an_unknown_name_to_the_open_world_space_only(local_spaces):
    router = _router([*local_spaces, *_remote({"hr": HR})])
    assert router.spaces["hr"].knows_values is False
    munich = router.route("What is the average salary of employees in Munich?")
    assert (munich.kind, munich.domains) == ("single", ("hr",))
    # "customers" is a closed-world measure: Atlantis is not in its data, and hr is not about customers.
    assert router.route("How many customers are in Atlantis?").kind == "out_of_scope"
    assert router.route("How many Apple phones did we sell?").kind == "out_of_scope"
    # Only the clause naming the unknown office is the open-world space's; the other keeps its owner.
    both = router.route("How many customers are there, and what is the average salary in Munich?")
    assert both.kind == "cross_domain" and set(both.domains) == {"customers", "hr"}, both
    assert both.questions["hr"] == "what is the average salary in Munich"
    # A closed-world space is still asked only for the groupings it has.
    local = router.route("What was revenue by region in 1995, and how many suppliers does each region have?")
    assert dict(local.questions) == {
        "sales": "What was revenue by region in 1995",
        "supply": "how many suppliers does each region have",
    }


# --- through the Genie Conversation API: the answers are the data's ----------------------------------------


@pytest.fixture(scope="module")
def genie_url(local_spaces) -> Iterator[str]:
    api = build_genie_api(
        {s.info.id: s for s in local_spaces},
        TokenIdentityProvider({"ann": UserConfig.model_validate({"token": TOKEN})}),
    )
    with serve_in_background(api) as url:
        yield url


@pytest.fixture
def databricks_agent(genie_url, make_test_agent, monkeypatch):
    for name in [n for n in os.environ if n.startswith("DATABRICKS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/databrickscfg")
    monkeypatch.setenv("DATABRICKS_HOST", genie_url)
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    return make_test_agent(genie_backend="databricks", genie_spaces=GENIE_SPACES, genie_poll_timeout_s=30)


def _rows(tpch_db: Path, sql: str) -> list[tuple[Any, ...]]:
    with open_readonly(tpch_db) as conn:
        return sorted(conn.execute(sql).fetchall())


def test_each_space_answers_the_shared_grouping_through_genie(databricks_agent, tpch_db):
    result = databricks_agent.ask("How many customers and how many suppliers are there in each nation?")
    assert (result.status, result.source) == ("ok", "genie"), result.text
    tables = {r.domain: sorted(map(tuple, r.rows)) for r in result.results}
    assert tables["customers"] == _rows(
        tpch_db,
        "SELECT n.n_name, COUNT(*) FROM customer c JOIN nation n ON c.c_nationkey = n.n_nationkey GROUP BY 1",
    )
    assert tables["supply"] == _rows(
        tpch_db,
        "SELECT n.n_name, COUNT(*) FROM supplier s JOIN nation n ON s.s_nationkey = n.n_nationkey GROUP BY 1",
    )
    assert len(tables["customers"]) == 25


def test_a_value_the_router_never_saw_is_answered_by_genie(databricks_agent, tpch_db):
    result = databricks_agent.ask("How many suppliers are in ASIA?")
    assert (result.status, result.route.domains) == ("ok", ("supply",)), result.text
    in_region = (
        "SELECT COUNT(*) FROM supplier s JOIN nation n ON s.s_nationkey = n.n_nationkey "
        "JOIN region r ON n.n_regionkey = r.r_regionkey WHERE r.r_name = '{}'"
    )
    assert [tuple(r) for r in result.results[0].rows] == _rows(tpch_db, in_region.format("ASIA"))
    follow = databricks_agent.ask("Only in Europe.", thread_id=result.thread_id)
    assert follow.route.kind == "follow_up" and follow.status == "ok", follow.text
    assert follow.genie_conversation_ids["supply"] == result.genie_conversation_ids["supply"]
    assert [tuple(r) for r in follow.results[0].rows] == _rows(tpch_db, in_region.format("EUROPE"))
    declined = databricks_agent.ask("What will the weather be like in Paris tomorrow?")
    assert declined.status == "out_of_scope" and declined.results == ()
