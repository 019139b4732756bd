"""``ask --csv``: a turn's result tables written whole as CSV files.

A file path gets the primary table (the joined parts of a cross-domain answer when the turn joined
them, else the first table a space answered), every row the space returned (up to ``row_limit``;
``data`` and the printed table show only the first ones). A directory (an existing one, or a path
ending in ``/``) gets one file per space, ``<domain>.csv``, and ``combined.csv`` for the joined parts.
Values are written as ``ask --json`` has them: numbers as numbers, dates ISO 8601, null as an empty
field; the first line names the columns.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from genie_agent.turn import ResultTable, TurnResult

__all__ = ["Written", "write_csv"]

Written = tuple[Path, int, bool]
"""A file written: its path, its rows, whether the space cut the result off (``truncated``)."""


def write_csv(result: TurnResult, target: str) -> list[Written]:
    """Write ``result``'s tables to ``target`` (a file or a directory, see the module); what was written.
    Nothing is written when no space answered with a table."""
    path = Path(target).expanduser()
    tables = [t for t in result.results if t.error is None and t.columns]
    if target.endswith(("/", "\\")) or path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        named = [(path / f"{t.domain}.csv", t) for t in tables]
        if result.combined is not None:
            named.append((path / "combined.csv", result.combined))
    else:
        primary = result.combined if result.combined is not None else (tables[0] if tables else None)
        named = [(path, primary)] if primary is not None else []
    return [_write(file, table) for file, table in named]


def _write(path: Path, table: ResultTable) -> Written:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(table.columns)
        writer.writerows(["" if v is None else v for v in row] for row in table.rows)
    return path, len(table.rows), table.truncated
