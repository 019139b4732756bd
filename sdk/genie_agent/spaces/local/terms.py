"""The vocabulary's matches read in their context: which measures a question asks for, what it
groups by, the values it filters on or excludes, the named filters and the date it means.

A phrase can name several things ("customers" is a measure and a dimension): the words around it
decide — "how many customers" counts them, "top 10 customers" groups by them, "for customers in
France" only sets the scene.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...understanding.lexicon import Match
from .plan import MeasureRef
from .reading import YEAR, Reading
from .shapes import Ranking, comparator
from .vocabulary import Term
from .words import (
    AGG_WORDS,
    ASC_WORDS,
    COUNT_CUES,
    DESC_WORDS,
    GROUPING_CUES,
    MONTHS,
    NUMBER_WORDS,
    PERIOD_NAME,
    PREPOSITIONS,
)

__all__ = ["Terms", "measures_from_context", "read_terms"]

_SCENE_AFTER = frozenset({"placed", "shipped", "ordered", "made", "that", "which", "where", "with"})
# Words between the subject of a condition on a measure and its comparator ("customers who placed more than").
_SUBJECT_GAP = frozenset(
    {"with", "who", "that", "which", "having", "has", "have", "had", "placed", "made", "did", "got"}
)
# Words between a term and the comparator that qualifies it ("balance of over 5000", "size is at least 10").
_BEFORE_COMPARATOR = frozenset({"of", "is", "was", "a", "an", "the", "with", "has", "have", "from"})


@dataclass
class Terms:
    """What the question names, with where each term stands (for the readers that place the rest)."""

    measures: list[MeasureRef] = field(default_factory=list)
    group_by: list[str] = field(default_factory=list)
    group_cues: dict[str, str] = field(default_factory=dict)
    filters: dict[str, list[str]] = field(default_factory=dict)
    exclusions: dict[str, list[str]] = field(default_factory=dict)
    named: list[str] = field(default_factory=list)
    measure_spans: dict[str, int] = field(default_factory=dict)
    dimension_spans: dict[str, int] = field(default_factory=dict)
    named_spans: dict[str, int] = field(default_factory=dict)
    time_dimension: str | None = None
    context_measure: bool = False
    scene: set[int] = field(default_factory=set)
    """Where an entity noun only sets the scene ("for customers in Europe", "Brand#13 parts"): a
    phrase the plan need not use."""


@dataclass(slots=True)
class _Context:
    """The words around one match that decide what it names."""

    prev: list[str]
    counted: bool
    grouped: bool
    after_preposition: bool
    after_term: bool


def read_terms(r: Reading, negated: set[int], ranking: Ranking) -> Terms:
    """Measures, groupings, filters and time dimensions from the vocabulary's matches."""
    out = Terms()
    value_matches = [m for m in r.matches if any(t.kind == "value" for t in m.entries)]
    unambiguous_measure = any(all(t.kind == "measure" for t in m.entries) for m in r.matches)
    counts_somewhere = "how many" in " ".join(r.words) or "number of" in " ".join(r.words)
    for idx, m in enumerate(r.matches):
        ctx = _context(r, m, ranking, out, counts_somewhere)
        if m.start in negated:
            _negate(r, out, m)
            continue
        kind = _kind(m, ctx, ranking, unambiguous_measure)
        if kind is None:
            continue
        term = next(t for t in m.entries if t.kind == kind)
        nxt = r.matches[idx + 1] if idx + 1 < len(r.matches) else None
        if (
            kind == "measure"
            and nxt is not None
            and nxt.start == m.end
            and all(t.kind == "measure" for t in nxt.entries)
        ):
            continue
        if kind == "measure":
            _add_measure(r, out, m, term, ctx)
        elif kind == "dimension":
            if _counts_members(r, m):
                # "how many nations have more than 600 customers": a count of groups, not a list.
                r.problems.append(f"how to count the {m.text} themselves: ask which {m.text} instead")
            _add_dimension(r, out, m, term, value_matches, ctx.grouped)
        elif kind == "value":
            _add_value(r, out, m)
        elif kind == "time_dimension":
            out.time_dimension = term.name
        elif kind == "filter" and term.name not in out.named:
            out.named.append(term.name)
            out.named_spans[term.name] = m.start
    return out


