"""Deterministic question -> query plan, over a space's vocabulary. No LLM, no space-specific code.

The vocabulary (:mod:`.vocabulary`) matches measures, dimensions, dimension values, time
dimensions and named filters; this module reads the words around them: time expressions
("in Q2 1996", "between 1994 and 1996", "monthly"), ranking ("top 5", "which 3 ... the most"),
aggregations ("average", "total") and grouping cues ("by", "per", "each").
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from ...lexicon import Match, stem, tokenize
from ..semantic_model import Aggregation
from .plan import MeasureRef, QueryPlan, TimeGrain, TimeRange
from .vocabulary import Term, Vocabulary

__all__ = ["ParsedQuestion", "merge_followup", "parse_question"]

Order = Literal["desc", "asc"]
MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS.pop("may", None)  # "may" is more often a verb; "May 1995" is handled below
NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "fifty": 50,
}  # fmt: skip
ORDINAL_QUARTERS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}
GRAIN_WORDS: dict[str, TimeGrain] = {
    "monthly": "month", "month": "month", "months": "month",
    "quarterly": "quarter", "quarter": "quarter", "quarters": "quarter",
    "yearly": "year", "annual": "year", "annually": "year", "year": "year", "years": "year",
    "weekly": "week", "week": "week", "weeks": "week", "daily": "day", "day": "day", "days": "day",
}  # fmt: skip
TIME_WORDS = frozenset({"since", "until", "through", "thru", "after", "before", "may", "between"})
GROUPING_CUES = frozenset(
    {"by", "per", "each", "every", "across", "which", "what", "top", "bottom", "compare", "list"}
)
PREPOSITIONS = frozenset({"for", "of", "from", "with", "among", "in", "to", "on", "at"})
DESC_WORDS = frozenset({"highest", "most", "largest", "biggest", "best", "greatest", "top", "maximum"})
ASC_WORDS = frozenset({"lowest", "least", "fewest", "smallest", "worst", "bottom", "minimum"})
AGG_WORDS: dict[str, Aggregation] = {
    "average": "avg", "avg": "avg", "mean": "avg", "total": "sum", "sum": "sum", "overall": "sum",
    "maximum": "max", "max": "max", "minimum": "min", "min": "min",
}  # fmt: skip
COUNT_CUES = frozenset({"many", "number", "count", "total"})
FOLLOWUP_OPENERS = ("and", "what about", "how about", "now", "only", "just", "then", "also", "same",
                    "instead", "break", "split", "but", "ok", "okay", "and what", "what if")  # fmt: skip
# Words a question may contain without naming anything in the data. Any other word the vocabulary
# does not know means the question asks about something the space lacks ("mood of the team").
FUNCTION_WORDS = frozenset(
    """
