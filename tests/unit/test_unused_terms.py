"""Every dimension a question names is used by the plan, or the engine declines naming it.

"Inventory value by part type and part size" was answered by part type only: "part size" (a
dimension without indexed values) stood two words past "by", and a phrase with no grouping cue right
before it was read as an entity noun and dropped silently. A grouping cue now reaches every item
of the list after it, and a phrase the plan does not use is reported (``ParsedQuestion.unused``).
"""

from __future__ import annotations

import pytest

from genie_agent.config import EXAMPLE_CATALOG
from genie_agent.spaces.catalog import load_catalog
from genie_agent.spaces.local.parser import parse_question
from genie_agent.spaces.local.vocabulary import Vocabulary

CATALOG = load_catalog(EXAMPLE_CATALOG)
SUPPLY = Vocabulary.build(
    CATALOG.space("supply"),
    {
        "part type": ["STANDARD POLISHED BRASS", "LARGE BRUSHED TIN"],
        "brand": ["Brand#13", "Brand#22"],
        "manufacturer": ["Manufacturer#1"],
        "region": ["EUROPE", "ASIA"],
        "nation": ["GERMANY", "CANADA"],
    },
)
SALES = Vocabulary.build(
    CATALOG.space("sales"),
    {
        "region": ["EUROPE", "ASIA"],
        "nation": ["GERMANY", "UNITED STATES"],
        "market segment": ["BUILDING", "AUTOMOBILE"],
        "order priority": ["1-URGENT", "5-LOW"],
        "ship mode": ["AIR", "MAIL"],
    },
)
VOCABULARIES = {"supply": SUPPLY, "sales": SALES}


@pytest.mark.parametrize(
    ("space", "question", "group_by"),
    [
        ("supply", "Inventory value by part type and part size", ("part type", "part size")),
        ("supply", "Inventory value by part type and size", ("part type", "part size")),
        ("supply", "Inventory value by size and part type", ("part size", "part type")),
        ("supply", "available quantity by part manufacturer and part size", ("manufacturer", "part size")),
        (
            "supply",
            "How many parts by part brand, part type and part size?",
            ("brand", "part type", "part size"),
        ),
        ("supply", "supplier balance by supplier region and supplier name", ("region", "supplier")),
        ("sales", "Revenue by order priority and order status", ("order priority", "order status")),
        ("sales", "number of line items by ship mode and return flag", ("ship mode", "return flag")),
    ],
)
def test_a_grouping_cue_reaches_every_item_of_its_list(space: str, question: str, group_by: tuple[str, ...]):
    parsed = parse_question(question, VOCABULARIES[space])
    assert parsed.plan.group_by == group_by
    assert parsed.unused == ()


@pytest.mark.parametrize(
    ("space", "question", "unused"),
    [
        ("supply", "Inventory value by part type with part size", "part size"),
        ("supply", "part size inventory value by part type", "part size"),
        ("supply", "Inventory value by part type or part size", "part size"),
        ("sales", "revenue by order priority with order status", "order status"),
    ],
)
def test_a_dimension_the_plan_does_not_use_is_reported(space: str, question: str, unused: str):
    parsed = parse_question(question, VOCABULARIES[space])
    assert unused not in parsed.plan.group_by  # the reading left it out ...
    assert parsed.unused == (unused,)  # ... and says so: the engine declines naming it


@pytest.mark.parametrize(
    ("space", "question"),
    [
        # An entity noun that only sets the scene is not a grouping the answer leaves out.
        ("sales", "What's the average order value for customers in Europe?"),
        ("sales", "How many units did furniture customers buy in 1998?"),
        ("supply", "Total available quantity for Brand#13 parts"),
        # The phrase a question replaces is not asked for.
        ("sales", "revenue by segment instead of region"),
        # A value, a condition on a dimension, a named filter: each used by the plan.
        ("sales", "revenue by region for the BUILDING segment"),
        ("supply", "inventory value by brand for parts of size 10 to 20"),
        ("sales", "revenue from returned items by ship mode"),
    ],
)
def test_phrases_the_plan_uses_or_only_set_the_scene_are_not_reported(space: str, question: str):
    assert parse_question(question, VOCABULARIES[space]).unused == ()


def test_the_engine_declines_naming_the_phrase_it_did_not_use(tpch_catalog, tmp_path):
    from genie_agent.spaces.local.conversations import ConversationStore
    from genie_agent.spaces.local.engine import LocalGenieSpace
    from genie_agent.spaces.local.executor import ReadOnlyExecutor

    executor = ReadOnlyExecutor(tpch_catalog.databases["tpch"].path)
    space = LocalGenieSpace(
        tpch_catalog.space("supply"),
        executor,
        ConversationStore(tmp_path / "c.sqlite"),
        use_verified_queries=False,
    )
    try:
        declined = space.ask("Inventory value by part type with part size")
        assert declined.status == "no_answer" and declined.sql is None
        assert "I did not understand how to use 'part size' here" in declined.text
        assert "inventory value by part type" in declined.text  # what it did understand
        answered = space.ask("Inventory value by part type and part size")
        assert answered.status == "completed"
        assert answered.columns == ("part type", "part size", "inventory value")
    finally:
        executor.close()


def test_a_date_the_measure_cannot_be_dated_by_is_declined_not_replaced(tpch_catalog, tmp_path):
    """ "orders shipped in 1995": the ship date is the line item's, not reachable from the orders
    measure's table; answering by order date (22,909 orders, not 26,742) would be another question."""
    from genie_agent.spaces.local.conversations import ConversationStore
    from genie_agent.spaces.local.engine import LocalGenieSpace
    from genie_agent.spaces.local.executor import ReadOnlyExecutor

    executor = ReadOnlyExecutor(tpch_catalog.databases["tpch"].path)
    space = LocalGenieSpace(
        tpch_catalog.space("sales"),
        executor,
        ConversationStore(tmp_path / "c.sqlite"),
        use_verified_queries=False,
    )
    try:
        declined = space.ask("How many orders were shipped in 1995?")
        assert declined.status == "no_answer" and declined.sql is None
        assert "orders cannot be dated by ship date" in declined.text
        units = space.ask("How many units were shipped in 1995?")  # a line item measure: its own date
        assert units.status == "completed" and "l_shipdate" in (units.sql or "")
    finally:
        executor.close()
