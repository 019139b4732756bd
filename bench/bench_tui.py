"""Benchmark of the chat's result rendering: tables of 10 / 1,000 / 10,000 rows, and each chart kind.

Prints figures only (nothing is asserted). Run from the repo root:

    .venv/bin/python bench/bench_tui.py [--runs N] [--size 80x24] [--all-at-once]

1. Tables: a result view (header, table, collapsed SQL; what a turn mounts for each result) mounted in a
   headless app (Textual's ``App.run_test``) of ``--size``, timed from ``mount`` until the screen has been
   drawn (the compositor's strips, which render every visible row), in CPU time (the process's; waiting
   for the app to be idle sleeps, and other jobs share the cores) with the wall time beside it. Before it,
   the part spent writing the cells (``ResultTable.cells``: number formats for every row). Target: a
   1,000-row result renders in <= 150 ms. ``--all-at-once`` gives each table all its rows at once, as
   the table did before it added them in batches. Then sorting (by revenue, and back to the order the
   rows came in) and searching (a word, then cleared) a table that holds every row: CPU until the table
   has been drawn again and the screen composed.
2. Charts: ``render_chart`` alone (the text a chart draws, at the width the layout gives it), and the same
   result view with its chart mounted and drawn, per kind: bars, nearly equal bars, grouped bars (5 x 5), a
   line with 3 series over 7 years, a line of 1,000 days, the share view of a pie hint, a KPI.

Each figure is the median of ``--runs`` (3 for 10,000 rows) with the minimum beside it. The rows are made up
here (TPC-H-like: keys, dates, quantities, revenue, flags, text), so no data needs generating.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual.app import App, ComposeResult  # noqa: E402
from textual.containers import VerticalScroll  # noqa: E402

from genie_agent.contract import ResultTable as ResultData  # noqa: E402
from genie_agent_tui.charts import ChartSpec, render_chart  # noqa: E402
from genie_agent_tui.widgets import result_table  # noqa: E402
from genie_agent_tui.widgets.result_table import ResultTable, numeric_columns  # noqa: E402
from genie_agent_tui.widgets.result_view import ResultView  # noqa: E402

COLUMNS = ("l_orderkey", "p_name", "l_shipdate", "l_quantity", "revenue", "l_returnflag", "l_comment")
TYPES = ("BIGINT", "VARCHAR", "DATE", "DECIMAL(15,2)", "DOUBLE", "VARCHAR", "VARCHAR")
WORDS = "furiously regular accounts sleep quickly final deposits haggle blithely ironic packages".split()


def table_rows(n: int) -> list[list[Any]]:
    rng = random.Random(n)
    start = dt.date(1992, 1, 1)
    return [
        [
            i * 7 + 1,
            " ".join(rng.sample(WORDS, 3)),
            start + dt.timedelta(days=rng.randrange(2400)),
            rng.randrange(1, 51),
            round(rng.uniform(900, 105_000), 2),
            rng.choice("ARN"),
            " ".join(rng.sample(WORDS, 5)),
        ]
        for i in range(n)
    ]


def result(columns: Sequence[str], rows: list[list[Any]], types: Sequence[str] = ()) -> ResultData:
    return ResultData.model_validate(
        {
            "domain": "sales",
            "sql": "SELECT 1",
            "columns": list(columns),
            "column_types": list(types),
            "rows": rows,
            "row_count": len(rows),
        }
    )


def charts() -> list[tuple[str, dict[str, Any], ResultData]]:
    """(kind, hint, result) for each chart kind."""
    rng = random.Random(7)
    nations = ["ETHIOPIA", "INDONESIA", "MOROCCO", "IRAN", "CHINA"]
    segments = ["AUTOMOBILE", "BUILDING", "MACHINERY"]
    regions = ["AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"]
    days = [dt.date(1995, 1, 1) + dt.timedelta(days=i) for i in range(1000)]

    def hint(kind: str, x: str | None, y: str, series: str | None = None) -> dict[str, Any]:
        return {"type": kind, "x": x, "y": y, "series": series, "title": f"{y} by {x}", "sort": "desc"}

    return [
        (
            "bar, 5 keys",
            hint("bar", "nation", "revenue"),
            result(["nation", "revenue"], [[n, rng.uniform(1e8, 6e8)] for n in nations]),
        ),
        (
            "bar, nearly equal",
            hint("bar", "nation", "revenue"),
            result(["nation", "revenue"], [[n, 137e6 - i * 1.1e6] for i, n in enumerate(nations)]),
        ),
        (
            "grouped bars, 5 x 5",
            hint("bar", "region", "revenue", "segment"),
            result(
                ["region", "segment", "revenue"],
                [
                    [r, s, rng.uniform(1.1e8, 1.5e8)]
                    for r in regions
                    for s in [*segments, "FURNITURE", "HOUSEHOLD"]
                ],
            ),
        ),
        (
            "line, 3 series x 7 years",
            hint("line", "year", "revenue", "segment"),
            result(
                ["year", "segment", "revenue"],
                [[y, s, rng.uniform(6e8, 7e8)] for y in range(1992, 1999) for s in segments],
            ),
        ),
        (
            "line, 1,000 days",
            hint("line", "day", "orders"),
            result(["day", "orders"], [[d, rng.randrange(500, 900)] for d in days]),
        ),
        (
            "share (pie)",
            hint("pie", "region", "revenue"),
            result(["region", "revenue"], [[r, rng.uniform(1e8, 6e8)] for r in regions]),
        ),
        ("kpi", hint("kpi", None, "revenue"), result(["revenue"], [[3_144_243_655.72]])),
    ]


class Bench(App[None]):
    """The chat's stylesheet, and a scrolling log to mount result views in."""

    CSS_PATH = str(ROOT / "tui" / "app.tcss")

    def compose(self) -> ComposeResult:
        yield VerticalScroll(id="chat-log")


