"""The local Genie engine on a space that is not TPC-H, defined from YAML alone.

A small bike-rental business (stations, bikes, rides) is written to a DuckDB file, described by
two space YAML files (``rides`` and ``fleet``) and a catalog, and the agent is built over that
catalog only. Every answer is compared with SQL written by hand on the same database, so the test
proves the engine, the router and the agent know nothing of TPC-H.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from genie_agent.agent import Agent
from genie_agent.config import load_settings
from genie_agent.factory import make_agent
from genie_agent.spaces.local.executor import ReadOnlyExecutor
from genie_agent.turn import TurnResult, jsonable
from tests.bank.catalogs.bikes import N_BIKES, N_RIDES, database_path, write_catalog


@dataclass(frozen=True)
class BikeShare:
    root: Path
    db: Path
    catalog: Path
    agent: Agent
    truth: ReadOnlyExecutor

    def expected(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of hand-written SQL on the same file, as the turn result would carry them."""
        return _normalize(self.truth._execute_unchecked(sql).rows)

    def ask(self, question: str, thread_id: str | None = None) -> TurnResult:
        return self.agent.ask(question, thread_id=thread_id, user="tester")


@pytest.fixture(scope="module")
def bikeshare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BikeShare]:
    root = tmp_path_factory.mktemp("bikeshare")
    catalog = write_catalog(root)
    db = database_path(root)
    settings = load_settings(home=root / "home", catalog=catalog)
    agent = make_agent(settings, progress=False)
    # Same read-only configuration as the agent's executor, so DuckDB shares the instance.
    truth = ReadOnlyExecutor(db)
    try:
        yield BikeShare(root, db, catalog, agent, truth)
    finally:
        truth.close()


# --------------------------------------------------------------------------- helpers


def _cell(value: Any) -> Any:
    value = jsonable(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return round(float(value), 6)
    return value


def _normalize(rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    return [tuple(_cell(v) for v in row) for row in rows]


def _answer(result: TurnResult, domain: str = "rides", *, grounded: bool = True) -> list[tuple[Any, ...]]:
    """The one successful result of ``domain``, normalized."""
    assert result.status == "ok", (result.status, result.text)
    assert result.route.domains == (domain,), result.route
    [table] = [r for r in result.results if r.domain == domain]
    assert table.error is None, table.error
    if grounded:
        assert result.grounding["ok"], result.grounding
    return _normalize(table.rows)


def _same_rows(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]]) -> None:
    assert want, "the hand-written SQL returned nothing: the test data is wrong"
    assert sorted(got, key=repr) == sorted(want, key=repr)


def _no_tie_at(rows: list[tuple[Any, ...]], n: int) -> None:
    """A top-N comparison is only meaningful when the N-th and (N+1)-th values differ."""
    assert len(rows) > n and rows[n - 1][-1] != rows[n][-1], "tie at the top-N cut: change the test data"


RIDES_BY_STATION = """
    SELECT s.{col}, {agg} FROM rides r JOIN stations s ON r.start_station_id = s.station_id
    {where} GROUP BY s.{col} ORDER BY 2 DESC"""


# --------------------------------------------------------------------------- the space loads


def test_the_catalog_holds_only_the_custom_spaces(bikeshare: BikeShare) -> None:
    assert set(bikeshare.agent.spaces) == {"rides", "fleet"}
    counts = bikeshare.expected("SELECT (SELECT COUNT(*) FROM rides), (SELECT COUNT(*) FROM bikes)")
    assert counts == [(N_RIDES, N_BIKES)]


# --------------------------------------------------------------------------- single questions


def test_total_rides(bikeshare: BikeShare) -> None:
    got = _answer(bikeshare.ask("How many rides were there?"))
    assert got == bikeshare.expected("SELECT COUNT(*) FROM rides") == [(N_RIDES,)]


def test_total_revenue_in_a_year(bikeshare: BikeShare) -> None:
    got = _answer(bikeshare.ask("What was total revenue in 2023?"))
    want = bikeshare.expected(
        "SELECT SUM(fare) FROM rides WHERE started_at >= '2023-01-01' AND started_at < '2024-01-01'"
    )
    assert got == want


