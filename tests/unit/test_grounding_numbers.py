"""Grounding finds a number among the result cells by the decimals it shows, however many cells
there are and whatever their size; cells that are not finite match nothing."""

from __future__ import annotations

from genie_agent.grounding import check_grounding


def test_a_number_matches_within_the_last_digit_shown():
    cells = [[1_234_000], [1_236_001], [5]]
    assert check_grounding("Revenue was 1.23M.", [cells])["ok"]  # 1,234,000 is within 5,000
    assert check_grounding("Revenue was 1.24M.", [cells])["ok"]  # 1,236,001 is
    assert check_grounding("Revenue was 1.25M.", [cells])["unsupported_numbers"] == ["1.25M"]


def test_many_cells_and_very_large_numbers():
    cells = [[i * 7.25] for i in range(5000)] + [[10**20]]
    text = "Values 36,242.75, 36,242.8, 7.25 and 100,000,000,000,000,000,000 but not 36,250.1."
    assert check_grounding(text, [cells])["unsupported_numbers"] == ["36,250.1"]


def test_cells_that_are_not_finite_match_nothing():
    cells = [[float("nan"), float("inf"), float("-inf"), 12.5]]
    assert check_grounding("It was 12.5 over 7 rows.", [cells], counts=[7])["ok"]
    assert check_grounding("It was 14.", [cells])["unsupported_numbers"] == ["14"]


def test_percent_reads_a_fraction_or_a_percentage():
    assert check_grounding("A share of 5%.", [[[0.05]]])["ok"]
    assert check_grounding("A share of 5%.", [[[5]]])["ok"]
    assert check_grounding("A share of 6%.", [[[0.05]]])["unsupported_numbers"] == ["6%"]
