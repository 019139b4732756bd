"""The example question set (examples/tpch/questions.yaml) and how results are compared to it."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

QUESTIONS = Path(__file__).resolve().parent.parent / "examples" / "tpch" / "questions.yaml"


def load_cases(*kinds: str) -> list[dict[str, Any]]:
    cases = yaml.safe_load(QUESTIONS.read_text())
    return [c for c in cases if not kinds or c["kind"] in kinds]


def _norm(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | float | int) and not isinstance(value, bool):
        return round(float(value), 2)
    return value


def normalize(rows: Iterable[Sequence[Any]], ordered: bool) -> list[tuple[Any, ...]]:
    out = [tuple(_norm(v) for v in row) for row in rows]
    return out if ordered else sorted(out, key=repr)


def same_result(actual: Iterable[Sequence[Any]], expected: Iterable[Sequence[Any]], ordered: bool) -> bool:
    """Row-by-row equality after normalizing dates and rounding numbers to cents."""
    a, e = normalize(actual, ordered), normalize(expected, ordered)
    if len(a) != len(e):
        return False
    for ra, re_ in zip(a, e, strict=True):
        if len(ra) != len(re_):
            return False
        for va, ve in zip(ra, re_, strict=True):
            if isinstance(va, float) and isinstance(ve, float):
                if abs(va - ve) > max(0.011, 1e-9 * abs(ve)):
                    return False
            elif va != ve:
                return False
    return True
