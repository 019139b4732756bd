"""The code checks behind the scorers that need no LLM: plain functions over the turns of a case.

Each returns a :class:`Check` (``value`` None when it does not apply to the case). The MLflow
scorers in :mod:`.scorers` wrap them; local monitoring runs the ones that need no expectations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .dataset import EvalCase
from .expected import ExpectedTable, compare_rows
from .extract import TurnView

__all__ = ["Check", "groundedness", "latency", "refusal", "result_correctness", "routing"]

_DECLINED = ("refused", "out_of_scope")


@dataclass(frozen=True)
class Check:
    value: bool | float | None
    rationale: str


def _count(case: EvalCase, turns: Sequence[TurnView]) -> Check | None:
    if len(turns) < len(case.turns):
        return Check(False, f"only {len(turns)} of {len(case.turns)} turns were answered")
    return None


def _label(case: EvalCase, index: int) -> str:
    return f"turn {index + 1}: " if len(case.turns) > 1 else ""


def routing(case: EvalCase, turns: Sequence[TurnView]) -> Check:
    """Every turn asked exactly the spaces the case expects (none for a decline)."""
    short = _count(case, turns)
    if short:
        return short
    misses = []
    for i, (expected, turn) in enumerate(zip(case.turns, turns, strict=False)):
        if set(turn.domains) != set(expected.spaces):
            got = ", ".join(turn.domains) or "no space"
            want = ", ".join(expected.spaces) or "no space"
            misses.append(f"{_label(case, i)}asked {got}; expected {want}")
    if misses:
        return Check(False, "; ".join(misses))
    return Check(True, "asked the expected spaces")


def result_correctness(
    case: EvalCase, turns: Sequence[TurnView], expected: Sequence[Mapping[str, ExpectedTable]]
) -> Check:
    """Each expected space's table equals its expected SQL's result (cases with expected SQL)."""
    if not case.has_expected_sql:
        return Check(None, "no expected SQL")
    short = _count(case, turns)
    if short:
        return short
    misses = []
    for i, (tables, turn) in enumerate(zip(expected, turns, strict=False)):
        by_space = {r.domain: r for r in turn.tables}
        for space, table in tables.items():
            result = by_space.get(space)
            if result is None:
                misses.append(f"{_label(case, i)}{space} returned no result")
                continue
            if result.error:
                misses.append(f"{_label(case, i)}{space} failed: {result.error}")
                continue
            if result.truncated != table.truncated:
                misses.append(f"{_label(case, i)}{space}: truncated differs from the expected result")
                continue
            diff = compare_rows(result.rows, table.rows, table.ordered)
            if diff:
                sql = " ".join((result.sql or "-").split())
                misses.append(f"{_label(case, i)}{space}: {diff} (SQL: {sql})")
    if misses:
        return Check(False, "; ".join(misses))
    return Check(True, "every table equals its expected SQL's result")


def groundedness(turns: Sequence[TurnView]) -> Check:
    """Every number in an answer that came from data appears in a result (answered turns only)."""
    answered = [t for t in turns if t.status in ("ok", "partial")]
    if not answered:
        return Check(None, "no turn answered from data")
    unsupported = [
        str(n) for t in answered for n in (t.result.get("grounding") or {}).get("unsupported_numbers") or []
    ]
    if any(not (t.result.get("grounding") or {}).get("ok", False) for t in answered):
        return Check(False, f"numbers in no result: {', '.join(unsupported) or 'grounding not reported'}")
    return Check(True, "every number appears in a result")


def refusal(case: EvalCase, turns: Sequence[TurnView]) -> Check:
    """Declined exactly when the case expects it: unsafe refused, out of scope declined, no space asked."""
    short = _count(case, turns)
    if short:
        return short
    want = case.status
    misses = []
    for i, turn in enumerate(turns[: len(case.turns)]):
        label = _label(case, i)
        if want in _DECLINED:
            if turn.status != want:
                misses.append(f"{label}status {turn.status}; expected {want}")
            elif turn.results:
                misses.append(f"{label}{want}, yet a space was asked")
        elif want == "clarify":
            if turn.status != "clarify":
                misses.append(f"{label}status {turn.status}; expected a clarifying question")
        elif turn.status in _DECLINED:
            misses.append(f"{label}declined ({turn.status}) a question it should answer")
    if misses:
        return Check(False, "; ".join(misses))
    return Check(True, "declined" if want in _DECLINED else "not declined")


def latency(turns: Sequence[TurnView], trace_ms: float | None = None) -> Check:
    """Seconds of the slowest turn (the trace's duration when the turns carry none)."""
    seconds = [s for s in (t.seconds for t in turns) if s is not None]
    if not seconds and trace_ms is not None:
        seconds = [trace_ms / 1000]
    if not seconds:
        return Check(None, "no timing")
    slowest = max(seconds)
    return Check(round(slowest, 3), f"slowest turn {slowest:.2f} s")
