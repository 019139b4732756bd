"""Keys (years, months, ids, sizes) are written as keys; percent measures as percents; the hint agrees."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from genie_agent.column_kinds import column_format, column_formats, names_a_percent
from genie_agent.formatting import format_cell, format_key, format_percent, number_scale
from genie_agent.grounding import check_grounding
from genie_agent.synthesis import summarize_result
from genie_agent.turn import ResultTable
from genie_agent.viz import suggest_visualization

YEARS = [[1992 + i, 3_000_000_000.25 + i] for i in range(7)]


def table(columns, rows, *, formats=(), types=(), text="q"):
    return ResultTable(
        "sales",
        "SELECT 1",
        tuple(columns),
        tuple(map(tuple, rows)),
        len(rows),
        False,
        "c1",
        None,
        tuple(types),
        text,
        tuple(formats),
    )


def grounded(out: str, rows) -> bool:
    return check_grounding(out, [rows], counts=[len(rows)])["ok"]


# --- the formatters ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1992, "1992"),
        (1992.0, "1992"),
        (decimal.Decimal("1992"), "1992"),
        ("1992", "1992"),  # Genie's text cells
        (1234567, "1234567"),  # an id
        (dt.date(1996, 3, 1), "1996-03-01"),
        ("1996-03-01", "1996-03-01"),
        ("AMERICA", "AMERICA"),
        (0.5, "0.5"),
        (None, "—"),
    ],
)
def test_a_key_is_written_as_it_is(value, shown):
    assert format_key(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.05, "5.0%"),
        (0.05007, "5.0%"),
        (decimal.Decimal("0.125"), "12.5%"),
        ("0.05", "5.0%"),
        (-0.125, "-12.5%"),
        (-0.0001, "0.0%"),
        (0, "0.0%"),
        (1, "100.0%"),
        (12.5, "1,250.0%"),
        (None, "—"),
        ("n/a", "n/a"),
    ],
)
def test_a_fraction_is_written_as_a_percent(value, shown):
    assert format_percent(value) == shown


def test_keys_and_percents_ignore_the_number_scale():
    with number_scale("thousands"):
        assert format_cell(1992, "key") == "1992"
        assert format_cell(0.05, "percent") == "5.0%"
        assert format_cell(22759, "integer") == "22.76K"
        assert format_cell(22759, None) == "22.76K"


# --- column formats ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["share of revenue", "Share of  Revenue", "% revenue", "revenue %", "%", "revenue percent change"],
)
def test_share_and_percentage_names(name):
    assert names_a_percent(name)
    assert column_format(name, [0.25, -0.5]) == "percent"


@pytest.mark.parametrize("name", ["revenue", "percentage", "shares", "share", "revenue change", "margin"])
def test_other_names_are_not_percents(name):
    assert not names_a_percent(name)


def test_column_formats_from_metadata_name_and_values():
    columns = ["year", "o_custkey", "part size", "month", "revenue", "share of revenue", "discount"]
    rows = [[1992, 7, 23, "1992-01-01", 5.0, 0.5, 0.05], [1993, 8, 31, "1992-02-01", 5.0, 0.5, 0.04]]
    assert column_formats(columns, rows) == ("key", "key", None, "date", None, "percent", None)
    declared = ("", "", "key", "", "currency", "", "percent")
    assert column_formats(columns, rows, declared=declared) == (
        "key",
        "key",
        "key",
        "date",
        "currency",
        "percent",
        "percent",
    )


def test_a_year_column_is_a_key_only_with_whole_years():
    assert column_format("year", [1992, 1993]) == "key"
    assert column_format("o_orderYear", ["1992", "1993"]) == "key"
    assert column_format("year", [1992.5]) is None
    assert column_format("year", [15000]) is None  # not a year: a number in a column named year
    assert column_format("size", [1992, 1993]) is None  # values alone never make a year
    assert column_format("year", [1992], "VARCHAR") is None  # a category: written as it is anyway


# --- the answer text -----------------------------------------------------------------------------------


def test_years_are_written_without_a_thousands_separator():
    out = summarize_result(table(["year", "revenue"], YEARS), "Sales")
    assert "1992: 3,000,000,000.25" in out and "1,992" not in out and "1996: " in out
    assert grounded(out, YEARS)


def test_a_year_key_stays_a_year_in_a_number_scale():
    with number_scale("millions"):
        out = summarize_result(table(["year", "revenue"], YEARS), "Sales")
    assert "1992: 3,000.00M" in out and "1.99K" not in out and "1,992" not in out


def test_grouping_columns_are_keys_whatever_their_name():
    rows = [[1995, 2023, 519.58], [1995, 3100, 511.39]]
    declared = ("key", "key", "currency")
    out = summarize_result(table(["year", "part number", "supply cost"], rows, formats=declared), "Supply")
    assert "1995, 2023: 519.58" in out and "1995, 3100: 511.39" in out and "2,023" not in out
    assert grounded(out, rows)


def test_the_first_column_labels_the_rows_without_metadata():
    rows = [[4001, 519.58], [1234, 511.39]]
    out = summarize_result(table(["part size", "supply cost"], rows), "Supply")
    assert "4001: 519.58" in out and "4,001" not in out


def test_ids_are_keys():
    rows = [[1234567, "Customer#1234567", 9_999.5], [7654321, "Customer#7654321", 9_998.25]]
    out = summarize_result(table(["c_custkey", "name", "balance"], rows), "Customers")
    assert "1234567, Customer#1234567: 9,999.50" in out and "1,234,567" not in out


def test_months_are_iso_dates():
    rows = [[f"1996-{m:02d}-01", 1000.0 * m] for m in range(1, 13)]
    out = summarize_result(table(["month", "revenue"], rows, formats=("key", "currency")), "Sales")
    assert "(1996-01-01)" in out and "(1996-12-01)" in out and "1,996" not in out
    assert grounded(out, rows)


def test_a_single_row_with_a_year_writes_the_year_as_a_key():
    rows = [[1995, 3_000_000_000.25]]
    out = summarize_result(table(["year", "revenue"], rows), "Sales")
    assert out.endswith("1995: 3,000,000,000.25.")


def test_a_listing_without_measures_writes_keys():
    rows = [[1992, "AMERICA"], [1993, "ASIA"]]
    out = summarize_result(table(["year", "region"], rows), "Sales")
    assert out.endswith("1992, AMERICA; 1993, ASIA.")


def test_a_declared_percent_measure_reads_as_a_percent():
    rows = [["AMERICA", 0.0502], ["ASIA", 0.05]]
    out = summarize_result(table(["region", "average discount"], rows, formats=("key", "percent")), "Sales")
    assert "AMERICA: 5.0%" in out and "ASIA: 5.0%" in out and "0.05" not in out
    assert grounded(out, rows)


def test_a_single_percent_value():
    rows = [[0.05007]]
    out = summarize_result(table(["average discount"], rows, formats=("percent",)), "Sales")
    assert out.endswith("average discount: 5.0%.")
    assert grounded(out, rows)


def test_share_and_percent_change_columns_read_as_percents_by_name():
    rows = [["EUROPE", 400.0, 0.4, 0.125], ["ASIA", 600.0, 0.6, -0.05]]
    cols = ["region", "revenue", "share of revenue", "revenue percent change"]
    out = summarize_result(table(cols, rows), "Sales")
    assert "EUROPE: 400 (share of revenue 40.0%, revenue percent change 12.5%)" in out
    assert "ASIA: 600 (share of revenue 60.0%, revenue percent change -5.0%)" in out
    assert grounded(out, rows)


def test_a_share_as_the_only_measure():
    rows = [["EUROPE", 0.4], ["ASIA", 0.6]]
    out = summarize_result(table(["region", "% revenue"], rows), "Sales")
    assert "EUROPE: 40.0%; ASIA: 60.0%" in out
    assert grounded(out, rows)


def test_a_percent_trend():
    rows = [[f"1996-{m:02d}-01", m / 100] for m in range(1, 13)]
    out = summarize_result(table(["month", "average discount"], rows, formats=("key", "percent")), "Sales")
    assert "went from 1.0% (1996-01-01) to 12.0% (1996-12-01)" in out
    assert grounded(out, rows)


# --- the visualization hint agrees ---------------------------------------------------------------------


def test_the_hint_format_follows_the_declared_measure_format():
    rows = [["AMERICA", 0.0502], ["ASIA", 0.05]]
    hint = suggest_visualization(["region", "margin"], rows, column_formats=("key", "percent"))
    assert hint is not None and hint.format == "percent"
    hint = suggest_visualization(["region", "margin"], rows)
    assert hint is not None and hint.format == "number"


@pytest.mark.parametrize("name", ["share of revenue", "% revenue", "revenue %", "revenue percent change"])
def test_the_hint_format_of_share_and_change_columns_is_percent(name):
    rows = [["EUROPE", 0.125], ["ASIA", -1.5]]  # a change may be negative or above 100%
    hint = suggest_visualization(["region", name], rows)
    assert hint is not None and hint.y == name and hint.format == "percent"


def test_a_given_number_format_still_wins():
    rows = [["EUROPE", 0.125], ["ASIA", 0.5]]
    hint = suggest_visualization(
        ["region", "share of revenue"], rows, number_format="number", column_formats=("key", "percent")
    )
    assert hint is not None and hint.format == "number"


# --- through the agent ---------------------------------------------------------------------------------


def test_revenue_by_year_through_the_agent(make_test_agent):
    result = make_test_agent().ask("Revenue by year")
    assert result.status == "ok", result.text
    assert "1992" in result.text and "1,992" not in result.text
    assert result.results[0].column_formats == ("key", "currency")
    assert result.visualization_hint is not None and result.visualization_hint["format"] == "currency"
    assert result.grounding["ok"]


def test_average_discount_through_the_agent(make_test_agent):
    result = make_test_agent().ask("average discount by region")
    assert result.status == "ok", result.text
    assert "5.0%" in result.text and "0.05" not in result.text
    assert result.visualization_hint is not None and result.visualization_hint["format"] == "percent"
    assert result.grounding["ok"]