def _context(r: Reading, m: Match[Term], ranking: Ranking, out: Terms, counts_somewhere: bool) -> _Context:
    words = r.words
    kinds = {t.kind for t in m.entries}
    prev = [words[k] for k in range(max(0, m.start - 3), m.start)]
    counted = any(w in COUNT_CUES for w in prev) or (
        counts_somewhere and not out.measures and r.word(m.start - 1) not in PREPOSITIONS
    )
    # "more than 45 suppliers": the noun a condition's number counts is a measure.
    compared = bool(r.numbers) and any(
        n.end == m.start
        and r.used[n.start]
        and r.word(n.start - 1) not in ("top", "bottom", "which", "what", "the", "name")
        for n in r.numbers
    )
    counted = counted or compared
    grouped = any(w in GROUPING_CUES or w in ("within", "per") or _is_small_number(w) for w in prev[-2:])
    grouped = (not compared and grouped) or (
        ranking.superlative and any(w in DESC_WORDS | ASC_WORDS for w in prev)
    )
    if prev and prev[-1] == "all" and "measure" in kinds:
        grouped = False
        counted = False
    if prev and prev[-1] in ("most", "fewest", "least") and "measure" in kinds:
        # "which two nations have the most suppliers": the quantity ranked is their count.
        grouped, counted = False, True
    if "dimension" in kinds and not counted and subject_of_count(r, m.end):
        grouped = True
    # M: "supplier with the highest balance": the ranked subject is a grouping.
    if ranking.superlative and r.word(m.end) in ("with", "that", "who", "whose", "has", "had", "having"):
        grouped = True
    # "on 1997 orders": a date between the preposition and the noun still makes it the scene.
    after_preposition = r.word(_before_dates(r, m.start)) in PREPOSITIONS
    after_term = m.start > 0 and r.matched[m.start - 1]
    return _Context(prev, counted, grouped, after_preposition, after_term)


def _kind(m: Match[Term], ctx: _Context, ranking: Ranking, unambiguous_measure: bool) -> str | None:
    """Which of the things a phrase names the question means; None when it only sets the scene."""
    kinds = {t.kind for t in m.entries}
    if "measure" in kinds and "dimension" in kinds:
        # "how many customers" counts them; "top 10 customers" groups by them;
        # "for customers in France" only sets the scene.
        if ctx.counted:
            return "measure"
        if ctx.grouped or (ranking.superlative and ranking.measure):
            return "dimension"
        if ctx.after_preposition or ctx.after_term or unambiguous_measure:
            return None
        return "measure"
    if "value" in kinds and len(kinds) > 1:
        return "value"
    if len(kinds) > 1 and "measure" not in kinds:
        return sorted(kinds)[0]
    return "measure" if "measure" in kinds else next(iter(kinds))


def _counts_members(r: Reading, m: Match[Term]) -> bool:
    """ "how many segments", "number of nations": a dimension's members counted — no measure of
    the space counts them."""
    return r.word(m.start - 1) == "many" or (
        r.word(m.start - 1) == "of" and r.word(m.start - 2) in ("number", "count")
    )


def _before_dates(r: Reading, i: int) -> int:
    """The index of the last word before ``i`` that is not part of a date the time reader placed."""
    k = i - 1
    while (
        k >= 0
        and r.used[k]
        and (YEAR.match(r.words[k]) or r.words[k] in MONTHS or PERIOD_NAME.fullmatch(r.words[k]))
    ):
        k -= 1
    return k


def _is_small_number(w: str) -> bool:
    """A count such as "top 5" or "three": what the old parser's ``_number`` accepted."""
    if w.isdigit() and not YEAR.match(w):
        return 0 < int(w) <= 10_000
    return w in NUMBER_WORDS


def _add_value(r: Reading, out: Terms, m: Match[Term]) -> None:
    chosen = _value_dimension(r, [t for t in m.entries if t.kind == "value"], out)
    if chosen is None:
        return
    assert chosen.value is not None
    bucket = out.filters.setdefault(chosen.name, [])
    if chosen.value not in bucket:
        bucket.append(chosen.value)


