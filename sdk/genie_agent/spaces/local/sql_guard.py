"""Parse-level guard for SQL that the local engine is asked to run.

The guard is the first of two layers: it parses the SQL with sqlglot (DuckDB dialect) and only lets
through a single read-only query over the space's own tables. The second layer is the database
itself (see :mod:`genie_agent.spaces.local.executor`), which is opened read-only with external
access disabled, so a query that slipped past this parser still cannot write or reach files.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import cast

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from genie_agent.errors import UnsafeRequestError

__all__ = ["check_select"]

_DIALECT = "duckdb"


class _DropCommandFallbackWarning(logging.Filter):
    """Drop sqlglot's "Falling back to parsing as a 'Command'" warning.

    The guard refuses every such statement with its own error, so the warning would only add
    noise on stderr (which the CLI shares with its own messages).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "Falling back to parsing as a 'Command'" not in record.getMessage()


logging.getLogger("sqlglot").addFilter(_DropCommandFallbackWarning())

_HINT_SELECT = "Ask a question that only reads data; the local engine runs one SELECT at a time."
_HINT_TABLES = "Query only the tables of this space: {tables}."
_HINT_FUNCTIONS = "Query the space's tables directly; functions that read files, the network or the environment are not allowed."

# Statement keywords reported when sqlglot cannot parse a statement it does not model
# (e.g. EXPORT DATABASE), so the user sees "got EXPORT" rather than a parse error.
_NON_QUERY_KEYWORDS = frozenset(
    {
        "ALTER", "ANALYZE", "ATTACH", "BEGIN", "CALL", "CHECKPOINT", "COMMENT", "COMMIT", "COPY",
        "CREATE", "DEALLOCATE", "DELETE", "DESCRIBE", "DETACH", "DROP", "EXECUTE", "EXPLAIN",
        "EXPORT", "FORCE", "GRANT", "IMPORT", "INSERT", "INSTALL", "LOAD", "MERGE", "PIVOT",
        "PRAGMA", "PREPARE", "RESET", "REVOKE", "ROLLBACK", "SET", "SHOW", "SUMMARIZE",
        "TRUNCATE", "UNPIVOT", "UPDATE", "UPSERT", "USE", "VACUUM",
    }
)  # fmt: skip

_STATEMENT_KEYWORDS = {
    "Insert": "INSERT",
    "Update": "UPDATE",
    "Delete": "DELETE",
    "Merge": "MERGE",
    "Create": "CREATE",
    "Drop": "DROP",
    "Alter": "ALTER",
    "Attach": "ATTACH",
    "Detach": "DETACH",
    "Copy": "COPY",
    "Install": "INSTALL",
    "Pragma": "PRAGMA",
    "Set": "SET",
    "Use": "USE",
    "TruncateTable": "TRUNCATE",
    "Transaction": "BEGIN",
    "Commit": "COMMIT",
    "Rollback": "ROLLBACK",
    "Describe": "DESCRIBE",
    "Show": "SHOW",
    "Summarize": "SUMMARIZE",
    "Pivot": "PIVOT",
    "Values": "VALUES",
    "Export": "EXPORT",
    "Analyze": "ANALYZE",
}
# Looked up by name because older sqlglot releases (the pin allows >=26) lack some node types;
# statements they cannot model parse as Command or fail, and are refused either way.
_STATEMENT_NAMES: dict[type[exp.Expression], str] = {
    getattr(exp, cls): keyword for cls, keyword in _STATEMENT_KEYWORDS.items() if hasattr(exp, cls)
}

# Node types that must not appear anywhere inside an accepted query (PIVOT and VALUES may, as
# parts of FROM).
_FORBIDDEN_NODES: tuple[type[exp.Expression], ...] = (
    *(kind for kind, keyword in _STATEMENT_NAMES.items() if keyword not in {"PIVOT", "VALUES"}),
    exp.Command,
    exp.Into,
)

_DENIED_FUNCTIONS = frozenset(
    {
        "glob", "getenv", "query", "query_table", "query_table_or_view", "sniff_csv",
        "parquet_metadata", "parquet_schema", "parquet_file_metadata", "parquet_kv_metadata",
        "http_get", "http_post", "load_extension",
    }
)  # fmt: skip
# Prefixes catch whole families: read_csv, read_csv_auto, read_json_objects, read_ndjson, ...
_DENIED_PREFIXES = ("read_", "scan_", "write_")
_DENIED_SUFFIXES = ("_scan", "_attach", "_query", "_execute")


