"""The question parser on a vocabulary built without a database."""

from __future__ import annotations

from datetime import date

import pytest

from genie_agent.config import EXAMPLE_CATALOG
from genie_agent.spaces.catalog import load_catalog
from genie_agent.spaces.local.parser import merge_followup, parse_question
from genie_agent.spaces.local.vocabulary import Vocabulary

SALES = load_catalog(EXAMPLE_CATALOG).space("sales")
VOCAB = Vocabulary.build(
    SALES,
    {
        "region": ["EUROPE", "ASIA"],
        "nation": ["GERMANY", "UNITED STATES"],
        "market segment": ["BUILDING"],
        "ship mode": ["AIR", "REG AIR"],
    },
)


def plan(q):
    return parse_question(q, VOCAB).plan


@pytest.mark.parametrize(
    ("question", "start", "end"),
    [
        ("revenue in 1995", date(1995, 1, 1), date(1996, 1, 1)),
        ("revenue in March 1995", date(1995, 3, 1), date(1995, 4, 1)),
        ("revenue in december of 1996", date(1996, 12, 1), date(1997, 1, 1)),
        ("revenue in Q2 1996", date(1996, 4, 1), date(1996, 7, 1)),
        ("revenue in the fourth quarter of 1996", date(1996, 10, 1), date(1997, 1, 1)),
        ("revenue between 1994 and 1996", date(1994, 1, 1), date(1997, 1, 1)),
        ("revenue 1994-1996", date(1994, 1, 1), date(1997, 1, 1)),
        ("revenue from 1995-01-01 to 1995-06-30", date(1995, 1, 1), date(1995, 7, 1)),
        ("revenue since 1997", date(1997, 1, 1), None),
        ("revenue before 1993", None, date(1993, 1, 1)),
    ],
)
def test_time_ranges(question, start, end):
    r = plan(question).time_range
    assert r is not None and (r.start, r.end) == (start, end)


@pytest.mark.parametrize(
    ("question", "grain"),
    [
        ("monthly revenue", "month"),
        ("revenue by quarter", "quarter"),
        ("orders per year", "year"),
        ("revenue in 1995", None),
    ],
)
def test_time_grain(question, grain):
    assert plan(question).time_grain == grain


@pytest.mark.parametrize(
    ("question", "limit", "order"),
    [
        ("top 5 nations by revenue", 5, "desc"),
        ("bottom three regions by revenue", 3, "asc"),
        ("which region had the most revenue", 1, "desc"),
        ("which 3 nations had the least revenue", 3, "asc"),
        ("the 2 highest nations by revenue", 2, "desc"),
        ("revenue by nation", None, None),
    ],
)
def test_ranking(question, limit, order):
    p = plan(question)
    assert (p.limit, p.order) == (limit, order)


def test_values_filter_and_dimensions_group():
    p = plan("revenue by nation in europe for the BUILDING segment")
    assert p.group_by == ("nation",)
    assert dict(p.filters) == {"region": ("EUROPE",), "market segment": ("BUILDING",)}


def test_multiword_values_and_longest_match():
    p = plan("quantity shipped by REG AIR in united states")
    assert dict(p.filters) == {"ship mode": ("REG AIR",), "nation": ("UNITED STATES",)}
    assert p.time_dimension == "ship date"


def test_counting_cue_picks_the_measure():
    assert [m.name for m in plan("how many orders per order priority").measures] == ["orders"]
    assert plan("how many orders per order priority").group_by == ("order priority",)


def test_unknown_words_are_reported():
    parsed = parse_question("What is the mood of the sales team?", VOCAB)
    assert parsed.unknown_words == ("mood", "team")


def test_followup_merges_into_the_previous_plan():
    first = plan("revenue by region in 1995")
    p = merge_followup(first, parse_question("what about 1996? only for the BUILDING segment", VOCAB))
    assert p.measures == first.measures and p.group_by == ("region",)
    assert p.time_range is not None and p.time_range.start == date(1996, 1, 1)
    assert dict(p.filters) == {"market segment": ("BUILDING",)}


def test_followup_regroups_and_drops_a_filter_on_the_new_grouping():
    first = plan("revenue in europe in 1995")
    p = merge_followup(first, parse_question("break it down by region", VOCAB))
    assert p.group_by == ("region",) and p.filters == ()
