"""Query plan -> SQL over a space's semantic model.

Joins follow the model's many-to-one edges from the measure's grain table, so a measure is
never inflated by a join (the classic fan-out trap). A measure marked ``fanout_safe``
(COUNT DISTINCT) may start from another table when that is the only way to reach a grouping.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from ...errors import UserInputError
from ..semantic_model import Join, Measure, SpaceDefinition, TimeDimension, referenced_aliases
from .describe import describe, number_sql
from .plan import GRAINS, Condition, QueryPlan, TimeRange

__all__ = [
    "CompiledQuery",
    "PlanError",
    "Query",
    "build_query",
    "compile_plan",
    "describe",
    "quote_ident",
    "sql_literal",
]


class PlanError(UserInputError):
    """The plan cannot be answered by this space's model (said in the user's terms): the engine
    answers the question with this text instead of SQL."""


@dataclass(frozen=True)
class CompiledQuery:
    sql: str
    columns: tuple[str, ...]
    description: str


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_Paths = dict[str, list[tuple[str, str]]]
_REACHABLE: dict[int, tuple[tuple[Join, ...], dict[str, _Paths]]] = {}
"""Per joins tuple (by id, the tuple kept alive beside its entry): root -> paths. Spaces are
immutable and few; the join graph is walked once per root instead of once per question."""


def _reachable(space: SpaceDefinition, root: str) -> _Paths:
    """Every alias reachable from ``root`` by many-to-one joins, with the join path to it (shared:
    callers only read it)."""
    entry = _REACHABLE.get(id(space.joins))
    if entry is None or entry[0] is not space.joins:
        if len(_REACHABLE) > 256:
            _REACHABLE.clear()
        entry = _REACHABLE[id(space.joins)] = (space.joins, {})
    found = entry[1].get(root)
    if found is None:
        found = entry[1][root] = _walk(space.joins, root)
    return found


def _walk(joins: tuple[Join, ...], root: str) -> _Paths:
    paths: _Paths = {root: []}
    queue = deque([root])
    while queue:
        here = queue.popleft()
        for j in joins:
            if j.from_ == here and j.to not in paths:
                paths[j.to] = [*paths[here], (j.to, j.on)]
                queue.append(j.to)
    return paths


@lru_cache(maxsize=4096)
def _aliases(expr: str) -> frozenset[str]:
    """The table aliases an expression refers to (a model's expressions recur in every question)."""
    return frozenset(referenced_aliases(expr))


def _choose_root(space: SpaceDefinition, measures: list[Measure], needed: set[str]) -> tuple[str, dict]:
    candidates = [measures[0].table]
    if all(m.fanout_safe for m in measures):
        candidates += [t.name for t in space.tables if t.name != measures[0].table]
    for root in candidates:
        paths = _reachable(space, root)
        if needed <= paths.keys() and all(m.table in paths for m in measures):
            return root, paths
    raise PlanError("")


@dataclass
class Query:
    """One plan's parts before they are written as SQL: keys, measures, filters, joins."""

    keys: list[tuple[str, str]]
    measures: list[tuple[str, str]]
    where: list[str]
    having: list[str]
    from_sql: str
    period_key: str | None = None
    """Name of the key column that labels compared periods."""
    time_expr: str | None = None
    """The date the plan's time range, grain or periods apply to."""
    member: tuple[str, str, str] | None = None
    """For a share of selected members: (the member's SQL, the test of ``"selected"`` that picks
    them, their label). The question's own filter on them is left out of ``where``."""


def compile_plan(
    space: SpaceDefinition, plan: QueryPlan, *, row_filters: Mapping[str, Sequence[str]] | None = None
) -> CompiledQuery:
    """Compile a plan to one SELECT. Raises :class:`PlanError` when the model cannot answer it.

    ``row_filters`` (dimension -> allowed values) restrict the rows for the asking user. They are
    ANDed with the question's own filters; a plan that cannot apply one fails closed.
    """
    from .sqlshapes import write_sql

    if not plan.measures:
        raise PlanError("I could not tell which measure you are asking about.")
    query = build_query(space, plan, row_filters or {})
    sql, columns = write_sql(plan, query)
    description = describe(space, plan)
    if row_filters:
        limits = "; ".join(f"{d} = {', '.join(v)}" for d, v in row_filters.items())
        description += f" [restricted to {limits}]"
    return CompiledQuery(sql, columns, description)


def _in_list(values: Sequence[str]) -> str:
    return ", ".join(sql_literal(v) for v in values)


@dataclass
class _Parts:
    """The parts of a query collected from a plan, and the table aliases they need."""

    keys: list[tuple[str, str]] = field(default_factory=list)
    measures: list[tuple[str, str]] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    having: list[str] = field(default_factory=list)
    needed: set[str] = field(default_factory=set)


def build_query(space: SpaceDefinition, plan: QueryPlan, row_filters: Mapping[str, Sequence[str]]) -> Query:
    measures = [space.measure(m.name) for m in plan.measures]
    dims = [space.dimension(d) for d in plan.group_by]
    q = _Parts()
    time_dim = (
        _time_dimension(space, plan, measures) if plan.time_range or plan.time_grain or plan.periods else None
    )
    period_key = _time_keys(plan, time_dim, q)
    for d in dims:
        q.keys.append((d.name, d.expr))
        q.needed |= _aliases(d.expr)
    _measure_items(space, plan, measures, q)
    member = _share_member(space, plan)
    if member is not None:
        q.needed |= _aliases(member[0])
    _filters(space, plan, q)
    _access(space, row_filters, q)
    _named_filters_and_conditions(space, plan, q)
    if q.having and not q.keys:
        raise PlanError(_needs_grouping(space, plan))
    if plan.time_range and time_dim:
        q.where.append(_range_sql(time_dim.expr, plan.time_range.start, plan.time_range.end))
    try:
        from_sql = _from_sql(space, measures, q.needed)
    except PlanError:
        names = ", ".join(m.name for m in measures)
        by = ", ".join(d.name for d in dims) or "those filters"
        if row_filters:
            by += " within the rows you may see (" + ", ".join(row_filters) + ")"
        raise PlanError(f"The {space.title} space cannot break down {names} by {by}.") from None
    time_expr = time_dim.expr if time_dim else None
    return Query(q.keys, q.measures, q.where, q.having, from_sql, period_key, time_expr, member)


def _needs_grouping(space: SpaceDefinition, plan: QueryPlan) -> str:
    """A condition on a measure's total compares groups: say what this space can group by."""
    conditions = [c for c in plan.conditions if c.on_measure]
    names = ", ".join(dict.fromkeys(c.target for c in conditions))
    dims = [d.name for d in space.dimensions if d.index_values] or [d.name for d in space.dimensions]
    example = f" (e.g. 'each {dims[0]} with {conditions[0].label} {conditions[0].target}')" if dims else ""
    by = f": {', '.join(dims)}" if dims else ", and this space has no dimensions"
    return f"A condition on {names} compares groups, so it needs something to group by{by}{example}."


def _time_keys(plan: QueryPlan, time_dim: TimeDimension | None, q: _Parts) -> str | None:
    """Keys and the filter the plan's periods and grains need; the name of the period key, if any."""
    if time_dim is None:
        return None
    q.needed |= _aliases(time_dim.expr)
    period_key = None
    if plan.periods and not plan.change:
        period_key = "year" if all(p.is_year for p in plan.periods) else "period"
        q.keys.append((period_key, period_label(time_dim.expr, plan.periods)))
    if plan.periods:
        q.where.append(
            "(" + " OR ".join(_range_sql(time_dim.expr, p.start, p.end) for p in plan.periods) + ")"
        )
    if plan.time_grain:
        if plan.per_group in GRAINS and plan.per_group != plan.time_grain:
            q.keys.append(
                (plan.per_group, _grain_sql(plan.per_group, time_dim.expr))
            )  # "best month each year"
        q.keys.append((plan.time_grain, _grain_sql(plan.time_grain, time_dim.expr)))
    return period_key


def _measure_items(space: SpaceDefinition, plan: QueryPlan, measures: list[Measure], q: _Parts) -> None:
    """The measures' columns; with a ratio, the ratio first, then its numerator and denominator."""
    for m, ref in zip(measures, plan.measures, strict=True):
        label = m.name if ref.agg in (None, m.agg) or m.column is None else f"{ref.agg} {m.name}"
        q.measures.append((label, m.sql(ref.agg)))
        q.needed |= _aliases(m.sql(ref.agg))
    if plan.ratio is None:
        return
    num_label, num_expr = q.measures[0]
    if plan.ratio.kind == "entity":
        d = space.dimension(plan.ratio.denominator)
        den_label, den_expr = f"{d.name} count", f"COUNT(DISTINCT {d.expr})"
        q.needed |= _aliases(d.expr)
    else:
        dm = space.measure(plan.ratio.denominator)
        den_label, den_expr = dm.name, dm.sql()
        q.needed |= _aliases(den_expr)
    ratio = (f"{num_label} per {plan.ratio.denominator}", f"{num_expr} / NULLIF({den_expr}, 0)")
    q.measures[:] = [ratio, (num_label, num_expr), (den_label, den_expr), *q.measures[1:]]


def _filters(space: SpaceDefinition, plan: QueryPlan, q: _Parts) -> None:
    """The question's values, kept and excluded (a share's selected members are not filtered)."""
    for dim_name, values in plan.filters:
        d = space.dimension(dim_name)
        q.needed |= _aliases(d.expr)
        if dim_name != plan.share_of:
            q.where.append(f"{d.expr} IN ({_in_list(values)})")
    for dim_name, values in plan.exclusions:
        d = space.dimension(dim_name)
        q.needed |= _aliases(d.expr)
        q.where.append(f"({d.expr} IS NULL OR {d.expr} NOT IN ({_in_list(values)}))")


def _access(space: SpaceDefinition, row_filters: Mapping[str, Sequence[str]], q: _Parts) -> None:
    """The asking user's row filters; a space without the dimension fails closed."""
    for dim_name, allowed in row_filters.items():
        try:
            d = space.dimension(dim_name)
        except StopIteration:
            raise PlanError(
                f"Your access is limited by {dim_name!r}, which the {space.title} space lacks."
            ) from None
        if not allowed:
            raise PlanError(f"Your access allows no values of {dim_name!r} in the {space.title} space.")
        q.needed |= _aliases(d.expr)
        q.where.append(f"{d.expr} IN ({_in_list(allowed)})")


def _named_filters_and_conditions(space: SpaceDefinition, plan: QueryPlan, q: _Parts) -> None:
    for f_name in plan.named_filters:
        negated = f_name.startswith("not:")
        f = next(f for f in space.filters if f.name == f_name.removeprefix("not:"))
        q.needed |= _aliases(f.expr)
        if plan.share_of != f"filter:{f_name}":
            q.where.append(f"NOT ({f.expr})" if negated else f"({f.expr})")
    for i, c in enumerate(plan.conditions):
        expr = _condition_expr(space, c)
        q.needed |= _aliases(expr)
        if plan.share_of != f"condition:{i}":
            (q.having if c.on_measure else q.where).append(_compare(expr, c))


def _from_sql(space: SpaceDefinition, measures: list[Measure], needed: set[str]) -> str:
    """FROM the measures' grain table, joined many-to-one to every table the query needs."""
    root, paths = _choose_root(space, measures, needed)
    joined = [root]
    lines = [f"FROM {_table_sql(space, root)}"]
    for alias in sorted(needed | {m.table for m in measures}, key=lambda a: (len(paths[a]), a)):
        for step, on in paths[alias]:
            if step not in joined:
                joined.append(step)
                lines.append(f"JOIN {_table_sql(space, step)} ON {on}")
    return "\n".join(lines)


def _grain_sql(grain: str, expr: str) -> str:
    return f"YEAR({expr})" if grain == "year" else f"CAST(DATE_TRUNC('{grain}', {expr}) AS DATE)"


def _share_member(space: SpaceDefinition, plan: QueryPlan) -> tuple[str, str, str] | None:
    if plan.share_of is None:
        return None
    if plan.share_of.startswith("condition:"):
        c = plan.conditions[int(plan.share_of.removeprefix("condition:"))]
        return _compare(_condition_expr(space, c), c), '"selected"', c.label
    if plan.share_of.startswith("filter:"):
        flt = next(f for f in space.filters if f.name == plan.share_of.removeprefix("filter:"))
        return f"({flt.expr})", '"selected"', flt.name
    values = dict(plan.filters)[plan.share_of]
    return space.dimension(plan.share_of).expr, f'"selected" IN ({_in_list(values)})', ", ".join(values)


def _condition_expr(space: SpaceDefinition, c: Condition) -> str:
    if c.on_measure:
        return space.measure(c.target).sql(c.agg)
    if c.target.startswith("measure:"):
        column = space.measure(c.target.removeprefix("measure:")).row_column
        if column is None:
            raise PlanError(f"{c.target.removeprefix('measure:')} cannot be compared row by row.")
        return column
    return space.dimension(c.target).expr


def _compare(expr: str, c: Condition) -> str:
    if c.op == "between":
        assert c.high is not None
        return f"{expr} BETWEEN {number_sql(c.value)} AND {number_sql(c.high)}"
    return f"{expr} {c.op} {number_sql(c.value)}"


def _range_sql(expr: str, start: date | None, end: date | None) -> str:
    parts = []
    if start:
        parts.append(f"{expr} >= DATE '{start.isoformat()}'")
    if end:
        parts.append(f"{expr} < DATE '{end.isoformat()}'")
    return " AND ".join(parts) if len(parts) < 2 else "(" + " AND ".join(parts) + ")"


def _is_whole(p: TimeRange, grain: str) -> bool:
    """The range is exactly one calendar quarter or month."""
    if p.start is None or p.end is None or p.start.day != 1:
        return False
    months = (p.end.year - p.start.year) * 12 + p.end.month - p.start.month
    return (
        p.end.day == 1
        and months == (3 if grain == "quarter" else 1)
        and (grain == "month" or p.start.month % 3 == 1)
    )


def period_label(expr: str, periods: Sequence[TimeRange]) -> str:
    """The key that names each compared period: the year, else the period's label."""
    if all(p.is_year for p in periods):
        return f"YEAR({expr})"
    for grain in ("quarter", "month"):
        if all(
            p.label.startswith("Q" if grain == "quarter" else "") and _is_whole(p, grain) for p in periods
        ):
            return f"CAST(DATE_TRUNC('{grain}', {expr}) AS DATE)"
    cases = " ".join(f"WHEN {_range_sql(expr, p.start, p.end)} THEN {sql_literal(p.label)}" for p in periods)
    return f"CASE {cases} END"


def _table_sql(space: SpaceDefinition, alias: str) -> str:
    table = space.table_by_alias[alias]
    return quote_ident(table.physical) + ("" if table.physical == alias else f" AS {quote_ident(alias)}")


def _time_dimension(space: SpaceDefinition, plan: QueryPlan, measures: list[Measure]) -> TimeDimension:
    if not space.time_dimensions:
        raise PlanError(f"The {space.title} space has no dates, so it cannot filter or group by time.")
    reachable = _reachable(space, measures[0].table)
    if plan.time_dimension:
        chosen = space.time_dimension(plan.time_dimension)
        if _aliases(chosen.expr) <= reachable.keys():
            return chosen
        # "orders shipped in 1995": another date than the one named would answer another question.
        own = measures[0].time_dimension
        instead = f" Ask by {own} instead." if own else ""
        raise PlanError(
            f"In the {space.title} space {measures[0].name} cannot be dated by {chosen.name}, "
            f"so I won't guess.{instead}"
        )
    if measures[0].time_dimension:
        return space.time_dimension(measures[0].time_dimension)
    for t in space.time_dimensions:
        if _aliases(t.expr) <= reachable.keys():
            return t
    raise PlanError(f"{measures[0].name} has no date in the {space.title} space.")
