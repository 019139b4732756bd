"""One table from the parts of a cross-domain answer that group by the same keys.

"revenue and suppliers by region" is answered by two spaces, each grouping by region: the combined
table is region | revenue (sales) | suppliers (supply), joined on region. A member one part lacks is
missing (None) in that part's columns, never 0. Parts that do not group by the same keys, or whose
rows were cut off (a join would report the cut-off members as missing), give no combined table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .column_kinds import column_formats
from .synthesis import measure_index
from .turn import COMBINED, ResultTable

__all__ = ["combine_results"]


def combine_results(results: Sequence[ResultTable]) -> ResultTable | None:
    """The parts joined on their shared grouping keys, or None when they do not share them."""
    answered = [r for r in results if r.error is None and r.columns and r.rows]
    if len(answered) < 2 or len({r.domain for r in answered}) < len(answered):
        return None
    splits = [_keys_of(r) for r in answered]
    if any(s is None or s == 0 for s in splits) or any(r.truncated for r in answered):
        return None
    width = splits[0]
    assert width is not None
    keys = [c.lower() for c in answered[0].columns[:width]]
    if any(
        s != width or [c.lower() for c in r.columns[:width]] != keys
        for r, s in zip(answered, splits, strict=True)
    ):
        return None
    indexed = [_by_key(r, width) for r in answered]
    if any(i is None for i in indexed):
        return None  # a key twice in one part: not a grouping the parts share
    members: dict[tuple[Any, ...], None] = {}
    for index in indexed:
        assert index is not None
        members.update(dict.fromkeys(index))
    columns = list(answered[0].columns[:width])
    types, formats = list(_types(answered[0])[:width]), list(_formats(answered[0])[:width])
    for r in answered:
        columns += [f"{c} ({r.domain})" for c in r.columns[width:]]
        types += _types(r)[width:]
        formats += _formats(r)[width:]
    rows = []
    for key in members:
        row = list(key)
        for r, index in zip(answered, indexed, strict=True):
            assert index is not None
            found = index.get(key)
            row += list(found[width:]) if found is not None else [None] * (len(r.columns) - width)
        rows.append(tuple(row))
    return ResultTable(
        COMBINED,
        None,
        tuple(columns),
        tuple(rows),
        len(rows),
        False,
        None,
        column_types=tuple(types),
        text="joined on " + ", ".join(columns[:width]),
        column_formats=tuple(formats),
    )


def _keys_of(result: ResultTable) -> int | None:
    """How many leading columns are grouping keys (the columns before the first measure)."""
    formats = column_formats(result.columns, result.rows, result.column_types, result.column_formats)
    return measure_index(result.rows[0], formats)


def _by_key(result: ResultTable, width: int) -> Mapping[tuple[Any, ...], tuple[Any, ...]] | None:
    index: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for row in result.rows:
        key = tuple(row[:width])
        if key in index:
            return None
        index[key] = row
    return index


def _types(result: ResultTable) -> list[str]:
    return (
        list(result.column_types)
        if len(result.column_types) == len(result.columns)
        else [""] * len(result.columns)
    )


def _formats(result: ResultTable) -> list[str]:
    formats = result.column_formats
    return list(formats) if len(formats) == len(result.columns) else [""] * len(result.columns)