a about above across after all along also am among an and any are as at be been before being below
between both but by can could did do does doing done during each either else ever every few for from
further had has have having he her here hers him his how i if in into is it its itself just me more
most my no nor not now of off on once only or other our ours out over own per please same she should
so some such than that the their theirs them then there these they this those through to too under
until up us very was we were what when where which while who whom whose why will with within would
you your yours let lets show shown give gave given tell list display get got find see want need like
break broken split down grouped group grouping compare compared versus vs much many number count
total figure figures value values amount amounts overall across whole entire data result results
report number numbers happen happened made make did placed recorded sold shipped generated earned
brought time period date dates range ranked rank ranking order ordered sort sorted breakdown trend
trends within including include includes exclude excluding only just instead again what's whats
how's s t ok okay thanks thank hi hello yes no per cent percent versus
""".split()
)
_YEAR = re.compile(r"^(19|20)\d\d$")
_YEAR_SPAN = re.compile(r"^((?:19|20)\d\d)-((?:19|20)\d\d)$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class ParsedQuestion:
    """What one question says on its own, before any conversation context is applied."""

    plan: QueryPlan
    followup_cue: bool
    matched: list[Match[Term]] = field(default_factory=list)
    grain_given: bool = False
    unknown_words: tuple[str, ...] = ()

    @property
    def has_measure(self) -> bool:
        return bool(self.plan.measures)


def _number(token: str) -> int | None:
    if token.isdigit() and not _YEAR.match(token):
        value = int(token)
        return value if 0 < value <= 10_000 else None
    return NUMBER_WORDS.get(token)


def _year_start(year: int) -> date:
    return date(year, 1, 1)


def _month_range(year: int, month: int) -> TimeRange:
    end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return TimeRange(date(year, month, 1), end, f"{calendar.month_name[month]} {year}")


def _quarter_range(year: int, quarter: int) -> TimeRange:
    start = date(year, 3 * quarter - 2, 1)
    end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return TimeRange(start, end, f"Q{quarter} {year}")


def _parse_time(words: list[str], free: list[bool]) -> tuple[TimeRange | None, TimeGrain | None]:
    """Find a date range and a time grain among the words not taken by the vocabulary."""
    n = len(words)
    years = [i for i, w in enumerate(words) if free[i] and _YEAR.match(w)]
    dates = [i for i, w in enumerate(words) if free[i] and _ISO_DATE.match(w)]
    before = lambda i, *ws: i > 0 and words[i - 1] in ws  # noqa: E731
    grain: TimeGrain | None = None
    for i, w in enumerate(words):
        if not free[i] or w not in GRAIN_WORDS:
            continue
        if w in ("monthly", "quarterly", "yearly", "annual", "annually", "weekly", "daily") or before(
            i, "by", "per", "each", "every", "a", "month", "year", "quarter", "week", "day", "over"
        ):
            grain = GRAIN_WORDS[w]

    if len(dates) >= 2:
        d1, d2 = sorted(date.fromisoformat(words[i]) for i in dates[:2])
        return TimeRange(d1, d2 + timedelta(days=1), f"{d1} to {d2}"), grain
    if len(dates) == 1:
        i = dates[0]
        d = date.fromisoformat(words[i])
        if before(i, "since", "after", "from"):
            start = d + timedelta(days=1) if before(i, "after") else d
            return TimeRange(start, None, f"{words[i - 1]} {d}"), grain
        if before(i, "before", "until"):
            end = d + timedelta(days=1) if before(i, "until") else d
            return TimeRange(None, end, f"{words[i - 1]} {d}"), grain
        return TimeRange(d, d + timedelta(days=1), str(d)), grain

    for i, w in enumerate(words):
        m = _YEAR_SPAN.match(w)
        if free[i] and m:
            y1, y2 = sorted((int(m.group(1)), int(m.group(2))))
            return TimeRange(_year_start(y1), _year_start(y2 + 1), f"{y1}-{y2}"), grain
    if not years:
        return None, grain
    if len(years) >= 2:
        # "between 1994 and 1996", "from 1994 to 1996", "1995 and 1996": the span of the years named.
        y1, y2 = min(int(words[i]) for i in years), max(int(words[i]) for i in years)
        return TimeRange(_year_start(y1), _year_start(y2 + 1), f"{y1}-{y2}"), grain
    i = years[0]
    year = int(words[i])
    # Month or quarter next to the year: "March 1995", "March of 1995", "Q2 1996", "second quarter of 1996".
    for k in (i - 1, i - 2):
        if k < 0:
            continue
        w = words[k]
        if k == i - 2 and words[i - 1] not in ("of", "in", ","):
            continue
        if w in MONTHS or (w == "may" and k == i - 1):
            return _month_range(year, MONTHS.get(w, 5)), grain
        if re.fullmatch(r"q[1-4]", w):
            return _quarter_range(year, int(w[1])), grain
        if w == "quarter" and k >= 1 and words[k - 1] in ORDINAL_QUARTERS:
            return _quarter_range(year, ORDINAL_QUARTERS[words[k - 1]]), grain
        if w in ("quarter", "q") and k + 1 < n and words[k + 1].isdigit() and 1 <= int(words[k + 1]) <= 4:
            return _quarter_range(year, int(words[k + 1])), grain
    if i + 1 < n and re.fullmatch(r"q[1-4]", words[i + 1]):
        return _quarter_range(year, int(words[i + 1][1])), grain
    for k in range(n):
        if re.fullmatch(r"q[1-4]", words[k]):
            return _quarter_range(year, int(words[k][1])), grain
    if before(i, "since", "from") and not any(w in ("to", "through", "until") for w in words[i:]):
        return TimeRange(_year_start(year), None, f"since {year}"), grain
    if before(i, "after"):
        return TimeRange(_year_start(year + 1), None, f"after {year}"), grain
    if before(i, "before"):
        return TimeRange(None, _year_start(year), f"before {year}"), grain
    if before(i, "until", "through"):
        return TimeRange(None, _year_start(year + 1), f"through {year}"), grain
    return TimeRange(_year_start(year), _year_start(year + 1), str(year)), grain


def _parse_ranking(words: list[str], free: list[bool]) -> tuple[int | None, Order | None]:
    """Top/bottom N: "top 5", "bottom three", "5 highest", "which 3 ... the most"."""
    n = len(words)
    for i, w in enumerate(words):
        if not free[i]:
            continue
        if w in ("top", "bottom"):
            nxt = _number(words[i + 1]) if i + 1 < n else None
            return (nxt or 10), ("desc" if w == "top" else "asc")
        num = _number(w)
        if num is not None and i + 1 < n and (words[i + 1] in DESC_WORDS or words[i + 1] in ASC_WORDS):
            return num, "desc" if words[i + 1] in DESC_WORDS else "asc"
    superlative = next((w for i, w in enumerate(words) if free[i] and w in DESC_WORDS | ASC_WORDS), None)
    if superlative is None:
        return None, None
    order: Order = "desc" if superlative in DESC_WORDS else "asc"
    for i, w in enumerate(words[:-1]):
        if w in ("which", "what", "the", "name") and _number(words[i + 1]) is not None:
            return _number(words[i + 1]), order
    if (words and words[0] in ("which", "what", "who")) or "which" in words:
        return 1, order
    return None, None


def parse_question(question: str, vocabulary: Vocabulary) -> ParsedQuestion:
    """Read one question against a space's vocabulary."""
    tokens = tokenize(question)
    words = [t.lower for t in tokens]
    matches = vocabulary.lexicon.match(tokens, question)
    free = [True] * len(tokens)
    for m in matches:
        for i in range(m.start, m.end):
            free[i] = False
    time_range, grain = _parse_time(words, free)
    limit, order = _parse_ranking(words, free)

    value_matches = [m for m in matches if any(t.kind == "value" for t in m.entries)]
    measures: list[MeasureRef] = []
    group_by: list[str] = []
    filters: dict[str, list[str]] = {}
    named: list[str] = []
    time_dimension: str | None = None
    unambiguous_measure = any(all(t.kind == "measure" for t in m.entries) for m in matches)

    measure_matches = 0
    for m in matches:
        kinds = {t.kind for t in m.entries}
        prev = [words[k] for k in range(max(0, m.start - 3), m.start)]
        counted = any(w in COUNT_CUES for w in prev)
        grouped = any(w in GROUPING_CUES or _number(w) is not None for w in prev[-2:])
        after_preposition = bool(prev) and prev[-1] in PREPOSITIONS
        after_term = m.start > 0 and not free[m.start - 1]
        if "measure" in kinds and "dimension" in kinds:
            # "how many customers" counts them; "top 10 customers" groups by them;
            # "for customers in France" only sets the scene.
            if counted:
                kind = "measure"
            elif grouped:
                kind = "dimension"
            elif after_preposition or after_term or unambiguous_measure:
                continue
            else:
                kind = "measure"
        elif "value" in kinds and len(kinds) > 1:
            kind = "value"
        else:
            kind = next(iter(kinds)) if len(kinds) == 1 else m.entries[0].kind
        term = next(t for t in m.entries if t.kind == kind)
        if kind == "measure":
            # "revenue from 1-URGENT priority orders": a second measure named as a noun is context.
            if measures and (after_preposition or after_term) and not counted:
                continue
            agg = next((AGG_WORDS[w] for w in reversed(prev) if w in AGG_WORDS), None)
            ref = MeasureRef(term.name, agg if vocabulary.is_column_measure(term.name) else None)
            if all(r.name != term.name for r in measures):
                measures.append(ref)
            measure_matches += 1
        elif kind == "dimension":
            number = _number(words[m.end]) if m.end < len(words) and free[m.end] else None
            if number is not None:
                filters.setdefault(term.name, []).append(str(number))  # "size 15"
            elif _attached_to_value(m, term.name, value_matches, words):
                continue
            elif not vocabulary.is_indexed(term.name) and not grouped:
                continue  # "Brand#13 parts": an entity noun, not a grouping, unless asked "by" it
            elif term.name not in group_by:
                group_by.append(term.name)
        elif kind == "value":
            values = [t for t in m.entries if t.kind == "value"]
            chosen = next((t for t in values if t.name in group_by), values[0])
            assert chosen.value is not None
            bucket = filters.setdefault(chosen.name, [])
            if chosen.value not in bucket:
                bucket.append(chosen.value)
        elif kind == "time_dimension":
            time_dimension = term.name
        elif kind == "filter" and term.name not in named:
            named.append(term.name)

    if not measures:
        # "how many long rides": the named filter's phrase also names the measure.
        for m in matches:
            if any(t.kind == "filter" for t in m.entries):
                for inner in vocabulary.lexicon.match(tokens[m.start + 1 : m.end], question):
                    for t in inner.entries:
                        if t.kind == "measure" and all(r.name != t.name for r in measures):
                            measures.append(MeasureRef(t.name))
    if not measures:
        # "how many e-bikes": count the rows of the table the value lives on.
        for m in value_matches:
            if any(words[k] in COUNT_CUES for k in range(max(0, m.start - 3), m.start)):
                counted_measure = vocabulary.count_measure_for(
                    next(t.name for t in m.entries if t.kind == "value")
                )
                if counted_measure is not None:
                    measures.append(MeasureRef(counted_measure))
                    break
    for dim, dim_values in filters.items():
        # "compare rides in Munich and Hamburg": several values of one dimension are compared, not summed.
        if len(dim_values) > 1 and dim not in group_by:
            group_by.append(dim)

    unknown = _unknown_groupings(words, free)
    known = FUNCTION_WORDS | MONTHS.keys() | GRAIN_WORDS.keys() | NUMBER_WORDS.keys() | AGG_WORDS.keys()
    known |= DESC_WORDS | ASC_WORDS | GROUPING_CUES | PREPOSITIONS | COUNT_CUES | ORDINAL_QUARTERS.keys()
    known |= TIME_WORDS
    unknown_words = tuple(
        w
        for i, w in enumerate(words)
        if free[i]
        and w.isalpha()
        and w not in known
        and stem(w) not in known
        and stem(w) not in vocabulary.words
        and not re.fullmatch(r"q[1-4]", w)
    )
    plan = QueryPlan(
        measures=tuple(measures),
        group_by=tuple(group_by),
        time_grain=grain,
        filters=tuple((d, tuple(v)) for d, v in filters.items()),
        named_filters=tuple(named),
        time_range=time_range,
        time_dimension=time_dimension,
        limit=limit,
        order=order,
        unknown_groupings=tuple(unknown),
    )
    lowered = " ".join(words)
    cue = lowered.startswith(FOLLOWUP_OPENERS) or any(
        w in ("instead", "also", "those", "that", "same", "it") for w in words
    )
    return ParsedQuestion(plan, cue, matches, grain is not None, unknown_words)


