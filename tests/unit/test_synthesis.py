from __future__ import annotations

from genie_agent.grounding import check_grounding
from genie_agent.synthesis import summarize_result, synthesize
from genie_agent.turn import ResultTable


def table(columns, rows, text="q", error=None):
    return ResultTable(
        "sales", "SELECT 1", tuple(columns), tuple(map(tuple, rows)), len(rows), False, "c1", error, text=text
    )


def test_single_value():
    out = summarize_result(table(["revenue"], [[1234567.891]], text="revenue (1996)"), "Sales")
    assert out == "**Sales** — revenue (1996): revenue: 1,234,567.89."


def test_grouped_rows_list_the_top_and_count_the_rest():
    rows = [[f"N{i}", 100.0 * (10 - i)] for i in range(8)]
    out = summarize_result(table(["nation", "revenue"], rows), "Sales")
    assert "N0: 1,000" in out and "N4: 600" in out and "N5" not in out and "8 rows in all" in out
    assert check_grounding(out, [rows], counts=[8])["ok"]


def test_time_series_reads_as_a_trend():
    rows = [[f"1996-{m:02d}-01", float(m * 10 + (5 if m == 3 else 0))] for m in range(1, 13)]
    out = summarize_result(table(["month", "revenue"], rows), "Sales")
    assert "from 10 (1996-01-01) to 120 (1996-12-01) over 12 periods" in out
    assert "highest 120 (1996-12-01)" in out and "lowest 10 (1996-01-01)" in out
    assert check_grounding(out, [rows], counts=[12])["ok"]


def test_failures_are_named_and_no_figure_is_invented():
    out = synthesize(
        [table(["revenue"], [[5.0]])], {"supply": "timed out."}, {"sales": "Sales", "supply": "Supply"}
    )
    assert "**Supply** could not answer: timed out." in out and "No figures are shown for it." in out


def test_unanswered_space_text_is_said_once():
    out = summarize_result(table([], [], text="no data about 'mood'", error="no data about 'mood'"), "Sales")
    assert out == "**Sales**: no data about 'mood'"
