"""Deterministic question -> query plan, over a space's vocabulary. No LLM, no space-specific code.

The vocabulary (:mod:`.vocabulary`) matches measures, dimensions, dimension values, time
dimensions and named filters; readers place the words around them — time (:mod:`.time_reader`),
ranking, numeric conditions, shares and changes (:mod:`.shapes`), exclusions (:mod:`.exclusions`)
— and the terms are then read in their context (:mod:`.terms`), conditions placed on what they qualify
(:mod:`.condition_targets`) and the plan assembled here. Every word must end up placed: a word no
reader understood and that is not filler is reported (:mod:`.accounting`), and the engine declines
naming it rather than answer a different question. Follow-ups are merged in :mod:`.followup`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...understanding.lexicon import Match, tokenize
from .accounting import account, unknown_groupings, unused_terms, use_cues, use_value_nouns
from .condition_targets import place_conditions
from .exclusions import read_exclusions
from .followup import adds_grouping, drop_replaced, followup_cue, merge_followup
from .plan import GRAINS, Change, Condition, QueryPlan, Ratio, TimeGrain, TimeRange
from .reading import Reading, read_numbers
from .shapes import (
    Ranking,
    contradictory,
    credible_matches,
    read_change,
    read_conditions,
    read_ranking,
    read_share,
)
from .terms import Terms, measures_from_context, read_terms
from .time_reader import TimeReading, read_time, year_range
from .vocabulary import Term, Vocabulary
from .words import COMPARE_WORDS, TOTAL_WORDS

__all__ = ["ParsedQuestion", "merge_followup", "parse_question"]

_PREDICATE = frozenset(
    {"are", "were", "is", "was", "get", "gets", "got", "getting", "that", "which", "being"}
)


@dataclass
class ParsedQuestion:
    """What one question says on its own, before any conversation context is applied."""

    plan: QueryPlan
    followup_cue: bool
    matched: list[Match[Term]] = field(default_factory=list)
    grain_given: bool = False
    unknown_words: tuple[str, ...] = ()
    """Words the space has no data about ("mood"): the space cannot answer."""
    unplaced: tuple[str, ...] = ()
    """Words the engine read but could not place in the plan ("excluding", "600"): not guessed past."""
    unused: tuple[str, ...] = ()
    """Phrases naming a dimension, value, named filter or date the plan does not use ("part size"
    read but grouped by nowhere): the answer would leave them out, so it is not given."""
    problems: tuple[str, ...] = ()
    """Bad input: a reversed range, contradictory conditions, a doubtful value."""
    adds_grouping: bool = False
    """A follow-up grouping adds to the previous one ("by segment too", "as well")."""
    measure_is_context: bool = False
    """The only measure named is the scene of a follow-up ("only for orders placed in 1996")."""

    @property
    def has_measure(self) -> bool:
        return bool(self.plan.measures)


@dataclass(frozen=True)
class _Shapes:
    """What the shape readers found, besides the terms."""

    time: TimeReading
    ranking: Ranking
    conditions: list[Condition]
    share: bool
    change: bool
    change_order: str | None
    ratio: Ratio | None
    per_group: str | None


def parse_question(question: str, vocabulary: Vocabulary) -> ParsedQuestion:
    """Read one question against a space's vocabulary."""
    tokens = tokenize(question)
    problems: list[str] = []
    matches = credible_matches(tokens, vocabulary.lexicon.match(tokens, question), problems)
    r = Reading(question, tokens, vocabulary, matches, problems=problems)
    read_numbers(r)
    time = read_time(r)
    ranking = read_ranking(r)
    negated = read_exclusions(r)
    raw_conditions = read_conditions(r)
    share = read_share(r)
    change, change_order = read_change(r)
    terms = read_terms(r, negated, ranking)
    measures_from_context(r, terms, ranking)
    conditions = place_conditions(r, terms, raw_conditions)
    ratio = _read_ratio(r, terms)
    drop_replaced(r, terms)
    for dim, dim_values in terms.filters.items():
        # "compare rides in Munich and Hamburg": several values of one dimension are compared, not
        # summed — unless the question asks for them together ("combined", "in total").
        if len(dim_values) > 1 and dim not in terms.group_by and not _asks_total(r):
            terms.group_by.append(dim)
    per_group = _read_per_group(r, terms, ranking, time)
    _both(r, terms)
    use_cues(r)
    use_value_nouns(r)
    if terms.group_by or len(terms.measures) > 1:
        # "compare revenue by region", "Munich vs Hamburg": the rows side by side are the comparison.
        r.use(*(i for i, w in enumerate(r.words) if w in COMPARE_WORDS))
    shapes = _Shapes(time, ranking, conditions, share, change, change_order, ratio, per_group)
    plan = _assemble(r, terms, shapes)
    adds = adds_grouping(r)
    unknown, unplaced = account(r)
    return ParsedQuestion(
        plan,
        followup_cue(r),
        matches,
        grain_given=time.grain_given,
        unknown_words=unknown,
        unplaced=unplaced,
        unused=unused_terms(r, plan, terms.scene),
        problems=tuple(r.problems),
        adds_grouping=adds,
        measure_is_context=terms.context_measure,
    )


