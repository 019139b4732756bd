"""Genie's result format (every value a string, JVM doubles) and the Genie poller's schedule."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from decimal import Decimal

import pytest

from genie_agent.spaces.genie_client import Pacer
from genie_agent.spaces.statement import (
    ColumnType,
    column_type_of,
    infer_column_type,
    java_double,
    parse_value,
    render_value,
    typed_rows,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.336e8, "3.336E8"),
        (1e7, "1.0E7"),
        (9999999.0, "9999999.0"),
        (123.0, "123.0"),
        (0.001, "0.001"),
        (0.0001, "1.0E-4"),
        (1.5e-10, "1.5E-10"),
        (-2.5e12, "-2.5E12"),
        (142872.70164509863, "142872.70164509863"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (float("inf"), "Infinity"),
        (float("nan"), "NaN"),
    ],
)
def test_doubles_print_as_the_jvm_prints_them(value, text):
    assert java_double(value) == text


def test_every_double_survives_the_round_trip_exactly():
    rng = random.Random(5)
    for _ in range(5000):
        x = rng.uniform(-1, 1) * 10 ** rng.randint(-12, 15)
        assert parse_value(java_double(x), "DOUBLE") == x


@pytest.mark.parametrize(
    ("text", "type_name", "value"),
    [
        ("42", "LONG", 42),
        ("3.336E8", "LONG", 333600000),  # Genie sometimes sends integers in scientific notation
        ("12.3400", "DECIMAL", Decimal("12.3400")),
        ("3.336E8", "DECIMAL", Decimal("3.336E8")),
        ("1995-03-01", "DATE", dt.date(1995, 3, 1)),
        ("2024-01-02T03:04:05.000Z", "TIMESTAMP", dt.datetime(2024, 1, 2, 3, 4, 5)),
        ("2024-01-02 03:04:05", "TIMESTAMP", dt.datetime(2024, 1, 2, 3, 4, 5)),
        ("true", "BOOLEAN", True),
        ("[1, 2]", "ARRAY", [1, 2]),
        ("EUROPE", "STRING", "EUROPE"),
        ("n/a", "LONG", "n/a"),  # not what the type says: kept as sent
        ("x", None, "x"),
        (None, "LONG", None),
    ],
)
def test_values_are_typed_by_the_manifest(text, type_name, value):
    parsed = parse_value(text, type_name)
    assert parsed == value and type(parsed) is type(value)


def test_rendering_and_typing_agree():
    rows = ((Decimal("0E-4"), 7, dt.date(1996, 1, 1), dt.datetime(1996, 1, 1, 12), None, True, 5.5e9),)
    names = ["DECIMAL", "LONG", "DATE", "TIMESTAMP", "STRING", "BOOLEAN", "DOUBLE"]
    rendered = [[render_value(v, t) for v, t in zip(row, names, strict=True)] for row in rows]
    assert rendered == [["0.0000", "7", "1996-01-01", "1996-01-01T12:00:00.000Z", None, "true", "5.5E9"]]
    assert typed_rows(rendered, names) == rows
    assert typed_rows(None, names) == ()  # an empty result has no data_array


def test_duckdb_types_get_databricks_names():
    assert column_type_of("DECIMAL(38,4)") == ColumnType("DECIMAL", "DECIMAL(38,4)", 38, 4)
    assert column_type_of("HUGEINT") == ColumnType("LONG", "BIGINT")
    assert column_type_of("VARCHAR").type_name == "STRING"
    assert column_type_of("TIMESTAMP WITH TIME ZONE").type_name == "TIMESTAMP"
    assert column_type_of("INTEGER[]").type_name == "ARRAY"
    assert infer_column_type([1, None, 2]).type_name == "LONG"
    assert infer_column_type([Decimal("1.25"), 3]) == ColumnType("DECIMAL", "DECIMAL(38,2)", 38, 2)
    assert infer_column_type([dt.date(2020, 1, 1)]).type_name == "DATE"


def schedule(pacer: Pacer, until: float, status: str = "ASKING_AI") -> list[float]:
    t, times = 0.0, []
    while t < until:
        t += pacer.next_delay(t, status)
        times.append(round(t, 3))
    return times


def test_cold_polls_start_fast_and_grow_to_two_seconds():
    times = schedule(Pacer(), 12)
    gaps = [b - a for a, b in zip([0.0, *times], times, strict=False)]
    assert gaps[0] == pytest.approx(0.1) and max(gaps) == pytest.approx(2.0)
    assert gaps == sorted(gaps)
    assert len(times) <= 11  # under one poll a second over a Genie-like 12 s


def test_polls_are_close_while_the_query_executes():
    pacer = Pacer()
    schedule(pacer, 8)
    assert pacer.next_delay(8, "EXECUTING_QUERY") == 0.5


def test_warm_polls_wait_for_where_answers_landed():
    times = schedule(Pacer((10.0, 0.75)), 11.5)
    assert times[0] == pytest.approx(4.25)  # one check halfway to the window, for an unusually fast answer
    assert times[1] == pytest.approx(8.5)  # the window: mean - 2 dev
    assert all(b - a == pytest.approx(0.5) for a, b in itertools.pairwise(times[1:]))
    near = schedule(Pacer((0.2, 0.02)), 0.3)
    assert near[0] == pytest.approx(0.1) and len(near) <= 3  # fast spaces stay fast
