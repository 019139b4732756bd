"""Groundedness: every number in an answer must come from a query result (or the question)."""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import Any

from .formatting import is_number
from .turn import Grounding

__all__ = ["check_grounding", "written_as"]

_DATE = re.compile(r"\b\d{4}-\d{2}(?:-\d{2})?\b")
_NUMBER = re.compile(
    r"(?<![\w#.])(-?\d[\d,]*(?:\.\d+)?)(?:\s?(%|[KMB]n?\b|million\b|billion\b|thousand\b))?", re.IGNORECASE
)
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "b": 1e9, "bn": 1e9, "billion": 1e9}


def _close(shown: float, decimals: int, scale: float, candidates: Sequence[float]) -> bool:
    """Some candidate (sorted, finite) equals ``shown`` x ``scale`` to the decimals shown."""
    target = shown * scale
    if not math.isfinite(target):
        return False
    tolerance = 0.5 * 10**-decimals * scale + 1e-9
    # Only the candidates near the target can match; the window is wider than the tolerance, so
    # rounding at its edges drops none, and the test itself is the exact one.
    slack = 2 * tolerance + abs(target) * 1e-12
    for c in candidates[bisect_left(candidates, target - slack) :]:
        if c > target + slack:
            return False
        if abs(target - c) <= tolerance:
            return True
    return False


def check_grounding(
    text: str, tables: Sequence[Sequence[Sequence[Any]]], question: str = "", counts: Iterable[int] = ()
) -> Grounding:
    """Flag numbers in ``text`` found in no result cell, no row count and not in the question.

    A number matches a cell when it equals the cell rounded to the decimals shown; "1.2M" is
    read as 1,200,000 with a tolerance of the last digit shown; "5%" also matches 0.05.
    """
    numbers: list[float] = [float(c) for c in counts]
    strings: set[str] = set()
    for rows in tables:
        for row in rows:
            for cell in row:
                if is_number(cell):
                    numbers.append(float(cell))
                elif cell is not None:
                    strings.add(str(cell))
    numbers = sorted(n for n in numbers if math.isfinite(n))
    body = text
    for s in sorted((s for s in strings if any(ch.isdigit() for ch in s)), key=len, reverse=True):
        body = body.replace(s, " ")
    unsupported: list[str] = []
    for m in _DATE.finditer(body):
        if not any(s.startswith(m.group(0)) for s in strings) and m.group(0) not in question:
            unsupported.append(m.group(0))
    body = _DATE.sub(" ", body)
    for q in re.findall(r"[\w#-]*\d[\w#.-]*", question):
        body = re.sub(rf"(?<![\w#.]){re.escape(q)}(?![\w#])", " ", body)
    for m in _NUMBER.finditer(body):
        if not _matches(m, numbers):
            unsupported.append(m.group(0))
    return {"ok": not unsupported, "unsupported_numbers": unsupported}


def _matches(m: re.Match[str], candidates: Sequence[float]) -> bool:
    """A written number (a :data:`_NUMBER` match) is some candidate to the digits shown."""
    digits = m.group(1)
    try:
        shown = float(digits.replace(",", ""))
    except ValueError:
        return False
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    suffix = (m.group(2) or "").lower()
    scales = (0.01, 1.0) if suffix == "%" else (_SCALE.get(suffix, 1.0),)
    return any(_close(shown, decimals, scale, candidates) for scale in scales)


def written_as(text: str, value: float) -> bool | None:
    """Whether ``text``, one number as an answer writes it ("1.2M", "5.0%", "1,234.50"), is ``value``
    to the digits shown; None when ``text`` is not a number."""
    m = _NUMBER.fullmatch(text.strip())
    return None if m is None else _matches(m, [value])
