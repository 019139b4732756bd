"""Time in a question: dates, years, months, quarters, halves, ranges between them, periods
compared side by side, and the grain ("by month", "monthly", "which year").

Each expression becomes a :class:`TimeRange`; connectors decide how several relate: "between A and
B", "from A to B", "A-B", "A through B" make one range; "A and B", "A vs B", "compare A and B" make
periods compared side by side; "since", "after", "before", "until" open one side.
"""

from __future__ import annotations

import calendar
import itertools
import re
from dataclasses import dataclass
from datetime import date, timedelta

from .plan import TimeGrain, TimeRange
from .reading import YEAR, Reading
from .words import COMPARE_WORDS, GRAIN_WORDS, MONTHS, ORDINALS

__all__ = ["TimeReading", "read_time", "year_range"]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_QUARTER = re.compile(r"^q([1-4])$")
_HALF = re.compile(r"^h([12])$")
_SPAN = re.compile(r"^([a-z0-9]+)-([a-z0-9]+)$")
_RANGE_JOINERS = ("to", "through", "thru", "until", "till", "-")
_SET_JOINERS = ("and", "or", ",", "vs", "versus", "against", "compared")


@dataclass
class _Atom:
    start: int
    end: int
    range: TimeRange | None
    kind: str  # date | year | month | quarter | half
    sub: tuple[int, int] | None = None  # (kind-specific index, e.g. month 4) while the year is unknown


@dataclass
class TimeReading:
    time_range: TimeRange | None = None
    periods: tuple[TimeRange, ...] = ()
    grain: TimeGrain | None = None
    grain_given: bool = False
    year_over_year: bool = False
    endpoints: tuple[TimeRange, ...] = ()
    """The two ends of a range ("from 1995 to 1996"): what a change is measured between."""
    grains: tuple[tuple[TimeGrain, str, int], ...] = ()
    """Every grain the question names, with the cue before it ("each" in "in each year") and where
    it stands."""


def year_range(y: int) -> TimeRange:
    return TimeRange(date(y, 1, 1), date(y + 1, 1, 1), str(y))


def _months(y: int, m1: int, m2: int, label: str) -> TimeRange:
    end = date(y + 1, 1, 1) if m2 == 12 else date(y, m2 + 1, 1)
    return TimeRange(date(y, m1, 1), end, label)


def _sub_range(kind: str, k: int, y: int) -> TimeRange:
    if kind == "month":
        return _months(y, k, k, f"{calendar.month_name[k]} {y}")
    if kind == "quarter":
        return _months(y, 3 * k - 2, 3 * k, f"Q{k} {y}")
    return _months(y, 6 * k - 5, 6 * k, f"H{k} {y}")


def _sub_at(r: Reading, i: int) -> tuple[str, int, int] | None:
    """A month, quarter or half starting at token ``i``: (kind, index, end)."""
    w = r.word(i)
    single = _sub_kind(w)
    if single is not None and (w != "may" or _near_year(r, i)):
        return (*single, i + 1)
    if w in ORDINALS and r.is_word(i + 1, "quarter", "half"):
        kind = r.word(i + 1)
        k = ORDINALS[w]
        if kind == "half" and k > 2:
            return None
        return kind, k, i + 2
    if w == "quarter" and r.word(i + 1).isdigit() and 1 <= int(r.word(i + 1)) <= 4:
        return "quarter", int(r.word(i + 1)), i + 2
    return None


def _near_year(r: Reading, i: int) -> bool:
    return any(YEAR.match(r.word(k)) for k in (i + 1, i + 2)) or r.is_word(i - 2, *MONTHS)


