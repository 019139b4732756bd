"""The chat's charts beside plotext's: what each draws at 80x24 and what a render costs (docs/charts.md).

plotext is not a dependency; install the versions to compare into a directory of their own and name it:

    .venv/bin/pip install --target /tmp/plotext5 "plotext<6" textual-plotext   # textual-plotext needs plotext 5
    .venv/bin/pip install --target /tmp/plotext6 "plotext>=6"
    .venv/bin/python bench/chart_libraries.py                      # this package's charts only
    .venv/bin/python bench/chart_libraries.py --plotext /tmp/plotext5
    .venv/bin/python bench/chart_libraries.py --plotext /tmp/plotext6

Each chart is drawn at the width a chart gets in the chat at 80 columns (73) and 12 rows for plotext (this
package's line chart is 14 rows with its labels), with plotext's defaults apart from the size and a
colourless theme: the text printed is what the reader would see, less the colours. With plotext 5 the
line chart is also drawn by textual-plotext's widget in a headless app (that it runs on this Textual).
Times are the median of 20 renders after one to warm up; the import time of plotext is printed first.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.metadata
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 73, 12
NATIONS = [("ETHIOPIA", 137.67e6), ("INDONESIA", 137.36e6), ("MOROCCO", 135.54e6), ("IRAN", 135.44e6)]
SEGMENTS = ("AUTOMOBILE", "BUILDING", "MACHINERY")
YEARS = range(1992, 1999)
# Revenue per year and segment as TPC-H has it: close together, the last year a part year.
LINES = [
    [y, s, (6.25e8 + 1.2e7 * i - 4e6 * ((y * 7 + i * 3) % 5)) * (0.58 if y == 1998 else 1.0)]
    for y in YEARS
    for i, s in enumerate(SEGMENTS)
]
REGIONS = ("AFRICA", "AMERICA", "ASIA")
GROUPS = [[r, y, 9.1e8 + 1.2e7 * i - 2e7 * (y - 1995)] for i, r in enumerate(REGIONS) for y in (1995, 1996)]


def timed(draw: Callable[[], str]) -> tuple[str, float]:
    draw()
    samples = []
    for _ in range(20):
        start = time.perf_counter()
        out = draw()
        samples.append(time.perf_counter() - start)
    return out, statistics.median(samples) * 1000


def ours() -> dict[str, Callable[[], str]]:
    sys.path.insert(0, str(ROOT))
    from genie_agent_tui.charts import ChartSpec, render_chart

    def chart(spec: ChartSpec, columns: list[str], rows: list[list[Any]]) -> Callable[[], str]:
        return lambda: render_chart(spec, columns, rows, WIDTH).plain

    return {
        "bars, nearly equal": chart(
            ChartSpec("bar", "nation", "revenue", sort="desc"),
            ["nation", "revenue"],
            [list(p) for p in NATIONS],
        ),
        "line, 3 series": chart(
            ChartSpec("line", "year", "revenue", series="segment"), ["year", "segment", "revenue"], LINES
        ),
        "grouped bars": chart(
            ChartSpec("bar", "region", "revenue", series="year"), ["region", "year", "revenue"], GROUPS
        ),
    }


def plotext5(plt: Any) -> dict[str, Callable[[], str]]:
    def setup() -> None:
        plt.clear_figure()
        plt.plotsize(WIDTH, HEIGHT)
        plt.theme("clear")

    def bars() -> str:
        setup()
        plt.bar([n for n, _ in NATIONS], [v for _, v in NATIONS], orientation="h")
        return plt.uncolorize(plt.build())

    def lines() -> str:
        setup()
        for s in SEGMENTS:
            plt.plot([r[0] for r in LINES if r[1] == s], [r[2] for r in LINES if r[1] == s], label=s)
        return plt.uncolorize(plt.build())

    def grouped() -> str:
        setup()
        data = [[r[2] for r in GROUPS if r[1] == y] for y in (1995, 1996)]
        plt.multiple_bar(list(REGIONS), data, labels=["1995", "1996"])
        return plt.uncolorize(plt.build())

    def scatter() -> str:
        setup()
        plt.scatter([r[2] for r in LINES], [r[0] for r in LINES])
        return plt.uncolorize(plt.build())

    return {"bars, nearly equal": bars, "line, 3 series": lines, "grouped bars": grouped, "scatter": scatter}


def plotext6(plt: Any) -> dict[str, Callable[[], str]]:
    fig = plt.figure

    def setup() -> None:
        fig.clear()
        fig.plot_size(WIDTH, HEIGHT)
        fig.theme("colorless")

    def bars() -> str:
        setup()
        fig.draw(fig.bar([n for n, _ in NATIONS], [v for _, v in NATIONS], orientation="h"))
        return plt.uncolorize(str(fig.build()))

    def lines() -> str:
        setup()
        for s in SEGMENTS:
            xs, ys = [r[0] for r in LINES if r[1] == s], [r[2] for r in LINES if r[1] == s]
            fig.draw(fig.signal(xs, ys, marker="braille").label(s).lines())
        return plt.uncolorize(str(fig.build()))

    def grouped() -> str:
        setup()
        fig.draw(fig.bar(list(REGIONS), [[r[2] for r in GROUPS if r[1] == y] for y in (1995, 1996)]))
        return plt.uncolorize(str(fig.build()))

    def scatter() -> str:
        setup()
        fig.draw(fig.signal([r[2] for r in LINES], [r[0] for r in LINES], marker="braille"))
        return plt.uncolorize(str(fig.build()))

    return {"bars, nearly equal": bars, "line, 3 series": lines, "grouped bars": grouped, "scatter": scatter}


async def textual_plotext_line() -> tuple[str, float]:
    """The line chart through textual-plotext's widget, in a headless app at 80x24."""
    from textual.app import App, ComposeResult
    from textual_plotext import PlotextPlot

    class Plot(App[None]):
        def compose(self) -> ComposeResult:
            yield PlotextPlot()

        def on_mount(self) -> None:
            plt = self.query_one(PlotextPlot).plt
            for s in SEGMENTS:
                plt.plot([r[0] for r in LINES if r[1] == s], [r[2] for r in LINES if r[1] == s], label=s)

    app = Plot()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        widget = app.query_one(PlotextPlot)
        return timed(lambda: widget.render().plain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--plotext", type=Path, help="a directory plotext (and textual-plotext) is installed in"
    )
    args = parser.parse_args()
    if args.plotext is None:
        charts, name = ours(), "genie_agent_tui.charts"
    else:
        sys.path.insert(0, str(args.plotext))
        start = time.perf_counter()
        plt = importlib.import_module("plotext")
        imported = (time.perf_counter() - start) * 1000
        version = importlib.metadata.version("plotext")
        name = f"plotext {version} (import {imported:.0f} ms)"
        charts = plotext6(plt) if int(version.split(".")[0]) >= 6 else plotext5(plt)
    print(name)
    for kind, draw in charts.items():
        text, ms = timed(draw)
        print(f"\n=== {kind}: {ms:.2f} ms a render\n{text}")
    if args.plotext is not None and importlib.util.find_spec("textual_plotext") is not None:
        try:
            text, ms = asyncio.run(textual_plotext_line())
        except Exception as exc:  # an incompatible Textual: say so, it is a finding
            print(f"\n=== textual-plotext widget: failed: {type(exc).__name__}: {exc}")
        else:
            print(f"\n=== textual-plotext widget, line, 3 series, 80x24: {ms:.2f} ms a render\n{text}")


if __name__ == "__main__":
    main()