def check_select(sql: str, allowed_tables: Collection[str]) -> str:
    """Accept ``sql`` only if it is a single read-only query over ``allowed_tables``.

    A query is a SELECT, possibly with CTEs, set operations (UNION/INTERSECT/EXCEPT) and
    subqueries. Every referenced table must be one of ``allowed_tables`` (unqualified names,
    compared case-insensitively; a ``main.`` schema prefix is tolerated), apart from the CTEs the
    query defines itself. Table functions in FROM (``read_csv(...)``, ``range(...)``, ...) and
    scalar functions that read files, the network or the environment are refused.

    Returns the SQL with surrounding whitespace and trailing semicolons removed.

    Raises:
        UnsafeRequestError: the SQL cannot be parsed, holds several statements, is not a
            query, or reaches outside the allowed tables.
    """
    text = sql.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    if not text:
        raise UnsafeRequestError("The SQL is empty", hint=_HINT_SELECT)

    statements = _parse(text)
    if len(statements) != 1:
        kinds = ", ".join(_statement_name(s) for s in statements)
        raise UnsafeRequestError(
            f"Only a single SELECT is allowed; got {len(statements)} statements ({kinds})",
            hint=_HINT_SELECT,
        )
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise UnsafeRequestError(
            f"Only a single SELECT is allowed; got {_statement_name(tree)}", hint=_HINT_SELECT
        )

    for node in tree.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            what = "SELECT ... INTO" if isinstance(node, exp.Into) else _statement_name(node)
            raise UnsafeRequestError(
                f"Only a single SELECT is allowed; the query contains {what}", hint=_HINT_SELECT
            )
        if isinstance(node, exp.Func):
            _check_function(node)
        if isinstance(node, exp.From | exp.Join | exp.Lateral):
            _check_source(node.this)

    allowed = {name.lower() for name in allowed_tables}
    for table in tree.find_all(exp.Table):
        _check_table(table, allowed)
    return text


def _parse(text: str) -> list[exp.Expression]:
    try:
        parsed = sqlglot.parse(text, read=_DIALECT)
    except SqlglotError as error:
        keyword = _first_keyword(text)
        if keyword in _NON_QUERY_KEYWORDS:
            raise UnsafeRequestError(
                f"Only a single SELECT is allowed; got {keyword}", hint=_HINT_SELECT
            ) from None
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UnsafeRequestError(
            f"The SQL could not be parsed: {first_line}",
            hint="Write a single valid DuckDB SELECT statement.",
        ) from None
    # cast: newer sqlglot types parse() results as its Expr base class.
    statements = [cast(exp.Expression, s) for s in parsed if s is not None]
    if not statements:
        raise UnsafeRequestError("The SQL is empty", hint=_HINT_SELECT)
    return statements


def _first_keyword(text: str) -> str:
    try:
        tokens = sqlglot.tokenize(text, read=_DIALECT)
    except SqlglotError:
        return ""
    return tokens[0].text.upper() if tokens else ""


def _statement_name(node: exp.Expression) -> str:
    for kind, name in _STATEMENT_NAMES.items():
        if isinstance(node, kind):
            return name
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    if isinstance(node, exp.Query):
        return "SELECT"
    generated = node.sql(dialect=_DIALECT).split()
    return generated[0].upper() if generated else type(node).__name__.upper()


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def _is_denied_function(name: str) -> bool:
    return name in _DENIED_FUNCTIONS or name.startswith(_DENIED_PREFIXES) or name.endswith(_DENIED_SUFFIXES)


def _check_function(node: exp.Func) -> None:
    name = _function_name(node)
    if _is_denied_function(name):
        raise UnsafeRequestError(f"The function {name}() is not allowed", hint=_HINT_FUNCTIONS)


def _check_source(source: exp.Expression | None) -> None:
    """Refuse anything in FROM/JOIN/LATERAL that is not a table, a subquery or VALUES."""
    # LATERAL is checked as a node of its own; its subquery is walked like any other.
    if source is None or isinstance(source, exp.Subquery | exp.Values | exp.Lateral):
        return
    if isinstance(source, exp.Table):
        if isinstance(source.this, exp.Identifier):
            return
        source = source.this
    name = _function_name(source) if isinstance(source, exp.Func) else source.sql(dialect=_DIALECT)
    raise UnsafeRequestError(f"Table functions are not allowed in FROM; got {name}", hint=_HINT_FUNCTIONS)


def _check_table(table: exp.Table, allowed: set[str]) -> None:
    if not isinstance(table.this, exp.Identifier):
        _check_source(table)
        return
    name = table.name.lower()
    catalog, schema = table.catalog, table.db
    tables_hint = _HINT_TABLES.format(tables=", ".join(sorted(allowed)) or "(none)")
    if catalog or (schema and schema.lower() != "main"):
        qualified = ".".join(part for part in (catalog, schema, table.name) if part)
        raise UnsafeRequestError(
            f"The table {qualified} is outside this space; only unqualified table names are allowed",
            hint=tables_hint,
        )
    if not schema and name in _visible_cte_names(table):
        return
    if name not in allowed:
        raise UnsafeRequestError(f"The table {table.name} is not part of this space", hint=tables_hint)


def _visible_cte_names(table: exp.Table) -> set[str]:
    """Names of the CTEs that DuckDB would resolve ``table`` against.

    A CTE sees only the CTEs declared before it (plus itself under WITH RECURSIVE); a forward
    reference binds to a real table of the same name, so it must be checked as a table.
    """
    names: set[str] = set()
    node: exp.Expression = table
    while node.parent is not None:
        parent = node.parent
        if isinstance(parent, exp.With) and isinstance(node, exp.CTE):
            position = node.index or 0
            names.update(cte.alias_or_name.lower() for cte in parent.expressions[:position])
            if parent.args.get("recursive"):
                names.add(node.alias_or_name.lower())
        elif not isinstance(node, exp.With):
            with_clause = parent.args.get("with_") or parent.args.get("with")
            if isinstance(with_clause, exp.With):
                names.update(cte.alias_or_name.lower() for cte in with_clause.expressions)
        node = cast(exp.Expression, parent)
    return names