def stats(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:8.1f} ms (min {min(samples) * 1000:.1f})"


def shown(samples: list[tuple[float, float, float]]) -> str:
    """CPU to the first draw (min), its wall time, and CPU until every row is in."""
    cpu, wall, done = ([s[i] for s in samples] for i in range(3))
    return (
        f"{stats(cpu)}  wall {statistics.median(wall) * 1000:5.0f} ms"
        f"  all rows {statistics.median(done) * 1000:6.0f} ms"
    )


async def time_mount(
    app: Bench, pilot: Any, make: Callable[[], ResultView], checks: Sequence[str]
) -> tuple[float, float, float]:
    """Mount a fresh result view and draw the screen as soon as its table has laid out its first rows:
    (CPU seconds to that, wall seconds to that, CPU seconds until every row is in the table). The CPU
    time is the render's cost: other jobs share the cores, and waiting for the app to be idle sleeps."""
    log = app.query_one("#chat-log", VerticalScroll)
    await log.remove_children()
    await pilot.pause()
    view = make()
    cpu, wall = time.process_time(), time.perf_counter()
    await log.mount(view)
    table = view.query_one(ResultTable)
    first = min(len(view.result.rows), result_table.FIRST_ROWS) + 1  # and the header
    # Laid out (the table has its rows' size) and placed on the screen (it has a region there), then
    # drawn until the screen shows the view (the draws that miss count too).
    while table.virtual_size.height < first or table.region.height < 2:
        await asyncio.sleep(0)
    deadline = time.perf_counter() + 10
    while True:
        screen = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
        if all(c in screen for c in checks):
            break
        if time.perf_counter() > deadline:
            raise SystemExit(f"the screen does not show {checks}: the view was not drawn\n{screen}")
        await asyncio.sleep(0.001)
    shown_cpu, shown_wall = time.process_time() - cpu, time.perf_counter() - wall
    while not table.loaded:
        await asyncio.sleep(0.005)
    await pilot.pause()
    if table.row_count != len(view.result.rows):
        raise SystemExit(f"the table holds {table.row_count} rows of {len(view.result.rows)}")
    return shown_cpu, shown_wall, time.process_time() - cpu


