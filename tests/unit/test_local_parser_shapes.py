"""The local engine's parser on question shapes it once answered as a different question.

Each test reads questions against the example sales space (values given, no database) and checks
the plan: what the question asks is what the plan computes.
"""

from __future__ import annotations

from genie_agent.config import EXAMPLE_CATALOG
from genie_agent.spaces.catalog import load_catalog
from genie_agent.spaces.local.parser import merge_followup, parse_question
from genie_agent.spaces.local.vocabulary import Vocabulary

CATALOG = load_catalog(EXAMPLE_CATALOG)
SALES = Vocabulary.build(
    CATALOG.space("sales"),
    {
        "region": ["EUROPE", "ASIA"],
        "nation": ["GERMANY", "CANADA"],
        "market segment": ["BUILDING", "HOUSEHOLD"],
        "order priority": ["1-URGENT", "5-LOW"],
        "ship mode": ["AIR", "MAIL"],
    },
)


def _followup(first: str, then: str):
    return merge_followup(parse_question(first, SALES).plan, parse_question(then, SALES))


def test_a_measure_that_sets_the_scene_of_a_followup_keeps_the_previous_measure():
    urgent = _followup("Revenue by ship mode for 1997", "only urgent orders")
    assert [m.name for m in urgent.measures] == ["revenue"]
    assert dict(urgent.filters) == {"order priority": ("1-URGENT",)}
    placed = _followup("avg order value by priority", "only for orders placed in 1996")
    assert [m.name for m in placed.measures] == ["average order value"]
    assert placed.time_range is not None and placed.time_range.label == "1996"


def test_a_followup_naming_a_new_measure_replaces_it():
    p = _followup("Revenue by ship mode for 1997", "what about the number of orders")
    assert [m.name for m in p.measures] == ["orders"]
    assert p.group_by == ("ship mode",)


def test_as_well_adds_a_grouping():
    parsed = parse_question("by segment as well", SALES)
    assert parsed.adds_grouping and parsed.unknown_words == ()


CUSTOMERS = Vocabulary.build(
    CATALOG.space("customers"), {"region": ["EUROPE"], "market segment": ["BUILDING"]}
)


def test_negative_numbers_keep_their_sign():
    (c,) = parse_question(
        "count of customers with balances from -500 to 500, per region", CUSTOMERS
    ).plan.conditions
    assert (c.op, c.value, c.high, c.on_measure) == ("between", -500, 500, False)
    (below,) = parse_question("customers with a balance below -$900", CUSTOMERS).plan.conditions
    assert (below.op, below.value) == ("<", -900)


def test_a_dash_that_joins_or_spaces_two_numbers_is_no_sign():
    from genie_agent.spaces.local.reading import Reading, read_numbers
    from genie_agent.understanding.lexicon import tokenize

    question = "balance 100 - 200, 300 -400, e-5 and (-7)"
    r = Reading(question, tokenize(question), CUSTOMERS, [])
    read_numbers(r)
    assert [n.value for n in r.numbers] == [100, 200, 300, 400, -7]


def test_a_dated_measure_after_a_preposition_sets_the_scene_of_a_having():
    p = parse_question("ship modes with an average discount above 5% on 1997 orders", SALES).plan
    assert [m.name for m in p.measures] == ["average discount"] and p.group_by == ("ship mode",)
    (c,) = p.conditions
    assert (c.target, c.op, c.value, c.on_measure) == ("average discount", ">", 0.05, True)
    assert p.time_range is not None and p.time_range.label == "1997"


def test_the_term_after_instead_of_is_replaced_not_added():
    regrouped = _followup(
        "revenue per customer by nation in 1995", "can you split that by region instead of nation"
    )
    assert regrouped.group_by == ("region",) and regrouped.ratio is not None
    refiltered = _followup("revenue in GERMANY", "CANADA rather than GERMANY")
    assert dict(refiltered.filters) == {"nation": ("CANADA",)} and refiltered.group_by == ()


def test_top_n_within_each_period():
    segments = parse_question("for each year, the two segments with the most orders", SALES).plan
    assert (segments.time_grain, segments.per_group, segments.group_by) == (
        "year",
        "year",
        ("market segment",),
    )
    assert (segments.limit, segments.order) == (2, "desc")
    months = parse_question("What was the best month for revenue in each year?", SALES).plan
    assert (months.time_grain, months.per_group, months.limit) == ("month", "year", 1)


