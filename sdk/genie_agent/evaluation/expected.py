"""Expected results: each case's hand-written SQL run on the space's own database, and row comparison.

The SQL runs once, before the agent answers anything, on a read-only connection through the same
SQL guard the engine uses (restricted to the space's tables). A case whose SQL fails is a problem
with the set, reported before the evaluation starts.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, GenieAgentError

if TYPE_CHECKING:
    from ..config import Settings
    from ..spaces.catalog import Catalog
    from .dataset import EvalSet

__all__ = ["ExpectedTable", "compare_rows", "expected_tables"]

_MIDNIGHT = re.compile(r"^(\d{4}-\d{2}-\d{2})T00:00:00$")


@dataclass(frozen=True)
class ExpectedTable:
    """What one space must return for one turn."""

    space: str
    sql: str
    rows: tuple[tuple[Any, ...], ...]
    ordered: bool
    truncated: bool


def _norm(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and (m := _MIDNIGHT.match(value)):
        return m.group(1)  # a DATE_TRUNC timestamp as JSON: the same bucket as the date
    if isinstance(value, decimal.Decimal | float | int) and not isinstance(value, bool):
        return round(float(value), 2)
    return value


def _normalize(rows: Iterable[Sequence[Any]], ordered: bool) -> list[tuple[Any, ...]]:
    out = [tuple(_norm(v) for v in row) for row in rows]
    return out if ordered else sorted(out, key=repr)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= max(0.011, 1e-9 * abs(b))
    return bool(a == b)


def compare_rows(
    actual: Iterable[Sequence[Any]], expected: Iterable[Sequence[Any]], ordered: bool
) -> str | None:
    """None when the tables are equal (dates normalized, numbers to the cent); else what differs.

    Column names do not matter; column order and, when ``ordered``, row order do.
    """
    a, e = _normalize(actual, ordered), _normalize(expected, ordered)
    if len(a) != len(e):
        return f"{len(a)} rows, expected {len(e)}"
    for index, (ra, re_) in enumerate(zip(a, e, strict=True)):
        if len(ra) != len(re_):
            return f"{len(ra)} columns, expected {len(re_)}"
        if not all(_same(va, ve) for va, ve in zip(ra, re_, strict=True)):
            where = f"row {index + 1}" if ordered else "a row"
            return f"{where} is {list(ra)}, expected {list(re_)}"
    return None


def expected_tables(
    eval_set: EvalSet, catalog: Catalog, settings: Settings
) -> dict[str, list[dict[str, ExpectedTable]]]:
    """Run every case's expected SQL: ``{case_id: [{space: table} per turn]}``.

    Raises:
        ConfigError: a case names a space the catalog does not have, or its SQL fails.
    """
    from ..factory import database_path
    from ..spaces.local.executor import ReadOnlyExecutor

    spaces = {s.id: s for s in catalog.spaces}
    problems = [
        f"case {case.id}: space {space!r} is not in the catalog ({', '.join(sorted(spaces))})"
        for case in eval_set.cases
        for turn in case.turns
        for space in turn.spaces
        if space not in spaces
    ]
    if problems:
        raise ConfigError("The evaluation set does not fit the catalog.", "Fix each case listed.", problems)
    executors: dict[str, ReadOnlyExecutor] = {}
    tables: dict[str, list[dict[str, ExpectedTable]]] = {}
    try:
        for case in eval_set.cases:
            per_turn: list[dict[str, ExpectedTable]] = []
            for number, turn in enumerate(case.turns, 1):
                found: dict[str, ExpectedTable] = {}
                for space_id, sql in turn.expected_sql.items():
                    space = spaces[space_id]
                    if space.database not in executors:
                        path = database_path(
                            settings, space.database, catalog.databases[space.database], progress=False
                        )
                        executors[space.database] = ReadOnlyExecutor(
                            path, row_limit=settings.row_limit, timeout_s=settings.query_timeout_s
                        )
                    try:
                        result = executors[space.database].execute(sql, space.physical_tables)
                    except GenieAgentError as exc:
                        problems.append(
                            f"case {case.id} turn {number} ({space_id}): expected SQL failed: {exc.message}"
                        )
                        continue
                    found[space_id] = ExpectedTable(
                        space_id, sql, result.rows, turn.ordered, result.truncated
                    )
                per_turn.append(found)
            tables[case.id] = per_turn
    finally:
        for executor in executors.values():
            executor.close()
    if problems:
        raise ConfigError("Expected SQL in the evaluation set failed.", "Fix each query listed.", problems)
    return tables