def _both(r: Reading, terms: Terms) -> None:
    """ "both urgent and low priority": one row cannot hold two values of one dimension."""
    if "both" not in r.words:
        return
    for dim, values in terms.filters.items():
        if len(values) > 1:
            r.problems.append(f"how one row can be both {' and '.join(values)} ({dim})")


def _assemble(r: Reading, terms: Terms, s: _Shapes) -> QueryPlan:
    change_kind, grain, time_range, periods = _change(s)
    share_of = None
    if s.share:
        share_of = _share_target(r, terms)
        row_conditions = [i for i, c in enumerate(s.conditions) if not c.on_measure]
        if share_of is None and row_conditions:
            share_of = f"condition:{row_conditions[-1]}"
    order = s.change_order or s.ranking.order
    if (
        change_kind
        and s.ranking.order is None
        and s.change_order is None
        and any(w == "most" for w in r.words)
    ):
        order = "desc"
    if s.conditions and (msg := contradictory(s.conditions)):
        r.problems.append(msg)
    return QueryPlan(
        measures=tuple(terms.measures),
        group_by=tuple(terms.group_by),
        time_grain=grain,
        filters=tuple((d, tuple(v)) for d, v in terms.filters.items()),
        named_filters=tuple(terms.named),
        time_range=time_range if not (periods and not change_kind) else None,
        time_dimension=terms.time_dimension,
        limit=s.ranking.limit,
        order=order,  # type: ignore[arg-type]
        exclusions=tuple((d, tuple(v)) for d, v in terms.exclusions.items()),
        conditions=tuple(s.conditions),
        periods=periods if len(periods) >= 2 else (),
        change=change_kind,
        share=s.share,
        share_of=share_of,
        per_group=s.per_group,
        ratio=s.ratio,
        unknown_groupings=tuple(unknown_groupings(r)),
    )


def _change(s: _Shapes) -> tuple[Change | None, TimeGrain | None, TimeRange | None, tuple[TimeRange, ...]]:
    """The change asked, if any, with the grain, time range and periods it is measured over."""
    time = s.time
    periods, time_range, grain = time.periods, time.time_range, time.grain
    if s.change:
        if len(periods) >= 2 or len(time.endpoints) == 2:
            periods = periods if len(periods) >= 2 else time.endpoints
            return "periods", grain, None, (periods[0], periods[-1])
        if time_range is not None and time_range.is_year and time_range.start is not None:
            # "growth in 1996": against the year before.
            return "periods", grain, None, (year_range(time_range.start.year - 1), time_range)
        return "previous", grain or "year", time_range, periods
    if time.year_over_year:
        return "previous", grain or "year", time_range, periods
    return None, grain, time_range, periods


def _share_target(r: Reading, terms: Terms) -> str | None:
    """ "what % of revenue comes from ASIA": the filtered members' share of the whole."""
    filtered = [d for d, v in terms.filters.items() if d not in terms.group_by]
    if terms.group_by:
        # "each Hamburg station's share of rides in Hamburg": shares within the filters; but "what %
        # of line items get returned, by ship mode": a filter said of the measured things is the
        # part whose share is asked within each group.
        said_of = [n for n in terms.named if _said_of_measure(r, terms, n)]
        return "filter:" + said_of[-1] if said_of else None
    if filtered:
        return filtered[-1]
    named = [n for n in terms.named if not n.startswith("not:")]
    if named:
        return "filter:" + named[-1]
    return None


