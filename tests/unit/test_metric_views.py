"""Metric views: the spec's YAML, expressions between the two models, export and import of a space."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from genie_agent.errors import ConfigError
from genie_agent.metric_views import create_view_sql, export_space, space_to_metric_views
from genie_agent.metric_views.expressions import ExpressionError, from_view, qualify_bare_columns, to_view
from genie_agent.metric_views.load import build_space
from genie_agent.metric_views.sidecar import Sidecar, ViewFile
from genie_agent.metric_views.spec import MetricView
from genie_agent.spaces.catalog import load_catalog
from genie_agent.spaces.semantic_model import SpaceDefinition

# A space that stretches the format: a grain whose alias is not its table's name, a dimension no
# measure's table reaches, a join outside every view, more than 10 synonyms, a column measure.
ODD_SPACE = """\
id: odd-space
title: Odd
description: Shipments and stock.
database: db
tables:
  - {name: ship, table: shipments, description: One row per shipment.}
  - {name: wh, table: warehouses}
  - {name: city}
  - {name: stock}
  - {name: supplier}
joins:
  - {from: ship, to: wh, on: "ship.warehouse_id = wh.id"}
  - {from: wh, to: city, on: "wh.city_id = city.id"}
  - {from: supplier, to: city, on: "supplier.city_id = city.id"}
dimensions:
  - {name: city, expr: city.name, synonyms: [a, b, c, d, e, f, g, h, i, j, k, l]}
  - {name: supplier, expr: supplier.name, entity: true}
  - {name: status, expr: "CASE WHEN ship.state = 'wh.x' THEN 'odd' ELSE ship.state END"}
time_dimensions:
  - {name: shipped, expr: ship.shipped_at}
measures:
  - {name: shipments, expr: COUNT(*), table: ship, format: integer, time_dimension: shipped}
  - {name: weight, column: ship.kg, agg: avg, table: ship, unit: kg, filter_column: ship.kg}
  - {name: stock value, expr: SUM(stock.value), table: stock, format: currency, unit: EUR}