def test_rides_by_city(bikeshare: BikeShare) -> None:
    result = bikeshare.ask("Rides by city")
    _same_rows(
        _answer(result), bikeshare.expected(RIDES_BY_STATION.format(col="city", agg="COUNT(*)", where=""))
    )
    assert result.results[0].columns == ("city", "rides")


def test_value_filter_in_another_case(bikeshare: BikeShare) -> None:
    got = _answer(bikeshare.ask("total revenue in berlin"))
    want = bikeshare.expected(
        "SELECT SUM(r.fare) FROM rides r JOIN stations s ON r.start_station_id = s.station_id WHERE s.city = 'Berlin'"
    )
    assert got == want


def test_value_filter_by_district_grouped_by_station(bikeshare: BikeShare) -> None:
    got = _answer(bikeshare.ask("rides per station in friedrichshain"))
    want = bikeshare.expected(
        RIDES_BY_STATION.format(col="name", agg="COUNT(*)", where="WHERE s.district = 'Friedrichshain'")
    )
    _same_rows(got, want)
    assert len(got) == 2


def test_month_filter(bikeshare: BikeShare) -> None:
    got = _answer(bikeshare.ask("How many rides in March 2024?"))
    want = bikeshare.expected(
        "SELECT COUNT(*) FROM rides WHERE started_at >= '2024-03-01' AND started_at < '2024-04-01'"
    )
    assert got == want


def test_top_n(bikeshare: BikeShare) -> None:
    got = _answer(bikeshare.ask("Top 3 districts by revenue"))
    full = bikeshare.expected(RIDES_BY_STATION.format(col="district", agg="SUM(r.fare)", where=""))
    _no_tie_at(full, 3)
    assert got == full[:3]


def test_which_station_had_the_most_rides(bikeshare: BikeShare) -> None:
    got = _answer(bikeshare.ask("Which station had the most rides in 2024?"))
    full = bikeshare.expected(
        RIDES_BY_STATION.format(col="name", agg="COUNT(*)", where="WHERE YEAR(r.started_at) = 2024")
    )
    _no_tie_at(full, 1)
    assert got == full[:1]


def test_by_month(bikeshare: BikeShare) -> None:
    result = bikeshare.ask("Rides by month in 2024")
    got = _answer(result)
    want = bikeshare.expected(
        "SELECT CAST(DATE_TRUNC('month', started_at) AS DATE) AS m, COUNT(*) FROM rides"
        " WHERE YEAR(started_at) = 2024 GROUP BY m ORDER BY m"
    )
    assert got == want  # in calendar order
    assert len(got) == 12


def test_average_by_dimension_over_a_join(bikeshare: BikeShare) -> None:
    got = _answer(bikeshare.ask("Average duration by bike type"))
    want = bikeshare.expected(
        "SELECT b.bike_type, AVG(r.duration_min) FROM rides r JOIN bikes b ON r.bike_id = b.bike_id GROUP BY 1"
    )
    _same_rows(got, want)
    assert len(got) == 3


def test_aggregation_word_changes_a_column_measure(bikeshare: BikeShare) -> None:
    # "fare" is revenue (SUM(fare)); "average" turns it into AVG(fare); "electric bikes" is a value synonym.
    result = bikeshare.ask("Average fare for electric bikes")
    got = _answer(result)
    want = bikeshare.expected(
        "SELECT AVG(r.fare) FROM rides r JOIN bikes b ON r.bike_id = b.bike_id WHERE b.bike_type = 'e-bike'"
    )
    assert got == want


def test_two_value_filters_over_two_joins(bikeshare: BikeShare) -> None:
    got = _answer(bikeshare.ask("What was the total fare for cargo bikes in Hamburg?"))
    want = bikeshare.expected(
        "SELECT SUM(r.fare) FROM rides r JOIN bikes b ON r.bike_id = b.bike_id"
        " JOIN stations s ON r.start_station_id = s.station_id WHERE b.bike_type = 'cargo' AND s.city = 'Hamburg'"
    )
    assert got == want


