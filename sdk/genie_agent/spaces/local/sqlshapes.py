"""Write a plan's :class:`~.sqlgen.Query` as SQL, one function per shape: plain aggregates
(with HAVING, ranking, top N within each group, a share of the total), the share of selected
members, a change between two periods, and a change against the previous period."""

from __future__ import annotations

from .plan import QueryPlan
from .sqlgen import PlanError, Query, period_label, quote_ident, sql_literal

__all__ = ["write_sql"]

_SHAREABLE = ("SUM(", "COUNT(")


def write_sql(plan: QueryPlan, q: Query) -> tuple[str, tuple[str, ...]]:
    """The SQL and its column names."""
    if q.having and (plan.change or plan.share_of):
        raise PlanError(_having_refused(plan))
    if plan.change == "periods":
        return _change_between(plan, q)
    if plan.change == "previous":
        return _change_previous(plan, q)
    if plan.share_of:
        return _share_of(q)
    return _aggregate(plan, q)


def _having_refused(plan: QueryPlan) -> str:
    """A condition on an aggregate compares each group's total: with a change between periods or
    a share of selected members, which total it would compare is not said."""
    said = ", ".join(f"{c.target} {c.label}".strip() for c in plan.conditions if c.on_measure)
    asked, short = ("a change between periods", "change") if plan.change else ("a share", "share")
    return (
        f"I can't tell which total the condition ({said}) applies to in {asked}. "
        f"Ask for the {short} without it, or for the groups that meet it on their own."
    )


def _select(items: list[tuple[str, str]]) -> str:
    return "SELECT " + ",\n       ".join(f"{expr} AS {quote_ident(name)}" for name, expr in items)


def _body(q: Query) -> str:
    sql = "\n" + q.from_sql
    if q.where:
        sql += "\nWHERE " + "\n  AND ".join(q.where)
    return sql


def _group(n_keys: int) -> str:
    return "\nGROUP BY " + ", ".join(str(i) for i in range(1, n_keys + 1)) if n_keys else ""


def _check_shareable(name: str, expr: str) -> None:
    if not expr.upper().startswith(_SHAREABLE):
        raise PlanError(f"A share of {name} is not meaningful: it is not a sum or a count.")


def _tiebreak(keys: list[str]) -> str:
    return "".join(f", {k}" for k in keys)


def _aggregate(plan: QueryPlan, q: Query) -> tuple[str, tuple[str, ...]]:
    items = q.keys + q.measures
    first_name, first_expr = q.measures[0]
    if plan.share:
        _check_shareable(first_name, first_expr)
        over = ""
        grain_keys = [
            expr for name, expr in q.keys if name in ("year", "quarter", "month", "week", "day", "period")
        ]
        if grain_keys and len(q.keys) > len(grain_keys):
            over = "PARTITION BY " + ", ".join(grain_keys)
        items = [*items, (f"share of {first_name}", f"{first_expr} / SUM({first_expr}) OVER ({over})")]
    sql = _select(items) + _body(q) + _group(len(q.keys))
    if q.having:
        sql += "\nHAVING " + "\n   AND ".join(q.having)
    measure = quote_ident(first_name)
    direction = "ASC" if plan.order == "asc" else "DESC"
    # Ties on the measure are broken by the keys, so a top N cut through a tie is the same every time.
    ties = _tiebreak([quote_ident(name) for name, _ in q.keys])
    if plan.per_group and plan.limit:
        partition = next(expr for name, expr in q.keys if name == plan.per_group)
        within = _tiebreak([expr for name, expr in q.keys if name != plan.per_group])
        sql += (
            f"\nQUALIFY ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY {first_expr} {direction}{within})"
            f" <= {plan.limit}"
        )
        others = _tiebreak([quote_ident(name) for name, _ in q.keys if name != plan.per_group])
        sql += f"\nORDER BY {quote_ident(plan.per_group)}, {measure} {direction}{others}"
    elif q.keys:
        if plan.limit:
            sql += f"\nORDER BY {measure} {direction}{ties}\nLIMIT {plan.limit}"
        elif plan.order:
            sql += f"\nORDER BY {measure} {direction}{ties}"
        elif plan.time_grain or q.period_key:
            sql += "\nORDER BY " + ", ".join(str(i) for i in range(1, len(q.keys) + 1))
        else:
            sql += f"\nORDER BY {measure} DESC{ties}"
    return sql, tuple(name for name, _ in items)


