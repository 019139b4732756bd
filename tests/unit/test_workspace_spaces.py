"""A local space as a serialized Genie space, table names between the two, and the configuration
file writer."""

from __future__ import annotations

import json
import re
import stat

import pytest

from genie_agent.config import EXAMPLE_CATALOG
from genie_agent.errors import ConfigError
from genie_agent.genie_api.errors import ApiError
from genie_agent.genie_api.space_payload import check_serialized
from genie_agent.spaces.catalog import load_catalog
from genie_agent.workspace_spaces import SerializedSpace, serialize_definition, write_genie_spaces
from genie_agent.workspace_spaces.sql_names import UnknownTableError, local_sql, qualified_sql, snippet_sql

CATALOG = load_catalog(EXAMPLE_CATALOG)


@pytest.mark.parametrize("space_id", [s.id for s in CATALOG.spaces])
def test_each_example_space_serializes_to_what_the_server_accepts(space_id):
    space = CATALOG.space(space_id)
    serialized = serialize_definition(space, catalog="main", schema="tpch_copy")
    check_serialized(json.dumps(serialized))  # raises with every problem
    parsed = SerializedSpace.parse(json.dumps(serialized))
    assert parsed.table_identifiers == sorted(f"main.tpch_copy.{t}" for t in space.physical_tables)
    assert sorted(parsed.sample_questions) == sorted(space.sample_questions)
    assert parsed.instructions_text == space.instructions.strip()
    joins = parsed.instructions.join_specs
    assert len(joins) == len(space.joins)
    for join in joins:
        assert re.fullmatch(r"`\w+`\.`\w+` = `\w+`\.`\w+`", join.sql[0]), join.sql
        assert join.sql[1] == "--rt=FROM_RELATIONSHIP_TYPE_MANY_TO_ONE--"
        assert join.left.identifier.startswith("main.tpch_copy.") and join.left.alias in join.sql[0]
    assert serialize_definition(space, catalog="main", schema="tpch_copy") == serialized  # stable ids


def test_verified_queries_become_example_sql_over_unity_catalog_names():
    sales = CATALOG.space("sales")
    parsed = SerializedSpace.model_validate(serialize_definition(sales, catalog="samples", schema="tpch"))
    (example,) = parsed.instructions.example_question_sqls
    sql = "".join(example.sql)
    assert example.question == [sales.verified_queries[0].question]
    assert "FROM samples.tpch.lineitem AS lineitem" in sql and "JOIN samples.tpch.orders AS orders" in sql
    columns = {c.column_name: c.synonyms for t in parsed.data_sources.tables for c in t.column_configs}
    assert columns["c_mktsegment"] == ["market segment", "segment", "customer segment"]
    assert columns["l_shipdate"].count("ship date") == 1


def test_measures_filters_and_computed_dimensions_become_sql_snippets():
    sales = CATALOG.space("sales")
    parsed = SerializedSpace.parse(json.dumps(serialize_definition(sales, catalog="samples", schema="tpch")))
    snippets = parsed.instructions.sql_snippets
    measures = {m.display_name: m for m in snippets.measures}
    assert list(measures) == [m.display_name for m in sorted(snippets.measures, key=lambda m: m.id)]
    assert set(measures) == {m.name for m in sales.measures}
    revenue = measures["revenue"]
    assert revenue.alias == "revenue" and revenue.synonyms == [
        "sales",
        "net revenue",
        "turnover",
        "income",
        "revenues",
    ]
    assert revenue.sql == ["SUM(lineitem.l_extendedprice * (1 - lineitem.l_discount))"]
    assert measures["average order value"].alias == "average_order_value"
    assert measures["line items"].comment == ["Counts rows of samples.tpch.lineitem."]
    (returned,) = snippets.filters
    assert (returned.display_name, returned.sql) == ("returned", ["lineitem.l_returnflag = 'R'"])
    assert snippets.expressions == []  # every example dimension is a plain column: a column config
    supply = SerializedSpace.model_validate(
        serialize_definition(CATALOG.space("supply"), catalog="samples", schema="tpch")
    )
    cost = next(m for m in supply.instructions.sql_snippets.measures if m.display_name == "supply cost")
    assert cost.sql == ["AVG(partsupp.ps_supplycost)"]  # a column measure with its default aggregation
    # A table read under one alias is named by itself; under several, by the alias its joins give it.
    assert snippet_sql("COUNT(DISTINCT cust_nation.n_name)", {"cust_nation": "nation"}) == (
        "COUNT(DISTINCT nation.n_name)"
    )
    assert snippet_sql("date_trunc('month', o.o_orderdate)", {"o": "orders"}) == (
        "DATE_TRUNC('MONTH', orders.o_orderdate)"
    )