def _attached_to_value(m: Match[Term], dimension: str, values: list[Match[Term]], words: list[str]) -> bool:
    """ "the AUTOMOBILE segment" names a filter, not a grouping: the dimension sits next to its value."""
    for v in values:
        if not any(t.kind == "value" and t.name == dimension for t in v.entries):
            continue
        gap = range(v.end, m.start) if v.end <= m.start else range(m.end, v.start)
        if all(words[k] in ("the", "of", "a", "is", "=", "in") for k in gap) and len(gap) <= 2:
            return True
    return False


def _unknown_groupings(words: list[str], free: list[bool]) -> list[str]:
    """Words after "by"/"per" that the space does not know ("revenue by weather")."""
    unknown = []
    for i, w in enumerate(words):
        if w not in ("by", "per") or not free[i]:
            continue
        k = i + 1
        while k < len(words) and free[k] and words[k] in ("the", "each", "their", "a"):
            k += 1
        if k < len(words) and free[k]:
            nxt = words[k]
            if nxt not in GRAIN_WORDS and not _YEAR.match(nxt) and _number(nxt) is None:
                unknown.append(nxt)
    return unknown


def merge_followup(previous: QueryPlan, new: ParsedQuestion) -> QueryPlan:
    """Refine the previous query with what the follow-up says: a new year, filter, N or grouping."""
    p = new.plan
    filters = dict(previous.filters)
    filters.update(dict(p.filters))
    group_by = p.group_by or previous.group_by
    if p.group_by:
        # A filter on the dimension we now group by would leave one group: drop it.
        filters = {d: v for d, v in filters.items() if d not in p.group_by or d in dict(p.filters)}
    return QueryPlan(
        measures=p.measures or previous.measures,
        group_by=group_by,
        time_grain=p.time_grain if new.grain_given else previous.time_grain,
        filters=tuple(filters.items()),
        named_filters=tuple(dict.fromkeys(previous.named_filters + p.named_filters)),
        time_range=p.time_range or previous.time_range,
        time_dimension=p.time_dimension or previous.time_dimension,
        limit=p.limit or previous.limit,
        order=p.order or previous.order,
        unknown_groupings=p.unknown_groupings,
    )
