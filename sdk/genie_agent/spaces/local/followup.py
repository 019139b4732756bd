"""Follow-ups: the cues that a question continues the previous one, what it replaces ("instead
of"), whether its grouping adds to the previous one, and the merge of the previous plan with it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .plan import QueryPlan
from .reading import Reading
from .terms import Terms
from .words import FOLLOWUP_OPENERS

if TYPE_CHECKING:
    from .parser import ParsedQuestion

__all__ = ["adds_grouping", "drop_replaced", "followup_cue", "merge_followup"]


def followup_cue(r: Reading) -> bool:
    """The question refers to the previous one ("and in 1996?", "only those", "same for ...")."""
    lowered = " ".join(r.words)
    return lowered.startswith(FOLLOWUP_OPENERS) or any(
        w in ("instead", "also", "those", "that", "same", "it", "these") for w in r.words
    )


def adds_grouping(r: Reading) -> bool:
    """ "by segment too", "as well", "also by segment": the grouping adds to the previous one."""
    words = r.words
    for i, w in enumerate(words):
        if w == "too" or (w == "well" and r.is_word(i - 1, "as")) or (w == "also" and "by" in words):
            r.use(i, i - 1 if w == "well" else i)
            return True
    return False


def drop_replaced(r: Reading, terms: Terms) -> None:
    """ "by bike type instead of city", "Hamburg rather than Berlin": the term after "instead of" /
    "rather than" is the one the question replaces, neither a grouping nor a filter."""
    if "instead" not in r.words and "rather" not in r.words:
        return
    for i in range(len(r.words)):
        if not r.replaces_at(i):
            continue
        m = r.match_at(i + 2)
        if m is None or m.start != i + 2:
            continue
        replaced = False
        for t in m.entries:
            if (
                t.kind == "dimension"
                and terms.dimension_spans.get(t.name) == m.start
                and t.name in terms.group_by
            ):
                terms.group_by.remove(t.name)
                replaced = True
            elif t.kind == "value" and t.value is not None and t.value in terms.filters.get(t.name, ()):
                terms.filters[t.name].remove(t.value)
                if not terms.filters[t.name]:
                    del terms.filters[t.name]
                replaced = True
        if replaced:
            r.use(i, i + 1)


def merge_followup(previous: QueryPlan, new: ParsedQuestion) -> QueryPlan:
    """Refine the previous query with what the follow-up says: a new year, filter, N or grouping."""
    p = new.plan
    filters = dict(previous.filters)
    filters.update(dict(p.filters))
    exclusions = dict(previous.exclusions)
    exclusions.update(dict(p.exclusions))
    for dim in dict(p.filters):
        exclusions.pop(dim, None)
    group_by = p.group_by or previous.group_by
    if p.group_by and new.adds_grouping:
        group_by = tuple(dict.fromkeys(previous.group_by + p.group_by))  # "split that by segment too"
    if p.group_by:
        # A filter on the dimension we now group by would leave one group: drop it.
        filters = {d: v for d, v in filters.items() if d not in p.group_by or d in dict(p.filters)}
    measures = previous.measures if new.measure_is_context or not p.measures else p.measures
    time_range, periods = previous.time_range, previous.periods
    if p.time_range or p.periods:
        time_range, periods = p.time_range, p.periods
    return QueryPlan(
        measures=measures,
        group_by=group_by,
        time_grain=p.time_grain if new.grain_given else previous.time_grain,
        filters=tuple(filters.items()),
        named_filters=tuple(dict.fromkeys(previous.named_filters + p.named_filters)),
        time_range=time_range,
        time_dimension=p.time_dimension or previous.time_dimension,
        limit=p.limit or previous.limit,
        order=p.order or previous.order,
        exclusions=tuple(exclusions.items()),
        conditions=previous.conditions + p.conditions,
        periods=periods,
        change=p.change or previous.change,
        share=p.share or previous.share,
        share_of=p.share_of or previous.share_of,
        per_group=p.per_group or previous.per_group,
        ratio=p.ratio or previous.ratio,
        unknown_groupings=p.unknown_groupings,
    )
