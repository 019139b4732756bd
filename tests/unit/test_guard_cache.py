"""The SQL guard's accepted texts, remembered across processes: a hit skips sqlglot, nothing else."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

import pytest

from genie_agent.errors import UnsafeRequestError
from genie_agent.spaces.local.guard_cache import AcceptedSql
from genie_agent.spaces.local.sql_guard import check_select

TABLES = ["region", "nation"]


class CountingGuard:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, sql: str, allowed_tables: Collection[str]) -> str:
        self.calls.append(sql)
        return check_select(sql, allowed_tables)


@pytest.mark.parametrize(
    "sql", ["SELECT * FROM region", "  SELECT count(*) FROM nation ;; \n", "\tSELECT 1;\n;"]
)
def test_an_accepted_text_is_not_parsed_again_by_another_instance(tmp_path: Path, sql: str) -> None:
    first, second = CountingGuard(), CountingGuard()
    assert AcceptedSql(tmp_path).check(sql, TABLES, first) == check_select(sql, TABLES)
    assert AcceptedSql(tmp_path).check(sql, TABLES, second) == check_select(sql, TABLES)
    assert (len(first.calls), len(second.calls)) == (1, 0)


def test_refused_sql_is_never_kept(tmp_path: Path) -> None:
    cache, guard = AcceptedSql(tmp_path), CountingGuard()
    for _ in range(2):
        with pytest.raises(UnsafeRequestError, match="not part of this space"):
            cache.check("SELECT * FROM customer", TABLES, guard)
    assert len(guard.calls) == 2
    assert not cache.path.exists()


@pytest.mark.parametrize(
    ("sql", "tables"),
    [
        ("SELECT * FROM region ", TABLES),  # another text, even by a space
        ("SELECT * FROM region", ["region"]),  # other allowed tables
    ],
)
def test_any_other_text_or_tables_go_through_the_guard(tmp_path: Path, sql: str, tables: list[str]) -> None:
    AcceptedSql(tmp_path).check("SELECT * FROM region", TABLES, CountingGuard())
    guard = CountingGuard()
    AcceptedSql(tmp_path).check(sql, tables, guard)
    assert guard.calls == [sql]


def test_tables_match_without_regard_to_case_or_order(tmp_path: Path) -> None:
    AcceptedSql(tmp_path).check("SELECT * FROM region", ["region", "nation"], CountingGuard())
    guard = CountingGuard()
    AcceptedSql(tmp_path).check("SELECT * FROM region", ["NATION", "Region"], guard)
    assert guard.calls == []


def test_texts_kept_by_another_guard_or_sqlglot_are_not_trusted(tmp_path: Path) -> None:
    cache = AcceptedSql(tmp_path)
    cache.check("SELECT * FROM region", TABLES, CountingGuard())
    data = json.loads(cache.path.read_text())
    cache.path.write_text(json.dumps({**data, "guard": "another-guard-version"}))
    guard = CountingGuard()
    AcceptedSql(tmp_path).check("SELECT * FROM region", TABLES, guard)
    assert len(guard.calls) == 1


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"guard": 3}', '{"accepted": 3}'])
def test_a_damaged_file_is_rebuilt(tmp_path: Path, content: str) -> None:
    (tmp_path / "sql-guard-accepted.json").write_text(content)
    guard = CountingGuard()
    cache = AcceptedSql(tmp_path)
    assert cache.check("SELECT 1", [], guard) == "SELECT 1"
    assert AcceptedSql(tmp_path).check("SELECT 1", [], guard) == "SELECT 1"
    assert len(guard.calls) == 1


def test_two_processes_texts_are_merged(tmp_path: Path) -> None:
    one, other = AcceptedSql(tmp_path), AcceptedSql(tmp_path)
    other.check("SELECT 1", [], CountingGuard())  # other has read the file before one writes it
    one.check("SELECT * FROM region", TABLES, CountingGuard())
    other.check("SELECT * FROM nation", TABLES, CountingGuard())
    guard = CountingGuard()
    fresh = AcceptedSql(tmp_path)
    fresh.check("SELECT * FROM region", TABLES, guard)
    fresh.check("SELECT * FROM nation", TABLES, guard)
    fresh.check("SELECT 1", [], guard)
    assert guard.calls == []


def test_an_unwritable_directory_only_costs_the_parse(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    guard = CountingGuard()
    cache = AcceptedSql(blocker / "cache")  # its parent is a file: nothing can be written
    assert cache.check("SELECT 1", [], guard) == "SELECT 1"
    assert cache.check("SELECT 1", [], guard) == "SELECT 1"  # still remembered in this process
    assert len(guard.calls) == 1
    assert list(tmp_path.iterdir()) == [blocker]


def test_without_the_guards_source_nothing_is_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from genie_agent.spaces.local import guard_cache

    monkeypatch.setattr(guard_cache, "_fingerprint", lambda: None)  # a build without sources
    guard = CountingGuard()
    for _ in range(2):
        assert AcceptedSql(tmp_path).check("SELECT 1", [], guard) == "SELECT 1"
    assert len(guard.calls) == 2
    assert list(tmp_path.iterdir()) == []
