""" "Those nations", "these two": a follow-up naming the previous answer's members.

After "which 4 nations brought in the most revenue in 1993?", the question "how many suppliers does
each of those nations have?" means those four nations. The reference is replaced by the members
themselves ("INDONESIA, MOROCCO, ETHIOPIA and IRAN"), so any space, local or a remote Genie space, in
the same conversation or another, is asked about exactly them, grouped by them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .lexicon import stem

__all__ = ["MAX_MEMBERS", "carry_members", "key_members", "resolve_references", "result_members"]

MAX_MEMBERS = 50
"""Members kept per key column of a turn's result: a longer list is no longer 'those'."""

_NUMBER = r"(?:\d+|two|three|four|five|six|seven|eight|nine|ten)"
_REFERENCE = re.compile(
    rf"\b(?P<det>those|these|the same)(?:\s+(?P<n>{_NUMBER}))?(?:\s+(?P<noun>[A-Za-z][\w-]*(?:\s+[A-Za-z][\w-]*)?))?",
    re.IGNORECASE,
)


def key_members(columns: Sequence[str], rows: Sequence[Sequence[Any]], keys: int) -> dict[str, list[Any]]:
    """The distinct values of each of a result's ``keys`` leading (grouping) columns, in row order."""
    out: dict[str, list[Any]] = {}
    for i, column in enumerate(columns[:keys]):
        values = list(dict.fromkeys(row[i] for row in rows if i < len(row) and row[i] is not None))
        if 0 < len(values) <= MAX_MEMBERS and all(isinstance(v, str | int) for v in values):
            out[column] = values
    return out


def resolve_references(question: str, members: Mapping[str, Sequence[Any]]) -> str:
    """The question with "those <column>" replaced by the previous result's members of that column.

    Only a reference that names a key column ("those nations") or, when the previous result had a
    single key column, a count ("those two") is replaced; anything else is left as asked.
    """
    if not members:
        return question
    for m in _REFERENCE.finditer(question):
        column, noun_end = _column(m, members)
        if column is None:
            continue
        values = [str(v) for v in members[column]]
        listed = _listed(values)
        rest = question[noun_end:]
        grouped = re.search(r"\b(?:by|per|each)\b", question, re.IGNORECASE) is not None
        text = question[: m.start()] + listed + rest
        if len(values) > 1 and not grouped:
            body = text.rstrip(" ?.!")
            text = f"{body} by {column}{text[len(body) :]}"
        return text
    return question


_ELLIPTIC = re.compile(r"^\s*(?:and|and what about|what about|how about|same for|now)\b", re.IGNORECASE)


def carry_members(question: str, members: Mapping[str, Sequence[Any]]) -> str:
    """An elliptic follow-up another space answers ("and suppliers?" after customers in three nations):
    asked about the previous answer's members, since that space never saw the conversation."""
    if not members or len(members) != 1 or not _ELLIPTIC.match(question) or len(question.split()) > 6:
        return question
    column, values = next(iter(members.items()))
    listed = _listed([str(v) for v in values])
    body = question.rstrip(" ?.!")
    return f"{body} for {listed}" + (f" by {column}" if len(values) > 1 else "") + question[len(body) :]


def _listed(values: Sequence[str]) -> str:
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]


def _column(m: re.Match[str], members: Mapping[str, Sequence[Any]]) -> tuple[str | None, int]:
    """The key column a reference names, and where the reference ends in the question."""
    noun = m.group("noun")
    if noun:
        words = noun.split()
        for n in (len(words), 1):
            stems = {stem(w) for w in words[:n]}
            for column in members:
                if stems <= {stem(w) for w in column.split()}:
                    end = m.start("noun") + len(" ".join(words[:n]))
                    return column, end
    if m.group("n") and len(members) == 1:
        return next(iter(members)), m.end("n")
    return None, m.end()


def result_members(results: Sequence[Any]) -> dict[str, list[object]]:
    """The grouping members of the first answered result, per key column (for "those nations")."""
    from ..column_kinds import column_formats
    from ..synthesis import measure_index

    for r in results:
        if r.error is None and r.rows:
            formats = column_formats(r.columns, r.rows, r.column_types, r.column_formats)
            keys = measure_index(r.rows[0], formats)
            return key_members(r.columns, r.rows, keys) if keys else {}
    return {}