"""


def _odd() -> SpaceDefinition:
    return SpaceDefinition.model_validate(yaml.safe_load(ODD_SPACE))


def _rebuild(sidecar: Sidecar, views: list[MetricView]) -> tuple[dict, list[str]]:
    return build_space(sidecar, list(zip(sidecar.metric_views, views, strict=True)), default_id="x")


def test_references_are_rewritten_outside_string_literals() -> None:
    expr = "CASE WHEN wh.kind = 'wh.kind' THEN city.name END"
    view = to_view(expr, {"wh": "source", "city": "city"})
    assert view == "CASE WHEN source.kind = 'wh.kind' THEN city.name END"
    nested = to_view("city.name || wh.name", {"wh": "wh", "city": "wh.city", "ship": "source"})
    assert nested == "wh.city.name || wh.name"
    assert from_view(nested, "ship", frozenset({"wh", "city"})) == "city.name || wh.name"
    assert from_view(view, "wh", frozenset({"city"})) == expr


def test_bare_columns_are_qualified_and_field_names_inlined() -> None:
    assert qualify_bare_columns("SUM(o_totalprice)", "orders", {}) == "SUM(orders.o_totalprice)"
    assert qualify_bare_columns("COUNT(*)", "orders", {}) == "COUNT(*)"
    month = qualify_bare_columns(
        "DATE_TRUNC('MONTH', order_date)", "orders", {"order_date": "orders.o_orderdate"}
    )
    assert "orders.o_orderdate" in month and "order_date" not in month.replace("o_orderdate", "")
    with pytest.raises(ExpressionError, match="MEASURE"):
        qualify_bare_columns("MEASURE(revenue) / MEASURE(orders)", "orders", {})


def test_the_spec_is_read_strictly() -> None:
    base = {"source": "c.s.t", "measures": [{"name": "n", "expr": "COUNT(*)"}]}
    assert MetricView.model_validate({**base, "version": 1.1}).version == "1.1"
    assert MetricView.model_validate({**base, "version": 0.1}).version == "0.1"
    with pytest.raises(ValidationError, match="version"):
        MetricView.model_validate({**base, "version": 2.0})
    with pytest.raises(ValidationError, match="at most 10"):
        MetricView.model_validate(
            {**base, "measures": [{"name": "n", "expr": "x", "synonyms": list("abcdefghijk")}]}
        )
    with pytest.raises(ValidationError, match="window"):
        MetricView.model_validate({**base, "measures": [{"name": "n", "expr": "x", "window": []}]})
    fields = MetricView.model_validate({"source": "t", "fields": [{"name": "d", "expr": "t.d"}]})
    assert [d.name for d in fields.dimensions] == ["d"]
    with pytest.raises(ValidationError, match="exactly one of `on` or `using`"):
        MetricView.model_validate({**base, "joins": [{"name": "e", "source": "e"}]})
    # PyYAML reads an unquoted `on:` as True.
    view = MetricView.model_validate(
        yaml.safe_load(
            "source: t\njoins: [{name: d, source: d, on: t.k = d.k}]\n" + "dimensions: [{name: x, expr: d.x}]"
        )
    )
    assert view.joins[0].on == "t.k = d.k"


def test_an_odd_space_round_trips_with_what_views_cannot_hold_in_the_sidecar() -> None:
    space = _odd()
    export = space_to_metric_views(space, catalog="main", schema="ops")
    assert [(v.name, v.view.source) for v in export.views] == [
        ("odd_space_ship", "main.ops.shipments"),
        ("odd_space_stock", "main.ops.stock"),
    ]
    ship = export.views[0].view
    assert ship.joins[0].name == "wh" and ship.joins[0].on == "source.warehouse_id = wh.id"
    assert ship.joins[0].joins[0].on == "wh.city_id = city.id"
    assert {d.name: d.expr for d in ship.dimensions} == {
        "city": "wh.city.name",
        "status": "CASE WHEN source.state = 'wh.x' THEN 'odd' ELSE source.state END",
        "shipped": "source.shipped_at",
    }
    assert ship.dimensions[0].synonyms == tuple("abcdefghij")
    weight = next(m for m in ship.measures if m.name == "weight")
    assert weight.expr == "AVG(source.kg)" and weight.format is None
    stock_value = export.views[1].view.measures[0]
    assert stock_value.format is not None and stock_value.format.currency_code == "EUR"
    sidecar = export.sidecar
    assert sidecar.metric_views[0] == ViewFile(file="odd_space_ship.metric_view.yaml", source_alias="ship")
    assert sidecar.more_synonyms == {"city": ("k", "l")}
    assert sidecar.measures["weight"].agg == "avg" and sidecar.measures["weight"].filter_column == "ship.kg"
    assert sidecar.unplaced is not None
    assert [d.name for d in sidecar.unplaced.dimensions] == ["supplier"]  # no measure's table reaches it
    assert [(j.from_, j.to) for j in sidecar.unplaced.joins] == [("supplier", "city")]
    assert [t.name for t in sidecar.unplaced.tables] == ["supplier"]
    data, problems = _rebuild(sidecar, [v.view for v in export.views])
    assert problems == []
    assert SpaceDefinition.model_validate(data).model_dump() == space.model_dump()


def test_files_written_are_the_views_their_statements_and_the_sidecar(tmp_path: Path) -> None:
    paths = export_space(_odd(), tmp_path, catalog="main", schema="ops", view_schema="main.views")
    assert [p.name for p in paths] == [
        "odd_space_ship.metric_view.yaml",
        "odd_space_ship.sql",
        "odd_space_stock.metric_view.yaml",
        "odd_space_stock.sql",
        "odd-space.space.yaml",
    ]
    sql = (tmp_path / "odd_space_ship.sql").read_text()
    head, body = sql.split("AS $$\n")
    assert head == "CREATE OR REPLACE VIEW `main`.`views`.`odd_space_ship`\nWITH METRICS\nLANGUAGE YAML\n"
    assert body.endswith("$$;\n")
    yaml_text = (tmp_path / "odd_space_ship.metric_view.yaml").read_text()
    assert body[: -len("$$;\n")] == yaml_text
    assert "'on': source.warehouse_id = wh.id" in yaml_text  # quoted: YAML 1.1 parsers read on as true
    data = yaml.safe_load(yaml_text)
    assert data["version"] == "1.1" and list(data) == [
        "version",
        "comment",
        "source",
        "joins",
        "dimensions",
        "measures",
    ]
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("databases:\n  db: {path: db.duckdb}\nspaces: [odd-space.space.yaml]\n")
    assert load_catalog(catalog).spaces[0].model_dump() == _odd().model_dump()


def test_create_view_sql_refuses_a_body_that_would_end_early() -> None:
    view = MetricView.model_validate({"source": "t", "dimensions": [{"name": "d", "expr": "'$$'"}]})
    with pytest.raises(ExpressionError, match=r"\$\$"):
        create_view_sql("v", view)


def _one_view(text: str, sidecar: str = "metric_views: [v.yaml]") -> tuple[dict, list[str]]:
    view = MetricView.model_validate(yaml.safe_load(textwrap.dedent(text)))
    return _rebuild(Sidecar.model_validate(yaml.safe_load(sidecar)), [view])


def test_import_reports_what_the_model_cannot_hold() -> None:
    _, problems = _one_view("source: c.s.t\nfilter: t.x > 1\nmeasures: [{name: n, expr: COUNT(*)}]")
    assert any("filter" in p for p in problems)
    _, problems = _one_view("source: SELECT * FROM t\nmeasures: [{name: n, expr: COUNT(*)}]")
    assert any("SQL query" in p for p in problems)
    _, problems = _one_view(
        "source: c.s.t\nmeasures: [{name: n, expr: 2 * SUM(t.x)}]",
        "metric_views: [v.yaml]\nmeasures: {n: {agg: sum}}",
    )
    assert any("agg: sum" in p for p in problems)
    _, problems = _one_view(
        "source: c.s.t\nmeasures: [{name: n, expr: COUNT(*)}, {name: m, expr: COUNT(*)}]",
        "metric_views: [v.yaml]\norder: {measures: [n]}",
    )
    assert any("order.measures" in p for p in problems)
    _, problems = _one_view("source: c.s.t\nmeasures: [{name: n, expr: COUNT(*)}]")
    assert any("database" in p for p in problems)


def test_import_of_a_hand_written_view() -> None:
    data, problems = _one_view(
        """\
        version: 0.1
        source: samples.tpch.orders
        comment: Orders.
        joins:
          - name: customer
            source: samples.tpch.customer
            on: source.o_custkey = customer.c_custkey
            joins:
              - {name: nation, source: samples.tpch.nation, on: customer.c_nationkey = nation.n_nationkey}
        fields:
          - {name: nation, expr: customer.nation.n_name, display_name: Customer nation, synonyms: [country]}
          - {name: month, expr: "DATE_TRUNC('MONTH', o_orderdate)"}
        measures:
          - {name: revenue, expr: SUM(o_totalprice), format: {type: currency, currency_code: USD}}
        """,
        "metric_views: [v.yaml]\ndatabase: tpch",
    )
    assert problems == []
    space = SpaceDefinition.model_validate(data)
    assert space.id == "x" and space.description == "Orders." and space.database == "tpch"
    assert [(t.name, t.table) for t in space.tables] == [
        ("orders", None),
        ("customer", None),
        ("nation", None),
    ]
    assert space.joins[1].on == "customer.c_nationkey = nation.n_nationkey"
    assert space.dimension("nation").expr == "nation.n_name"
    assert space.dimension("nation").synonyms == ("country", "Customer nation")
    assert space.dimension("month").expr == "DATE_TRUNC('MONTH', orders.o_orderdate)"
    revenue = space.measure("revenue")
    assert (revenue.expr, revenue.table, revenue.format) == ("SUM(orders.o_totalprice)", "orders", "currency")


def test_using_becomes_an_equality_per_column() -> None:
    data, problems = _one_view(
        "source: c.s.sales\njoins: [{name: store, source: c.s.stores, using: [store_id, region_id]}]\n"
        "dimensions: [{name: store, expr: store.name}]",
        "metric_views: [v.yaml]\ndatabase: db",
    )
    assert problems == []
    assert data["joins"] == [
        {
            "from": "sales",
            "to": "store",
            "on": "sales.store_id = store.store_id AND sales.region_id = store.region_id",
        }
    ]
    assert data["tables"] == [{"name": "sales"}, {"name": "store", "table": "stores"}]


def test_a_catalog_names_a_missing_view_file(tmp_path: Path) -> None:
    (tmp_path / "s.space.yaml").write_text("metric_views: [gone.metric_view.yaml]\n")
    (tmp_path / "catalog.yaml").write_text("databases:\n  db: {path: db.duckdb}\nspaces: [s.space.yaml]\n")
    with pytest.raises(ConfigError) as error:
        load_catalog(tmp_path / "catalog.yaml")
    assert any("gone.metric_view.yaml" in p for p in error.value.problems)