async def time_arrange(app: Bench, table: ResultTable, act: Callable[[ResultTable], object]) -> float:
    """CPU seconds from sorting or searching ``table`` until it has been drawn again and the screen
    composed with it."""
    drawn = asyncio.Event()
    draw = table.render_lines

    def spy(crop: Any) -> Any:
        drawn.set()
        return draw(crop)

    table.render_lines = spy  # type: ignore[method-assign]
    cpu = time.process_time()
    act(table)
    await drawn.wait()
    app.screen._compositor.render_strips()
    spent = time.process_time() - cpu
    del table.render_lines
    return spent


async def main(runs: int, size: tuple[int, int]) -> None:
    app = Bench()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        width = size[0] - 7  # the log's padding and scrollbar, the view's border and padding
        print(f"Textual headless, {size[0]}x{size[1]}; median of runs (min)\n")
        print("1. Tables     cells (CPU)              view mounted -> drawn (CPU)     wall       CPU")
        for n in (10, 1_000, 10_000):
            data = result(COLUMNS, table_rows(n), TYPES)
            checks = [f"sales · {n:,} rows", data.rows[0][1]]
            k = runs if n < 10_000 else min(runs, 3)
            drawn = [
                await time_mount(app, pilot, partial(ResultView, data, None, show_sql=False), checks)
                for _ in range(k)
            ]
            cells = []
            for _ in range(k):
                table = ResultTable(data)
                start = time.perf_counter()
                numeric = numeric_columns(data)
                table.cells(numeric, [False] * len(COLUMNS))
                cells.append(time.perf_counter() - start)
            met = statistics.median(c for c, _, _ in drawn) <= 0.150
            verdict = "  (target <= 150 ms CPU: " + ("met)" if met else "NOT met)")
            print(f"   {n:>6,} rows {stats(cells)}  {shown(drawn)}" + (verdict if n == 1_000 else ""))
        print("\n   Sorting and searching a table that holds every row, until it is drawn again (CPU)")
        for n in (1_000, 10_000):
            data = result(COLUMNS, table_rows(n), TYPES)
            log = app.query_one("#chat-log", VerticalScroll)
            await log.remove_children()
            view = ResultView(data, None, show_sql=False)
            await log.mount(view)
            table = view.query_one(ResultTable)
            while not table.loaded:
                await asyncio.sleep(0.005)
            k = runs if n < 10_000 else min(runs, 3)
            timed = {
                "sort by revenue": lambda t: t.sort_by(4),
                "sort back": lambda t: (t.sort_by(4), t.sort_by(4)),
                "search a word": lambda t: t.search("ironic"),
                "search cleared": lambda t: t.search(""),
            }
            for what, act in timed.items():
                samples = [await time_arrange(app, table, act) for _ in range(k)]
                print(f"   {n:>6,} rows {what:<17} {stats(samples)}")
        print(
            f"\n2. Charts ({width} cols)  render_chart             view with chart, drawn (CPU)   wall       CPU"
        )
        for kind, hint, data in charts():
            spec = ChartSpec.from_hint(hint)
            pure = []
            for _ in range(max(runs, 20)):
                start = time.perf_counter()
                render_chart(spec, data.columns, data.rows, width)
                pure.append(time.perf_counter() - start)
            checks = ["sales ·", hint["title"]]
            drawn = [
                await time_mount(app, pilot, partial(ResultView, data, hint, show_sql=False), checks)
                for _ in range(runs)
            ]
            print(f"   {kind:<26} {stats(pure)}  {shown(drawn)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--size", default="80x24", help="terminal size, COLSxROWS")
    parser.add_argument(
        "--all-at-once", action="store_true", help="give each table all its rows at once (as before issue 17)"
    )
    args = parser.parse_args()
    if args.all_at_once:
        result_table.FIRST_ROWS = sys.maxsize
    cols, rows = (int(v) for v in args.size.split("x"))
    asyncio.run(main(args.runs, (cols, rows)))
