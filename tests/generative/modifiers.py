"""Modifiers inserted into questions the agent answered correctly, and how the new answer is judged.

A generated case is a bank question whose answer was judged correct, with one modifier inserted at
a grammatical place: an exclusion or a negation of a real value of a dimension the question does not
use, a condition on a measure, a range of a measure, a range with no target, a ranking within each
value of another dimension, or a qualifier no catalog knows. Its answer must never be the old one.

Where the correct new answer can be written mechanically (``sql_rewrite``: one clause added to the
old answer's SQL) the answer must equal it. Where it cannot (a range with no target) the answer must
not be the old one from the old SQL; the old rows from other SQL pass as the engine's reading of the
range (a HAVING every row meets). A qualifier no catalog knows must be declined. Declining is always
allowed.
Every choice (value, threshold, phrasing, place) comes from a ``random.Random`` seeded by the case's
id, so a case reads the same whatever else is generated.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from genie_agent.spaces.semantic_model import Dimension, Measure, SpaceDefinition
from tests.bank.harness import same_table
from tests.generative import sql_rewrite as sr

__all__ = [
    "FAMILIES",
    "QUALIFIERS",
    "SEED",
    "Data",
    "Generated",
    "Judged",
    "Source",
    "generate",
    "judge",
]

SEED = 20261212
Run = Callable[[str], Sequence[Sequence[Any]]]
Verdict = Literal["declined", "correct", "changed", "wrong"]

FAMILIES = ("exclusion", "negation", "condition", "range", "bare_range", "per_group", "unknown_qualifier")
# Words in no catalog (checked by the test): a question carrying one cannot be answered as asked.
QUALIFIERS = ("organic", "wholesale-adjusted", "premium-tier", "inflation-adjusted", "fair-trade")
MAX_VALUES = 200  # dimensions with more distinct values than this are names, not categories

_EXCLUDE = ("excluding {v}", "excluding the {v} {dim}", "except {v}", "other than {v}", "without {v}")
_NEGATE = (", not {v}", "but not {v}", "not including {v}", "and not the {v} {dim}")  # at the end only
_ABOVE = ("with {m} above {n}", "where {m} is over {n}", "with {m} of more than {n}")
_COUNT_ABOVE = ("with more than {n} {m}", "with at least {n} {m}", "having over {n} {m}")
_BETWEEN = ("with {m} between {a} and {b}", "where {m} is between {a} and {b}", "with {m} from {a} to {b}")
_BARE = ("between 10 and 20", "from 10 to 20", "10 to 20", "between 5 and 50")
_PER_GROUP = (", top {n} within each {dim}", ", top {n} in each {dim}", ", the best {n} per {dim}")
_QUALIFIED = ("{q} {m}", ", {q} only")


@dataclass(frozen=True)
class Source:
    """A bank question and its correct answer (one space)."""

    case_id: str
    question: str
    space: SpaceDefinition
    sql: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    ordered: bool
    result: Any = None
    """The old turn result (the oracle's own test judges it as the new answer: it must be wrong)."""


@dataclass(frozen=True)
class Generated:
    id: str
    family: str
    question: str
    source: Source
    modifier: str
    expected_sql: str | None = None
    """The correct answer written from the old SQL; None when it cannot be written mechanically."""
    expected_rows: tuple[tuple[Any, ...], ...] | None = None
    decline_only: bool = False


@dataclass(frozen=True)
class Judged:
    case: Generated
    verdict: Verdict
    detail: str = ""


# --------------------------------------------------------------------------------------------- places


def _stem(question: str) -> tuple[str, str]:
    """The question without its closing punctuation, and that punctuation."""
    m = re.search(r"\s*([?.!]+)\s*$", question)
    return (question[: m.start()], m.group(1)) if m else (question.rstrip(), "")


def _measure_span(question: str, space: SpaceDefinition) -> tuple[int, int] | None:
    """Where the question names one of the space's measures (the longest phrase that occurs)."""
    phrases = sorted((p for m in space.measures for p in m.phrases), key=len, reverse=True)
    for phrase in phrases:
        hit = re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", question, re.IGNORECASE)
        if hit:
            return hit.span()
    return None


def _insert(question: str, modifier: str, place: str, space: SpaceDefinition) -> str | None:
    """``modifier`` at ``place``: ``end`` (before closing punctuation), ``after_measure`` or
    ``measure`` (``{m}`` in the modifier stands for the measure phrase it replaces)."""
    stem, tail = _stem(question)
    if place == "end":
        sep = "" if modifier.startswith(",") else " "
        return f"{stem}{sep}{modifier}{tail}"
    span = _measure_span(stem, space)
    if span is None:
        return None
    start, end = span
    if place == "after_measure":
        sep = "" if modifier.startswith(",") else " "
        return f"{stem[:end]}{sep}{modifier}{stem[end:]}{tail}"
    return f"{stem[:start]}{modifier.format(m=stem[start:end])}{stem[end:]}{tail}"


# --------------------------------------------------------------------------------------------- numbers


def _nice(low: float, high: float, integer: bool) -> float | None:
    """A round number strictly between ``low`` and ``high`` (a whole one for a count)."""
    mid = (low + high) / 2
    for digits in range(1, 12):
        candidate = float(f"{mid:.{digits}g}")
        if integer:
            candidate = float(round(candidate))
        if low < candidate < high:
            return candidate
    return None


def _cut(values: list[float], integer: bool) -> float | None:
    """A round number that splits ``values`` (sorted), as near the middle as one can be found."""
    middle = len(values) // 2
    for k in sorted(range(1, len(values)), key=lambda k: abs(k - middle)):
        n = _nice(values[k - 1], values[k], integer)
        if n is not None:
            return n
    return None


def _text(n: float) -> str:
    return str(int(n)) if n == int(n) else f"{n:g}"


def _values(rows: Sequence[Sequence[Any]], index: int) -> list[float] | None:
    out = [row[index] for row in rows]
    if not out or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in out):
        return None
    return sorted(float(v) for v in out)