def test_two_groupings(bikeshare: BikeShare) -> None:
    got = _answer(bikeshare.ask("revenue by city and bike type"))
    want = bikeshare.expected(
        "SELECT s.city, b.bike_type, SUM(r.fare) FROM rides r JOIN bikes b ON r.bike_id = b.bike_id"
        " JOIN stations s ON r.start_station_id = s.station_id GROUP BY 1, 2"
    )
    _same_rows(got, want)


def test_bottom_n(bikeshare: BikeShare) -> None:
    got = _answer(bikeshare.ask("bottom 3 stations by revenue"))
    full = bikeshare.expected(
        RIDES_BY_STATION.format(col="name", agg="SUM(r.fare)", where="").replace("DESC", "ASC")
    )
    _no_tie_at(full, 3)
    assert got == full[:3]


def test_quarter_filter_with_grouping(bikeshare: BikeShare) -> None:
    got = _answer(bikeshare.ask("rides by district in Q2 2024"))
    where = "WHERE r.started_at >= '2024-04-01' AND r.started_at < '2024-07-01'"
    _same_rows(got, bikeshare.expected(RIDES_BY_STATION.format(col="district", agg="COUNT(*)", where=where)))


def test_named_filter_with_grouping(bikeshare: BikeShare) -> None:
    got = _answer(bikeshare.ask("Revenue from long rides by city"))
    want = bikeshare.expected(
        RIDES_BY_STATION.format(col="city", agg="SUM(r.fare)", where="WHERE r.duration_min > 60")
    )
    _same_rows(got, want)


def test_named_filter_counted(bikeshare: BikeShare) -> None:
    got = _answer(bikeshare.ask("How many long rides were there in 2024?"))
    want = bikeshare.expected(
        "SELECT COUNT(*) FROM rides WHERE duration_min > 60 AND YEAR(started_at) = 2024"
    )
    assert got == want


def test_verified_query(bikeshare: BikeShare) -> None:
    result = bikeshare.ask("What was the busiest station ever?")
    got = _answer(result)
    full = bikeshare.expected(RIDES_BY_STATION.format(col="name", agg="COUNT(*)", where=""))
    _no_tie_at(full, 1)
    assert got == full[:1]
    assert result.results[0].text.startswith("Verified answer")


def test_second_space_answers_its_own_measures(bikeshare: BikeShare) -> None:
    got = _answer(bikeshare.ask("How many bikes per bike type?"), "fleet")
    _same_rows(got, bikeshare.expected("SELECT bike_type, COUNT(*) FROM bikes GROUP BY 1"))
    got = _answer(bikeshare.ask("Fleet value by model"), "fleet")
    _same_rows(got, bikeshare.expected("SELECT model, SUM(purchase_price) FROM bikes GROUP BY 1"))
    got = _answer(bikeshare.ask("How many bikes were bought in 2022?"), "fleet")
    assert got == bikeshare.expected("SELECT COUNT(*) FROM bikes WHERE YEAR(purchased_on) = 2022")


# --------------------------------------------------------------------------- follow-ups


def test_followup_changes_the_year(bikeshare: BikeShare) -> None:
    first = bikeshare.ask("How many rides in 2023?")
    assert _answer(first) == bikeshare.expected("SELECT COUNT(*) FROM rides WHERE YEAR(started_at) = 2023")
    second = bikeshare.ask("What about 2024?", thread_id=first.thread_id)
    assert second.route.kind == "follow_up"
    assert _answer(second) == bikeshare.expected("SELECT COUNT(*) FROM rides WHERE YEAR(started_at) = 2024")


