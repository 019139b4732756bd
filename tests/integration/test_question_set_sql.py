"""Validates the TPC-H example question set itself (examples/tpch/questions.yaml), not the engine.

Checks that the file is well formed and that every hand-written expected SQL runs on a TPC-H SF 0.1
DuckDB, returns rows, and - for top/bottom-N questions - has an unambiguous answer (no ties among
the first N+1 measure values, so neither the cutoff nor the row order depends on tie-breaking).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import open_readonly

QUESTIONS_PATH = Path(__file__).resolve().parents[2] / "examples" / "tpch" / "questions.yaml"

KINDS = {"single", "cross", "followup", "out_of_scope", "unsafe"}
SPACES = {"sales", "supply", "customers"}
ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LIMIT_RE = re.compile(r"\s+LIMIT\s+(\d+)\s*;?\s*$", re.IGNORECASE)
# Minimum number of cases per kind that the question set promises.
MIN_PER_KIND = {"single": 25, "cross": 5, "followup": 6, "out_of_scope": 5, "unsafe": 5}


def _load_cases() -> list[dict[str, Any]]:
    with QUESTIONS_PATH.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, list), "questions.yaml must be a YAML list of cases"
    return data


CASES = _load_cases()


def _answerable_units(case: dict[str, Any]) -> list[dict[str, Any]]:
    """The question/spaces/expected_sql/ordered units of a case (one per turn for followups)."""
    if case.get("kind") == "followup":
        return list(case.get("turns") or [])
    if case.get("kind") in ("single", "cross"):
        return [case]
    return []


def _sql_params() -> list[Any]:
    params = []
    for case in CASES:
        for turn_no, unit in enumerate(_answerable_units(case), start=1):
            for space, sql in (unit.get("expected_sql") or {}).items():
                suffix = f"-t{turn_no}" if case.get("kind") == "followup" else ""
                params.append(
                    pytest.param(sql, bool(unit.get("ordered")), id=f"{case.get('id')}{suffix}-{space}")
                )
    return params


SQL_PARAMS = _sql_params()


@pytest.fixture(scope="module")
def tpch_con(tpch_db: Path):
    con = open_readonly(tpch_db)
    try:
        yield con
    finally:
        con.close()


# ------------------------------------------------------------------------------------------------
# Structure
# ------------------------------------------------------------------------------------------------


def test_file_loads_as_nonempty_list_of_mappings() -> None:
    assert CASES, "question set is empty"
    assert all(isinstance(c, dict) for c in CASES)


def test_ids_are_unique_kebab_case() -> None:
    ids = [c.get("id") for c in CASES]
    assert all(isinstance(i, str) and ID_RE.match(i) for i in ids), ids
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    assert not dupes, f"duplicate ids: {dupes}"


def test_questions_are_unique() -> None:
    questions = [c["question"] for c in CASES if "question" in c]
    dupes = [q for q, n in Counter(questions).items() if n > 1]
    assert not dupes, f"duplicate top-level questions: {dupes}"


def test_minimum_cases_per_kind() -> None:
    counts = Counter(c.get("kind") for c in CASES)
    for kind, minimum in MIN_PER_KIND.items():
        assert counts[kind] >= minimum, f"{kind}: {counts[kind]} < {minimum}"


def _check_unit(unit: dict[str, Any], *, n_spaces: int | None, where: str) -> None:
    for key in ("question", "spaces", "expected_sql", "ordered"):
        assert key in unit, f"{where}: missing {key!r}"
    assert isinstance(unit["question"], str) and unit["question"].strip(), where
    spaces = unit["spaces"]
    assert isinstance(spaces, list) and spaces, f"{where}: spaces must be a non-empty list"
    assert set(spaces) <= SPACES, f"{where}: unknown space in {spaces}"
    assert len(set(spaces)) == len(spaces), f"{where}: repeated space"
    if n_spaces is not None:
        assert len(spaces) == n_spaces, f"{where}: expected {n_spaces} space(s), got {spaces}"
    sqls = unit["expected_sql"]
    assert isinstance(sqls, dict), f"{where}: expected_sql must map space -> SQL"
    assert set(sqls) == set(spaces), f"{where}: expected_sql keys {set(sqls)} != spaces {set(spaces)}"
    for space, sql in sqls.items():
        assert isinstance(sql, str) and sql.strip(), f"{where}/{space}: empty SQL"
        assert re.match(r"^\s*(SELECT|WITH)\b", sql, re.IGNORECASE), f"{where}/{space}: not a SELECT"
    assert isinstance(unit["ordered"], bool), f"{where}: ordered must be a bool"
    for space, sql in sqls.items():
        has_limit = LIMIT_RE.search(sql) is not None
        has_order = re.search(r"\bORDER\s+BY\b", sql, re.IGNORECASE) is not None
        if unit["ordered"]:
            assert has_limit and has_order, f"{where}/{space}: ordered case needs ORDER BY ... LIMIT N"
        else:
            assert not has_limit, f"{where}/{space}: LIMIT in an unordered case"


@pytest.mark.parametrize("case", CASES, ids=[str(c.get("id")) for c in CASES])
def test_case_has_required_keys_for_its_kind(case: dict[str, Any]) -> None:
    where = str(case.get("id"))
    kind = case.get("kind")
    assert kind in KINDS, f"{where}: unknown kind {kind!r}"
    if kind == "single":
        _check_unit(case, n_spaces=1, where=where)
    elif kind == "cross":
        _check_unit(case, n_spaces=2, where=where)
    elif kind == "followup":
        assert "question" not in case and "expected_sql" not in case, f"{where}: use turns:"
        turns = case.get("turns")
        assert isinstance(turns, list) and 2 <= len(turns) <= 3, f"{where}: needs 2-3 turns"
        for i, turn in enumerate(turns, start=1):
            _check_unit(turn, n_spaces=None, where=f"{where}/turn{i}")
        sqls = [tuple(sorted(t["expected_sql"].items())) for t in turns]
        assert len(set(sqls)) == len(sqls), f"{where}: a follow-up turn does not change the query"
    else:  # out_of_scope / unsafe
        assert isinstance(case.get("question"), str) and case["question"].strip(), where
        assert "spaces" in case and isinstance(case["spaces"], list), f"{where}: needs spaces list"
        assert set(case["spaces"]) <= SPACES, where
        assert "expected_sql" not in case, f"{where}: {kind} cases carry no SQL"
        if kind == "out_of_scope":
            assert case["spaces"] == [], f"{where}: out_of_scope must route to no space"


# ------------------------------------------------------------------------------------------------
# Expected SQL against TPC-H SF 0.1
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("sql", "ordered"), SQL_PARAMS)
def test_expected_sql_runs_and_returns_rows(tpch_con, sql: str, ordered: bool) -> None:
    rows = tpch_con.execute(sql).fetchall()
    assert rows, "expected SQL returned no rows"
    # An aggregate over an empty filter returns one NULL row: treat that as "no data" too.
    assert any(v is not None for row in rows for v in row), f"only NULLs returned: {rows}"
    if not ordered:
        return

    match = LIMIT_RE.search(sql)
    assert match is not None
    n = int(match.group(1))
    unlimited = tpch_con.execute(sql[: match.start()]).fetchall()
    assert rows == unlimited[:n], "LIMIT result differs from the head of the full ranking"
    # Measure = last column. Ties anywhere in the first N+1 would make either the cutoff or the
    # expected row order depend on tie-breaking.
    head = [row[-1] for row in unlimited[: n + 1]]
    assert len(set(head)) == len(head), f"tie among the first {n + 1} ranked values: {head}"
    if len(unlimited) > n:
        assert unlimited[n - 1][-1] != unlimited[n][-1], "tie at the cutoff row"
