"""A plan said in the user's terms, for the answer's text: what was measured, compared, excluded,
ranked and filtered — "top 5 revenue by nation (1995; excluding market segment HOUSEHOLD)" — so a
reader can check that the question was understood."""

from __future__ import annotations

from ..semantic_model import SpaceDefinition
from .plan import Condition, QueryPlan

__all__ = ["describe", "number_sql"]


def number_sql(value: float) -> str:
    """A number as SQL and text write it: 5, not 5.0."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def describe(space: SpaceDefinition, plan: QueryPlan) -> str:
    """One line in the user's terms, saying what was compared, excluded and ranked:
    "top 5 revenue by nation (1995; excluding market segment HOUSEHOLD)"."""
    names = []
    for ref in plan.measures:
        m = space.measure(ref.name)
        names.append(m.name if ref.agg in (None, m.agg) or m.column is None else f"{ref.agg} {m.name}")
    text = " and ".join(names)
    if plan.ratio is not None:
        text = f"{names[0]} per {plan.ratio.denominator}"
    if plan.share:
        text = f"share of {text}"
        if plan.share_of:
            text += " for " + _share_members(space, plan)
    if plan.change == "periods" and len(plan.periods) == 2:
        text = f"change in {text} from {plan.periods[0].label} to {plan.periods[1].label}"
    elif plan.change == "previous":
        text = f"change in {text} from the previous {plan.time_grain or 'year'}"
    groups = ([plan.time_grain] if plan.time_grain and plan.change != "previous" else []) + list(
        plan.group_by
    )
    if groups:
        text += " by " + " and ".join(groups)
    if plan.limit:
        rank = f"{'top' if plan.order != 'asc' else 'bottom'} {plan.limit}"
        text = f"{rank} {text}" + (f" within each {plan.per_group}" if plan.per_group else "")
    if plan.periods and not plan.change:
        text += ", compared across " + " vs ".join(p.label for p in plan.periods)
    parts = [f"{d} = {', '.join(v)}" for d, v in plan.filters if plan.share_of != d]
    parts += [f"excluding {d} {', '.join(v)}" for d, v in plan.exclusions]
    parts += [
        f"not {n[4:]}" if n.startswith("not:") else n
        for n in plan.named_filters
        if plan.share_of != f"filter:{n}"
    ]
    parts += [_condition_text(space, c) for c in plan.conditions]
    if plan.time_range:
        parts.insert(0, plan.time_range.label)
    if plan.time_dimension:
        parts.append(f"by {plan.time_dimension}")
    return text + (f" ({'; '.join(parts)})" if parts else "")


def _share_members(space: SpaceDefinition, plan: QueryPlan) -> str:
    if plan.share_of and plan.share_of.startswith("filter:"):
        return plan.share_of.removeprefix("filter:")
    if plan.share_of and plan.share_of.startswith("condition:"):
        return _condition_text(space, plan.conditions[int(plan.share_of.removeprefix("condition:"))])
    values = dict(plan.filters).get(plan.share_of or "", ())
    return f"{plan.share_of} {', '.join(values)}"


_AGG_NAMES = {"sum": "total", "avg": "average", "min": "minimum", "max": "maximum", "count": "count of"}


def _condition_text(space: SpaceDefinition, c: Condition) -> str:
    target = c.target.removeprefix("measure:")
    if c.on_measure:
        m = space.measure(target)
        agg = c.agg or (m.agg if m.column is not None else (m.expr or "").split("(")[0].lower())
        word = _AGG_NAMES.get(agg or "", "") if agg != "count" else ""
        if word and not target.startswith(word):
            target = f"{word} {target}"
    elif c.target.startswith("measure:") and target.split()[0] in _ROW_AGG_WORDS and " " in target:
        target = target.split(" ", 1)[1]  # each row's duration, not the average duration
    unit = f" {c.unit}" if c.unit else ""
    if c.op == "between":
        return f"{target} between {number_sql(c.value)} and {number_sql(c.high or 0)}{unit}"
    return f"{target} {c.op} {number_sql(c.value)}{unit}"


_ROW_AGG_WORDS = frozenset({"average", "avg", "mean", "total", "sum", "minimum", "maximum", "min", "max"})
