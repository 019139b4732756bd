"""Numeric conditions placed on what they qualify: a dimension or a measure's column (a row
condition, WHERE) or an aggregated measure (HAVING).

"customers with a balance over 5000" filters rows; "nations with more than 600 customers" and
"segments with an average balance above 4500" compare each group's aggregate. A unit or a kind of
quantity said with the number ("rides longer than 90 minutes", "bikes that cost more than 2000")
names the column in that unit (:mod:`.units`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ...understanding.lexicon import Match
from .plan import Condition, MeasureRef
from .reading import Reading
from .shapes import RawCondition, condition_on
from .terms import Terms
from .units import unit_kind
from .vocabulary import Term
from .words import AGG_WORDS

__all__ = ["place_conditions"]

# Words between a comparator and the term it qualifies, written before it ("revenue was over 1B").
_GAP_BEFORE = frozenset(
    {"is", "was", "of", "a", "an", "the", "with", "has", "have", "had", "were", "are", "where", "whose", "that",
     "total", "in", "s"}
)  # fmt: skip
# Words between counted things and the quantity said of them ("rides that lasted", "bikes which cost").
_SUBJECT_GAP = frozenset({"of", "with", "that", "which", "who", "were", "was", "are", "is", "whose", "where"})


@dataclass(frozen=True)
class _Target:
    kind: str
    """``measure`` or ``dimension``."""
    name: str
    at: int
    """Where the question names it next to the condition; -1 when only its unit or kind said it."""
    rows: bool = False
    """Said of counted things ("rides longer than 90 minutes"): a condition on their rows."""


def place_conditions(r: Reading, terms: Terms, raw: list[RawCondition]) -> list[Condition]:
    """Attach each comparator to the term it qualifies: a dimension or a measure's column (a row
    condition) or an aggregated measure (HAVING)."""
    targets = [(c, _resolve(r, terms, c)) for c in raw]
    _group_subjects(terms, [t for _, t in targets if t is not None])
    placed: list[Condition] = []
    for c, target in targets:
        if target is None:
            continue
        if target.kind == "dimension" and target.name in r.vocabulary.text_dimensions:
            r.problems.append(f"what {c.label!r} applies to: {target.name} is not a number")
            continue
        r.use(c.verb if c.verb is not None else -1)
        if target.kind == "dimension":
            unit = _unit_name(r, "dimension", target.name)
            placed.append(
                replace(condition_on(c, target.name, on_measure=False, percent_scale=False), unit=unit)
            )
            if target.name in terms.group_by and terms.group_cues.get(target.name) not in (
                "by",
                "per",
                "each",
            ):
                terms.group_by.remove(target.name)
            continue
        condition = _on_measure(r, terms, c, target)
        if condition is not None:
            placed.append(condition)
    return placed


def _group_subjects(terms: Terms, targets: list[_Target]) -> None:
    """A dimension a comparator followed ("cities with more than 800 euros in fares") that the
    condition turned out not to qualify is what the condition compares: a grouping."""
    qualified = {t.name for t in targets if t.kind == "dimension"}
    for dim in terms.dimension_spans:
        if dim not in terms.group_by and dim not in qualified and dim not in terms.filters:
            terms.group_by.append(dim)
            terms.group_cues[dim] = ""


def _on_measure(r: Reading, terms: Terms, c: RawCondition, t: _Target) -> Condition | None:
    """A condition on a measure: on its row column (WHERE) or on its aggregate (HAVING)."""
    name = t.name
    measure = r.vocabulary.space.measure(name)
    percent_scale = measure.format == "percent"
    counted = _entity_counted(r, measure.table, name) if t.at >= 0 else None
    if counted is not None and measure.row_column is not None and all(x.name == name for x in terms.measures):
        terms.measures.insert(0, MeasureRef(counted))
    others = [x for x in terms.measures if x.name != name]
    unit = _unit_name(r, "measure", name)
    # "brands with an average supply cost above 500": the aggregate named compares the groups.
    aggregated = any(r.word(k) in AGG_WORDS for k in (t.at - 2, t.at - 1, t.at)) and bool(terms.group_by)
    row_level = t.rows or (
        measure.row_column is not None and (others or not terms.group_by) and not aggregated
    )
    if row_level and measure.row_column is None:
        r.problems.append(f"what {c.label!r} applies to: {name} has no value per row to compare")
        return None
    if row_level:
        if t.at >= 0:
            # "customers with a balance over 5000": the balance filters them, the customers are counted.
            terms.measures = others or terms.measures
            if not others and all(x.name != name for x in terms.measures):
                terms.measures.append(MeasureRef(name))
        return replace(
            condition_on(c, "measure:" + name, on_measure=False, percent_scale=percent_scale), unit=unit
        )
    if all(x.name != name for x in terms.measures):
        terms.measures.append(MeasureRef(name))
    agg = next((x.agg for x in terms.measures if x.name == name), None)
    condition = condition_on(c, name, on_measure=True, percent_scale=percent_scale)
    return replace(condition, agg=agg, unit=unit)


def _resolve(r: Reading, terms: Terms, c: RawCondition) -> _Target | None:
    """What the condition qualifies: the term next to it; with a unit ("40 minutes") or a kind of
    quantity ("lasted", "longer", "cost"), the term must be in that unit, and a count next to it
    ("rides longer than 90 minutes") or no term at all leaves the column in that unit. Where the
    two disagree, or several columns are in the unit, the question is asked back."""
    found = _condition_target(r, c.start, c.end)
    target = _Target(*found) if found is not None else None
    if c.unit is None and c.kind is None:
        if target is None:
            r.problems.append(f"what {c.label!r} applies to")
        return target
    vocabulary = r.vocabulary
    said = f"{vocabulary.unit_names[c.unit]} ({c.label})" if c.unit else f"a {c.kind} ({c.label})"
    if target is not None:
        unit = vocabulary.unit_of(target.kind, target.name)
        if unit is not None and _fits(unit, c):
            return target
        if unit is not None or not _is_count(r, target.kind, target.name):
            is_in = f"in {vocabulary.unit_names[unit]}" if unit else "not"
            r.problems.append(f"what {said} applies to: {target.name} is {is_in}")
            return None
    owners = [o for o in vocabulary.unit_owners if _fits(o.unit, c)]
    named = [o for o in owners if o.name in terms.measure_spans or o.name in terms.dimension_spans]
    chosen = named or owners
    if len(chosen) != 1:
        which = " or ".join(o.name for o in chosen) or "nothing in this space"
        r.problems.append(f"what {said} applies to: {which}")
        return None
    return _Target(chosen[0].kind, chosen[0].name, -1, rows=_counted_subject(r, c))


def _unit_name(r: Reading, kind: str, name: str) -> str:
    """The unit of a measure or dimension as the model names it ("EUR"), or ""."""
    unit = r.vocabulary.unit_of(kind, name)
    return r.vocabulary.unit_names[unit] if unit else ""


def _fits(unit: str, c: RawCondition) -> bool:
    """The unit is the one written, of the kind said."""
    return (c.unit is None or unit == c.unit) and (c.kind is None or unit_kind(unit) == c.kind)


def _is_count(r: Reading, kind: str, name: str) -> bool:
    """ "rides" in "rides longer than 90 minutes": the things counted, not a quantity of them."""
    return kind == "measure" and (r.vocabulary.space.measure(name).expr or "").upper().startswith("COUNT(")


def _counted_subject(r: Reading, c: RawCondition) -> bool:
    """Counted things stand before the quantity said of them: "rides that lasted over 40 minutes",
    "rides of 30 to 60 min", "bikes which cost more than 2000"."""
    k = (c.verb if c.verb is not None else c.start) - 1
    while k >= 0 and r.words[k] in _SUBJECT_GAP:
        k -= 1
    m = r.match_at(k) if k >= 0 else None
    return m is not None and any(t.kind == "measure" and _is_count(r, "measure", t.name) for t in m.entries)


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
    elif r.is_word(end, "in") and (money := r.match_at(end + 1)) is not None and money.start == end + 1:
        # "took in over 800 in fares": the measure the amount is counted in.
        found = _measure_or_dimension(money)
        if found and found[0] == "measure":
            r.use(end)
            return (*found, money.start)
    k = start - 1
    gap: set[str] = set()
    while k >= 0 and r.words[k] in _GAP_BEFORE:
        gap.add(r.words[k])
        k -= 1
    before = r.match_at(k) if k >= 0 else None
    if before is None:
        return None
    found = _measure_or_dimension(before)
    if found and gap & {"of", "with", "where", "whose", "that"} and _is_count(r, *found):
        return None  # "rides of 30 to 60 min": a condition on the rides, not on their count
    return (*found, before.start) if found else None


def _measure_or_dimension(m: Match[Term]) -> tuple[str, str] | None:
    for kind in ("measure", "dimension"):
        for t in m.entries:
            if t.kind == kind:
                return kind, t.name
    return None