def test_a_period_ranked_within_a_coarser_one_gets_both_keys():
    from genie_agent.spaces.local.sqlgen import compile_plan

    months = parse_question("What was the best month for revenue in each year?", SALES).plan
    compiled = compile_plan(CATALOG.space("sales"), months)
    assert compiled.columns[:2] == ("year", "month")
    assert "PARTITION BY YEAR(orders.o_orderdate)" in compiled.sql and "<= 1" in compiled.sql


def test_a_year_span_does_not_swallow_the_word_before_it():
    p = parse_question("the 2 biggest nations for revenue each year, 1995-1997", SALES).plan
    assert (p.time_grain, p.per_group, p.group_by, p.limit) == ("year", "year", ("nation",), 2)
    assert p.time_range is not None and p.time_range.label == "1995 to 1997"


def test_a_filter_said_of_the_measure_is_the_share_asked_within_each_group():
    rate = parse_question("what % of line items get returned, by ship mode", SALES).plan
    assert (rate.share_of, rate.group_by) == ("filter:returned", ("ship mode",))
    within = parse_question("share of returned line items by ship mode", SALES).plan
    assert within.share and within.share_of is None and within.named_filters == ("returned",)


def test_a_noun_naming_the_table_of_a_value_says_what_the_value_is():
    import yaml

    from genie_agent.spaces.semantic_model import SpaceDefinition
    from tests.bank.catalogs.bikes import RIDES_SPACE

    rides = Vocabulary.build(
        SpaceDefinition.model_validate(yaml.safe_load(RIDES_SPACE)),
        {"model": ["Volt", "Spark", "Hauler"], "city": ["Berlin"]},
    )
    parsed = parse_question("Average duration for Volt, Spark and Hauler bikes", rides)
    assert parsed.unknown_words == () and parsed.unplaced == ()
    assert dict(parsed.plan.filters) == {"model": ("Volt", "Spark", "Hauler")}
    assert parse_question("Average duration for Berlin bikes", rides).unknown_words == ("bikes",)


def test_a_date_that_does_not_exist_is_bad_input_not_a_crash():
    parsed = parse_question("how many orders on 1995-02-30?", SALES)
    assert parsed.problems == ("which day '1995-02-30' is: there is no such date",)


SUPPLY = Vocabulary.build(CATALOG.space("supply"), {"region": ["EUROPE"], "brand": ["Brand#13"]})


def test_a_dimension_followed_by_a_comparator_is_the_condition_target_not_a_grouping():
    for question in (
        "number of parts with a part size of at least 45",
        "number of parts with part size no more than 5",
        "number of parts with part size over 45",
        "number of parts with part size larger than 45",
    ):
        p = parse_question(question, SUPPLY).plan
        assert p.group_by == () and [c.target for c in p.conditions] == ["part size"], question


def test_a_numeric_condition_on_a_text_dimension_is_not_understood():
    parsed = parse_question("number of orders by order priority between 5 and 50", SALES)
    assert parsed.plan.conditions == ()
    assert parsed.problems == ("what 'between 5 and 50' applies to: order priority is not a number",)


def test_a_top_n_cut_through_a_tie_is_the_same_every_time():
    """Rows tied on the measure are ordered by the keys, so the cut keeps the same members whatever
    order the database groups them in."""
    import duckdb

    from genie_agent.spaces.local.sqlgen import compile_plan

    plan = parse_question("top 2 market segments by orders", SALES).plan
    sql = compile_plan(CATALOG.space("sales"), plan).sql
    kept = set()
    for insert_order in (["MACHINERY", "BUILDING", "AUTOMOBILE"], ["AUTOMOBILE", "MACHINERY", "BUILDING"]):
        db = duckdb.connect()
        db.execute("CREATE TABLE customer (c_custkey INT, c_mktsegment VARCHAR, c_nationkey INT)")
        db.execute("CREATE TABLE orders (o_orderkey INT, o_custkey INT, o_orderdate DATE)")
        for i, segment in enumerate(insert_order):  # one order each: all three tie
            db.execute("INSERT INTO customer VALUES (?, ?, 1)", [i, segment])
            db.execute("INSERT INTO orders VALUES (?, ?, DATE '1995-01-01')", [i, i])
        kept.add(tuple(r[0] for r in db.execute(sql).fetchall()))
    assert kept == {("AUTOMOBILE", "BUILDING")}
