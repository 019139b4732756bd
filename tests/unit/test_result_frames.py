"""Results people can work with: typed DataFrames and Arrow tables, and a turn that shows itself."""

from __future__ import annotations

import datetime as dt
import html
import io
import subprocess
import sys

import pandas as pd
import pyarrow as pa
import pytest
from rich.console import Console

from genie_agent import contract
from genie_agent.display import SHOWN_ROWS
from genie_agent.errors import ConfigError
from genie_agent.turn import jsonable

# One row of values as JSON carries them, one of nulls; DuckDB's type names, then Databricks'.
COLUMNS = ("month", "revenue", "orders", "price", "region", "shipped", "at", "at_utc", "tags")
DUCKDB = ("DATE", "DECIMAL(38,4)", "BIGINT", "DOUBLE", "VARCHAR", "BOOLEAN", "TIMESTAMP",
          "TIMESTAMP WITH TIME ZONE", "VARCHAR[]")  # fmt: skip
DATABRICKS = ("date", "decimal(18,2)", "bigint", "double", "string", "boolean", "timestamp",
              "timestamp_ltz", "array<string>")  # fmt: skip
ROW = ["1996-03-01", 1234.5, 42, 0.25, "ASIA", True, "1996-03-01T10:30:00", "1996-03-01T10:30:00+02:00",
       ["a", "b"]]  # fmt: skip


def table(types: tuple[str, ...], rows: list[list[object]], **fields: object) -> contract.ResultTable:
    payload = {"domain": "sales", "columns": COLUMNS[: len(types)], "column_types": types, "rows": rows}
    return contract.ResultTable.read({**payload, "row_count": len(rows), **fields})


@pytest.mark.parametrize("types", [DUCKDB, DATABRICKS], ids=["duckdb", "databricks"])
def test_columns_are_typed_by_their_sql_types_and_nulls_are_missing(types):
    frame = table(types, [ROW, [None] * len(ROW)]).to_pandas()
    dtypes = frame.dtypes
    is_datetime = pd.api.types.is_datetime64_dtype
    assert is_datetime(dtypes["month"]) and is_datetime(dtypes["at"])
    assert frame["month"][0] == pd.Timestamp("1996-03-01")
    assert frame["at"][0] == pd.Timestamp("1996-03-01 10:30:00")
    assert dtypes["revenue"] == "float64" and frame["revenue"][0] == 1234.5  # a decimal is a number
    assert dtypes["orders"] == "Int64" and dtypes["price"] == "float64"
    assert dtypes["region"] == "string" and dtypes["shipped"] == "boolean"
    assert frame["tags"][0] == ["a", "b"]  # no type to give a list: as it came
    assert frame.iloc[1].isna().all()
    assert frame["orders"].sum() == 42  # the null is missing, not a zero or a NaN float
    if types is DUCKDB:  # an instant with its zone: in UTC
        assert str(dtypes["at_utc"]) == "datetime64[us, UTC]"
        assert frame["at_utc"][0] == pd.Timestamp("1996-03-01 08:30:00", tz="UTC")
    else:  # Databricks' TIMESTAMP_LTZ, read as naive UTC by the statement reader
        assert frame["at_utc"][0] == pd.Timestamp("1996-03-01 08:30:00")


def test_values_a_type_does_not_describe_are_kept_and_untyped_columns_take_their_values_type():
    odd = table(("DATE", "DECIMAL(10,2)"), [["1996-03-01", 1.5], ["someday", "n/a"]]).to_pandas()
    assert odd.dtypes.tolist() == [object, object] and odd["revenue"].tolist() == [1.5, "n/a"]
    untyped = contract.ResultTable.read(
        {"columns": ["a", "b", "c", "d"], "rows": [[1, 1.5, "x", True], [None, 2, None, None]]}
    ).to_pandas()
    assert untyped.dtypes.astype(str).tolist() == ["Int64", "float64", "string", "boolean"]


def test_repeated_names_and_ragged_rows_keep_every_column():
    frame = contract.ResultTable.read(
        {"columns": ["x", "x"], "column_types": ["BIGINT", "BIGINT"], "rows": [[1, 2], [3]]}
    ).to_pandas()
    assert list(frame.columns) == ["x", "x"] and frame.iloc[:, 1].isna().tolist() == [False, True]


def test_a_month_of_revenue_from_a_real_turn_converts(make_test_agent):
    result = make_test_agent().ask("revenue by month in 1996")
    frame = result.to_pandas()
    assert list(frame.columns) == ["month", "revenue"] and len(frame) == 12
    assert pd.api.types.is_datetime64_dtype(frame["month"]) and frame["revenue"].dtype == "float64"
    assert frame["month"].dt.year.unique().tolist() == [1996] and frame["month"].is_monotonic_increasing
    (sales,) = result.results
    assert frame["revenue"].tolist() == [row[1] for row in sales.rows]
    # The same from the wire, as a client of `ask --json` or the served agent reads it.
    wire = contract.TurnResult.read(result.to_dict())
    pd.testing.assert_frame_equal(wire.to_pandas(), frame)


