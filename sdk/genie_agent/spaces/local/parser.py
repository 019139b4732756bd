"""Deterministic question -> query plan, over a space's vocabulary. No LLM, no space-specific code.

The vocabulary (:mod:`.vocabulary`) matches measures, dimensions, dimension values, time
dimensions and named filters; readers place the words around them — time (:mod:`.time_reader`),
ranking, exclusions, numeric conditions, shares and changes (:mod:`.shapes`) — and the terms are
then read in their context. Every word must end up placed: a word no reader understood and that is
not filler is reported in ``unplaced``, and the engine declines naming it rather than answer a
different question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from ...understanding.lexicon import Match, stem, tokenize
from ..semantic_model import referenced_aliases
from .plan import GRAINS, Change, Condition, MeasureRef, QueryPlan, Ratio
from .reading import YEAR, Reading, read_numbers
from .shapes import (
    Ranking,
    condition_on,
    contradictory,
    credible_matches,
    read_change,
    read_conditions,
    read_exclusions,
    read_ranking,
    read_share,
)
from .time_reader import TimeReading, read_time, year_range
from .vocabulary import Term, Vocabulary
from .words import (
    AGG_WORDS,
    ASC_WORDS,
    CHANGE_WORDS,
    COMPARE_WORDS,
    COUNT_CUES,
    DESC_WORDS,
    EXCLUSION_WORDS,
    FILLER,
    FOLLOWUP_OPENERS,
    GRAIN_WORDS,
    GROUPING_CUES,
    MONTHS,
    NUMBER_WORDS,
    PREPOSITIONS,
    SHARE_WORDS,
    TOTAL_WORDS,
)

__all__ = ["ParsedQuestion", "merge_followup", "parse_question"]

# Words that change an answer: a space's own prose never excuses them (see words.FILLER).
_OPERATORS = (
    DESC_WORDS | ASC_WORDS | EXCLUSION_WORDS | SHARE_WORDS | CHANGE_WORDS | COMPARE_WORDS
    | GRAIN_WORDS.keys() | MONTHS.keys()
    | {"between", "since", "before", "after", "until", "through", "within", "than", "more", "less", "fewer",
       "over", "under", "above", "below", "first", "last", "second", "half", "next", "previous", "only",
       "other", "ratio", "rate", "median", "distinct", "unique", "cumulative", "running", "rolling",
       "including", "include", "includes", "except", "each", "per", "top", "bottom"}
)  # fmt: skip
_QUARTER = re.compile(r"q[1-4]|h[12]")
_PREDICATE = frozenset(
    {"are", "were", "is", "was", "get", "gets", "got", "getting", "that", "which", "being"}
)
_SCENE_AFTER = frozenset({"placed", "shipped", "ordered", "made", "that", "which", "where", "with"})


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
    problems: tuple[str, ...] = ()
    """Bad input: a reversed range, contradictory conditions, a doubtful value."""
    adds_grouping: bool = False
    """A follow-up grouping adds to the previous one ("by segment too", "as well")."""
    measure_is_context: bool = False
    """The only measure named is the scene of a follow-up ("only for orders placed in 1996")."""

    @property
    def has_measure(self) -> bool:
        return bool(self.plan.measures)


@dataclass
class _Terms:
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
    terms = _read_terms(r, negated, ranking)
    _measures_from_context(r, terms, ranking)
    conditions = _place_conditions(r, terms, raw_conditions)
    ratio = _read_ratio(r, terms)
    per_group = _read_per_group(r, terms, ranking, time)
    _drop_replaced(r, terms)
    for dim, dim_values in terms.filters.items():
        # "compare rides in Munich and Hamburg": several values of one dimension are compared, not
        # summed — unless the question asks for them together ("combined", "in total").
        if len(dim_values) > 1 and dim not in terms.group_by and not _asks_total(r):
            terms.group_by.append(dim)
    _both(r, terms)
    _use_cues(r)
    _use_value_nouns(r)
    if terms.group_by or len(terms.measures) > 1:
        # "compare revenue by region", "Munich vs Hamburg": the rows side by side are the comparison.
        r.use(*(i for i, w in enumerate(r.words) if w in COMPARE_WORDS))
    plan = _assemble(r, terms, time, ranking, conditions, share, change, change_order, ratio, per_group)
    adds = _adds(r)
    unknown, unplaced = _account(r)
    lowered = " ".join(r.words)
    cue = lowered.startswith(FOLLOWUP_OPENERS) or any(
        w in ("instead", "also", "those", "that", "same", "it", "these") for w in r.words
    )
    return ParsedQuestion(
        plan,
        cue,
        matches,
        grain_given=time.grain_given,
        unknown_words=unknown,
        unplaced=unplaced,
        problems=tuple(r.problems),
        adds_grouping=adds,
        measure_is_context=terms.context_measure,
    )


def _adds(r: Reading) -> bool:
    words = r.words
    for i, w in enumerate(words):
        if w == "too" or (w == "well" and r.is_word(i - 1, "as")) or (w == "also" and "by" in words):
            r.use(i, i - 1 if w == "well" else i)
            return True
    return False


def _drop_replaced(r: Reading, terms: _Terms) -> None:
    """ "by bike type instead of city", "Hamburg rather than Berlin": the term after "instead of" /
    "rather than" is the one the question replaces, neither a grouping nor a filter."""
    for i, w in enumerate(r.words):
        if not ((w == "instead" and r.is_word(i + 1, "of")) or (w == "rather" and r.is_word(i + 1, "than"))):
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


def _both(r: Reading, terms: _Terms) -> None:
    """ "both urgent and low priority": one row cannot hold two values of one dimension."""
    if "both" not in r.words:
        return
    for dim, values in terms.filters.items():
        if len(values) > 1:
            r.problems.append(f"how one row can be both {' and '.join(values)} ({dim})")


def _assemble(
    r: Reading,
    terms: _Terms,
    time: TimeReading,
    ranking: Ranking,
    conditions: list[Condition],
    share: bool,
    change: bool,
    change_order: str | None,
    ratio: Ratio | None,
    per_group: str | None,
) -> QueryPlan:
    periods = time.periods
    time_range = time.time_range
    change_kind: Change | None = None
    grain = time.grain
    if change:
        if len(periods) >= 2 or len(time.endpoints) == 2:
            periods = periods if len(periods) >= 2 else time.endpoints
            periods = (periods[0], periods[-1])
            change_kind, time_range = "periods", None
        elif time_range is not None and time_range.is_year and time_range.start is not None:
            # "growth in 1996": against the year before.
            periods = (year_range(time_range.start.year - 1), time_range)
            change_kind, time_range = "periods", None
        else:
            change_kind, grain = "previous", grain or "year"
    elif time.year_over_year:
        change_kind, grain = "previous", grain or "year"
    share_of = None
    if share:
        share_of = _share_target(r, terms)
        row_conditions = [i for i, c in enumerate(conditions) if not c.on_measure]
        if share_of is None and row_conditions:
            share_of = f"condition:{row_conditions[-1]}"
    order = change_order or ranking.order
    limit = ranking.limit
    if change_kind and ranking.order is None and change_order is None and any(w == "most" for w in r.words):
        order = "desc"
    if conditions and (msg := contradictory(conditions)):
        r.problems.append(msg)
    return QueryPlan(
        measures=tuple(terms.measures),
        group_by=tuple(terms.group_by),
        time_grain=grain,
        filters=tuple((d, tuple(v)) for d, v in terms.filters.items()),
        named_filters=tuple(terms.named),
        time_range=time_range if not (periods and not change_kind) else None,
        time_dimension=terms.time_dimension,
        limit=limit,
        order=order,  # type: ignore[arg-type]
        exclusions=tuple((d, tuple(v)) for d, v in terms.exclusions.items()),
        conditions=tuple(conditions),
        periods=periods if len(periods) >= 2 else (),
        change=change_kind,
        share=share,
        share_of=share_of,
        per_group=per_group,
        ratio=ratio,
        unknown_groupings=tuple(_unknown_groupings(r)),
    )


def _share_target(r: Reading, terms: _Terms) -> str | None:
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


def _said_of_measure(r: Reading, terms: _Terms, name: str) -> bool:
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


def _read_terms(r: Reading, negated: set[int], ranking: Ranking) -> _Terms:
    """Measures, groupings, filters and time dimensions from the vocabulary's matches."""
    out = _Terms()
    words = r.words
    value_matches = [m for m in r.matches if any(t.kind == "value" for t in m.entries)]
    unambiguous_measure = any(all(t.kind == "measure" for t in m.entries) for m in r.matches)
    counts_somewhere = "how many" in " ".join(words) or "number of" in " ".join(words)
    for idx, m in enumerate(r.matches):
        kinds = {t.kind for t in m.entries}
        prev = [words[k] for k in range(max(0, m.start - 3), m.start)]
        counted = any(w in COUNT_CUES for w in prev) or (
            counts_somewhere and not out.measures and r.word(m.start - 1) not in PREPOSITIONS
        )
        # "more than 45 suppliers": the noun a condition's number counts is a measure.
        compared = any(
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
        # M: "supplier with the highest balance": the ranked subject is a grouping.
        if ranking.superlative and r.word(m.end) in ("with", "that", "who", "whose", "has", "had", "having"):
            grouped = True
        # "on 1997 orders": a date between the preposition and the noun still makes it the scene.
        after_preposition = r.word(_before_dates(r, m.start)) in PREPOSITIONS
        after_term = m.start > 0 and r.matched[m.start - 1]
        if m.start in negated:
            _negate(r, out, m)
            continue
        if "measure" in kinds and "dimension" in kinds:
            # "how many customers" counts them; "top 10 customers" groups by them;
            # "for customers in France" only sets the scene.
            if counted:
                kind = "measure"
            elif grouped or (ranking.superlative and ranking.measure):
                kind = "dimension"
            elif after_preposition or after_term or unambiguous_measure:
                continue
            else:
                kind = "measure"
        elif "value" in kinds and len(kinds) > 1:
            kind = "value"
        else:
            kind = (
                sorted(kinds)[0]
                if len(kinds) > 1 and "measure" not in kinds
                else ("measure" if "measure" in kinds else next(iter(kinds)))
            )
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
            _add_measure(r, out, m, term, prev, counted, after_preposition, after_term)
        elif kind == "dimension":
            _add_dimension(r, out, m, term, value_matches, grouped)
        elif kind == "value":
            values = [t for t in m.entries if t.kind == "value"]
            chosen = _value_dimension(r, values, out)
            if chosen is None:
                continue
            assert chosen.value is not None
            bucket = out.filters.setdefault(chosen.name, [])
            if chosen.value not in bucket:
                bucket.append(chosen.value)
        elif kind == "time_dimension":
            out.time_dimension = term.name
        elif kind == "filter" and term.name not in out.named:
            out.named.append(term.name)
            out.named_spans[term.name] = m.start
    return out


def _before_dates(r: Reading, i: int) -> int:
    """The index of the last word before ``i`` that is not part of a date the time reader placed."""
    k = i - 1
    while (
        k >= 0
        and r.used[k]
        and (YEAR.match(r.words[k]) or r.words[k] in MONTHS or _QUARTER.fullmatch(r.words[k]))
    ):
        k -= 1
    return k


def _is_small_number(w: str) -> bool:
    """A count such as "top 5" or "three": what the old parser's ``_number`` accepted."""
    if w.isdigit() and not YEAR.match(w):
        return 0 < int(w) <= 10_000
    return w in NUMBER_WORDS


def _value_dimension(r: Reading, values: list[Term], out: _Terms) -> Term | None:
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


def _negate(r: Reading, out: _Terms, m: Match[Term]) -> None:
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


def _add_measure(
    r: Reading,
    out: _Terms,
    m: Match[Term],
    term: Term,
    prev: list[str],
    counted: bool,
    after_prep: bool,
    after_term: bool,
) -> None:
    # "revenue from 1-URGENT priority orders": a second measure named as a noun is context.
    if out.measures and (after_prep or after_term) and not counted:
        return
    agg = next((AGG_WORDS[w] for w in reversed(prev) if w in AGG_WORDS), None)
    ref = MeasureRef(term.name, agg if r.vocabulary.is_column_measure(term.name) else None)
    if all(x.name != term.name for x in out.measures):
        out.measures.append(ref)
        out.measure_spans[term.name] = m.start
    # "only for orders placed in 1996", "only urgent orders", "only suppliers from Canada": the
    # measure sets the scene of a follow-up.
    before = r.match_at(m.start - 1) if m.start > 0 else None
    after_value = before is not None and any(t.kind == "value" for t in before.entries)
    opens_scene = r.words[:1] in (["only"], ["just"]) and r.word(m.end) in (
        "from",
        "in",
        "with",
        "placed",
        "shipped",
    )
    if (
        len(out.measures) == 1
        and (
            (prev and prev[-1] in ("for", "of", "on"))
            or r.word(m.end) in _SCENE_AFTER
            or after_value
            or opens_scene
        )
        and not counted
    ):
        out.context_measure = True
    else:
        out.context_measure = False


def _add_dimension(
    r: Reading, out: _Terms, m: Match[Term], term: Term, value_matches: list[Match[Term]], grouped: bool
) -> None:
    n = r.number_at(m.end) if r.free(m.end) else None
    if n is not None and not n.percent and not _followed_by_range(r, n.end):
        out.filters.setdefault(term.name, []).append(_plain(n.value))  # "size 15"
        r.use(*range(n.start, n.end))
        return
    if _attached_to_value(m, term.name, value_matches, r.words):
        return
    if not r.vocabulary.is_indexed(term.name) and not grouped and not _condition_follows(r, m.end):
        return  # "Brand#13 parts": an entity noun, not a grouping, unless asked "by" it
    if _condition_follows(r, m.end) and not grouped:
        out.dimension_spans[term.name] = m.start
        return
    if term.name not in out.group_by:
        out.group_by.append(term.name)
        out.dimension_spans[term.name] = m.start
        cue = r.word(m.start - 1)
        if cue == "the" or cue == "every":
            cue = r.word(m.start - 2) + " " + cue
        out.group_cues[term.name] = cue


def _plain(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


def _followed_by_range(r: Reading, i: int) -> bool:
    return r.is_word(i, "to", "and", "through", "-") or r.is_word(i, "or")


def _condition_follows(r: Reading, i: int) -> bool:
    """A comparator follows the term ("size between 10 and 20", "balance over 5000")."""
    for k in range(i, min(i + 4, len(r.words))):
        if r.words[k] in ("over", "above", "under", "below", "between", "than", "least", "most", "exceeding",
                          "exceeded", "exceeds") or (r.number_at(k) and r.is_word(r.number_at(k).end, "to", "or")):  # type: ignore[union-attr]  # fmt: skip
            return True
        if r.words[k] not in (
            "of",
            "is",
            "was",
            "a",
            "an",
            "the",
            "at",
            "more",
            "less",
            "greater",
            "fewer",
            "with",
            "has",
            "have",
            "from",
            "no",
        ):
            return False
    return False


def _measures_from_context(r: Reading, terms: _Terms, ranking: Ranking) -> None:
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


def _place_conditions(r: Reading, terms: _Terms, raw: list) -> list[Condition]:
    """Attach each comparator to the term it qualifies: a dimension or a measure's column (a row
    condition) or an aggregated measure (HAVING)."""
    space = r.vocabulary.space
    placed: list[Condition] = []
    for c in raw:
        target = _condition_target(r, c.start, c.end)
        if target is None:
            r.problems.append(f"what {c.label!r} applies to")
            continue
        kind, name = target
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
        row_level = measure.row_column is not None and (others or not terms.group_by)
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


def _condition_target(r: Reading, start: int, end: int) -> tuple[str, str] | None:
    """The measure or dimension a condition qualifies: named right after the number ("more than
    600 customers") or right before the comparator ("revenue exceeded 1B", "size over 40")."""
    after = r.match_at(end) if end < len(r.words) else None
    if after is not None:
        found = _measure_or_dimension(after)
        if found:
            return found
    k = start - 1
    gap: set[str] = set()
    while k >= 0 and r.words[k] in (
        "is",
        "was",
        "of",
        "a",
        "an",
        "the",
        "with",
        "has",
        "have",
        "had",
        "were",
        "are",
        "where",
        "whose",
        "that",
        "total",
        "in",
        "s",
    ):
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
    return found


def _measure_or_dimension(m: Match[Term]) -> tuple[str, str] | None:
    for kind in ("measure", "dimension"):
        for t in m.entries:
            if t.kind == kind:
                return kind, t.name
    return None


def _read_ratio(r: Reading, terms: _Terms) -> Ratio | None:
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


def _read_per_group(r: Reading, terms: _Terms, ranking: Ranking, time: TimeReading) -> str | None:
    """ "top 2 customers within each segment", "best nation per region": rank within groups."""
    if ranking.order is None:
        return None
    for dim in terms.group_by if len(terms.group_by) >= 2 else ():
        cue = terms.group_cues.get(dim, "")
        if cue.endswith(("each", "every")) or cue in ("per", "within"):
            start = terms.dimension_spans[dim]
            for k in range(max(0, start - 3), start):
                if r.words[k] in ("within", "in", "for", "each", "every", "per", "by"):
                    r.use(k)
            return dim
    return _per_period(terms, ranking, time)


def _per_period(terms: _Terms, ranking: Ranking, time: TimeReading) -> str | None:
    """ "for each year, the two segments with the most orders", "the best month in each year":
    rank within each period of a grain; the grain ranked is the finer one named, if any."""
    each = [grain for grain, cue in time.grains if cue in ("each", "every", "per")]
    if not each or ranking.limit is None:
        return None
    outer = each[-1]
    finer = [g for g, _ in time.grains if GRAINS.index(g) < GRAINS.index(outer)]
    if finer:
        time.grain = finer[-1]
        return outer
    if terms.group_by:
        time.grain = outer
        return outer
    return None


def _use_cues(r: Reading) -> None:
    """Grouping cues and aggregation words next to the terms they qualify."""
    for i, w in enumerate(r.words):
        if not r.free(i):
            continue
        if (
            w in AGG_WORDS
            or w in COUNT_CUES
            or (
                w in ("by", "per", "each", "every", "across")
                and (r.matched[i + 1] if i + 1 < len(r.words) else False)
            )
        ):
            r.use(i)
        elif w in ("each", "every") and r.is_word(i - 1, "in", "for", "within", "by", "per"):
            r.use(i, i - 1)
        elif w == "within" and r.is_word(i + 1, "each", "every"):
            r.use(i, i + 1)


def _use_value_nouns(r: Reading) -> None:
    """ "Hauler bikes", "BUILDING customers": a noun right after a value that names the table
    holding the value's dimension says what the value is, nothing more."""
    space = r.vocabulary.space
    for m in r.matches:
        if not r.free(m.end):
            continue
        noun = stem(r.words[m.end])
        for t in m.entries:
            if t.kind != "value":
                continue
            aliases = referenced_aliases(space.dimension(t.name).expr)
            names = {n for a in aliases for n in (a, space.table_by_alias[a].physical)}
            if noun in {stem(n) for n in names}:
                r.use(m.end)
                break


def _account(r: Reading) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Words no reader placed: unknown subjects (no data about them) and unplaced operators,
    numbers and dates (understood as words, not placed in the plan)."""
    prose = r.vocabulary.words - r.vocabulary.term_words
    unknown: list[str] = []
    unplaced: list[str] = []
    for i, w in enumerate(r.words):
        if r.matched[i] or r.used[i] or w in FILLER:
            continue
        if any(n.start <= i < n.end for n in r.numbers) or w.isdigit() or YEAR.match(w):
            unplaced.append(r.tokens[i].text)
            continue
        if w in _OPERATORS or stem(w) in _OPERATORS or _QUARTER.fullmatch(w):
            unplaced.append(r.tokens[i].text)
            continue
        if not w.replace("-", "").replace("'", "").isalpha():
            continue
        if stem(w) in FILLER or stem(w) in prose or w in GROUPING_CUES or w in PREPOSITIONS:
            continue
        unknown.append(w)
    return tuple(unknown), tuple(dict.fromkeys(unplaced))


def _unknown_groupings(r: Reading) -> list[str]:
    """Words after "by"/"per" that the space does not know ("revenue by weather")."""
    unknown = []
    words = r.words
    for i, w in enumerate(words):
        if w not in ("by", "per") or r.matched[i]:
            continue
        k = i + 1
        while k < len(words) and not r.matched[k] and words[k] in ("the", "each", "their", "a"):
            k += 1
        if k < len(words) and r.free(k) and words[k].isalpha() and words[k] not in FILLER:
            nxt = words[k]
            if nxt not in GRAIN_WORDS and nxt not in _OPERATORS:
                unknown.append(nxt)
    return unknown


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


def _attached_to_value(m: Match[Term], dimension: str, values: list[Match[Term]], words: list[str]) -> bool:
    """ "the AUTOMOBILE segment" names a filter, not a grouping: the dimension sits next to its value."""
    for v in values:
        if not any(t.kind == "value" and t.name == dimension for t in v.entries):
            continue
        gap = range(v.end, m.start) if v.end <= m.start else range(m.end, v.start)
        if all(words[k] in ("the", "of", "a", "is", "=", "in") for k in gap) and len(gap) <= 2:
            return True
    return False