def _value_dimension(r: Reading, values: list[Term], out: Terms) -> Term | None:
    """The dimension a value belongs to: the only one, or the one the question groups by or names."""
    dims = list(dict.fromkeys(t.name for t in values))
    if len(dims) == 1:
        return values[0]
    named = {t.name for m in r.matches for t in m.entries if t.kind == "dimension"}
    chosen = [t for t in values if t.name in out.group_by] or [t for t in values if t.name in named]
    if len({t.name for t in chosen}) == 1:
        return chosen[0]
    r.problems.append(f"whether {values[0].value!r} is a {' or a '.join(dims)}")
    return None


def _negate(r: Reading, out: Terms, m: Match[Term]) -> None:
    value = (
        _value_dimension(r, [t for t in m.entries if t.kind == "value"], out)
        if any(t.kind == "value" for t in m.entries)
        else None
    )
    if value is None and any(t.kind == "value" for t in m.entries):
        return
    if value is not None and value.value is not None:
        bucket = out.exclusions.setdefault(value.name, [])
        if value.value not in bucket:
            bucket.append(value.value)
        return
    flt = next(t for t in m.entries if t.kind == "filter")
    out.named.append("not:" + flt.name)


def _add_measure(r: Reading, out: Terms, m: Match[Term], term: Term, ctx: _Context) -> None:
    # "revenue from 1-URGENT priority orders": a second measure named as a noun is context.
    if out.measures and (ctx.after_preposition or ctx.after_term) and not ctx.counted:
        return
    agg = next((AGG_WORDS[w] for w in reversed(ctx.prev) if w in AGG_WORDS), None)
    ref = MeasureRef(term.name, agg if r.vocabulary.is_column_measure(term.name) else None)
    if all(x.name != term.name for x in out.measures):
        out.measures.append(ref)
        out.measure_spans[term.name] = m.start
    out.context_measure = len(out.measures) == 1 and _sets_the_scene(r, m, ctx) and not ctx.counted


def _sets_the_scene(r: Reading, m: Match[Term], ctx: _Context) -> bool:
    """ "only for orders placed in 1996", "only urgent orders", "only suppliers from Canada": the
    measure sets the scene of a follow-up."""
    before = r.match_at(m.start - 1) if m.start > 0 else None
    after_value = before is not None and any(t.kind == "value" for t in before.entries)
    opens_scene = r.words[:1] in (["only"], ["just"]) and r.word(m.end) in (
        "from",
        "in",
        "with",
        "placed",
        "shipped",
    )
    return bool(
        (ctx.prev and ctx.prev[-1] in ("for", "of", "on"))
        or r.word(m.end) in _SCENE_AFTER
        or after_value
        or opens_scene
    )


def _add_dimension(
    r: Reading, out: Terms, m: Match[Term], term: Term, value_matches: list[Match[Term]], grouped: bool
) -> None:
    n = r.number_at(m.end) if r.free(m.end) else None
    if n is not None and not n.percent and not _followed_by_range(r, n.end):
        out.filters.setdefault(term.name, []).append(_plain(n.value))  # "size 15"
        r.use(*range(n.start, n.end))
        return
    if _attached_to_value(m, term.name, value_matches, r.words):
        return
    compared = not grouped and _condition_follows(r, m.end)
    if compared and subject_of_count(r, m.end):
        grouped, compared = True, False
    listed_after = None if grouped or compared else _listed_after_grouping(r, m, out)
    if not grouped and not compared and listed_after is None and not r.vocabulary.is_indexed(term.name):
        # "Brand#13 parts": an entity noun, not a grouping, unless asked "by" it. Any other phrase
        # left here ("part size" said but not grouped by) is one the plan does not use: declined.
        if r.vocabulary.space.dimension(term.name).entity:
            out.scene.add(m.start)
        return
    if compared:
        out.dimension_spans[term.name] = m.start
        return
    if term.name not in out.group_by:
        out.group_by.append(term.name)
        out.dimension_spans[term.name] = m.start
        cue = r.word(m.start - 1)
        if cue == "the" or cue == "every":
            cue = r.word(m.start - 2) + " " + cue
        out.group_cues[term.name] = out.group_cues.get(listed_after, cue) if listed_after else cue


