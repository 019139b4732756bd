"""Query plan -> SQL over a space's semantic model.

Joins follow the model's many-to-one edges from the measure's grain table, so a measure is
never inflated by a join (the classic fan-out trap). A measure marked ``fanout_safe``
(COUNT DISTINCT) may start from another table when that is the only way to reach a grouping.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..semantic_model import Measure, SpaceDefinition, referenced_aliases
from .plan import QueryPlan

__all__ = ["CompiledQuery", "PlanError", "compile_plan", "quote_ident", "sql_literal"]


class PlanError(Exception):
    """The plan cannot be answered by this space's model (said in the user's terms)."""


@dataclass(frozen=True)
class CompiledQuery:
    sql: str
    columns: tuple[str, ...]
    description: str


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _reachable(space: SpaceDefinition, root: str) -> dict[str, list[tuple[str, str]]]:
    """Every alias reachable from ``root`` by many-to-one joins, with the join path to it."""
    paths: dict[str, list[tuple[str, str]]] = {root: []}
    queue = deque([root])
    while queue:
        here = queue.popleft()
        for j in space.joins:
            if j.from_ == here and j.to not in paths:
                paths[j.to] = [*paths[here], (j.to, j.on)]
                queue.append(j.to)
    return paths


def _choose_root(space: SpaceDefinition, measures: list[Measure], needed: set[str]) -> tuple[str, dict]:
    candidates = [measures[0].table]
    if all(m.fanout_safe for m in measures):
        candidates += [t.name for t in space.tables if t.name != measures[0].table]
    for root in candidates:
        paths = _reachable(space, root)
        if needed <= paths.keys() and all(m.table in paths for m in measures):
            return root, paths
    raise PlanError("")


def compile_plan(
    space: SpaceDefinition, plan: QueryPlan, *, row_filters: Mapping[str, Sequence[str]] | None = None
) -> CompiledQuery:
    """Compile a plan to one SELECT. Raises :class:`PlanError` when the model cannot answer it.

    ``row_filters`` (dimension -> allowed values) restrict the rows for the asking user. They are
    ANDed with the question's own filters; a plan that cannot apply one fails closed.
    """
    if not plan.measures:
        raise PlanError("I could not tell which measure you are asking about.")
    measures = [space.measure(m.name) for m in plan.measures]
    dims = [space.dimension(d) for d in plan.group_by]
    select: list[tuple[str, str]] = []
    where: list[str] = []
    needed: set[str] = set()

    time_dim = None
    if plan.time_range or plan.time_grain:
        time_dim = _time_dimension(space, plan, measures)
        needed |= referenced_aliases(time_dim.expr)
    if plan.time_grain:
        assert time_dim is not None
        if plan.time_grain == "year":
            select.append(("year", f"YEAR({time_dim.expr})"))
        else:
            select.append(
                (plan.time_grain, f"CAST(DATE_TRUNC('{plan.time_grain}', {time_dim.expr}) AS DATE)")
            )
    for d in dims:
        select.append((d.name, d.expr))
        needed |= referenced_aliases(d.expr)
    for m, ref in zip(measures, plan.measures, strict=True):
        label = m.name if ref.agg in (None, m.agg) or m.column is None else f"{ref.agg} {m.name}"
        select.append((label, m.sql(ref.agg)))
        needed |= referenced_aliases(m.sql(ref.agg))
    for dim_name, values in plan.filters:
        d = space.dimension(dim_name)
        needed |= referenced_aliases(d.expr)
        where.append(f"{d.expr} IN ({', '.join(sql_literal(v) for v in values)})")
    for dim_name, allowed in (row_filters or {}).items():
        try:
            d = space.dimension(dim_name)
        except StopIteration:
            raise PlanError(
                f"Your access is limited by {dim_name!r}, which the {space.title} space lacks."
            ) from None
        if not allowed:
            raise PlanError(f"Your access allows no values of {dim_name!r} in the {space.title} space.")
        needed |= referenced_aliases(d.expr)
        where.append(f"{d.expr} IN ({', '.join(sql_literal(v) for v in allowed)})")
    for f_name in plan.named_filters:
        f = next(f for f in space.filters if f.name == f_name)
        needed |= referenced_aliases(f.expr)
        where.append(f"({f.expr})")
    if plan.time_range and time_dim:
        if plan.time_range.start:
            where.append(f"{time_dim.expr} >= DATE '{plan.time_range.start.isoformat()}'")
        if plan.time_range.end:
            where.append(f"{time_dim.expr} < DATE '{plan.time_range.end.isoformat()}'")

    try:
        root, paths = _choose_root(space, measures, needed)
    except PlanError:
        names = ", ".join(m.name for m in measures)
        by = ", ".join(d.name for d in dims) or "those filters"
        if row_filters:
            by += " within the rows you may see (" + ", ".join(row_filters) + ")"
        raise PlanError(f"The {space.title} space cannot break down {names} by {by}.") from None
    joined = [root]
    lines = [f"FROM {_table_sql(space, root)}"]
    for alias in sorted(needed | {m.table for m in measures}, key=lambda a: len(paths[a])):
        for step, on in paths[alias]:
            if step not in joined:
                joined.append(step)
                lines.append(f"JOIN {_table_sql(space, step)} ON {on}")

    n_group = len(select) - len(measures)
    sql = "SELECT " + ",\n       ".join(f"{expr} AS {quote_ident(name)}" for name, expr in select)
    sql += "\n" + "\n".join(lines)
    if where:
        sql += "\nWHERE " + "\n  AND ".join(where)
    if n_group:
        sql += "\nGROUP BY " + ", ".join(str(i) for i in range(1, n_group + 1))
        first_measure = quote_ident(select[n_group][0])
        if plan.limit:
            direction = "ASC" if plan.order == "asc" else "DESC"
            sql += f"\nORDER BY {first_measure} {direction}\nLIMIT {plan.limit}"
        elif plan.time_grain:
            sql += "\nORDER BY " + ", ".join(str(i) for i in range(1, n_group + 1))
        else:
            sql += f"\nORDER BY {first_measure} DESC"
    description = describe(space, plan)
    if row_filters:
        limits = "; ".join(f"{d} = {', '.join(v)}" for d, v in row_filters.items())
        description += f" [restricted to {limits}]"
    return CompiledQuery(sql, tuple(name for name, _ in select), description)


def _table_sql(space: SpaceDefinition, alias: str) -> str:
    table = space.table_by_alias[alias]
    return quote_ident(table.physical) + ("" if table.physical == alias else f" AS {quote_ident(alias)}")


def _time_dimension(space: SpaceDefinition, plan: QueryPlan, measures: list[Measure]):
    if not space.time_dimensions:
        raise PlanError(f"The {space.title} space has no dates, so it cannot filter or group by time.")
    reachable = _reachable(space, measures[0].table)
    if plan.time_dimension:
        chosen = space.time_dimension(plan.time_dimension)
        if referenced_aliases(chosen.expr) <= reachable.keys():
            return chosen
    if measures[0].time_dimension:
        return space.time_dimension(measures[0].time_dimension)
    for t in space.time_dimensions:
        if referenced_aliases(t.expr) <= reachable.keys():
            return t
    raise PlanError(f"{measures[0].name} has no date in the {space.title} space.")


def describe(space: SpaceDefinition, plan: QueryPlan) -> str:
    """One line in the user's terms: "revenue by region, 1995, market segment = BUILDING"."""
    names = []
    for ref in plan.measures:
        m = space.measure(ref.name)
        names.append(m.name if ref.agg in (None, m.agg) or m.column is None else f"{ref.agg} {m.name}")
    text = " and ".join(names)
    groups = ([plan.time_grain] if plan.time_grain else []) + list(plan.group_by)
    if groups:
        text += " by " + " and ".join(groups)
    if plan.limit:
        text = f"{'top' if plan.order != 'asc' else 'bottom'} {plan.limit} " + text
    parts = [f"{d} = {', '.join(v)}" for d, v in plan.filters] + list(plan.named_filters)
    if plan.time_range:
        parts.insert(0, plan.time_range.label)
    if plan.time_dimension:
        parts.append(f"by {plan.time_dimension}")
    return text + (f" ({'; '.join(parts)})" if parts else "")
