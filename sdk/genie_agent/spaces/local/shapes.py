"""Readers for the shapes of a question beyond "measure by dimension": ranking, numeric
conditions, shares, changes, ratios and values that are also English words.

Each reader consumes the words it understands (``Reading.use``) and leaves the rest for the
accounting at the end of :func:`~.parser.parse_question`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...understanding.lexicon import Match
from .plan import Condition, Operator
from .reading import NumberSpan, Reading
from .units import KIND_COMPARATIVES, KIND_VERBS
from .vocabulary import Term
from .words import (
    ASC_WORDS,
    CHANGE_WORDS,
    DESC_WORDS,
    FILLER,
    NUMBER_WORDS,
    SHARE_WORDS,
)

_RANKING_WORDS = DESC_WORDS | ASC_WORDS
_BARE_PERCENT = re.compile(r"(?:^|[^\d\s])\s*%")

__all__ = [
    "Ranking",
    "RawCondition",
    "comparator",
    "condition_on",
    "contradictory",
    "credible_matches",
    "read_change",
    "read_conditions",
    "read_ranking",
    "read_share",
]


@dataclass
class Ranking:
    limit: int | None = None
    order: str | None = None
    measure: str | None = None
    """A measure named by its superlative ("busiest" -> orders)."""
    superlative: bool = False
    at: int = -1
    """Where the ranking's words stand ("top" in "top 2 within each region")."""


def _small_number(r: Reading, i: int) -> int | None:
    w = r.word(i)
    if w in NUMBER_WORDS:
        return NUMBER_WORDS[w]
    n = r.number_at(i)
    if n is not None and not n.percent and not n.unit and n.value.is_integer() and 0 < n.value <= 10_000:
        return int(n.value)  # "60 min" is a duration, not "the 60 lowest"
    return None


def read_ranking(r: Reading) -> Ranking:
    """Top/bottom N: "top 5", "bottom three", "5 highest", "which 3 ... the most", "busiest"."""
    out = Ranking()
    superlatives = r.vocabulary.superlatives
    for i, w in enumerate(r.words):
        if not r.free(i):
            continue
        if w in ("top", "bottom"):
            n = _small_number(r, i + 1)
            span = r.number_at(i + 1)
            r.use(i, *(range(i + 1, span.end) if span else [i + 1] if n else []))
            out.limit, out.order, out.at = (n or 10), ("desc" if w == "top" else "asc"), i
            return _superlative_adjective(r, out, superlatives)
        n = _small_number(r, i)
        if n is not None and (r.word(i + 1) in DESC_WORDS or r.word(i + 1) in ASC_WORDS) and r.free(i + 1):
            r.use(i, i + 1)
            out.limit, out.order, out.at = n, "desc" if r.word(i + 1) in DESC_WORDS else "asc", i
            return _superlative_adjective(r, out, superlatives)
    out = _superlative_adjective(r, out, superlatives)
    if out.order is not None:
        return out
    for i, w in enumerate(r.words):
        if w in _RANKING_WORDS and r.free(i) and not _comparator_context(r, i):
            out.order = "desc" if w in DESC_WORDS else "asc"
            out.superlative, out.at = True, i
            r.use(i)
            n = _small_number(r, i + 1) if w not in ("most", "least") else None
            if n is not None and r.free(i + 1):
                # "best 2 districts per city": the count follows the superlative.
                out.limit = n
                r.use(i + 1)
                return out
            for k in range(1, len(r.words)):
                n = _small_number(r, k)
                if n is not None and r.free(k) and r.words[k - 1] in ("which", "what", "the", "name"):
                    out.limit = n
                    r.use(k)
                    break
            out.limit = out.limit or 1
            return out
    return out


def _superlative_adjective(r: Reading, out: Ranking, superlatives: dict[str, tuple[str, str]]) -> Ranking:
    """ "busiest month", "most expensive part", "least expensive", "cheapest brand"."""
    for i, w in enumerate(r.words):
        if w not in superlatives or not r.free(i):
            continue
        measure, order = superlatives[w]
        if r.is_word(i - 1, "most", "least") and r.free(i - 1):
            if r.word(i - 1) == "least":
                order = "asc" if order == "desc" else "desc"
            r.use(i - 1)
        r.use(i)
        out.measure = measure
        if out.order is None:
            out.order, out.limit, out.superlative, out.at = order, 1, True, i
        return out
    return out


def _comparator_context(r: Reading, i: int) -> bool:
    """ "at most 5", "the most" before a number is a condition, not a ranking."""
    return r.word(i) in ("most", "least") and r.word(i - 1) == "at"


# --------------------------------------------------------------------------- numeric conditions

