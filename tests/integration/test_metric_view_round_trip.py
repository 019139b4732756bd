"""Metric views round trip: the example spaces (and the bike-rental ones) exported as metric views
and imported again are the same model, and an agent over them answers the team's question bank as an
agent over the originals does: the same status, and each space's SQL, error and rows. A hand-written
metric view (the Databricks documentation's style) defines a space that answers from the data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from genie_agent.metric_views import export_space
from genie_agent.spaces.catalog import Catalog, load_catalog
from tests.bank.harness import load_bank, same_table
from tests.conftest import open_readonly


def _exported(catalog: Catalog, out: Path) -> Catalog:
    """``catalog``'s spaces written as metric views and sidecars under ``out``, and loaded back."""
    for space in catalog.spaces:
        export_space(space, out, catalog="samples", schema="tpch")
    (name, db), *_ = catalog.databases.items()
    sidecars = ", ".join(f"{s.id}.space.yaml" for s in catalog.spaces)
    (out / "catalog.yaml").write_text(f"databases:\n  {name}: {{path: {db.path}}}\nspaces: [{sidecars}]\n")
    return load_catalog(out / "catalog.yaml")


def _agent(catalog: Catalog, home: Path) -> Any:
    from genie_agent.config import load_settings
    from genie_agent.factory import make_agent

    settings = load_settings(home=home, tracing="off", verified_queries=False)
    return make_agent(settings, catalog=catalog, progress=False)


def _answer(agent: Any, case: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Every turn of the case: its status and each result's space, SQL, error and rows. Rows are
    compared as a multiset: the engine orders by the measure only, so tied rows come in any order."""
    turns = case["turns"] if case["kind"] == "followup" else [case]
    answers, thread_id = [], None
    for turn in turns:
        result = agent.ask(turn["question"], thread_id=thread_id)
        thread_id = result.thread_id
        tables = [(r.domain, r.sql, r.error, sorted(map(repr, r.rows))) for r in result.results]
        answers.append((result.status, tables))
    return answers


class _Pair:
    """An agent over the original spaces and one over the same spaces exported and imported again."""

    def __init__(self, original: Catalog, root: Path) -> None:
        self.original = original
        self.imported = _exported(original, root / "views")
        self._before, self._after = (
            _agent(original, root / "original"),
            _agent(self.imported, root / "imported"),
        )

    def differences(self, cases: list[dict[str, Any]]) -> list[str]:
        differences = []
        for case in cases:
            expected, got = _answer(self._before, case), _answer(self._after, case)
            if got != expected:
                differences.append(f"{case['id']}: {got!r:.400} != {expected!r:.400}")
        return differences


TPCH = load_bank("tpch_single", "tpch_conversations")
BIKES = load_bank("bikes")
CHUNK = 80  # cases per test, so that workers share the banks


@pytest.fixture(scope="module")
def tpch_pair(tpch_catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> _Pair:
    return _Pair(tpch_catalog, tmp_path_factory.mktemp("mv-tpch"))


@pytest.fixture(scope="module")
def bikes_pair(tmp_path_factory: pytest.TempPathFactory) -> _Pair:
    from tests.bank.catalogs import bikes

    root = tmp_path_factory.mktemp("mv-bikes")
    return _Pair(bikes.load(root / "bikes"), root)


def test_example_spaces_export_and_import_as_the_same_model(tpch_pair: _Pair) -> None:
    assert [s.model_dump() for s in tpch_pair.imported.spaces] == [
        s.model_dump() for s in tpch_pair.original.spaces
    ]
    views = sorted(p.name for p in tpch_pair.imported.source.parent.glob("*.metric_view.yaml"))
    assert views == [
        "customers_customer.metric_view.yaml",  # one view per table that measures sit on
        "sales_lineitem.metric_view.yaml",
        "sales_orders.metric_view.yaml",
        "supply_part.metric_view.yaml",
        "supply_partsupp.metric_view.yaml",
        "supply_supplier.metric_view.yaml",
    ]


@pytest.mark.parametrize("start", range(0, len(TPCH), CHUNK))
def test_example_spaces_answer_the_bank_as_before(tpch_pair: _Pair, start: int) -> None:
    assert tpch_pair.differences(TPCH[start : start + CHUNK]) == []


def test_bike_spaces_round_trip(bikes_pair: _Pair) -> None:
    assert [s.model_dump() for s in bikes_pair.imported.spaces] == [
        s.model_dump() for s in bikes_pair.original.spaces
    ]
    assert bikes_pair.differences(BIKES) == []


ORDERS_VIEW = """\
version: 1.1
comment: Orders by the customer's nation and market segment.
source: samples.tpch.orders
joins:
  - name: customer
    source: samples.tpch.customer
    on: source.o_custkey = customer.c_custkey
    joins:
      - name: nation
        source: samples.tpch.nation
        on: customer.c_nationkey = nation.n_nationkey
fields:
  - {name: nation, expr: customer.nation.n_name, synonyms: [country]}
  - {name: segment, expr: customer.c_mktsegment, display_name: Market segment}
  - {name: order date, expr: o_orderdate}
measures:
  - {name: order value, expr: SUM(o_totalprice), format: {type: currency, currency_code: USD}}
  - {name: orders, expr: COUNT(1), format: {type: number, decimal_places: {type: exact, places: 0}}}
"""


def test_a_hand_written_metric_view_defines_a_space(tpch_db: Path, tmp_path: Path) -> None:
    (tmp_path / "orders.metric_view.yaml").write_text(ORDERS_VIEW)
    (tmp_path / "orders.space.yaml").write_text(
        "title: Order book\nmetric_views: [orders.metric_view.yaml]\ntime_dimensions: [order date]\n"
    )
    (tmp_path / "catalog.yaml").write_text(
        f"databases:\n  tpch: {{path: {tpch_db}}}\nspaces: [orders.space.yaml]\n"
    )
    catalog = load_catalog(tmp_path / "catalog.yaml")
    (space,) = catalog.spaces
    assert (space.id, space.title, space.database) == ("orders", "Order book", "tpch")
    agent = _agent(catalog, tmp_path / "home")
    result = agent.ask("Order value by nation in 1995")
    assert result.status == "ok", result.text
    (table,) = result.results
    with open_readonly(tpch_db) as con:
        truth = con.execute(
            "SELECT n.n_name, SUM(o.o_totalprice) FROM orders o JOIN customer c ON o.o_custkey = c.c_custkey"
            " JOIN nation n ON c.c_nationkey = n.n_nationkey WHERE YEAR(o.o_orderdate) = 1995 GROUP BY 1"
        ).fetchall()
    assert len(truth) == 25
    assert same_table(table.rows, truth, ordered=False) == (True, "")
