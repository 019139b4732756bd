"""The correct answer to a question with one modifier added, written from the SQL of its old answer.

The old answer was judged correct against hand-written truth SQL, so its SQL states the old question
exactly. A modifier adds one clause to it: an exclusion a WHERE term, a condition on the measure a
HAVING term, a ranking within each group a grouping key and a QUALIFY. Only plain statements are
rewritten (one SELECT, no CTE, subquery or window): for anything else no expected SQL is written.
"""

from __future__ import annotations

from collections import deque

import sqlglot
from sqlglot import exp

from genie_agent.spaces.semantic_model import SpaceDefinition

__all__ = [
    "add_having",
    "add_where",
    "aliases_in",
    "column_alias",
    "is_plain",
    "join_path",
    "parse",
    "per_group",
    "select_expression",
    "with_joins",
]

DIALECT = "duckdb"


def parse(sql: str) -> exp.Select | None:
    """The statement as a plain SELECT, or None when it is anything more (CTE, subquery, window, set op)."""
    try:
        tree = sqlglot.parse_one(sql, read=DIALECT)
    except sqlglot.errors.ParseError:
        return None
    return tree if isinstance(tree, exp.Select) and is_plain(tree) else None


def is_plain(tree: exp.Select) -> bool:
    kinds = (exp.With, exp.Subquery, exp.Window, exp.Union, exp.Intersect, exp.Except)
    return not any(tree.find(kind) for kind in kinds)


def aliases_in(tree: exp.Select) -> set[str]:
    """The table aliases (or names) the statement reads."""
    return {t.alias_or_name for t in tree.find_all(exp.Table)}


def column_alias(expr: str) -> str | None:
    """The one table alias a dimension or measure expression reads, or None when it reads several."""
    tables = {c.table for c in sqlglot.parse_one(expr, read=DIALECT).find_all(exp.Column)}
    return next(iter(tables)) if len(tables) == 1 else None


def join_path(space: SpaceDefinition, present: set[str], target: str) -> list[tuple[str, str]] | None:
    """(alias, ON) of the many-to-one joins that bring ``target`` into a statement reading ``present``;
    None when it is reachable only through a one-to-many join (which would change the old measure)."""
    if target in present:
        return []
    queue: deque[tuple[str, list[tuple[str, str]]]] = deque((a, []) for a in sorted(present))
    seen = set(present)
    while queue:
        alias, path = queue.popleft()
        for join in space.joins:
            if join.from_ == alias and join.to not in seen:
                step = [*path, (join.to, join.on)]
                if join.to == target:
                    return step
                seen.add(join.to)
                queue.append((join.to, step))
    return None


def with_joins(tree: exp.Select, space: SpaceDefinition, target: str) -> exp.Select | None:
    """A copy of the statement that also reads ``target`` (joined many-to-one), or None."""
    path = join_path(space, aliases_in(tree), target)
    if path is None:
        return None
    out = tree.copy()
    physical = {t.name: t.physical for t in space.tables}
    for alias, on in path:
        table = exp.to_table(physical[alias]).as_(alias) if physical[alias] != alias else exp.to_table(alias)
        out = out.join(table, on=on, dialect=DIALECT)
    return out


def add_where(tree: exp.Select, condition: str) -> exp.Select:
    return tree.copy().where(condition, dialect=DIALECT)


def select_expression(tree: exp.Select, alias: str) -> exp.Expr | None:
    """The expression the statement selects under ``alias`` (the engine names measures by name)."""
    for projection in tree.expressions:
        if isinstance(projection, exp.Alias) and projection.alias == alias:
            return projection.this
    return None


def add_having(tree: exp.Select, condition: str) -> exp.Select:
    return tree.copy().having(condition, dialect=DIALECT)


def per_group(tree: exp.Select, group_expr: str, measure: exp.Expr, n: int, rank: str) -> exp.Select:
    """The top ``n`` rows by ``measure`` within each value of ``group_expr`` (``rank`` is ROW_NUMBER or
    RANK): the key is selected and grouped by, the ranking filtered by QUALIFY."""
    out = tree.copy()
    out = out.select(exp.alias_(sqlglot.parse_one(group_expr, read=DIALECT), "within_group"), copy=False)
    group = out.args.get("group")
    positional = group is not None and all(isinstance(g, exp.Literal) for g in group.expressions)
    key = str(len(out.expressions)) if positional else group_expr
    out = out.group_by(key, dialect=DIALECT, copy=False)
    ranking = f"{rank}() OVER (PARTITION BY {group_expr} ORDER BY {measure.sql(DIALECT)} DESC) <= {n}"
    return out.qualify(ranking, dialect=DIALECT, copy=False)