# --------------------------------------------------------------------------------------------- helpers


class Data:
    """Runs SQL on the catalog's database; remembers each dimension's values."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self._values: dict[tuple[str, str], list[str] | None] = {}

    def values(self, space: SpaceDefinition, d: Dimension) -> list[str] | None:
        """The dimension's values, when it is a category (strings, no NULLs, 2..MAX_VALUES of them)."""
        key = (space.id, d.name)
        if key not in self._values:
            self._values[key] = self._read(space, d)
        return self._values[key]

    def _read(self, space: SpaceDefinition, d: Dimension) -> list[str] | None:
        alias = sr.column_alias(d.expr)
        if not d.index_values or d.entity or alias is None:
            return None
        physical = next(t.physical for t in space.tables if t.name == alias)
        source = f'"{physical}" AS {alias}'
        if self.run(f"SELECT COUNT(*) FROM {source} WHERE {d.expr} IS NULL")[0][0]:
            return None
        rows = self.run(f"SELECT DISTINCT {d.expr} FROM {source} ORDER BY 1 LIMIT {MAX_VALUES + 1}")
        values = [r[0] for r in rows]
        ok = 1 < len(values) <= MAX_VALUES and all(isinstance(v, str) for v in values)
        return values if ok else None


def _unused_dimensions(src: Source, data: Data, rng: random.Random) -> list[tuple[Dimension, list[str]]]:
    """Category dimensions the old SQL does not mention, with their values, shuffled."""
    sql = src.sql.lower().replace('"', "")
    out = []
    for d in src.space.dimensions:
        values = data.values(src.space, d) if d.expr.lower() not in sql else None
        if values:
            out.append((d, values))
    rng.shuffle(out)
    return out


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _measures_selected(src: Source, tree: sr.exp.Select) -> list[tuple[Measure, sr.exp.Expr, int]]:
    """The space's measures the old SQL selects under their own name, with the column's index."""
    out = []
    for m in src.space.measures:
        expression = sr.select_expression(tree, m.name)
        if expression is not None and m.name in src.columns:
            out.append((m, expression, src.columns.index(m.name)))
    return out


def _groupable(src: Source) -> sr.exp.Select | None:
    """The old SQL when it groups, does not limit, and selects only its keys and measures named as
    the model names them (not a ratio, share or change): a condition or a ranking per group applies."""
    tree = sr.parse(src.sql)
    if tree is None or not tree.args.get("group") or tree.args.get("limit") or len(src.rows) < 3:
        return None
    keys = tree.args["group"].expressions
    measures = {m.name for m in src.space.measures}
    for position, projection in enumerate(tree.expressions, 1):
        inner = projection.this if isinstance(projection, sr.exp.Alias) else projection
        is_key = any(k == inner or (isinstance(k, sr.exp.Literal) and k.name == str(position)) for k in keys)
        if not is_key and projection.alias_or_name not in measures:
            return None
    return tree


def _unambiguous(m: Measure) -> bool:
    """'with <measure> above N' is a condition on the measure, not on a row-level column
    ('balance over 5000' filters rows: the bank's convention) or on a percent (5 or 0.05)."""
    return m.column is None and m.filter_column is None and m.format != "percent"


