"""Deterministic synthesis: a short answer written only from the results' own rows."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

from .column_kinds import MEASURE_FORMATS, ColumnFormat, column_formats
from .formatting import format_cell, format_key, is_number
from .turn import COMBINED, ResultTable

__all__ = [
    "DeterministicSynthesizer",
    "Synthesizer",
    "failure_sentence",
    "measure_index",
    "summarize_result",
    "synthesize",
]

MAX_LISTED = 5
MAX_TABLE_ROWS = 10
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _label(row: Sequence[object], measure_index: int) -> str:
    """The grouping keys of a row: every column before the first measure, written as keys."""
    return ", ".join(format_key(v) for v in row[:measure_index])


def measure_index(first: Sequence[object], formats: Sequence[ColumnFormat | None]) -> int | None:
    """The first measure column: one whose format is a measure's, or a number in a column no format
    makes a key (past the first column, which labels the rows); None when there is none."""
    for i, (value, fmt) in enumerate(zip(first, formats, strict=False)):
        if fmt in MEASURE_FORMATS or (fmt is None and i > 0 and is_number(value)):
            return i
    if formats and formats[0] is None and (len(first) == 1 or all(is_number(v) for v in first)):
        return 0
    return None


def summarize_result(result: ResultTable, title: str) -> str:
    """One paragraph about one space's result. Every number in it is a cell of ``result``.

    Columns before the first measure are grouping keys (and so are years, ids and dates wherever they
    stand): written as keys (``1992``, ``1996-03-01``), never ``1,992``. Measures are written in their
    column's format (:func:`~genie_agent.column_kinds.column_formats`: declared by the result's
    ``column_formats``, else from the column's name): a percent as ``5.0%``, others as numbers.
    """
    if result.error is not None:
        return f"**{title}**: {result.error}"
    head = f"**{title}** — {result.text}" if result.text else f"**{title}**"
    rows, cols = result.rows, result.columns
    if not rows:
        return f"{head}: the query returned no rows."
    formats = column_formats(cols, rows, result.column_types, result.column_formats)
    first_measure = measure_index(rows[0], formats)
    if len(rows) == 1 and first_measure == 0:
        values = "; ".join(
            f"{c}: {format_cell(v, f)}" for c, v, f in zip(cols, rows[0], formats, strict=False)
        )
        return f"{head}: {values}."
    if first_measure is None:
        listed = "; ".join(", ".join(format_key(v) for v in row) for row in rows[:MAX_LISTED])
        return f"{head}: {listed}."
    measure, fmt = cols[first_measure], formats[first_measure]
    if first_measure == 1 and len(rows) > MAX_LISTED and all(_is_date(r[0]) for r in rows):
        return f"{head}: " + _trend(rows, measure, fmt) + "."
    extra = len(cols) - first_measure - 1
    parts = []
    for row in rows[:MAX_LISTED]:
        shown = format_cell(row[first_measure], fmt)
        if extra:
            shown += (
                " ("
                + ", ".join(
                    f"{cols[j]} {format_cell(row[j], formats[j])}"
                    for j in range(first_measure + 1, len(cols))
                )
                + ")"
            )
        parts.append(f"{_label(row, first_measure)}: {shown}")
    more = ""
    if len(rows) > MAX_LISTED:
        more = f"; {len(rows)} rows in all"
    if result.truncated:
        more += " (result truncated at the row limit)"
    lead = head if result.text else f"{head} — {measure} by {', '.join(cols[:first_measure])}"
    return f"{lead}: " + "; ".join(parts) + more + "."


def _is_date(value: object) -> bool:
    return isinstance(value, dt.date) or (isinstance(value, str) and bool(_ISO_DATE.match(value)))


def _trend(rows: Sequence[Sequence[object]], measure: str, fmt: ColumnFormat | None = None) -> str:
    """A time series in a sentence: first, last, highest and lowest points."""
    points = [(str(r[0])[:10], r[1]) for r in rows if is_number(r[1])]
    if not points:
        return f"{len(rows)} rows"
    hi = max(points, key=lambda p: float(p[1]))  # type: ignore[arg-type]
    lo = min(points, key=lambda p: float(p[1]))  # type: ignore[arg-type]
    first, last = points[0], points[-1]
    return (
        f"{measure} went from {format_cell(first[1], fmt)} ({first[0]}) to "
        f"{format_cell(last[1], fmt)} ({last[0]}) over {len(rows)} periods; "
        f"highest {format_cell(hi[1], fmt)} ({hi[0]}), lowest {format_cell(lo[1], fmt)} ({lo[0]})"
    )


def failure_sentence(domain_title: str, error: str) -> str:
    return f"**{domain_title}** could not answer: {error} No figures are shown for it."


def summarize_combined(result: ResultTable, title: str) -> str:
    """The parts joined on their grouping, as a table; a member a part lacks is written "—" (missing)."""
    formats = column_formats(result.columns, result.rows, result.column_types, result.column_formats)
    keys = measure_index(result.rows[0], formats) if result.rows else None
    lines = [f"**{title}** — {result.text}:", "", "| " + " | ".join(result.columns) + " |"]
    lines.append(
        "|"
        + "|".join("---" if keys is None or i < keys else "---:" for i in range(len(result.columns)))
        + "|"
    )
    for row in result.rows[:MAX_TABLE_ROWS]:
        cells = [
            "—" if v is None else format_key(v) if keys is not None and i < keys else format_cell(v, f)
            for i, (v, f) in enumerate(zip(row, formats, strict=False))
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if len(result.rows) > MAX_TABLE_ROWS:
        lines.append(f"\n{len(result.rows)} rows in all.")
    return "\n".join(lines)


def synthesize(results: Sequence[ResultTable], failures: Mapping[str, str], titles: Mapping[str, str]) -> str:
    """The answer: one paragraph per space that answered, one line per space that failed, and the
    parts joined in one table when they share a grouping."""
    paragraphs = [
        (summarize_combined if r.domain == COMBINED else summarize_result)(r, titles.get(r.domain, r.domain))
        for r in results
    ]
    paragraphs += [failure_sentence(titles.get(d, d), e) for d, e in failures.items()]
    return "\n\n".join(paragraphs)


class Synthesizer(Protocol):
    """Writes the answer from the results, streamed as text chunks.

    Implementations see only the question, the results and the failures; they must not add
    numbers of their own (the grounding check flags any). ``name`` appears in traces.
    """

    name: str

    def stream(
        self,
        question: str,
        results: Sequence[ResultTable],
        failures: Mapping[str, str],
        titles: Mapping[str, str],
    ) -> Iterator[str]: ...

    def trace_attributes(self) -> dict[str, object]:
        """What to record on the synthesis span after a stream (prompt version, fallback)."""
        ...


class DeterministicSynthesizer:
    """The default: :func:`synthesize`, chunked like a stream. Needs no LLM."""

    name = "deterministic"

    def stream(
        self,
        question: str,
        results: Sequence[ResultTable],
        failures: Mapping[str, str],
        titles: Mapping[str, str],
    ) -> Iterator[str]:
        text = synthesize(results, failures, titles)
        start = 0
        while True:  # a chunk ends at a line break, or at the first space 61+ characters in
            line_end, space = text.find("\n", start), text.find(" ", start + 61)
            ends = [i for i in (line_end, space) if i >= 0]
            if not ends:
                break
            end = min(ends) + 1
            yield text[start:end]
            start = end
        if start < len(text):
            yield text[start:]

    def trace_attributes(self) -> dict[str, object]:
        return {"synthesizer": self.name}
