"""What a turn would show twice (genie_agent_tui.repeats): charts with the same points, and the answer's
Markdown tables whose rows a result view shows."""

from __future__ import annotations

import datetime as dt

from genie_agent_tui.charts import ChartSpec
from genie_agent_tui.repeats import TableRowsHeld, chart_points, without_shown_tables
from genie_agent_tui.stream import ResultData


def _result(domain: str, columns: list[str], rows: list[list[object]]) -> ResultData:
    return ResultData.read({"domain": domain, "columns": columns, "rows": rows, "row_count": len(rows)})


SALES = _result("sales", ["region", "revenue"], [["ASIA", 639301085.32], ["AFRICA", 639835184.38]])
COMBINED = _result(
    "combined",
    ["region", "revenue (sales)", "suppliers (supply)"],
    [["AFRICA", 639835184.38, 179], ["ASIA", 639301085.32, None]],
)


def test_a_chart_of_the_same_points_is_the_same_chart_whatever_its_columns_are_called():
    sales = chart_points(ChartSpec("bar", "region", "revenue"), SALES.columns, SALES.rows)
    combined = ChartSpec("bar", "region", "revenue (sales)", sort="desc")
    assert sales is not None and chart_points(combined, COMBINED.columns, COMBINED.rows) == sales
    other = ChartSpec("bar", "region", "suppliers (supply)")
    assert chart_points(other, COMBINED.columns, COMBINED.rows) != sales
    assert chart_points(ChartSpec("table", "region", "revenue"), SALES.columns, SALES.rows) is None


def test_a_table_a_view_shows_is_left_out_and_its_prose_stays():
    text = (
        "**Together** — joined on region:\n\n"
        "| region | revenue (sales) | suppliers (supply) |\n|---|---:|---:|\n"
        "| ASIA | 639.30M | — |\n| **AFRICA** | $639,835,184.38 | 179 |\n\n"
        "2 rows in all."
    )
    assert without_shown_tables(text, [SALES, COMBINED]) == (
        "**Together** — joined on region:\n\n2 rows in all."
    )
    assert without_shown_tables(text, [SALES]) == text  # no view shows those rows


def test_a_table_no_view_shows_stays():
    shares = _result("sales", ["region", "share"], [["ASIA", 0.125], ["EUROPE", dt.date(1995, 1, 1)]])
    kept = "| region | share |\n|---|---:|\n| ASIA | 14% |\n"  # 12.5% is not 14%
    assert without_shown_tables(kept, [shares]) == kept
    shown = "| region | share |\n|---|---:|\n| ASIA | 12.5% |\n| EUROPE | 1995-01-01 |\n"
    assert without_shown_tables(shown, [shares]) == ""
    more = "| region | share | rank |\n|---|---:|---:|\n| ASIA | 12.5% | 1 |\n"  # other columns
    assert without_shown_tables(more, [shares]) == more
    assert without_shown_tables("| not | a table |\n", [shares]) == "| not | a table |\n"


def test_streaming_holds_table_rows_back_wherever_the_deltas_cut():
    text = "Lead: ASIA.\n\n| region | n |\n|---|---:|\n| ASIA | 3 |\n  | EUROPE | 2 |\n\nThat is all."
    for size in (1, 3, 7, len(text)):
        held = TableRowsHeld()
        shown = "".join(held.take(text[at : at + size]) for at in range(0, len(text), size))
        assert shown == "Lead: ASIA.\n\n\nThat is all.", size
