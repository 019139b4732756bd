"""Table names between a local space and a workspace: the local engine's SQL (DuckDB, bare table names)
to Databricks SQL over Unity Catalog names (``catalog.schema.table``), and back (genie-server).

sqlglot parses and writes both dialects; sqlglot is imported only when SQL is rewritten.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

__all__ = ["UnknownTableError", "backticked_condition", "local_sql", "qualified_sql", "snippet_sql"]


class UnknownTableError(ValueError):
    """A query names a table outside the namespaces it may read."""

    def __init__(self, table: str) -> None:
        super().__init__(f"table {table} is not known here")
        self.table = table


def qualified_sql(sql: str, catalog: str, schema: str) -> str:
    """``sql`` (DuckDB, bare table names) as Databricks SQL over ``catalog.schema.<table>``.

    Each table keeps its name as its alias, so column references qualified by a table name
    (``orders.o_orderdate``) still resolve; common table expressions are left alone."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="duckdb")
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if table.name in ctes or table.args.get("db") is not None:
            continue
        if not table.alias:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
        table.set("db", exp.to_identifier(schema))
        table.set("catalog", exp.to_identifier(catalog))
    return tree.sql(dialect="databricks", pretty=True)


def local_sql(sql: str, local_name: Callable[[str], str | None]) -> str:
    """Databricks ``sql`` as DuckDB SQL over local tables: ``local_name("samples.tpch.orders")``
    gives the local table (``orders``) or None; raises :class:`UnknownTableError` for a table it
    does not give, ValueError for SQL that does not parse."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError

    try:
        tree = sqlglot.parse_one(sql, read="databricks")
    except ParseError as exc:
        raise ValueError(f"the SQL does not parse: {exc}") from None
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if table.name in ctes and table.args.get("db") is None:
            continue
        full = ".".join(p for p in (table.catalog, table.db, table.name) if p)
        name = local_name(full)
        if name is None:
            raise UnknownTableError(full)
        table.set("catalog", None)
        table.set("db", None)
        table.set("this", exp.to_identifier(name))
        if table.alias == name:
            table.set("alias", None)
    return tree.sql(dialect="duckdb")


def snippet_sql(expr: str, table_names: Mapping[str, str]) -> str:
    """An expression of the local model (DuckDB, columns qualified by table aliases) as a Genie SQL
    snippet: Databricks SQL with each column qualified by the name ``table_names`` gives its alias (the
    table's own name where the space reads it under one alias), as snippets must be table-qualified."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(expr, read="duckdb")
    for column in tree.find_all(exp.Column):
        name = table_names.get(column.table)
        if name is not None:
            column.set("table", exp.to_identifier(name))
    return tree.sql(dialect="databricks")


def backticked_condition(condition: str) -> str:
    """A join condition over ``alias.column`` with every identifier in backticks, as Genie writes the
    first line of a join specification (```orders`.`o_custkey` = `customer`.`c_custkey```)."""
    import sqlglot

    return sqlglot.parse_one(condition, read="duckdb").sql(dialect="databricks", identify=True)