def _atoms(r: Reading) -> list[_Atom]:
    atoms: list[_Atom] = []
    i = 0
    n = len(r.words)
    while i < n:
        if not r.free(i):
            i += 1
            continue
        w = r.words[i]
        if _ISO_DATE.match(w):
            try:
                d = date.fromisoformat(w)
            except ValueError:
                r.problems.append(f"which day {w!r} is: there is no such date")
                r.use(i)
            else:
                atoms.append(_Atom(i, i + 1, TimeRange(d, d + timedelta(days=1), str(d)), "date"))
            i += 1
            continue
        if YEAR.match(w) and not any(x.start == i for x in r.numbers):
            atoms.append(_Atom(i, i + 1, year_range(int(w)), "year"))
            i += 1
            continue
        span = _SPAN.match(w)
        if span and not r.matched[i]:
            a, b = span.groups()
            if YEAR.match(a) and YEAR.match(b):
                atoms += [
                    _Atom(i, i + 1, year_range(int(a)), "year"),
                    _Atom(i, i + 1, year_range(int(b)), "year"),
                ]
                atoms[-1].kind = atoms[-2].kind = "year-span"
                i += 1
                continue
            subs = [_sub_kind(a), _sub_kind(b)]
            if subs[0] and subs[1] and subs[0][0] == subs[1][0]:
                atoms += [_Atom(i, i + 1, None, subs[0][0] + "-span", (subs[0][1], 0))]
                atoms += [_Atom(i, i + 1, None, subs[1][0] + "-span", (subs[1][1], 0))]
                i += 1
                continue
        sub = _sub_at(r, i)
        if sub is not None:
            kind, k, end = sub
            atoms.append(_Atom(i, end, None, kind, (k, 0)))
            i = end
            continue
        i += 1
    _attach_years(r, atoms)
    return atoms


def _sub_kind(w: str) -> tuple[str, int] | None:
    if w in MONTHS:
        return "month", MONTHS[w]
    if m := _QUARTER.match(w):
        return "quarter", int(m.group(1))
    if m := _HALF.match(w):
        return "half", int(m.group(1))
    return None


def _attach_years(r: Reading, atoms: list[_Atom]) -> None:
    """Give each month/quarter/half its year: the year written next to it ("March 1995", "Q2 of
    1996", "1996 Q2"), else the next year written after it ("between April and August 1995")."""
    years = [a for a in atoms if a.kind == "year"]
    for a in atoms:
        if a.range is not None or a.sub is None:
            continue
        kind = a.kind.removesuffix("-span")
        after = next((y for y in years if y.start >= a.end and y.start - a.end <= 2), None)
        before = next((y for y in years if y.end == a.start), None)
        adjacent = (
            after if after is not None and _only_joiners(r, a.end, after.start, "of", "in", ",") else None
        )
        adjacent = adjacent or before
        if adjacent is None:
            later = [y for y in years if y.start >= a.end]
            adjacent = later[0] if later else (years[-1] if len(years) == 1 else None)
        if adjacent is None:
            continue
        assert adjacent.range is not None and adjacent.range.start is not None
        a.range = _sub_range(kind, a.sub[0], adjacent.range.start.year)
        adjacent.kind = "used-year"
        if adjacent.start >= a.end and _only_joiners(r, a.end, adjacent.start, "of", "in", ","):
            a.end = adjacent.end  # "March of 1995" reads as one expression
        elif adjacent.end == a.start:
            a.start = adjacent.start  # "1996 Q2"


def _only_joiners(r: Reading, start: int, end: int, *allowed: str) -> bool:
    return all(r.words[k] in allowed for k in range(start, end))


def read_time(r: Reading) -> TimeReading:
    """Read every time expression; marks the words it places."""
    out = TimeReading()
    atoms = _atoms(r)
    for a in atoms:
        if a.kind == "used-year":
            r.use(a.start)
    atoms = [a for a in atoms if a.kind != "used-year"]
    unresolved = [a for a in atoms if a.range is None]
    for a in unresolved:
        r.problems.append(f"which year {r.question_span(a.start, a.end)!r} is in")
    atoms = [a for a in atoms if a.range is not None]
    if atoms:
        _connect(r, atoms, out)
    _read_grain(r, out)
    return out


