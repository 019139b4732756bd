from __future__ import annotations

import pytest

from genie_agent.grounding import check_grounding
from genie_agent.understanding.write_intent import write_intent


@pytest.mark.parametrize(
    "text",
    [
        "Delete all orders from 1992.",
        "please drop the customer table",
        "Could you update the price of part 5?",
        "Insert a new supplier called ACME",
        "run: DELETE FROM orders",
        "TRUNCATE TABLE lineitem",
        "add a new customer named Bob",
        "select 1; drop table orders",
    ],
)
def test_requests_to_change_data(text):
    assert write_intent(text)


@pytest.mark.parametrize(
    "text",
    [
        "What was revenue in 1995?",
        "change in revenue by year",
        "how many orders were updated late",
        "Write me a poem",
        "Which customers dropped off?",
        "top 5 nations by revenue",
    ],
)
def test_questions_are_not_writes(text):
    assert write_intent(text) is None


ROWS = [[("EUROPE", 1234567.891), ("ASIA", 22715.0)]]


@pytest.mark.parametrize(
    ("text", "unsupported"),
    [
        ("EUROPE 1,234,567.89; ASIA 22,715.", []),
        ("EUROPE about 1.2M, ASIA 22.7K", []),
        ("EUROPE 1.2M and ASIA 22,716", ["22,716"]),
        ("Revenue was 1.5M", ["1.5M"]),
        ("Revenue grew 12%", ["12%"]),
        ("In 1995 revenue was 1,234,567.89", []),  # 1995 comes from the question
        ("Peak on 1995-03-01", ["1995-03-01"]),
    ],
)
def test_grounding_flags_numbers_in_no_result(text, unsupported):
    result = check_grounding(text, ROWS, question="revenue in 1995")
    assert result["unsupported_numbers"] == unsupported
    assert result["ok"] is (not unsupported)


def test_grounding_ignores_digits_inside_labels():
    rows = [[("Brand#13", 5.0), ("1-URGENT", 7.0)]]
    assert check_grounding("Brand#13: 5; 1-URGENT: 7", rows)["ok"]


def test_percent_reads_a_fraction():
    assert check_grounding("average discount 5.06%", [[(0.0506,)]])["ok"]