def _listed_after_grouping(r: Reading, m: Match[Term], out: Terms) -> str | None:
    """ "by part type and part size", "by brand, type and size": the grouping cue before a list
    reaches every item of it, however far the item stands from the cue. The grouping the phrase is
    listed after (joined by "and", a comma or "&"), if any."""
    k = m.start - 1
    if r.is_word(k, "and"):
        k -= 1
    elif k < 0 or r.question[r.tokens[k].end : r.tokens[m.start].start].strip() not in (",", "&"):
        return None
    before = r.match_at(k)
    if before is None or before.end != k + 1:
        return None
    return next(
        (
            t.name
            for t in before.entries
            if t.kind == "dimension"
            and t.name in out.group_by
            and out.dimension_spans.get(t.name) == before.start
        ),
        None,
    )


def _plain(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


def _followed_by_range(r: Reading, i: int) -> bool:
    return r.is_word(i, "to", "and", "through", "-") or r.is_word(i, "or")


def _condition_follows(r: Reading, i: int) -> bool:
    """A comparator with its number follows the term ("size between 10 and 20", "balance over
    5000", "size 10 to 20"), perhaps after a few words ("balance of at least 5000")."""
    for k in range(i, min(i + 4, len(r.words))):
        comp, n = comparator(r, k), r.number_at(k)
        if (comp is not None and r.number_at(comp[1]) is not None) or (
            n is not None and r.is_word(n.end, "to", "or")
        ):
            return True
        if r.words[k] not in _BEFORE_COMPARATOR:
            return False
    return False


def subject_of_count(r: Reading, i: int) -> bool:
    """The noun ending at ``i`` is what a condition on a measure compares: "stations with more than
    60 rides", "customers who placed more than 34 orders", "models with at least 10 bikes" — a
    comparator and its number follow, a few connecting words on, and the number counts a measure."""
    if not r.numbers:
        return False
    for k in range(i, min(i + 4, len(r.words))):
        comp = comparator(r, k)
        n = r.number_at(comp[1]) if comp is not None else None
        if n is not None:
            m = r.match_at(n.end)
            return m is not None and m.start == n.end and any(t.kind == "measure" for t in m.entries)
        if r.words[k] not in _SUBJECT_GAP:
            return False
    return False


def _attached_to_value(m: Match[Term], dimension: str, values: list[Match[Term]], words: list[str]) -> bool:
    """ "the AUTOMOBILE segment" names a filter, not a grouping: the dimension sits next to its value."""
    for v in values:
        if not any(t.kind == "value" and t.name == dimension for t in v.entries):
            continue
        gap = range(v.end, m.start) if v.end <= m.start else range(m.end, v.start)
        if all(words[k] in ("the", "of", "a", "is", "=", "in") for k in gap) and len(gap) <= 2:
            return True
    return False


def measures_from_context(r: Reading, terms: Terms, ranking: Ranking) -> None:
    """A measure named only indirectly: by a superlative ("busiest"), a named filter's phrase
    ("how many long rides"), or a counted value ("how many e-bikes")."""
    vocabulary = r.vocabulary
    if ranking.measure and all(m.name != ranking.measure for m in terms.measures):
        terms.measures.insert(0, MeasureRef(ranking.measure))
    if terms.measures:
        return
    for m in r.matches:
        if any(t.kind == "filter" for t in m.entries) and not r.used[max(0, m.start - 1)]:
            for inner in vocabulary.lexicon.match(r.tokens[m.start + 1 : m.end], r.question):
                for t in inner.entries:
                    if t.kind == "measure" and all(x.name != t.name for x in terms.measures):
                        terms.measures.append(MeasureRef(t.name))
    if terms.measures:
        return
    for m in r.matches:
        if not any(t.kind == "value" for t in m.entries):
            continue
        if any(r.words[k] in COUNT_CUES for k in range(max(0, m.start - 3), m.start)):
            counted = vocabulary.count_measure_for(next(t.name for t in m.entries if t.kind == "value"))
            if counted is not None:
                terms.measures.append(MeasureRef(counted))
                return