def test_a_cross_domain_turn_gives_each_table_and_the_joined_one(make_test_agent):
    result = make_test_agent().ask(
        "What was revenue by region in 1995, and how many suppliers does each region have?"
    )
    frames = result.dataframes()
    assert set(frames) == {"sales", "supply", "combined"}
    joined = result.to_pandas()
    pd.testing.assert_frame_equal(joined, frames["combined"])
    assert list(joined.columns) == ["region", "revenue (sales)", "suppliers (supply)"]
    assert joined.dtypes.astype(str).tolist() == ["string", "float64", "Int64"]
    assert len(joined) == 5 and joined["suppliers (supply)"].sum() == frames["supply"]["suppliers"].sum()


def test_arrow_has_the_sql_types_and_round_trips_the_rows():
    rows = [ROW[:-1], [None] * (len(ROW) - 1)]
    result = table(DUCKDB[:-1], rows)
    arrow = result.to_arrow()
    assert [str(t) for t in arrow.schema.types] == [
        "date32[day]", "double", "int64", "double", "string", "bool", "timestamp[us]", "timestamp[us, tz=UTC]"
    ]  # fmt: skip
    back = [tuple(jsonable(v) for v in row.values()) for row in arrow.to_pylist()]
    assert back[1] == (None,) * 8
    assert back[0][:7] == tuple(ROW[:7])
    assert dt.datetime.fromisoformat(back[0][7]) == dt.datetime.fromisoformat(ROW[7])  # the same instant
    # Arrow and pandas agree on the values.
    assert arrow.to_pandas()["revenue"].tolist()[0] == result.to_pandas()["revenue"][0]
    assert pa.Table.from_pandas(result.to_pandas()).num_rows == 2


def test_an_empty_or_failed_turn_converts_to_an_empty_frame():
    failed = contract.TurnResult.read({"status": "error", "results": [{"domain": "sales", "error": "down"}]})
    assert failed.to_pandas().empty and failed.dataframes() == {} and failed.to_arrow().num_columns == 0


@pytest.mark.parametrize(("module", "convert"), [("pandas", "to_pandas"), ("pyarrow", "to_arrow")])
def test_without_the_package_the_error_says_what_to_install(monkeypatch, module, convert):
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if it were not installed
    with pytest.raises(ConfigError) as caught:
        getattr(table(DUCKDB[:2], [ROW[:2]]), convert)()
    assert caught.value.hint == f"pip install {module}" and f"needs {module}" in caught.value.message


def test_the_html_shows_answer_rows_sql_and_chart_and_escapes_values(make_test_agent):
    result = make_test_agent().ask("revenue by month in 1996")
    page = result._repr_html_()
    (sales,) = result.results
    assert sales.sql and "<details><summary>SQL</summary><pre>" in page
    assert html.escape(sales.sql) in page
    assert "<strong>Sales</strong>" in page  # the answer's bold, rendered
    assert page.count("<tr>") == 13 and "1996-01-01" in page  # header and 12 months
    assert "Chart: line of revenue by month (1996) (x month, y revenue)" in page

    hostile = table(("VARCHAR", "BIGINT"), [["<script>alert(1)</script>", 1]], sql="SELECT '<b>'")
    turn = contract.TurnResult.read({"text": "<img src=x>", "results": [hostile.model_dump()]})
    page = turn._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img" not in page and "SELECT &#x27;&lt;b&gt;&#x27;" in page


def test_a_long_result_shows_its_first_rows_and_says_how_many_there_are():
    rows = [[f"1996-01-{d:02d}", d] for d in range(1, 31)]
    long = table(("DATE", "BIGINT"), rows, row_count=1000, truncated=True)
    page = long._repr_html_()
    assert page.count("<tr>") == SHOWN_ROWS + 1 and "1996-01-20" in page and "1996-01-21" not in page
    assert "1,000 rows, first 20 shown, cut off by the space" in page


def test_rich_renders_the_turn_in_a_terminal(make_test_agent):
    result = make_test_agent().ask(
        "What was revenue by region in 1995, and how many suppliers does each region have?"
    )
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(result)
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert "cross_domain → sales, supply" in shown and "Chart: bar" in shown
    for name in ("combined", "sales", "supply", "suppliers (supply)", "AFRICA", "SELECT", "5 rows"):
        assert name in shown, name


def test_importing_the_sdk_and_showing_a_result_loads_no_pandas():
    code = (
        "import sys, genie_agent; from genie_agent import contract; "
        "r = contract.TurnResult.read({'results': [{'domain': 'a', 'columns': ['x'], 'rows': [[1]]}]}); "
        "r._repr_html_(); "
        "print([m for m in ('pandas', 'pyarrow', 'numpy') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