def _said_of_measure(r: Reading, terms: Terms, name: str) -> bool:
    """The named filter follows the measure as its predicate ("line items get returned")."""
    start = terms.named_spans.get(name)
    if start is None or not any(span < start for span in terms.measure_spans.values()):
        return False
    return r.word(start - 1) in _PREDICATE or r.word(start) in _PREDICATE


def _asks_total(r: Reading) -> bool:
    for i, w in enumerate(r.words):
        if w in TOTAL_WORDS and w not in ("total", "sum", "overall"):
            r.use(i)
            return True
        if w in ("total", "sum", "overall") and any(
            r.words[k] in ("and", "or") for k in range(i, len(r.words))
        ):
            return True
    return False


def _read_ratio(r: Reading, terms: Terms) -> Ratio | None:
    """ "revenue per order" (two measures), "orders per customer" (an entity's count)."""
    space = r.vocabulary.space
    for i, w in enumerate(r.words):
        if w not in ("per", "a") or not terms.measures or i + 1 >= len(r.words):
            continue
        if w == "a" and not r.is_word(i - 1, "per"):
            continue
        m = r.match_at(i + 1)
        if m is None or m.start != i + 1:
            continue
        numerator = next((x for x in terms.measures if terms.measure_spans.get(x.name, 10**6) < i), None)
        if numerator is None or not space.measure(numerator.name).divisible:
            continue
        entity = next(
            (t for t in m.entries if t.kind == "dimension" and space.dimension(t.name).entity), None
        )
        other = next((t for t in m.entries if t.kind == "measure" and t.name != numerator.name), None)
        if entity is not None:
            r.use(i)
            if entity.name in terms.group_by and terms.dimension_spans.get(entity.name) == i + 1:
                terms.group_by.remove(entity.name)
            return Ratio(entity.name, "entity")
        if other is not None:
            r.use(i)
            terms.measures = [x for x in terms.measures if x.name != other.name]
            return Ratio(other.name, "measure")
    return None


def _read_per_group(r: Reading, terms: Terms, ranking: Ranking, time: TimeReading) -> str | None:
    """ "top 2 customers within each segment", "best nation per region", "units each month, top 2
    within each region": rank within the groups of the dimension (or period) named with "each",
    "per" or "within" nearest after the ranking's words — else nearest before them ("for each
    year, the two segments with the most orders")."""
    if ranking.order is None:
        return None
    keys = len(terms.group_by) + (1 if time.grains else 0)
    candidates: list[tuple[int, str]] = []
    for dim in terms.group_by if keys >= 2 else ():
        cue = terms.group_cues.get(dim, "")
        if cue.endswith(("each", "every")) or cue in ("per", "within"):
            candidates.append((terms.dimension_spans[dim], dim))
    if ranking.limit is not None:
        candidates += [(at, grain) for grain, cue, at in time.grains if cue in ("each", "every", "per")]
    if not candidates:
        return None
    after = sorted(c for c in candidates if c[0] > ranking.at)
    at, chosen = after[0] if after else max(candidates)
    if chosen in terms.group_by:
        for k in range(max(0, at - 3), at):
            if r.words[k] in ("within", "in", "for", "each", "every", "per", "by"):
                r.use(k)
        return chosen
    return _per_period(terms, time, chosen)  # type: ignore[arg-type]


def _per_period(terms: Terms, time: TimeReading, outer: TimeGrain) -> str | None:
    """ "for each year, the two segments with the most orders", "the best month in each year":
    rank within each period of a grain; the grain ranked is the finer one named, if any."""
    finer = [g for g, _, _ in time.grains if GRAINS.index(g) < GRAINS.index(outer)]
    if finer:
        time.grain = finer[-1]
        return outer
    if terms.group_by:
        time.grain = outer
        return outer
    return None
