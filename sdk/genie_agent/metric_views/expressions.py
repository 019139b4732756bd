"""Column references between the two models.

Our model qualifies every column by a table alias (``cust_nation.n_name``). A metric view names the
columns of its source ``source.x`` (or leaves them bare) and those of a joined table by the join's
name, a nested join by its path from the source (``customer.cust_nation.n_name``); a join's ``on``
names its parent (``source`` or the parent join) and itself. Rewriting is textual outside string
literals, so an expression comes back exactly as it was written; only an expression with bare
column names is parsed (sqlglot) to qualify them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

__all__ = ["ExpressionError", "from_view", "qualify_bare_columns", "to_view"]

_STRING = re.compile(r"'(?:[^']|'')*'")
_CHAIN = re.compile(r"(?<![\w.`])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)\b")


class ExpressionError(ValueError):
    """An expression this package cannot carry between the two models (the message says why)."""


def _outside_strings(expr: str, rewrite: Callable[[str], str]) -> str:
    parts: list[str] = []
    last = 0
    for literal in _STRING.finditer(expr):
        parts.append(rewrite(expr[last : literal.start()]))
        parts.append(literal.group(0))
        last = literal.end()
    parts.append(rewrite(expr[last:]))
    return "".join(parts)


def _chains(expr: str, replace: Callable[[list[str]], str | None]) -> str:
    def one(match: re.Match[str]) -> str:
        return replace(match.group(1).split(".")) or match.group(0)

    return _outside_strings(expr, lambda text: _CHAIN.sub(one, text))


def to_view(expr: str, paths: Mapping[str, str]) -> str:
    """``alias.column`` -> ``path.column``: ``paths`` maps each alias to ``source`` or its join path."""

    def replace(parts: list[str]) -> str | None:
        if len(parts) == 2 and parts[0] in paths:
            return f"{paths[parts[0]]}.{parts[1]}"
        return None

    return _chains(expr, replace)


def from_view(expr: str, root: str, joins: frozenset[str]) -> str:
    """``source.column`` -> ``root.column``; ``a.b.column`` (a join path) -> ``b.column``."""

    def replace(parts: list[str]) -> str | None:
        path, column = parts[:-1], parts[-1]
        if path[0] == "source":
            path = path[1:] or [root]
        if path == [root] or all(p in joins for p in path):
            return f"{path[-1]}.{column}"
        return None

    return _chains(expr, replace)


def qualify_bare_columns(expr: str, root: str, fields: Mapping[str, str]) -> str:
    """Bare column names qualified by ``root``; a bare name of another field (a metric view may refer
    to a dimension by its name) replaced by that field's expression. Unchanged when nothing is bare."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(expr, read="databricks")
    except sqlglot.errors.ParseError as exc:
        raise ExpressionError(f"cannot parse {expr!r}: {exc}") from None
    for func in tree.find_all(exp.Anonymous):
        if func.name.upper() == "MEASURE":
            raise ExpressionError(
                f"{expr!r} composes other measures with MEASURE(), which this model cannot: write the "
                "measure's whole aggregate expression"
            )
    if tree.find(exp.Window):
        raise ExpressionError(f"{expr!r} uses a window function, which this model cannot hold")
    bare = [c for c in tree.find_all(exp.Column) if not c.table and not isinstance(c.this, exp.Star)]
    if not bare:
        return expr
    for column in bare:
        if column.name in fields:
            column.replace(exp.Paren(this=sqlglot.parse_one(fields[column.name], read="duckdb")))
        else:
            column.set("table", exp.to_identifier(root))
    return tree.sql(dialect="duckdb")