def _is_count(m: Measure) -> bool:
    return (m.expr or "").upper().startswith("COUNT")


# --------------------------------------------------------------------------------------------- families


def _exclusion(
    src: Source, data: Data, rng: random.Random, phrases: tuple[str, ...], places: tuple[str, ...]
) -> Generated | None:
    tree = sr.parse(src.sql)
    if tree is None:
        return None
    for d, values in _unused_dimensions(src, data, rng):
        joined = sr.with_joins(tree, src.space, sr.column_alias(d.expr) or "")
        if joined is None:
            continue
        for value in rng.sample(values, min(3, len(values))):
            expected = sr.add_where(joined, f"{d.expr} <> {_quote(value)}").sql(sr.DIALECT)
            rows = data.run(expected)
            if not rows or same_table(rows, src.rows, ordered=src.ordered)[0]:
                continue  # a no-op (or an empty answer) proves nothing
            modifier = rng.choice(phrases).format(v=value, dim=d.name)
            return _case(src, rng, modifier, places, (expected, rows))
    return None


def _condition_options(
    src: Source, data: Data, tree: sr.exp.Select
) -> list[tuple[Measure, sr.exp.Expr, list[float]]]:
    """Measures a condition can be put on, with their value per group: the question's own, and a
    count the old statement can take without a new join ("... with more than 600 customers")."""
    options = []
    for m, expression, index in _measures_selected(src, tree):
        values = _values(src.rows, index)
        if values and _unambiguous(m):
            options.append((m, expression, values))
    base = tree.find(sr.exp.From)
    base_alias = base.this.alias_or_name if base is not None else ""
    for m in src.space.measures:
        alias = sr.column_alias(m.expr) if m.expr else None
        if not m.expr or not _is_count(m) or alias not in sr.aliases_in(tree):
            continue
        if (alias != base_alias and not m.fanout_safe) or any(o[0].name == m.name for o in options):
            continue
        expression = sr.sqlglot.parse_one(m.expr, read=sr.DIALECT)
        counted = data.run(tree.copy().select(sr.exp.alias_(expression, "counted")).sql(sr.DIALECT))
        values = _values(counted, -1)
        if values:
            options.append((m, expression, values))
    return options


def _condition(src: Source, data: Data, rng: random.Random) -> Generated | None:
    tree = _groupable(src)
    options = _condition_options(src, data, tree) if tree is not None else []
    rng.shuffle(options)
    for m, expression, values in options:
        n = _cut(values, _is_count(m))
        if tree is None or n is None:
            continue
        phrase = rng.choice(_COUNT_ABOVE if _is_count(m) else _ABOVE)
        op = ">=" if "at least" in phrase else ">"
        expected = sr.add_having(tree, f"{expression.sql(sr.DIALECT)} {op} {_text(n)}").sql(sr.DIALECT)
        modifier = phrase.format(m=m.name, n=_text(n))
        return _case(src, rng, modifier, ("end",), (expected, data.run(expected)))
    return None


def _range(src: Source, data: Data, rng: random.Random) -> Generated | None:
    tree = _groupable(src)
    if tree is None:
        return None
    options = [
        (m, e, v)
        for m, e, i in _measures_selected(src, tree)
        if _unambiguous(m) and (v := _values(src.rows, i)) and len(set(v)) >= 4
    ]
    rng.shuffle(options)
    for m, expression, values in options:
        i = rng.randrange(1, len(values) - 2)
        j = rng.randrange(i, len(values) - 2)
        low = _nice(values[i - 1], values[i], _is_count(m))
        high = _nice(values[j], values[j + 1], _is_count(m))
        if low is None or high is None:
            continue
        between = f"{expression.sql(sr.DIALECT)} BETWEEN {_text(low)} AND {_text(high)}"
        expected = sr.add_having(tree, between).sql(sr.DIALECT)
        modifier = rng.choice(_BETWEEN).format(m=m.name, a=_text(low), b=_text(high))
        return _case(src, rng, modifier, ("end",), (expected, data.run(expected)))
    return None


def _bare_range(src: Source, data: Data, rng: random.Random) -> Generated | None:
    return _case(src, rng, rng.choice(_BARE), ("end", "after_measure"), None)


