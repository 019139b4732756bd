"""The local engine's SQL for a Databricks SQL warehouse: checked by the same guard as on DuckDB (one
read-only query over the space's own tables), then written in Databricks SQL by sqlglot with every
table named in full as ``catalog.schema.table`` (aliased by its old name, so ``orders.o_orderkey``
still resolves). The engine writes DuckDB SQL; sqlglot transpiles its functions and quoting.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from ..errors import UnsafeRequestError

__all__ = ["WarehouseTarget", "databricks_sql"]


@dataclass(frozen=True)
class WarehouseTarget:
    """Where a space's queries run: the SQL warehouse, and the catalog and schema of its tables."""

    warehouse_id: str
    catalog: str
    schema: str

    def qualified(self, table: str) -> str:
        return f"{self.catalog}.{self.schema}.{table}"


def databricks_sql(sql: str, tables: Collection[str], target: WarehouseTarget) -> str:
    """``sql`` (DuckDB, over ``tables`` unqualified) as Databricks SQL over ``target``'s tables.

    Raises:
        UnsafeRequestError: the guard refused ``sql`` (not one read-only query over ``tables``), or
            a common table expression of it has the name of one of the space's tables.
    """
    import sqlglot
    from sqlglot import exp

    from .local.sql_guard import check_select

    checked = check_select(sql, tables)
    tree = sqlglot.parse_one(checked, read="duckdb")
    own = {t.lower() for t in tables}
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    if ctes & own:
        raise UnsafeRequestError(
            f"The query names a common table expression like a table of the space ({', '.join(sorted(ctes & own))}).",
            "Rename the common table expression.",
        )
    for table in list(tree.find_all(exp.Table)):
        if not isinstance(table.this, exp.Identifier) or table.name.lower() in ctes:
            continue
        if not table.alias:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
        table.set("db", exp.to_identifier(target.schema))
        table.set("catalog", exp.to_identifier(target.catalog))
    return tree.sql(dialect="databricks")