def test_a_computed_dimension_is_an_expression_snippet():
    data = CATALOG.space("sales").model_dump(by_alias=True)
    data["dimensions"] = [*data["dimensions"], {"name": "order year", "expr": "YEAR(orders.o_orderdate)"}]
    space = type(CATALOG.space("sales")).model_validate(data)
    serialized = serialize_definition(space, catalog="samples", schema="tpch")
    check_serialized(json.dumps(serialized))
    (year,) = SerializedSpace.model_validate(serialized).instructions.sql_snippets.expressions
    assert (year.alias, year.display_name, year.sql) == (
        "order_year",
        "order year",
        ["YEAR(orders.o_orderdate)"],
    )


def test_the_server_checks_sql_snippets_as_documented():
    good = serialize_definition(CATALOG.space("sales"), catalog="samples", schema="tpch")
    snippets = good["instructions"]["sql_snippets"]
    measures = snippets["measures"]

    def refused(change: dict[str, object]) -> str:
        space = {**good, "instructions": {**good["instructions"], "sql_snippets": {**snippets, **change}}}
        with pytest.raises(ApiError) as raised:
            check_serialized(json.dumps(space))
        return str(raised.value.message)

    assert "sql_snippets.measures must be sorted by id" in refused({"measures": list(reversed(measures))})
    no_alias = [{k: v for k, v in measures[0].items() if k != "alias"}, *measures[1:]]
    assert "sql_snippets.measures[revenue]: needs alias" in refused({"measures": no_alias})
    plain = [{**measures[0], "sql": "SUM(x)"}, *measures[1:]]
    assert "sql_snippets.measures[revenue]: sql must be a list of strings" in refused({"measures": plain})
    where = [{**snippets["filters"][0], "sql": ["WHERE lineitem.l_returnflag = 'R'"]}]
    assert "filters[returned]: sql is the condition alone, without WHERE" in refused({"filters": where})
    twice = [{**measures[0], "id": good["config"]["sample_questions"][0]["id"]}]
    assert "is used twice" in refused({"measures": twice})
    assert "sql_snippets: Cannot find field: metrics" in refused({"metrics": []})
    assert "is not 32 lowercase hex" in refused({"filters": [{**snippets["filters"][0], "id": "f1"}]})


def test_table_names_go_to_the_workspace_and_back():
    sql = "SELECT COUNT(*) AS n FROM customer JOIN nation ON customer.c_nationkey = nation.n_nationkey"
    remote = qualified_sql(sql, "samples", "tpch")
    assert "samples.tpch.customer AS customer" in remote
    local = {"samples.tpch.customer": "customer", "samples.tpch.nation": "nation"}
    back = local_sql(remote, local.get)
    assert "samples" not in back and "FROM customer JOIN nation" in back
    with pytest.raises(UnknownTableError) as raised:
        local_sql("SELECT * FROM samples.tpch.orders", local.get)
    assert raised.value.table == "samples.tpch.orders"
    with pytest.raises(ValueError):
        local_sql("SELECT FROM WHERE (", local.get)


def test_the_config_file_keeps_comments_other_keys_and_keywords(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(
        "# settings of mine\n"
        "row_limit: 5000  # rows\n"
        "genie_spaces:\n"
        "  sales:\n"
        "    space_id: old\n"
        "    keywords: [revenue, orders]  # routing words\n"
    )
    path.chmod(0o600)
    write_genie_spaces(
        path,
        {
            "sales": {"space_id": "new", "title": "Sales", "sample_questions": ["Revenue: by region?"]},
            "supply": {"space_id": "s2", "title": "Supply"},
        },
    )
    text = path.read_text()
    assert text.startswith("# settings of mine\nrow_limit: 5000  # rows\n")
    assert "keywords: [revenue, orders]  # routing words" in text
    import yaml

    data = yaml.safe_load(text)
    assert data["genie_spaces"]["sales"] == {
        "space_id": "new",
        "keywords": ["revenue", "orders"],
        "title": "Sales",
        "sample_questions": ["Revenue: by region?"],
    }
    assert data["genie_spaces"]["supply"] == {"space_id": "s2", "title": "Supply"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    fresh = tmp_path / "new" / "config.yaml"
    write_genie_spaces(fresh, {"sales": {"space_id": "x"}})
    assert yaml.safe_load(fresh.read_text()) == {"genie_spaces": {"sales": {"space_id": "x"}}}
    listed = tmp_path / "list.yaml"
    listed.write_text("- not\n- a mapping\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        write_genie_spaces(listed, {"sales": {"space_id": "x"}})