def test_followup_adds_a_value_filter(bikeshare: BikeShare) -> None:
    first = bikeshare.ask("Revenue by city in 2024")
    where = "WHERE YEAR(r.started_at) = 2024"
    _same_rows(
        _answer(first),
        bikeshare.expected(RIDES_BY_STATION.format(col="city", agg="SUM(r.fare)", where=where)),
    )
    second = bikeshare.ask("only for members", thread_id=first.thread_id)
    assert second.route.kind == "follow_up"
    where += " AND r.member_type = 'member'"
    # The answer repeats the year carried over from the first question: see
    # test_followup_answer_is_grounded.
    _same_rows(
        _answer(second, grounded=False),
        bikeshare.expected(RIDES_BY_STATION.format(col="city", agg="SUM(r.fare)", where=where)),
    )


def test_followup_answer_is_grounded(bikeshare: BikeShare) -> None:
    first = bikeshare.ask("rides in 2024")
    second = bikeshare.ask("only for members", thread_id=first.thread_id)
    assert second.status == "ok"
    assert second.grounding == {"ok": True, "unsupported_numbers": []}


def test_followup_chain_replaces_filter_regroups_and_swaps_measure(bikeshare: BikeShare) -> None:
    city = (
        "SELECT SUM(r.fare) FROM rides r JOIN stations s ON r.start_station_id = s.station_id"
        " WHERE s.city = '{}'"
    )
    first = bikeshare.ask("Revenue in berlin")
    assert _answer(first) == bikeshare.expected(city.format("Berlin"))
    second = bikeshare.ask("what about Hamburg?", thread_id=first.thread_id)
    assert _answer(second) == bikeshare.expected(city.format("Hamburg"))
    third = bikeshare.ask("break it down by district", thread_id=first.thread_id)
    where = "WHERE s.city = 'Hamburg'"
    want = bikeshare.expected(RIDES_BY_STATION.format(col="district", agg="SUM(r.fare)", where=where))
    _same_rows(_answer(third), want)
    fourth = bikeshare.ask("and the average duration?", thread_id=first.thread_id)
    want = bikeshare.expected(RIDES_BY_STATION.format(col="district", agg="AVG(r.duration_min)", where=where))
    _same_rows(_answer(fourth), want)


def test_followup_changes_the_top_n(bikeshare: BikeShare) -> None:
    full = bikeshare.expected(RIDES_BY_STATION.format(col="name", agg="COUNT(*)", where=""))
    _no_tie_at(full, 5)
    _no_tie_at(full, 3)
    first = bikeshare.ask("Top 5 stations by rides")
    assert _answer(first) == full[:5]
    second = bikeshare.ask("show the top 3 instead", thread_id=first.thread_id)
    assert _answer(second) == full[:3]


# --------------------------------------------------------------------------- routing


def test_cross_space_question_asks_each_space_its_part(bikeshare: BikeShare) -> None:
    result = bikeshare.ask("How many bikes and how many rides by bike type?")
    assert result.status == "ok", result.text
    assert result.route.kind == "cross_domain"
    assert set(result.route.domains) == {"rides", "fleet"}
    by_domain = {r.domain: _normalize(r.rows) for r in result.results}
    _same_rows(by_domain["fleet"], bikeshare.expected("SELECT bike_type, COUNT(*) FROM bikes GROUP BY 1"))
    _same_rows(
        by_domain["rides"],
        bikeshare.expected(
            "SELECT b.bike_type, COUNT(*) FROM rides r JOIN bikes b ON r.bike_id = b.bike_id GROUP BY 1"
        ),
    )


@pytest.mark.parametrize("question", ["What's the weather in Paris?", "What is the average battery level?"])
def test_out_of_scope(bikeshare: BikeShare, question: str) -> None:
    result = bikeshare.ask(question)
    assert result.status == "out_of_scope", (result.status, result.text)
    assert result.route.domains == ()
    assert result.results == ()
    assert result.suggested_questions


