"""The charts on their own: axes with round ticks and units, keys as written, one line or bar per
series with a legend, and an axis that does not start at zero said so."""

from __future__ import annotations

import datetime as dt

from rich.text import Text

from genie_agent_tui.charts import (
    PALETTE,
    ChartSpec,
    bar_chart,
    compact_number,
    key_label,
    kpi_value,
    line_chart,
    render_chart,
    share_chart,
)
from genie_agent_tui.charts.numbers import value_axis, value_labels

BRAILLE = range(0x2801, 0x2900)
SEGMENTS = ("AUTOMOBILE", "BUILDING", "MACHINERY")
# Revenue per year and segment, each segment on its own level, so the three lines do not overlap.
SEGMENT_ROWS = [
    [year, segment, 100e6 * (level + 1) + 5e6 * (year - 1992)]
    for year in range(1992, 1999)
    for level, segment in enumerate(SEGMENTS)
]
ROWS = [["ASIA", 225], ["EUROPE", 204], ["AFRICA", 179]]


def colours_of(text: Text, chars: range | str) -> dict[str, int]:
    """How many of ``chars`` each colour draws."""
    counts: dict[str, int] = {}
    for span in text.spans:
        drawn = sum(
            1
            for ch in text.plain[span.start : span.end]
            if (ord(ch) if isinstance(chars, range) else ch) in chars
        )
        if drawn:
            colour = str(span.style).split()[-1]
            counts[colour] = counts.get(colour, 0) + drawn
    return counts


def test_a_line_chart_with_three_series_draws_three_lines_and_a_legend():
    spec = ChartSpec("line", "year", "revenue", series="segment", format="currency")
    text = line_chart(spec, ["year", "segment", "revenue"], SEGMENT_ROWS, 72)
    lines = text.plain.splitlines()
    assert all(len(line) <= 72 for line in lines)
    drawn = colours_of(text, BRAILLE)
    assert set(drawn) == set(PALETTE[:3]) and min(drawn.values()) >= 30  # a whole line each
    legend = next(line for line in lines if "■ AUTOMOBILE" in line)
    assert "■ BUILDING" in legend and "■ MACHINERY" in legend
    assert colours_of(text, "■") == {colour: 1 for colour in PALETTE[:3]}
    # Each line lies at its own height: the top one is MACHINERY's (300M and up).
    plot = [line for line in lines if "┤" in line or "│" in line]
    top_row = next(i for i, line in enumerate(plot) if any(ord(ch) in BRAILLE for ch in line))
    assert top_row <= 2


def test_years_are_written_as_years_on_the_x_axis():
    spec = ChartSpec("line", "year", "revenue", series="segment")
    text = line_chart(spec, ["year", "segment", "revenue"], SEGMENT_ROWS, 72).plain
    assert "1992" in text and "1998" in text and "1,99" not in text
    ticks = text.splitlines()[-3]
    assert ticks.count("┬") >= 4  # every year that fits, not just the first and the last


def test_the_y_axis_has_round_ticks_with_the_unit():
    spec = ChartSpec("line", "year", "revenue", series="segment", format="currency")
    lines = line_chart(spec, ["year", "segment", "revenue"], SEGMENT_ROWS, 72).plain.splitlines()
    assert lines[0].startswith("revenue (millions)")
    ticks = [line.split("┤")[0].strip() for line in lines if "┤" in line]
    assert len(ticks) >= 3 and all(t.endswith("M") for t in ticks)
    assert ticks == sorted(ticks, key=lambda t: -float(t[:-1]))


def test_a_line_axis_away_from_zero_is_said():
    rows = [[y, 1_000 + y % 7] for y in range(1992, 1999)]
    text = line_chart(ChartSpec("line", "year", "orders"), ["year", "orders"], rows, 60).plain
    assert "axis starts at" in text.splitlines()[0] and "not 0" in text
    # Near zero the axis reaches it and nothing needs saying.
    rows = [[y, 1 + y % 7] for y in range(1992, 1999)]
    text = line_chart(ChartSpec("line", "year", "orders"), ["year", "orders"], rows, 60).plain
    assert "not 0" not in text and any(line.strip().startswith("0 ┤") for line in text.splitlines())


def test_nearly_equal_bars_start_above_zero_and_say_so():
    rows = [["ETHIOPIA", 137.7e6], ["INDONESIA", 137.4e6], ["MOROCCO", 135.5e6], ["IRAN", 135.4e6]]
    text = bar_chart(ChartSpec("bar", "nation", "revenue", sort="desc"), ["nation", "revenue"], rows, 70)
    lines = text.plain.splitlines()
    bars = [line.count("█") for line in lines[:4]]
    assert bars[0] >= 2 * bars[-1] > 0  # the differences show
    assert "axis starts at" in text.plain and "not 0" in text.plain
    assert [value for *_, value in (line.split() for line in lines[:4])] == ["138M", "137M", "136M", "135M"]


