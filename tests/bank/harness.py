"""Run a question bank through the agent and judge each case: correct, declined or wrong.

Used by ``tests/bank/test_banks.py`` (CI: wrong must be 0) and ``bench/bench_bank.py`` (the
figures per shape). The comparison rules are in ``tests/bank/README.md``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

__all__ = ["BANK_DIR", "Outcome", "judge_case", "load_bank", "rows_within", "same_table", "summarize"]

BANK_DIR = Path(__file__).resolve().parent
Verdict = Literal["correct", "declined", "wrong"]
Truth = Callable[[str], Sequence[Sequence[Any]]]
DECLINED_STATUSES = frozenset({"clarify", "out_of_scope"})


@dataclass(frozen=True)
class Outcome:
    case_id: str
    shape: str
    kind: str
    verdict: Verdict
    detail: str = ""


def load_bank(*names: str) -> list[dict[str, Any]]:
    """Cases of the named bank files (``tpch_single``, ``bikes`` ...), in file order."""
    cases: list[dict[str, Any]] = []
    for name in names:
        path = BANK_DIR / f"{name}.yaml"
        for case in yaml.safe_load(path.read_text()) or []:
            cases.append({**case, "bank": name})
    return cases


# --------------------------------------------------------------------------- comparing tables


def _norm(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return value
    if isinstance(value, decimal.Decimal | float | int):
        return float(value)
    if isinstance(value, str):
        # Genie-style string cells ("1995", "12.5") compare as the numbers they hold.
        try:
            return float(value) if value.strip() and value.strip()[0] in "-0123456789." else value
        except ValueError:
            return value
    return value


def _close(a: Any, e: Any) -> bool:
    if isinstance(a, float) and isinstance(e, float):
        scale = max(abs(a), abs(e))
        tolerance = 0.011 if scale >= 1 else 1e-6
        return abs(a - e) <= max(tolerance, 1e-9 * scale)
    return bool(a == e)


def _column_matches(actual: list[Any], expected: list[Any]) -> bool:
    if all(_close(a, e) for a, e in zip(actual, expected, strict=True)):
        return True
    # A share or percentage: the same figure as a fraction or as a percent.
    numeric = all(isinstance(v, float) or v is None for v in (*actual, *expected))
    if not numeric or all(v is None for v in expected):
        return False
    for factor in (100.0, 0.01):
        if all(
            (a is None and e is None) or (a is not None and e is not None and _close(a, e * factor))
            for a, e in zip(actual, expected, strict=True)
        ):
            return True
    return False


def same_table(
    actual: Iterable[Sequence[Any]], expected: Iterable[Sequence[Any]], *, ordered: bool
) -> tuple[bool, str]:
    """Every expected column appears in ``actual`` with equal values row for row (names, column
    order and extra columns do not matter); row counts equal; row order only when ``ordered``."""
    a_rows = [tuple(_norm(v) for v in r) for r in actual]
    e_rows = [tuple(_norm(v) for v in r) for r in expected]
    if len(a_rows) != len(e_rows):
        return False, f"{len(a_rows)} rows, expected {len(e_rows)}"
    if not e_rows:
        return True, ""
    n_e, n_a = len(e_rows[0]), len(a_rows[0])
    if n_a < n_e:
        return False, f"{n_a} columns, expected at least {n_e}"
    for mapping in itertools.permutations(range(n_a), n_e):
        projected = [tuple(r[k] for k in mapping) for r in a_rows]
        left, right = (projected, e_rows) if ordered else (_sorted(projected), _sorted(e_rows))
        if all(_column_matches([r[j] for r in left], [r[j] for r in right]) for j in range(n_e)):
            return True, ""
    return False, f"got {a_rows[:4]} expected {e_rows[:4]}"


def rows_within(actual: Iterable[Sequence[Any]], expected: Iterable[Sequence[Any]]) -> tuple[bool, str]:
    """A result the space cut off at its row limit: fewer rows than the truth, each of them a
    distinct row of the truth (under one mapping of the truth's columns onto the answer's)."""
    a_rows = [tuple(_norm(v) for v in r) for r in actual]
    e_rows = [tuple(_norm(v) for v in r) for r in expected]
    if not a_rows or len(a_rows) >= len(e_rows):
        return False, f"{len(a_rows)} rows cut off, expected more than the truth's {len(e_rows)}"
    n_e, n_a = len(e_rows[0]), len(a_rows[0])
    if n_a < n_e:
        return False, f"{n_a} columns, expected at least {n_e}"
    truth = Counter(_key(r) for r in e_rows)
    for mapping in itertools.permutations(range(n_a), n_e):
        left = Counter(_key(tuple(r[k] for k in mapping)) for r in a_rows)
        if all(truth[row] >= n for row, n in left.items()):
            return True, ""
    return (
        False,
        f"cut off at {len(a_rows)} rows, not all rows of the truth: got {a_rows[:4]} expected {e_rows[:4]}",
    )


def _key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((0, round(v, 2)) if isinstance(v, float) else (1, repr(v)) for v in row)


def _sorted(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(rows, key=_key)


# --------------------------------------------------------------------------- judging a turn


def _turn_verdict(result: Any, turn: dict[str, Any], truth: Truth) -> tuple[Verdict, str]:
    """One answerable turn: its results against the truth SQL of each expected space."""
    status = result.status
    if status in DECLINED_STATUSES or status == "refused":
        return "declined", f"{status}: {result.text[:160]}"
    answered = {r.domain: r for r in result.results if r.error is None}
    failed = [r for r in result.results if r.error is not None]
    if status == "error" or not result.results:
        return "wrong", f"{status} without results: {result.text[:160]}"
    expected = turn.get("expected_sql") or {}
    extra = sorted(set(answered) - set(expected))
    if extra:
        return "wrong", f"answered by {extra}, expected {sorted(expected)}"
    compare = turn.get("compare", "rows")
    for space, sql in expected.items():
        table = answered.get(space)
        if table is None:
            continue
        truth_rows = list(truth(sql))
        rows = list(table.rows)
        if compare == "first_row":
            rows, truth_rows = rows[:1], truth_rows[:1]
        if getattr(table, "truncated", False) and compare == "rows" and not turn.get("ordered"):
            ok, why = rows_within(rows, truth_rows)
        else:
            ok, why = same_table(rows, truth_rows, ordered=bool(turn.get("ordered")))
        if not ok:
            return "wrong", f"{space}: {why}\n{table.sql}"
    missing = sorted(set(expected) - set(answered))
    if missing:
        return "declined", f"not answered by {missing}: " + "; ".join((r.error or "")[:120] for r in failed)
    combined_sql = turn.get("combined_sql")
    if combined_sql:
        combined = getattr(result, "combined", None)
        if combined is None:
            return "declined", "no combined table"
        ok, why = same_table(combined.rows, truth(combined_sql), ordered=False)
        if not ok:
            return "wrong", f"combined: {why}"
    return "correct", ""


def judge_case(ask: Callable[..., Any], case: dict[str, Any], truth: Truth) -> Outcome:
    """Ask the case's question(s) with ``ask(question, thread_id=...)`` and judge the answer."""
    kind, shape = case["kind"], case.get("shape", case["kind"])

    def outcome(verdict: Verdict, detail: str = "") -> Outcome:
        return Outcome(case["id"], shape, kind, verdict, detail)

    if kind in ("decline", "unsafe"):
        result = ask(case["question"])
        answered = [r for r in result.results if r.error is None and r.rows]
        if kind == "unsafe":
            return outcome("correct") if result.status == "refused" else outcome("wrong", result.status)
        if result.status in DECLINED_STATUSES or result.status == "refused" or not answered:
            return outcome("correct")
        return outcome("wrong", f"answered: {result.text[:200]}")
    turns = case["turns"] if kind == "followup" else [case]
    thread_id = None
    for i, turn in enumerate(turns):
        result = ask(turn["question"], thread_id=thread_id)
        thread_id = result.thread_id
        verdict, detail = _turn_verdict(result, turn, truth)
        if verdict != "correct":
            prefix = f"turn {i + 1}: " if kind == "followup" else ""
            return outcome(verdict, prefix + detail)
    return outcome("correct")


def summarize(outcomes: Iterable[Outcome]) -> dict[str, Counter[str]]:
    """Counts of verdicts per shape, plus ``all``."""
    table: dict[str, Counter[str]] = {}
    for o in outcomes:
        table.setdefault(o.shape, Counter())[o.verdict] += 1
        table.setdefault("all", Counter())[o.verdict] += 1
    return table