def test_write_request_is_refused_and_nothing_changes(bikeshare: BikeShare) -> None:
    before = bikeshare.expected("SELECT COUNT(*), SUM(fare) FROM rides")
    for question in ("delete all rides", "DROP TABLE rides", "please update the fares to zero"):
        result = bikeshare.ask(question)
        assert result.status == "refused", (question, result.status)
        assert result.results == ()
        assert "nothing was changed" in result.text
    assert bikeshare.expected("SELECT COUNT(*), SUM(fare) FROM rides") == before
    assert _answer(bikeshare.ask("How many rides were there?")) == [(N_RIDES,)]


# --------------------------------------------------------------------------- what the space cannot answer


@pytest.mark.parametrize(
    ("question", "domain"),
    [
        ("rides by weather", "rides"),  # no such dimension
        ("fleet value by district", "fleet"),  # district is in the rides space, not the fleet
        ("Which city has the most bikes?", "fleet"),  # bikes have no city
        ("How many rides longer than 2 hours?", "rides"),  # hours is no unit of the space: must not drop it
    ],
)
def test_unanswerable_question_asks_to_clarify(bikeshare: BikeShare, question: str, domain: str) -> None:
    result = bikeshare.ask(question)
    assert result.status == "clarify", (result.status, result.text)
    assert result.route.domains == (domain,)
    [table] = result.results
    assert table.error and table.rows == () and table.sql is None
    assert result.suggested_questions
    assert result.grounding["ok"]


def test_a_unit_names_the_column_a_condition_is_on(bikeshare: BikeShare) -> None:
    """The duration is in minutes (the model's `unit`): "longer than 90 minutes" filters the rides."""
    got = _answer(bikeshare.ask("How many rides longer than 90 minutes?"))
    _same_rows(got, bikeshare.expected("SELECT COUNT(*) FROM rides WHERE duration_min > 90"))


# --------------------------------------------------------------------------- beyond the basics
# Questions this space surfaced that the engine first got wrong. What is still missing is a strict
# xfail: when the engine learns it, the test fails as XPASS and the marker must go.


def test_comparing_two_values_gives_one_row_each(bikeshare: BikeShare) -> None:
    got = _answer(bikeshare.ask("compare rides in Munich and Hamburg"))
    where = "WHERE s.city IN ('Munich', 'Hamburg')"
    _same_rows(got, bikeshare.expected(RIDES_BY_STATION.format(col="city", agg="COUNT(*)", where=where)))


def test_rides_per_day(bikeshare: BikeShare) -> None:
    got = _answer(bikeshare.ask("Rides per day in March 2024"))
    want = bikeshare.expected(
        "SELECT CAST(started_at AS DATE) AS d, COUNT(*) FROM rides"
        " WHERE started_at >= '2024-03-01' AND started_at < '2024-04-01' GROUP BY d ORDER BY d"
    )
    assert got == want


@pytest.mark.parametrize(
    ("question", "sql"),
    [
        ("How many rides did members take?", "SELECT COUNT(*) FROM rides WHERE member_type = 'member'"),
        ("How many rides were rented in 2024?", "SELECT COUNT(*) FROM rides WHERE YEAR(started_at) = 2024"),
    ],
)
def test_domain_verbs_are_not_unknown_data(bikeshare: BikeShare, question: str, sql: str) -> None:
    assert _answer(bikeshare.ask(question)) == bikeshare.expected(sql)


@pytest.mark.parametrize(
    ("question", "sql"),
    [
        (
            "How many rides in May 2024?",
            "SELECT COUNT(*) FROM rides WHERE started_at >= '2024-05-01' AND started_at < '2024-06-01'",
        ),
        ("rides since 2024-06-01", "SELECT COUNT(*) FROM rides WHERE started_at >= '2024-06-01'"),
    ],
)
def test_time_words_the_parser_understands(bikeshare: BikeShare, question: str, sql: str) -> None:
    assert _answer(bikeshare.ask(question)) == bikeshare.expected(sql)


def test_counting_a_value_noun(bikeshare: BikeShare) -> None:
    got = _answer(bikeshare.ask("How many e-bikes are there?"), "fleet")
    assert got == bikeshare.expected("SELECT COUNT(*) FROM bikes WHERE bike_type = 'e-bike'")