_GREATER = frozenset({"more", "greater", "higher", "larger", "bigger", "over", "above", "exceeding", "exceeds",
                      "exceeded", "exceed", "beyond"})  # fmt: skip
_LESS = frozenset({"less", "fewer", "lower", "smaller", "under", "below", "beneath"})


@dataclass
class RawCondition:
    op: Operator
    value: float
    high: float | None
    percent: bool
    start: int
    end: int
    label: str
    unit: str | None = None
    """The unit written with the number(s) ("40 minutes")."""
    kind: str | None = None
    """The kind of quantity the words around it say ("lasted", "longer", "cost"): duration, money."""
    verb: int | None = None
    """Where a verb of that kind stands ("rides lasted over 40"): placed with the condition."""


def comparator(r: Reading, i: int) -> tuple[Operator, int] | None:
    """The comparator starting at ``i``: its operator and the index of its number."""
    w, nxt = r.word(i), r.word(i + 1)
    if w in ("at",) and nxt == "least":
        return ">=", i + 2
    if w in ("at",) and nxt == "most":
        return "<=", i + 2
    if w == "no" and nxt in ("more", "less", "fewer") and r.word(i + 2) == "than":
        return ("<=" if nxt == "more" else ">="), i + 3
    if w in _GREATER:
        return (">", i + 2) if nxt == "than" else (">", i + 1)
    if w in _LESS:
        return ("<", i + 2) if nxt == "than" else ("<", i + 1)
    if w in KIND_COMPARATIVES:
        op: Operator = ">" if KIND_COMPARATIVES[w][1] == ">" else "<"
        return (op, i + 2) if nxt == "than" else (op, i + 1)
    if w == "between":
        return "between", i + 1
    return None


def read_conditions(r: Reading) -> list[RawCondition]:
    """Comparators with their numbers: "more than 600", "at least 5%", "between 10 and 20",
    "10 to 20", "5000 or more", "negative", "positive"; with the unit and kind of quantity said."""
    found = _read_conditions(r)
    for c in found:
        _kind_of(r, c)
    return found


def _read_conditions(r: Reading) -> list[RawCondition]:
    found: list[RawCondition] = []
    for i, w in enumerate(r.words):
        if not r.free(i):
            continue
        if w in ("negative", "positive"):
            r.use(i)
            found.append(RawCondition("<" if w == "negative" else ">", 0.0, None, False, i, i + 1, w))
            continue
        comp = comparator(r, i)
        if comp is not None:
            op, k = comp
            n = r.number_at(k)
            if n is None:
                continue
            if op == "between":
                hi = r.number_at(n.end + 1) if r.is_word(n.end, "and", "to") else None
                if hi is None:
                    continue
                r.use(*range(i, hi.end))
                found.append(_range(r, n, hi, i))
                continue
            r.use(*range(i, n.end))
            if op in (">", "<") and r.is_word(n.end, "or") and r.is_word(n.end + 1, "more", "less", "fewer"):
                r.use(n.end, n.end + 1)
            label = r.question_span(i, n.end)
            found.append(RawCondition(op, n.value, None, n.percent, i, n.end, label, n.unit))
            continue
        n = r.number_at(i)
        if n is None:
            continue
        if r.is_word(n.end, "or") and r.is_word(
            n.end + 1, "more", "less", "fewer", "greater", "above", "below"
        ):
            r.use(*range(i, n.end + 2))
            op2: Operator = ">=" if r.word(n.end + 1) in ("more", "greater", "above") else "<="
            label = r.question_span(i, n.end + 2)
            found.append(RawCondition(op2, n.value, None, n.percent, i, n.end + 2, label, n.unit))
            continue
        if r.is_word(n.end, "to", "-", "through") and r.number_at(n.end + 1) is not None:
            hi = r.number_at(n.end + 1)
            assert hi is not None
            start = i - 1 if r.is_word(i - 1, "from") else i
            r.use(*range(start, hi.end))
            found.append(_range(r, n, hi, start))
    return found


def _range(r: Reading, lo: NumberSpan, hi: NumberSpan, start: int) -> RawCondition:
    if hi.value < lo.value:
        r.problems.append(f"the range {lo.text} to {hi.text} ends below where it starts")
    if lo.unit and hi.unit and lo.unit != hi.unit:
        r.problems.append(f"how {lo.text} and {hi.text} compare: they are in different units")
    label = r.question_span(start, hi.end)
    return RawCondition("between", lo.value, hi.value, lo.percent or hi.percent, start, hi.end, label,
                        hi.unit or lo.unit)  # fmt: skip