def _per_group(src: Source, data: Data, rng: random.Random) -> Generated | None:
    tree = _groupable(src)
    measures = _measures_selected(src, tree) if tree is not None else []
    if tree is None or len(measures) != 1 or len(tree.args["group"].expressions) != 1:
        return None
    _, measure, _ = measures[0]
    n = rng.choice((2, 3))
    for d, _ in _unused_dimensions(src, data, rng):
        joined = sr.with_joins(tree, src.space, sr.column_alias(d.expr) or "")
        if joined is None:
            continue
        expected = sr.per_group(joined, d.expr, measure, n, "ROW_NUMBER").sql(sr.DIALECT)
        rows = data.run(expected)
        every = data.run(sr.per_group(joined, d.expr, measure, len(src.rows), "ROW_NUMBER").sql(sr.DIALECT))
        if len(rows) == len(every):
            continue  # no group has more than N members: the ranking removes nothing
        ranked = data.run(sr.per_group(joined, d.expr, measure, n, "RANK").sql(sr.DIALECT))
        if not same_table(rows, ranked, ordered=False)[0]:
            continue  # ties at the cut: the top N is not one answer
        modifier = rng.choice(_PER_GROUP).format(n=n, dim=d.name)
        return _case(src, rng, modifier, ("end",), (expected, rows))
    return None


def _unknown_qualifier(src: Source, data: Data, rng: random.Random) -> Generated | None:
    qualifier = rng.choice(QUALIFIERS)
    phrase = rng.choice(_QUALIFIED)
    if "{m}" not in phrase:
        return _case(src, rng, phrase.format(q=qualifier), ("end",), None, decline_only=True)
    return _case(src, rng, phrase.format(q=qualifier, m="{m}"), ("measure",), None, decline_only=True)


def _case(
    src: Source,
    rng: random.Random,
    modifier: str,
    places: tuple[str, ...],
    expected: tuple[str, Sequence[Sequence[Any]]] | None,
    *,
    decline_only: bool = False,
) -> Generated | None:
    """The modifier at the first of ``places`` (in a seeded order) the question has."""
    for place in rng.sample(places, len(places)):
        question = _insert(src.question, modifier, place, src.space)
        if question is not None:
            sql, rows = expected if expected else (None, None)
            frozen = tuple(tuple(r) for r in rows) if rows is not None else None
            return Generated("", "", question, src, modifier.strip(", "), sql, frozen, decline_only)
    return None


_GENERATORS: dict[str, Callable[[Source, Data, random.Random], Generated | None]] = {
    "exclusion": lambda s, data, rng: _exclusion(s, data, rng, _EXCLUDE, ("end", "after_measure")),
    "negation": lambda s, data, rng: _exclusion(s, data, rng, _NEGATE, ("end",)),
    "condition": _condition,
    "range": _range,
    "bare_range": _bare_range,
    "per_group": _per_group,
    "unknown_qualifier": _unknown_qualifier,
}


def generate(src: Source, family: str, data: Data) -> Generated | None:
    """The ``family`` modifier inserted into ``src``'s question, or None when it does not apply."""
    case_id = f"{src.case_id}+{family}"
    made = _GENERATORS[family](src, data, random.Random(f"{SEED}|{case_id}"))
    return replace(made, id=case_id, family=family) if made is not None else None


# --------------------------------------------------------------------------------------------- judging


def judge(case: Generated, result: Any) -> Judged:
    """Declined is always allowed. Answered: never the old answer; the mechanically written answer
    where there is one; never, for a qualifier no catalog knows."""
    answered = [r for r in result.results if r.error is None]
    if result.status == "error" or (not answered and not result.results):
        return Judged(case, "wrong", f"{result.status} without an answer: {result.text[:200]}")
    if not answered:
        return Judged(case, "declined", f"{result.status}: {result.text[:160]}")
    if case.decline_only:
        return Judged(
            case, "wrong", f"answered although {case.modifier!r} is in no catalog\n{answered[0].sql}"
        )
    src = case.source
    domains = sorted(r.domain for r in answered)
    if domains != [src.space.id]:
        return Judged(case, "wrong", f"answered by {domains}, the source by {src.space.id}")
    table = answered[0]
    if same_table(table.rows, src.rows, ordered=False)[0]:
        same_sql = " ".join((table.sql or "").split()) == " ".join(src.sql.split())
        if same_sql or case.expected_rows is not None:
            return Judged(
                case, "wrong", f"the old answer ({'same' if same_sql else 'other'} SQL)\n{table.sql}"
            )
        return Judged(case, "changed", f"other SQL, the old rows (a no-op reading?)\n{table.sql}")
    if case.expected_rows is None:
        return Judged(case, "changed", table.sql or "")
    ok, why = same_table(table.rows, case.expected_rows, ordered=src.ordered)
    if ok:
        return Judged(case, "correct")
    return Judged(
        case, "wrong", f"another question answered: {why}\n{table.sql}\nexpected:\n{case.expected_sql}"
    )