def test_bars_far_apart_start_at_zero_on_a_labelled_axis():
    spec = ChartSpec("bar", "region", "suppliers", sort="asc")
    lines = bar_chart(spec, ["region", "suppliers"], ROWS, 40).plain.splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["AFRICA", "EUROPE", "ASIA"]
    assert all(len(line) <= 40 for line in lines) and lines[2].count("█") > lines[0].count("█")
    assert lines[2].rstrip().endswith("225")
    assert "┬" in lines[3] and lines[4].split()[0] == "0" and lines[5].strip() == "suppliers"
    assert "not 0" not in "\n".join(lines)


def test_grouped_bars_one_per_series_with_a_legend():
    rows = [
        [region, year, 100 + 10 * i + 5 * (year - 1995)]
        for i, region in enumerate(("ASIA", "EUROPE"))
        for year in (1995, 1996)
    ]
    spec = ChartSpec("bar", "region", "revenue", series="year", sort="desc")
    text = bar_chart(spec, ["region", "year", "revenue"], rows, 60)
    lines = text.plain.splitlines()
    assert lines[0].startswith("EUROPE") and lines[1].startswith(" ") and lines[2].startswith("ASIA")
    assert lines[-1] == "■ 1995  ■ 1996"
    assert set(colours_of(text, "█")) == set(PALETTE[:2])


def test_negative_bars_go_left_of_zero():
    rows = [["ASIA", 0.12], ["EUROPE", -0.05]]
    text = bar_chart(
        ChartSpec("bar", "region", "change", format="percent"), ["region", "change"], rows, 60
    ).plain
    asia, europe, _axis, ticks, title = text.splitlines()
    zero = ticks.index(" 0%") + 1
    assert asia.index("█") >= zero - 1 and europe.rstrip().endswith("-5.0%") and europe.index("█") < zero
    assert title.strip() == "change (%)"


def test_value_axes_have_round_ticks():
    axis = value_axis(3.59e9, 6.41e9, "currency", fraction=False, keep_zero=False)
    assert axis.ticks == (3e9, 4e9, 5e9, 6e9, 7e9) and axis.labels == ("3B", "4B", "5B", "6B", "7B")
    assert axis.unit == "billions" and axis.note == "axis starts at 3B, not 0"
    axis = value_axis(179, 225, "integer", fraction=False, max_ticks=6)
    assert axis.ticks[0] == 0 and axis.labels[-1] == "250" and axis.note is None
    assert value_axis(0.1, 0.2, "percent", fraction=True, keep_zero=False).labels[0] == "10.0%"
    assert value_axis(2, 3, "integer", fraction=False, keep_zero=False).ticks == (2, 3)
    assert value_labels([7.14e9, 7.12e9, 7.1e9], "number", fraction=False) == ["7.14B", "7.12B", "7.1B"]
    assert value_labels([7.141e9, 7.144e9], "number", fraction=False) == ["7.141B", "7.144B"]


def test_keys_are_written_as_they_are():
    assert key_label(1992) == "1992" and key_label(1992.0) == "1992"
    assert (
        key_label(dt.date(1996, 3, 1)) == "1996-03-01" and key_label("1996-03-01T00:00:00Z") == "1996-03-01"
    )
    assert key_label("ASIA") == "ASIA"


def test_dates_on_the_x_axis_spread_out():
    rows = [[f"1995-{m:02d}-01", 100 + m * (-1) ** m] for m in range(1, 13)]
    text = line_chart(ChartSpec("line", "month", "revenue"), ["month", "revenue"], rows, 60).plain
    lines = text.splitlines()
    assert all(len(line) <= 60 for line in lines)
    assert any(0x2800 < ord(ch) <= 0x28FF for ch in text) and "1995-01-01" in lines[-2]
    assert lines[-1].strip() == "month"


def test_share_view_adds_up_to_the_width_and_shows_percents():
    text = share_chart(ChartSpec("pie", "region", "suppliers"), ["region", "suppliers"], ROWS, 30)
    first, *legend = text.plain.splitlines()
    assert len(first) == 30 and set(first) == {"█"}
    assert legend[0].startswith("■ ASIA") and "37.0%" in legend[0]


def test_kpi_value_and_compact_numbers():
    assert kpi_value(
        ChartSpec("kpi", None, "revenue", title="revenue (1995)"), ["revenue"], [[3144243655.72]]
    ) == ("revenue (1995)", "3,144,243,655.72")
    assert kpi_value(ChartSpec("kpi", None, "x"), ["revenue"], [[1]]) is None
    assert [compact_number(v) for v in (999, 1500, 2.5e6, 3.1e9)] == ["999", "1.5K", "2.5M", "3.1B"]
    assert compact_number(0.25, "percent", fraction=True) == "25.0%"


def test_nothing_to_chart_and_tables():
    spec = ChartSpec("bar", "region", "suppliers")
    assert bar_chart(spec, ["region", "suppliers"], [["ASIA", None]], 40).plain.startswith("Nothing to chart")
    assert render_chart(ChartSpec("table", None, None), ["a"], [[1]], 40) is None


def test_lines_that_coincide_both_show():
    rows = [[year, name, 100 + year % 3] for year in range(1992, 1999) for name in ("A", "B")]
    text = line_chart(ChartSpec("line", "year", "value", series="name"), ["year", "name", "value"], rows, 60)
    drawn = colours_of(text, BRAILLE)
    assert set(drawn) == set(PALETTE[:2]) and min(drawn.values()) >= 20