def _share_of(q: Query) -> tuple[str, tuple[str, ...]]:
    """ "what % of revenue comes from ASIA": group by the member, share over all members."""
    assert q.member is not None
    name, expr = q.measures[0]
    _check_shareable(name, expr)
    member_expr, selected, label = q.member
    keys = q.keys
    base = _select([*keys, ("selected", member_expr), ("m", expr)]) + _body(q) + _group(len(keys) + 1)
    outer_keys = [(n, quote_ident(n)) for n, _ in keys]
    items = [
        *outer_keys,
        (f"{name} ({label})", f'SUM(CASE WHEN {selected} THEN "m" END)'),
        (f"total {name}", 'SUM("m")'),
        (f"share of {name}", f'SUM(CASE WHEN {selected} THEN "m" END) / NULLIF(SUM("m"), 0)'),
    ]
    sql = f"WITH base AS (\n{base}\n)\n" + _select(items) + "\nFROM base" + _group(len(keys))
    if keys:
        sql += "\nORDER BY " + ", ".join(str(i) for i in range(1, len(keys) + 1))
    return sql, tuple(n for n, _ in items)


def _change_between(plan: QueryPlan, q: Query) -> tuple[str, tuple[str, ...]]:
    """Two periods side by side per group, with the change and the percent change."""
    first, second = plan.periods[0], plan.periods[-1]
    assert q.time_expr is not None
    name, expr = q.measures[0]
    label = period_label(q.time_expr, (first, second))
    base = _select([("period", label), *q.keys, ("m", expr)]) + _body(q) + _group(len(q.keys) + 1)
    key_names = [quote_ident(n) for n, _ in q.keys]
    a, b = (_period_value(label, p) for p in (first, second))
    pivot = (
        _select(
            [
                *[(n, quote_ident(n)) for n, _ in q.keys],
                ("a", f'MAX(CASE WHEN CAST("period" AS VARCHAR) = {a} THEN "m" END)'),
                ("b", f'MAX(CASE WHEN CAST("period" AS VARCHAR) = {b} THEN "m" END)'),
            ]
        )
        + "\nFROM base"
        + _group(len(q.keys))
    )
    items = [
        *[(n, quote_ident(n)) for n, _ in q.keys],
        (f"{name} {first.label}", '"a"'),
        (f"{name} {second.label}", '"b"'),
        ("change", '"b" - "a"'),
        ("percent change", '("b" - "a") / NULLIF("a", 0)'),
    ]
    sql = f"WITH base AS (\n{base}\n),\nchanges AS (\n{pivot}\n)\n" + _select(items) + "\nFROM changes"
    direction = "ASC" if plan.order == "asc" else "DESC"
    if key_names:
        sql += f'\nORDER BY "change" {direction} NULLS LAST{_tiebreak(key_names)}'
        if plan.limit:
            sql += f"\nLIMIT {plan.limit}"
    return sql, tuple(n for n, _ in items)


def _period_value(label_sql: str, p) -> str:
    """The label ``period_label`` gives period ``p``, as text."""
    if label_sql.startswith("YEAR("):
        assert p.start is not None
        return f"CAST({p.start.year} AS VARCHAR)"
    if label_sql.startswith("CAST(DATE_TRUNC("):
        assert p.start is not None
        return f"CAST(DATE '{p.start.isoformat()}' AS VARCHAR)"
    return f"CAST({sql_literal(p.label)} AS VARCHAR)"


def _change_previous(plan: QueryPlan, q: Query) -> tuple[str, tuple[str, ...]]:
    """Each period against the one before it ("year over year growth")."""
    name, expr = q.measures[0]
    grain = plan.time_grain or "year"
    base = _select([*q.keys, ("m", expr)]) + _body(q) + _group(len(q.keys))
    others = [quote_ident(n) for n, _ in q.keys if n != grain]
    over = (f"PARTITION BY {', '.join(others)} " if others else "") + f"ORDER BY {quote_ident(grain)}"
    previous = f'LAG("m") OVER ({over})'
    items = [
        *[(n, quote_ident(n)) for n, _ in q.keys],
        (name, '"m"'),
        (f"previous {grain}", previous),
        ("change", f'"m" - {previous}'),
        ("percent change", f'("m" - {previous}) / NULLIF({previous}, 0)'),
    ]
    sql = f"WITH base AS (\n{base}\n)\n" + _select(items) + "\nFROM base"
    if plan.limit:
        direction = "ASC" if plan.order == "asc" else "DESC"
        ties = _tiebreak([*others, quote_ident(grain)])
        sql += f'\nORDER BY "change" {direction} NULLS LAST{ties}\nLIMIT {plan.limit}'
    else:
        sql += "\nORDER BY " + ", ".join([*others, quote_ident(grain)])
    return sql, tuple(n for n, _ in items)
