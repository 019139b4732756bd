"""Visualization hints: type inference over Genie's string cells and the local engine's typed values.

Most cases run twice: once as Genie returns them (every cell a string, nulls as None) under neutral column
names, so no rule can lean on a name, and once with typed Python values (Decimal, date, datetime).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from genie_agent.viz import VisualizationHint, infer_column_kind, suggest_visualization

DESIGN_KEYS = {"type", "x", "y", "series", "title", "sort", "format", "reason"}


def suggest(columns: list[str], rows: list[list[Any]], **kwargs: Any) -> dict[str, Any]:
    out = suggest_visualization(columns, rows, **kwargs)
    assert out is not None
    assert out.reason and "\n" not in out.reason
    return out.to_dict()


def both(strings: list[list[Any]], typed: list[list[Any]]) -> Any:
    """Parametrize one case over Genie-style strings and typed values."""
    return pytest.mark.parametrize("rows", [strings, typed], ids=["genie-strings", "typed"])


CATEGORIES_5 = ["A", "B", "C", "D", "E"]


# --- infer_column_kind -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["3.336E8", "1.2E7", None], "number"),
        (["1234.5", "-0.25", ".5", "1e-3", "42"], "number"),
        ([1, 2.5, Decimal("3.10")], "number"),
        ([1, "2.5"], "number"),
        (["1995-03-01", "1995-04-01"], "date"),
        (["1995-03-01T00:00:00.000Z", "1995-04-01T00:00:00.000Z"], "date"),
        (["1995-03-01 12:30:00", "1995-03-01T12:30:00+02:00"], "date"),
        (["1995-03", "1995-04"], "date"),
        ([dt.date(1995, 3, 1), dt.datetime(1995, 4, 1, 12, 0)], "date"),
        (["A", "B"], "category"),
        (["true", "false"], "category"),
        ([True, False], "category"),
        (["007", "012"], "category"),  # zero-padded codes are not numbers
        (["1995-13-01"], "category"),  # not a real date
        (["1", "A"], "category"),
        ([dt.date(1995, 3, 1), 3], "category"),
        (["NaN", "Infinity"], "category"),
        ([None, None], "empty"),
        ([], "empty"),
    ],
)
def test_infer_column_kind_from_values(values: list[Any], kind: str) -> None:
    assert infer_column_kind(values) == kind


@pytest.mark.parametrize(
    ("column_type", "values", "kind"),
    [
        ("STRING", ["101", "102"], "category"),
        ("VARCHAR", ["1.5"], "category"),
        ("DECIMAL(18,2)", ["1.50"], "number"),
        ("decimal(10, 2)", ["1.50"], "number"),
        ("BIGINT", ["5"], "number"),
        ("INT", ["5"], "number"),
        ("LONG", ["5"], "number"),
        ("DOUBLE", ["3.336E8"], "number"),
        ("DATE", ["1995-03-01"], "date"),
        ("TIMESTAMP", ["1995-03-01T00:00:00.000Z"], "date"),
        ("TIMESTAMP WITH TIME ZONE", ["1995-03-01T00:00:00Z"], "date"),
        ("BOOLEAN", ["true"], "category"),
        ("INTEGER[]", ["[1, 2]"], "category"),
        ("GEOMETRY", ["5", "6"], "number"),  # an unknown type name leaves it to the values
        ("", ["5"], "number"),
        ("  ", ["5"], "number"),
        ("BIGINT", [None, None], "empty"),  # all null is empty whatever the type
    ],
)
def test_a_type_name_wins_over_the_values(column_type: str, values: list[Any], kind: str) -> None:
    assert infer_column_kind(values, column_type) == kind


# --- nothing to show ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("columns", "rows"), [([], []), (["c1"], []), ([], [["1"]])])
def test_no_rows_or_no_columns_is_none(columns: list[str], rows: list[list[Any]]) -> None:
    assert suggest_visualization(columns, rows) is None


# --- kpi ---------------------------------------------------------------------------------------------


@both([["3.336E8"]], [[Decimal("333600000.00")]])
def test_kpi_single_value(rows: list[list[Any]]) -> None:
    out = suggest(["c1"], rows)
    assert out == {
        "type": "kpi",
        "x": None,
        "y": "c1",
        "series": None,
        "title": "c1",
        "sort": None,
        "format": "integer",
        "reason": out["reason"],
    }


@both([["EUROPE", "1234.5"]], [["EUROPE", Decimal("1234.5")]])
def test_kpi_one_measure_beside_a_label(rows: list[list[Any]]) -> None:
    out = suggest(["c1", "c2"], rows)
    assert (out["type"], out["x"], out["y"], out["format"]) == ("kpi", None, "c2", "number")


@pytest.mark.parametrize(
    "rows",
    [[["1.5", "2", "3"]], [["1.5", "2"]], [[1.5, 2, Decimal(3)]]],
    ids=["genie-3", "genie-2", "typed-3"],
)
def test_kpi_with_two_or_three_measures_in_one_row(rows: list[list[Any]]) -> None:
    columns = ["c1", "c2", "c3"][: len(rows[0])]
    out = suggest(columns, rows)
    assert (out["type"], out["y"], out["x"]) == ("kpi", "c1", None)


def test_one_row_of_four_measures_is_a_table() -> None:
    out = suggest(["c1", "c2", "c3", "c4"], [["1", "2", "3", "4"]])
    assert out["type"] == "table" and "single row" in out["reason"]


def test_one_row_with_a_label_and_two_measures_is_a_table() -> None:
    out = suggest(["c1", "c2", "c3"], [["A", "1", "2"]])
    assert out["type"] == "table"


# --- line --------------------------------------------------------------------------------------------


@both(
    [["1995-03-01", "3.336E8"], ["1995-04-01", "1.2E7"], ["1995-05-01", None]],
    [
        [dt.date(1995, 3, 1), Decimal("3.336E8")],
        [dt.date(1995, 4, 1), Decimal("1.2E7")],
        [dt.date(1995, 5, 1), None],
    ],
)
def test_line_with_dates(rows: list[list[Any]]) -> None:
    out = suggest(["c1", "c2"], rows)
    assert (out["type"], out["x"], out["y"], out["series"], out["sort"]) == ("line", "c1", "c2", None, "asc")
    assert out["title"] == "c2 by c1" and out["format"] != "date"


@both(
    [["1995-03-01T00:00:00.000Z", "10.5"], ["1995-04-01T00:00:00.000Z", "11.5"]],
    [[dt.datetime(1995, 3, 1, tzinfo=dt.UTC), 10.5], [dt.datetime(1995, 4, 1, tzinfo=dt.UTC), 11.5]],
)
def test_line_with_timestamps(rows: list[list[Any]]) -> None:
    out = suggest(["c1", "c2"], rows)
    assert (out["type"], out["x"], out["y"], out["format"]) == ("line", "c1", "c2", "number")


SERIES_STRINGS = [
    ["1995-01-01", "A", "1"],
    ["1995-01-01", "B", "2"],
    ["1995-02-01", "A", "3"],
    ["1995-02-01", "B", "4"],
]


@both(SERIES_STRINGS, [[dt.date.fromisoformat(d), c, int(v)] for d, c, v in SERIES_STRINGS])
def test_line_with_a_series_column(rows: list[list[Any]]) -> None:
    out = suggest(["c1", "c2", "c3"], rows)
    assert (out["type"], out["x"], out["y"], out["series"]) == ("line", "c1", "c3", "c2")
    assert out["title"] == "c3 by c1 and c2"


def test_a_one_to_one_label_beside_unique_dates_is_no_series() -> None:
    out = suggest(["c1", "c2", "c3"], [["1995-01-01", "Q1", "1"], ["1995-04-01", "Q2", "2"]])
    assert (out["type"], out["series"]) == ("line", None)


def test_repeated_dates_with_no_single_series_column_is_a_table() -> None:
    rows = [["1995-01-01", "A", "X", "1"], ["1995-01-01", "B", "Y", "2"], ["1995-02-01", "A", "X", "3"]]
    out = suggest(["c1", "c2", "c3", "c4"], rows)
    assert out["type"] == "table" and "repeat" in out["reason"]


@pytest.mark.parametrize("name", ["year", "o_year", "fiscal_year", "orderYear", "FY", "yr"])
@both([["1995", "3.5"], ["1996", "4.5"], ["1997", "2.5"]], [[1995, 3.5], [1996, 4.5], [1997, 2.5]])
def test_a_year_named_integer_column_is_a_time_axis(name: str, rows: list[list[Any]]) -> None:
    out = suggest([name, "c2"], rows)
    assert (out["type"], out["x"], out["y"], out["sort"]) == ("line", name, "c2", "asc")


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("size", list(range(1, 51))),  # small integers
        ("c1", list(range(1995, 2000))),  # year-like values under a name that does not say year
        ("year", list(range(1, 11))),  # a year name over values that are no years
        ("years", list(range(1995, 2000))),  # a duration, not a calendar year
    ],
)
@pytest.mark.parametrize("as_text", [True, False], ids=["genie-strings", "typed"])
def test_integers_are_not_a_time_axis_without_both_name_and_range(
    name: str, values: list[int], as_text: bool
) -> None:
    rows: list[list[Any]] = [[str(v), str(v * 10)] if as_text else [v, v * 10] for v in values]
    out = suggest([name, "c2"], rows)
    assert out["type"] == "table" and "x axis" in out["reason"]


# --- pie ---------------------------------------------------------------------------------------------

SHARE_STRINGS = [
    [c, v] for c, v in zip(CATEGORIES_5, ["3.336E8", "1.2E7", "5E6", "4000000", "12.5"], strict=True)
]
SHARE_TYPED = [[c, Decimal(v)] for c, v in SHARE_STRINGS]


@pytest.mark.parametrize(
    "question",
    [
        "What is each region's share of revenue?",
        "revenue breakdown by region",
        "break down revenue by region",
        "proportion of orders per segment",
        "percentage of sales by region",
        "distribution of orders by priority",
        "how is revenue split across regions",
        "the product mix",
        "composition of revenue",
        "what % comes from each region",
    ],
)
@both(SHARE_STRINGS, SHARE_TYPED)
def test_pie_when_the_question_asks_for_a_share(question: str, rows: list[list[Any]]) -> None:
    out = suggest(["c1", "c2"], rows, question=question)
    assert (out["type"], out["x"], out["y"], out["sort"]) == ("pie", "c1", "c2", "desc")


@both(
    [[f"K{i}", str(i + 1)] for i in range(12)],
    [[f"K{i}", Decimal(i + 1)] for i in range(12)],
)
def test_no_pie_with_twelve_categories(rows: list[list[Any]]) -> None:
    out = suggest(["c1", "c2"], rows, question="share of revenue by nation")
    assert out["type"] == "bar"


@both(SHARE_STRINGS, SHARE_TYPED)
def test_no_pie_without_share_wording(rows: list[list[Any]]) -> None:
    out = suggest(["c1", "c2"], rows, question="revenue by region")
    assert out["type"] == "bar"


@both(
    [["A", "10"], ["B", "-5"], ["C", "3"]],
    [["A", Decimal(10)], ["B", Decimal(-5)], ["C", Decimal(3)]],
)
def test_no_pie_with_negative_values(rows: list[list[Any]]) -> None:
    out = suggest(["c1", "c2"], rows, question="share of profit by region")
    assert out["type"] == "bar"


@pytest.mark.parametrize(
    "rows",
    [
        [["A", "1"], ["A", "2"], ["B", "3"]],  # a category on two rows
        [["A", "0"], ["B", "0"]],  # nothing to share
    ],
    ids=["repeated-category", "all-zero"],
)
def test_no_pie_when_the_slices_do_not_add_up(rows: list[list[Any]]) -> None:
    out = suggest(["c1", "c2"], rows, question="share by region")
    assert out["type"] == "bar"


# --- bar ---------------------------------------------------------------------------------------------

BAR_STRINGS = [["A", "3.336E8"], ["B", "1.2E7"], ["C", "5E6"]]
BAR_TYPED = [["A", Decimal("3.336E8")], ["B", Decimal("1.2E7")], ["C", Decimal("5E6")]]


@both(BAR_STRINGS, BAR_TYPED)
def test_bar_sorts_descending_by_default(rows: list[list[Any]]) -> None:
    out = suggest(["c1", "c2"], rows, question="top 3 regions by revenue")
    assert (out["type"], out["x"], out["y"], out["series"], out["sort"]) == ("bar", "c1", "c2", None, "desc")


@pytest.mark.parametrize(
    "question",
    ["bottom 3 regions", "lowest revenue", "least profitable", "fewest orders", "smallest markets"],
)
@both(BAR_STRINGS, BAR_TYPED)
def test_bar_sorts_ascending_when_asked_for_the_bottom(question: str, rows: list[list[Any]]) -> None:
    out = suggest(["c1", "c2"], rows, question=question)
    assert (out["type"], out["sort"]) == ("bar", "asc")


def test_at_least_is_not_a_request_for_the_bottom() -> None:
    out = suggest(["c1", "c2"], BAR_STRINGS, question="regions with at least 5 orders")
    assert out["sort"] == "desc"


BAR_SERIES_STRINGS = [["A", "X", "1"], ["A", "Y", "2"], ["B", "X", "3"], ["B", "Y", "4"]]


@both(BAR_SERIES_STRINGS, [[a, b, Decimal(v)] for a, b, v in BAR_SERIES_STRINGS])
def test_bar_with_a_series_column(rows: list[list[Any]]) -> None:
    out = suggest(["c1", "c2", "c3"], rows)
    assert (out["type"], out["x"], out["y"], out["series"]) == ("bar", "c1", "c3", "c2")


def test_two_one_to_one_category_columns_are_a_bar_without_series() -> None:
    out = suggest(["c1", "c2", "c3"], [["1A", "Alice", "5"], ["2B", "Bob", "7"]])
    assert (out["type"], out["x"], out["series"]) == ("bar", "c1", None)


def test_bar_at_fifty_rows_table_beyond() -> None:
    rows = [[f"K{i}", str(i)] for i in range(51)]
    assert suggest(["c1", "c2"], rows[:50])["type"] == "bar"
    assert suggest(["c1", "c2"], rows)["type"] == "table"


# --- identifiers -------------------------------------------------------------------------------------


def test_an_identifier_column_is_never_the_measure() -> None:
    rows = [[1, "Customer#1", Decimal("10.5")], [2, "Customer#2", Decimal("7.25")]]
    out = suggest(["c_custkey", "c_name", "revenue"], rows)
    assert (out["type"], out["x"], out["y"], out["series"]) == ("bar", "c_name", "revenue", None)
    out = suggest(["customer_id", "revenue"], [["42", "1234.5"]])
    assert (out["type"], out["y"]) == ("kpi", "revenue")


def test_an_identifier_is_the_category_when_there_is_no_other() -> None:
    out = suggest(["nationkey", "c2"], [["1", "5.5"], ["2", "6.5"]])
    assert (out["type"], out["x"], out["y"]) == ("bar", "nationkey", "c2")


# --- table -------------------------------------------------------------------------------------------


@both([[f"K{i}", str(i * 1.5)] for i in range(200)], [[f"K{i}", i * 1.5] for i in range(200)])
def test_table_for_two_hundred_rows_of_categories(rows: list[list[Any]]) -> None:
    out = suggest(["c1", "c2"], rows)
    assert (out["type"], out["x"], out["y"], out["sort"]) == ("table", None, None, None)
    assert "200 rows" in out["reason"]


@both([["A", "X"], ["B", "Y"]], [["A", dt.date(1995, 1, 1)], ["B", dt.date(1995, 2, 1)]])
def test_table_with_no_numeric_column(rows: list[list[Any]]) -> None:
    out = suggest(["c1", "c2"], rows)
    assert out["type"] == "table" and "no numeric column" in out["reason"]
    assert out["title"] == "c1, c2"


@pytest.mark.parametrize("column_types", [None, ["STRING", "DECIMAL(18,2)"]])
def test_table_for_an_all_null_numeric_column(column_types: list[str] | None) -> None:
    out = suggest(["c1", "c2"], [["A", None], ["B", None]], column_types=column_types)
    assert out["type"] == "table" and "c2 only null" in out["reason"]


def test_table_for_three_category_columns() -> None:
    rows = [["A", "X", "P", "1"], ["B", "Y", "Q", "2"]]
    out = suggest(["c1", "c2", "c3", "c4"], rows)
    assert out["type"] == "table" and "3 category columns" in out["reason"]


# --- column types ------------------------------------------------------------------------------------


def test_column_types_win_over_string_sniffing() -> None:
    rows = [["101", "5"], ["102", "7"], ["103", "9"]]
    assert suggest(["c1", "c2"], rows)["type"] == "table"  # two numbers, no x axis
    out = suggest(["c1", "c2"], rows, column_types=["STRING", "BIGINT"])
    assert (out["type"], out["x"], out["y"]) == ("bar", "c1", "c2")


def test_a_numeric_type_over_unreadable_text_is_not_integral() -> None:
    out = suggest(["c1", "c2"], [["A", "10"], ["B", "n/a"]], column_types=["STRING", "DOUBLE"])
    assert (out["type"], out["y"], out["format"]) == ("bar", "c2", "number")


def test_unhashable_category_values() -> None:
    rows: list[list[Any]] = [[[1, 2], 5], [[3], 6], [[1, 2], 7]]
    out = suggest(["c1", "c2"], rows, question="share by c1")  # [1, 2] repeats: no pie
    assert (out["type"], out["x"]) == ("bar", "c1")


def test_a_date_type_makes_a_time_axis() -> None:
    out = suggest(["c1", "c2"], [["1995-01-01", "1"], ["1995-02-01", "2"]], column_types=["DATE", "DOUBLE"])
    assert (out["type"], out["x"]) == ("line", "c1")


# --- format ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "values", "fmt"),
    [
        ("pct_returned", ["0.25", "0.5"], "percent"),
        ("discount_rate", [Decimal(5), Decimal("12.5")], "percent"),
        ("percentage", ["40", "60"], "percent"),
        ("market_share", [0.1, 0.9], "percent"),
        ("growth_rate", ["-5", "10"], "integer"),  # negative: not a percent range
        ("revenue", ["3.336E8", "1.2E7"], "currency"),
        ("l_extendedprice", [Decimal("10.50"), Decimal("2.25")], "currency"),
        ("total_sales", ["10.5", "2.25"], "currency"),
        ("sales_count", ["10", "2"], "integer"),  # a count of sales is not money
        ("c2", ["3.336E8", "1.2E7"], "integer"),
        ("c2", [Decimal("10.00"), 2], "integer"),
        ("c2", ["10.5", "2"], "number"),
        ("corporate_score", ["0.5", "0.7"], "number"),  # 'rate' inside a word is not a rate
    ],
)
def test_format_inference(name: str, values: list[Any], fmt: str) -> None:
    out = suggest(["c1", name], [["A", values[0]], ["B", values[1]]])
    assert out["y"] == name and out["format"] == fmt


@pytest.mark.parametrize("fmt", ["number", "currency", "percent", "integer"])
def test_number_format_when_given_wins(fmt: str) -> None:
    assert suggest(["c1"], [["0.5"]], number_format=fmt)["format"] == fmt


def test_unknown_number_format_is_an_error() -> None:
    with pytest.raises(ValueError, match="number_format"):
        suggest_visualization(["c1"], [["1"]], number_format="money")


def test_table_format_comes_from_its_first_measure() -> None:
    rows = [[f"K{i}", f"{i}.5"] for i in range(60)]
    assert suggest(["c1", "revenue"], rows)["format"] == "currency"
    assert suggest(["c1", "c2"], [["A", "B"]])["format"] == "number"


# --- title and shape ---------------------------------------------------------------------------------


def test_title_given_or_built_from_y_and_x() -> None:
    rows = [["EUROPE", "10"], ["ASIA", "20"]]
    assert suggest(["region", "revenue"], rows)["title"] == "revenue by region"
    assert suggest(["r_name", "total_revenue"], rows)["title"] == "total revenue by r name"
    assert suggest(["region", "revenue"], rows, title="Revenue 1996")["title"] == "Revenue 1996"


def test_to_dict_has_exactly_the_design_keys() -> None:
    out = suggest_visualization(["c1", "c2"], BAR_STRINGS)
    assert isinstance(out, VisualizationHint)
    assert set(out.to_dict()) == DESIGN_KEYS and len(out.to_dict()) == 8
    assert {f.name for f in dataclasses.fields(VisualizationHint)} == DESIGN_KEYS
    with pytest.raises(dataclasses.FrozenInstanceError):
        out.type = "pie"  # type: ignore[misc]


def test_ragged_rows_read_missing_cells_as_null() -> None:
    out = suggest(["c1", "c2"], [["A", "1"], ["B"]])
    assert (out["type"], out["y"]) == ("bar", "c2")
