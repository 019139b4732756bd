"""Databricks SQL for the emulated warehouse: the tables it names resolved in Unity Catalog's three
parts, checked against what the caller may read, and the statement written back in DuckDB SQL by
sqlglot over the DuckDB file that holds that schema.

An unqualified name is completed with the request's ``catalog`` and ``schema`` (a warehouse's
defaults when the request gives none: ``hive_metastore`` and ``default``, which hold nothing here).
What the warehouse would fail, this fails with its error class and text: a table it cannot find
(``TABLE_OR_VIEW_NOT_FOUND``), one the caller may not read (``INSUFFICIENT_PERMISSIONS``), SQL it
cannot parse (``PARSE_SYNTAX_ERROR``). The emulator runs queries only, over one schema's file each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import cast

__all__ = ["DEFAULT_CATALOG", "DEFAULT_SCHEMA", "StatementFailure", "TranslatedStatement", "to_duckdb"]

DEFAULT_CATALOG, DEFAULT_SCHEMA = "hive_metastore", "default"


class StatementFailure(Exception):
    """A statement the warehouse accepts and then fails: ``status.error`` of a FAILED statement."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code, self.message = error_code, message


@dataclass(frozen=True)
class TranslatedStatement:
    """A statement in DuckDB SQL and the file it runs on."""

    sql: str
    database: Path
    tables: tuple[str, ...]
    """The tables it reads, as ``catalog.schema.table``."""


def _quoted(*parts: str) -> str:
    return ".".join(f"`{p}`" for p in parts)


def to_duckdb(
    statement: str,
    *,
    catalog: str | None,
    schema: str | None,
    schemas: Mapping[str, tuple[Path, frozenset[str]]],
    may_read: Callable[[str], bool],
) -> TranslatedStatement:
    """``statement`` (Databricks SQL) in DuckDB SQL. ``schemas`` maps ``catalog.schema`` to its DuckDB
    file and the tables in it; ``may_read`` says whether the caller may SELECT a ``catalog.schema.table``.

    Raises:
        StatementFailure: as the warehouse would fail the statement.
    """
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, SqlglotError

    try:
        parsed = [s for s in sqlglot.parse(statement, read="databricks") if s is not None]
    except ParseError as error:
        first = str(error).splitlines()[0] if str(error) else "syntax error"
        raise StatementFailure(
            "BAD_REQUEST", f"[PARSE_SYNTAX_ERROR] Syntax error: {first}. SQLSTATE: 42601"
        ) from None
    except SqlglotError as error:
        raise StatementFailure("BAD_REQUEST", f"[PARSE_SYNTAX_ERROR] {error}. SQLSTATE: 42601") from None
    if len(parsed) != 1:
        raise StatementFailure(
            "BAD_REQUEST", f"[PARSE_SYNTAX_ERROR] Expected one statement, got {len(parsed)}. SQLSTATE: 42601"
        )
    tree = cast(exp.Expression, parsed[0])
    if not isinstance(tree, exp.Query):
        raise StatementFailure(
            "BAD_REQUEST",
            "[NOT_SUPPORTED_COMMAND] genie-server's SQL warehouse runs queries only (SELECT); the "
            "sample data is read-only.",
        )
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    databases: set[Path] = set()
    read: list[str] = []
    for table in list(tree.find_all(exp.Table)):
        if not isinstance(table.this, exp.Identifier):
            continue  # a table function: DuckDB's locked-down connection refuses those that read anything
        if not table.db and not table.catalog and table.name.lower() in ctes:
            continue
        parts = (
            table.catalog or catalog or DEFAULT_CATALOG,
            table.db or schema or DEFAULT_SCHEMA,
            table.name,
        )
        key = ".".join(parts[:2]).lower()
        source = schemas.get(key)
        if source is None or parts[2].lower() not in source[1]:
            raise StatementFailure(
                "BAD_REQUEST",
                f"[TABLE_OR_VIEW_NOT_FOUND] The table or view {_quoted(*parts)} cannot be found. Verify the "
                "spelling and correctness of the schema and catalog. SQLSTATE: 42P01",
            )
        name = ".".join(parts).lower()
        if not may_read(name):
            raise StatementFailure(
                "BAD_REQUEST",
                "[INSUFFICIENT_PERMISSIONS] Insufficient privileges:\nUser does not have SELECT on Table "
                f"'{_quoted(*parts)}'. SQLSTATE: 42501",
            )
        databases.add(source[0])
        read.append(name)
        if not table.alias:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
        table.set("catalog", None)
        table.set("db", None)
    if len(databases) > 1:
        raise StatementFailure(
            "BAD_REQUEST",
            "[NOT_SUPPORTED_COMMAND] genie-server's SQL warehouse reads one schema per statement.",
        )
    if not databases:
        if not schemas:
            raise StatementFailure(
                "BAD_REQUEST", "[NOT_SUPPORTED_COMMAND] genie-server's SQL warehouse has no data."
            )
        databases.add(next(iter(schemas.values()))[0])
    return TranslatedStatement(tree.sql(dialect="duckdb"), databases.pop(), tuple(dict.fromkeys(read)))