def _connect(r: Reading, atoms: list[_Atom], out: TimeReading) -> None:
    first, last = atoms[0], atoms[-1]
    assert first.range is not None and last.range is not None
    for a in atoms:
        r.use(*range(a.start, a.end))
    if len(atoms) == 1:
        out.time_range = _open_side(r, first)
        return
    span = first.kind.endswith("span") and first.start == last.start and len(atoms) == 2
    between = r.is_word(first.start - 1, "between", "from") and r.is_word(
        first.end, "and", "to", "through", "thru", "until", "till", "-"
    )
    ranged = (
        span
        or between
        or (len(atoms) == 2 and _only_joiners(r, first.end, last.start, *_RANGE_JOINERS, "up"))
    )
    if ranged and len(atoms) == 2:
        r.use(*range(first.end, last.start))
        if r.is_word(first.start - 1, "between", "from"):
            r.use(first.start - 1)
        start, end = first.range.start, last.range.end
        if start is not None and end is not None and end <= start:
            r.problems.append(f"the range {first.range.label} to {last.range.label} ends before it starts")
            return
        label = (
            f"{first.range.label} to {last.range.label}"
            if first.range.label != last.range.label
            else first.range.label
        )
        out.time_range = TimeRange(start, end, label)
        out.endpoints = (first.range, last.range)
        return
    # "1995 and 1996", "Q1 vs Q2 1996", "compare 1993, 1994 and 1995": periods side by side.
    for prev, nxt in itertools.pairwise(atoms):
        if not _only_joiners(r, prev.end, nxt.start, *_SET_JOINERS, "with", "to", "the", "in"):
            r.problems.append("how the dates in the question relate to each other")
            return
        r.use(*range(prev.end, nxt.start))
    out.periods = tuple(a.range for a in atoms if a.range is not None)


def _open_side(r: Reading, a: _Atom) -> TimeRange:
    assert a.range is not None
    rng, prev = a.range, r.word(a.start - 1)
    if prev in ("since", "from") or (prev == "after" and a.kind == "date"):
        if prev == "from" and not r.is_word(a.end, "on", "onwards", "onward"):
            return rng
        r.use(a.start - 1, a.end)
        start = rng.end if prev == "after" else rng.start
        return TimeRange(start, None, f"since {rng.label}" if prev != "after" else f"after {rng.label}")
    if prev == "after":
        r.use(a.start - 1)
        return TimeRange(rng.end, None, f"after {rng.label}")
    if prev == "before" or (prev == "to" and r.word(a.start - 2) == "up"):
        r.use(a.start - 1, a.start - 2 if prev == "to" else a.start - 1)
        if prev == "to":
            return TimeRange(None, rng.end, f"through {rng.label}")
        return TimeRange(None, rng.start, f"before {rng.label}")
    if prev in ("until", "through", "till", "thru"):
        r.use(a.start - 1)
        return TimeRange(None, rng.end, f"through {rng.label}")
    return rng


_GRAIN_CUES = frozenset(GRAIN_WORDS) | {"yoy"}


def _read_grain(r: Reading, out: TimeReading) -> None:
    for i, w in enumerate(r.words):
        if w not in _GRAIN_CUES or not r.free(i):
            continue
        if w in ("year", "years") and r.is_word(i + 1, "over") and r.is_word(i + 2, "year", "years"):
            r.use(i, i + 1, i + 2)
            out.year_over_year = True
            out.grain = out.grain or "year"
            continue
        if w in ("yoy",):
            r.use(i)
            out.year_over_year = True
            out.grain = out.grain or "year"
            continue
        if w in GRAIN_WORDS and (
            w not in ("day", "days", "week", "weeks") or r.is_word(i - 1, "by", "per", "each", "every", "a")
        ):
            r.use(i)
            cue = r.word(i - 1)
            if cue in ("by", "per", "each", "every", "a", "over"):
                r.use(i - 1)
            out.grain = GRAIN_WORDS[w]
            out.grain_given = True
            out.grains += ((out.grain, cue, i),)
    if any(w in COMPARE_WORDS for w in r.words) and out.periods and not out.time_range:
        for i, w in enumerate(r.words):
            if w in COMPARE_WORDS:
                r.use(i)
