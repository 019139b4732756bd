"""Numeric conditions placed on what they qualify: a dimension or a measure's column (a row
condition, WHERE) or an aggregated measure (HAVING).

"customers with a balance over 5000" filters rows; "nations with more than 600 customers" and
"segments with an average balance above 4500" compare each group's aggregate.
"""

from __future__ import annotations

from dataclasses import replace

from ...understanding.lexicon import Match
from .plan import Condition, MeasureRef
from .reading import Reading
from .shapes import RawCondition, condition_on
from .terms import Terms
from .vocabulary import Term
from .words import AGG_WORDS

__all__ = ["place_conditions"]

# Words between a comparator and the term it qualifies, written before it ("revenue was over 1B").
_GAP_BEFORE = frozenset(
    {"is", "was", "of", "a", "an", "the", "with", "has", "have", "had", "were", "are", "where", "whose", "that",
     "total", "in", "s"}
)  # fmt: skip


def place_conditions(r: Reading, terms: Terms, raw: list[RawCondition]) -> list[Condition]:
    """Attach each comparator to the term it qualifies: a dimension or a measure's column (a row
    condition) or an aggregated measure (HAVING)."""
    space = r.vocabulary.space
    placed: list[Condition] = []
    for c in raw:
        target = _condition_target(r, c.start, c.end)
        if target is None:
            r.problems.append(f"what {c.label!r} applies to")
            continue
        kind, name, at = target
        if kind == "dimension" and name in r.vocabulary.text_dimensions:
            r.problems.append(f"what {c.label!r} applies to: {name} is not a number")
            continue
        if kind == "dimension":
            placed.append(condition_on(c, name, on_measure=False, percent_scale=False))
            if name in terms.group_by and terms.group_cues.get(name) not in ("by", "per", "each"):
                terms.group_by.remove(name)
            continue
        measure = space.measure(name)
        percent_scale = measure.format == "percent"
        counted = _entity_counted(r, measure.table, name)
        if (
            counted is not None
            and measure.row_column is not None
            and all(x.name != counted for x in terms.measures)
        ):
            terms.measures.insert(0, MeasureRef(counted))
        others = [x for x in terms.measures if x.name != name]
        # "brands with an average supply cost above 500": the aggregate named compares the groups.
        aggregated = any(r.word(k) in AGG_WORDS for k in (at - 2, at - 1, at)) and bool(terms.group_by)
        row_level = measure.row_column is not None and (others or not terms.group_by) and not aggregated
        if row_level:
            placed.append(condition_on(c, "measure:" + name, on_measure=False, percent_scale=percent_scale))
            terms.measures = others or terms.measures
            if not others and all(x.name != name for x in terms.measures):
                terms.measures.append(MeasureRef(name))
        else:
            if all(x.name != name for x in terms.measures):
                terms.measures.append(MeasureRef(name))
            agg = next((x.agg for x in terms.measures if x.name == name), None)
            placed.append(
                replace(condition_on(c, name, on_measure=True, percent_scale=percent_scale), agg=agg)
            )
    return placed


def _entity_counted(r: Reading, table: str, condition_measure: str) -> str | None:
    """The COUNT measure of the condition's table, named in the question: "suppliers with a
    negative balance" counts suppliers and filters their rows."""
    space = r.vocabulary.space
    for m in r.matches:
        for t in m.entries:
            if t.kind != "measure" or t.name == condition_measure:
                continue
            other = space.measure(t.name)
            if other.table == table and (other.expr or "").upper().startswith("COUNT("):
                return t.name
    return None


def _condition_target(r: Reading, start: int, end: int) -> tuple[str, str, int] | None:
    """The measure or dimension a condition qualifies: named right after the number ("more than
    600 customers") or right before the comparator ("revenue exceeded 1B", "size over 40"); with
    where that term starts."""
    after = r.match_at(end) if end < len(r.words) else None
    if after is not None:
        found = _measure_or_dimension(after)
        if found:
            return (*found, after.start)
    k = start - 1
    gap: set[str] = set()
    while k >= 0 and r.words[k] in _GAP_BEFORE:
        gap.add(r.words[k])
        k -= 1
    before = r.match_at(k) if k >= 0 else None
    if before is None:
        return None
    found = _measure_or_dimension(before)
    if found and found[0] == "measure" and gap & {"of", "with", "where", "whose", "that"}:
        # "rides of 30 to 60 min": a condition on the rides, not on their count.
        measure = r.vocabulary.space.measure(found[1])
        if (measure.expr or "").upper().startswith("COUNT("):
            return None
    return (*found, before.start) if found else None


def _measure_or_dimension(m: Match[Term]) -> tuple[str, str] | None:
    for kind in ("measure", "dimension"):
        for t in m.entries:
            if t.kind == kind:
                return kind, t.name
    return None