def _kind_of(r: Reading, c: RawCondition) -> None:
    """The kind of quantity a comparative or a verb before the condition says: "longer than 90",
    "rides lasted between 20 and 40", "bikes that cost more than 2000"."""
    first = r.word(c.start)
    if first in KIND_COMPARATIVES:
        c.kind = KIND_COMPARATIVES[first][0]
    verb = c.start - 1
    kind = next((k for k, verbs in KIND_VERBS.items() if r.word(verb) in verbs), None)
    if kind is not None and r.free(verb) and c.kind in (None, kind):
        c.kind, c.verb = kind, verb


def condition_on(raw: RawCondition, target: str, *, on_measure: bool, percent_scale: bool) -> Condition:
    scale = 0.01 if raw.percent and percent_scale else 1.0
    high = raw.high * scale if raw.high is not None else None
    return Condition(target, raw.op, raw.value * scale, high, on_measure, raw.label)


def contradictory(conditions: list[Condition]) -> str | None:
    """Conditions on one target that no value can meet ("over 5000 and under 1000")."""
    by_target: dict[tuple[str, bool], list[Condition]] = {}
    for c in conditions:
        by_target.setdefault((c.target, c.on_measure), []).append(c)
    for (target, _), cs in by_target.items():
        low, high = float("-inf"), float("inf")
        for c in cs:
            if c.op in (">", ">="):
                low = max(low, c.value)
            elif c.op in ("<", "<="):
                high = min(high, c.value)
            elif c.op == "between" and c.high is not None:
                low, high = max(low, c.value), min(high, c.high)
        if low > high or (low == high and any(c.op in (">", "<") for c in cs)):
            return f"the conditions on {target} ({', '.join(c.label for c in cs)}) cannot all hold"
    return None


# --------------------------------------------------------------------------- shares and changes


def read_share(r: Reading) -> bool:
    """ "share", "percentage of", "% of", "what percent", "contribute"."""
    found = False
    for i, w in enumerate(r.words):
        if w in SHARE_WORDS and r.free(i) and r.number_at(i - 1) is None:
            r.use(i)
            found = True
    # "what % of revenue": a percent sign that follows no number.
    return found or _BARE_PERCENT.search(r.question) is not None


def read_change(r: Reading) -> tuple[bool, str | None]:
    """ "change", "growth", "grew", "declined the most": (asked, order of the ranking if any)."""
    asked, order = False, None
    for i, w in enumerate(r.words):
        if w in CHANGE_WORDS and r.free(i):
            r.use(i)
            asked = True
            if w in ("declined", "decline", "decreased", "decrease", "dropped", "drop", "fell"):
                order = "asc"
    return asked, order


# --------------------------------------------------------------------------- values that are words

_ENGLISH = FILLER | {
    "no",
    "not",
    "or",
    "and",
    "in",
    "me",
    "ok",
    "hi",
    "on",
    "as",
    "us",
    "id",
    "la",
    "de",
    "al",
    "co",
    "oh",
    "pa",
    "ma",
    "mo",
    "ne",
    "nd",
    "sd",
    "ct",
    "wa",
    "va",
}


def credible_matches(
    question_tokens: list, matches: list[Match[Term]], problems: list[str]
) -> list[Match[Term]]:
    """Drop value matches on words that are also ordinary English ("in", "or", "me") unless the
    question gives evidence: written exactly as the data writes it, and the dimension named next
    to it or other values of it listed alongside. Written as the data writes it without such
    evidence is doubtful: a clarify, never a filter."""
    kept: list[Match[Term]] = []
    for idx, m in enumerate(matches):
        values = [t for t in m.entries if t.kind == "value"]
        if not values or m.end - m.start != 1 or m.text.lower() not in _ENGLISH:
            kept.append(m)
            continue
        exact = [t for t in values if t.value == m.text]
        if not exact:
            others = tuple(t for t in m.entries if t.kind != "value")
            if others:
                kept.append(Match(m.start, m.end, others, m.text))
            continue
        dim = exact[0].name
        neighbours = [
            x
            for x in (
                matches[idx - 1] if idx > 0 else None,
                matches[idx + 1] if idx + 1 < len(matches) else None,
            )
            if x is not None
            and abs((x.start if x.start >= m.end else x.end) - (m.end if x.start >= m.end else m.start)) <= 2
        ]
        named = any(any(t.kind == "dimension" and t.name == dim for t in x.entries) for x in neighbours)
        listed = any(
            any(t.kind == "value" and t.name == dim for t in x.entries) and x.text.lower() not in _ENGLISH
            for x in neighbours
        )
        if named or listed:
            kept.append(Match(m.start, m.end, tuple(exact), m.text))
        else:
            problems.append(f"whether {m.text!r} means the {dim} {m.text} or the word {m.text.lower()!r}")
    return kept
