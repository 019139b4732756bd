"""The read-only executor on the real TPC-H database: results, limits, time limit, and the
database-level refusals that back up the SQL guard."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from genie_agent.data.tpch import TPCH_TABLES, _find_tpch_extension
from genie_agent.errors import BackendError, BackendTimeoutError, ConfigError, UnsafeRequestError
from genie_agent.spaces.local import executor as executor_module
from genie_agent.spaces.local.executor import QueryResult, ReadOnlyExecutor

ALL_TABLES = TPCH_TABLES
SLOW_SQL = (
    "SELECT count(*) FROM lineitem a, lineitem b WHERE a.l_quantity + b.l_quantity > 1000 + a.l_discount"
)


@pytest.fixture(scope="module")
def executor(tpch_db: Path) -> Iterator[ReadOnlyExecutor]:
    with ReadOnlyExecutor(tpch_db, row_limit=1000, timeout_s=30) as ex:
        yield ex


def test_columns_types_and_values(executor: ReadOnlyExecutor) -> None:
    result = executor.execute("SELECT r_regionkey, r_name FROM region ORDER BY r_regionkey", ["region"])
    assert isinstance(result, QueryResult)
    assert result.columns == ("r_regionkey", "r_name")
    assert result.column_types == ("INTEGER", "VARCHAR")
    assert result.rows == ((0, "AFRICA"), (1, "AMERICA"), (2, "ASIA"), (3, "EUROPE"), (4, "MIDDLE EAST"))
    assert result.row_count == 5
    assert result.truncated is False
    assert result.elapsed_ms > 0


def test_decimal_date_and_bigint_values_are_kept_as_duckdb_returns_them(executor: ReadOnlyExecutor) -> None:
    result = executor.execute(
        "SELECT sum(l_extendedprice) AS revenue, min(l_shipdate) AS first_ship, count(*) AS n, "
        "avg(l_quantity) AS avg_qty FROM lineitem",
        ["lineitem"],
    )
    assert result.column_types == ("DECIMAL(38,2)", "DATE", "BIGINT", "DOUBLE")
    revenue, first_ship, n, avg_qty = result.rows[0]
    assert isinstance(revenue, Decimal)
    assert isinstance(first_ship, dt.date)
    assert isinstance(n, int) and 590_000 <= n <= 610_000
    assert isinstance(avg_qty, float)


def test_join_across_allowed_tables(executor: ReadOnlyExecutor) -> None:
    result = executor.execute(
        "SELECT r_name, count(*) AS nations FROM nation JOIN region ON n_regionkey = r_regionkey "
        "GROUP BY r_name ORDER BY r_name",
        ["nation", "region"],
    )
    assert result.rows == (("AFRICA", 5), ("AMERICA", 5), ("ASIA", 5), ("EUROPE", 5), ("MIDDLE EAST", 5))


def test_rows_beyond_the_limit_are_cut_and_flagged(tpch_db: Path) -> None:
    with ReadOnlyExecutor(tpch_db, row_limit=10) as ex:
        result = ex.execute("SELECT n_name FROM nation ORDER BY n_nationkey", ["nation"])
        assert (result.row_count, len(result.rows), result.truncated) == (10, 10, True)
        assert result.rows[0] == ("ALGERIA",)
        big = ex.execute("SELECT * FROM lineitem", ["lineitem"])
        assert (big.row_count, big.truncated) == (10, True)


def test_exactly_row_limit_rows_is_not_truncated(tpch_db: Path) -> None:
    with ReadOnlyExecutor(tpch_db, row_limit=25) as ex:
        result = ex.execute("SELECT * FROM nation", ["nation"])
    assert (result.row_count, result.truncated) == (25, False)


def test_slow_query_hits_the_time_limit_and_the_executor_recovers(tpch_db: Path) -> None:
    with ReadOnlyExecutor(tpch_db, timeout_s=0.5) as ex:
        started = time.perf_counter()
        with pytest.raises(BackendTimeoutError) as info:
            ex.execute(SLOW_SQL, ["lineitem"])
        assert time.perf_counter() - started < 2.0
        assert info.value.message == "Query exceeded the 0.5 s time limit"
        assert info.value.hint and info.value.retryable
        assert ex.execute("SELECT count(*) FROM region", ["region"]).rows == ((5,),)


def test_guard_refuses_before_the_database_is_touched(tmp_path: Path) -> None:
    # The file does not exist: an UnsafeRequestError (not ConfigError) proves the guard ran first.
    with ReadOnlyExecutor(tmp_path / "missing.duckdb") as ex:
        with pytest.raises(UnsafeRequestError):
            ex.execute("DELETE FROM region", ["region"])
        with pytest.raises(UnsafeRequestError):
            ex.execute("SELECT * FROM supplier", ["region"])


def test_duckdb_parser_is_a_second_statement_check(
    executor: ReadOnlyExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(executor_module, "check_select", lambda sql, tables: sql)
    with pytest.raises(UnsafeRequestError, match="DuckDB sees SELECT, DELETE"):
        executor.execute("SELECT 1; DELETE FROM region", ["region"])
    with pytest.raises(UnsafeRequestError, match="DuckDB sees"):
        executor.execute("INSERT INTO region VALUES (9, 'X', 'y')", ["region"])


def test_database_errors_become_backend_errors_with_duckdb_message(executor: ReadOnlyExecutor) -> None:
    with pytest.raises(BackendError) as info:
        executor.execute("SELECT no_such_column FROM region", ["region"])
    assert type(info.value) is BackendError
    assert "no_such_column" in info.value.message
    assert info.value.hint
    assert info.value.__cause__ is None


def test_missing_database_file_is_a_config_error(tmp_path: Path) -> None:
    with ReadOnlyExecutor(tmp_path / "nope.duckdb") as ex, pytest.raises(ConfigError) as info:
        ex.execute("SELECT 1", [])
    assert "nope.duckdb" in info.value.message and info.value.hint


def test_file_that_is_not_a_database_is_a_config_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.duckdb"
    bogus.write_bytes(b"this is not a database" * 1000)
    with ReadOnlyExecutor(bogus) as ex, pytest.raises(ConfigError):
        ex.execute("SELECT 1", [])


@pytest.mark.parametrize(("kwargs"), [{"row_limit": 0}, {"timeout_s": 0}, {"timeout_s": -1.0}])
def test_invalid_limits_are_config_errors(tpch_db: Path, kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        ReadOnlyExecutor(tpch_db, **kwargs)  # type: ignore[arg-type]


def test_closed_executor_refuses_queries(tpch_db: Path) -> None:
    ex = ReadOnlyExecutor(tpch_db)
    assert ex.execute("SELECT 1", []).rows == ((1,),)
    ex.close()
    ex.close()  # idempotent
    with pytest.raises(BackendError, match="closed"):
        ex.execute("SELECT 1", [])


# ------------------------------------------------------------------------------------------------
# Defence in depth: the connection itself refuses, even with the SQL guard bypassed.
# ------------------------------------------------------------------------------------------------


def _forbidden_statements(out: Path) -> dict[str, str]:
    extension = _find_tpch_extension()
    return {
        "read-text": "SELECT * FROM read_text('/etc/passwd')",
        "read-csv": "SELECT * FROM read_csv('/etc/passwd')",
        "glob": "SELECT * FROM glob('/etc/*')",
        "replacement-scan": "SELECT * FROM '/etc/passwd'",
        "attach-memory": "ATTACH ':memory:' AS mem",
        "attach-file": f"ATTACH '{out}/other.duckdb' AS other",
        "copy-query-to": f"COPY (SELECT 1) TO '{out}/one.csv'",
        "copy-table-to": f"COPY region TO '{out}/region.parquet' (FORMAT parquet)",
        "export-database": f"EXPORT DATABASE '{out}/dump'",
        "install": "INSTALL tpch",
        "install-httpfs": "INSTALL httpfs",
        "load": "LOAD httpfs",
        "load-file": f"LOAD '{extension}'",
        "create-table": "CREATE TABLE x (a INTEGER)",
        "create-view": "CREATE VIEW v AS SELECT 1",
        "insert": "INSERT INTO region VALUES (9, 'NOWHERE', 'x')",
        "update": "UPDATE region SET r_name = 'X'",
        "delete": "DELETE FROM region",
        "drop": "DROP TABLE region",
        "set-external-access": "SET enable_external_access = true",
        "reset-external-access": "RESET enable_external_access",
        "set-autoinstall": "SET autoinstall_known_extensions = true",
        "set-community": "SET allow_community_extensions = true",
        "unlock-configuration": "SET lock_configuration = false",
    }


@pytest.mark.parametrize("name", list(_forbidden_statements(Path("/unused"))))
def test_database_refuses_without_the_guard(executor: ReadOnlyExecutor, tmp_path: Path, name: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    sql = _forbidden_statements(out)[name]
    with pytest.raises(BackendError) as info:
        executor._execute_unchecked(sql)
    assert not isinstance(info.value, BackendTimeoutError)
    assert "Parser Error" not in info.value.message  # refused for the right reason, not a typo
    assert executor.execute("SELECT count(*) FROM region", ["region"]).rows == ((5,),)
    assert executor._execute_unchecked(
        "SELECT current_setting('enable_external_access'), current_setting('lock_configuration')"
    ).rows == ((False, True),)
    assert list(out.iterdir()) == [], "the database wrote files although external access is off"


def test_temporary_objects_are_per_query_and_never_reach_the_file(executor: ReadOnlyExecutor) -> None:
    # DuckDB allows TEMP objects on a read-only database (they live in memory); each query runs on
    # its own cursor, so they vanish with it. The guard refuses CREATE anyway.
    executor._execute_unchecked("CREATE TEMP TABLE scratch AS SELECT 1 AS a")
    with pytest.raises(BackendError, match="scratch"):
        executor._execute_unchecked("SELECT * FROM scratch")


# ------------------------------------------------------------------------------------------------
# Concurrency
# ------------------------------------------------------------------------------------------------

_HOLDER_SCRIPT = textwrap.dedent(
    """
    import sys
    import duckdb

    con = duckdb.connect(sys.argv[1], read_only=True)
    print("open", con.execute("SELECT count(*) FROM nation").fetchone()[0], flush=True)
    sys.stdin.read()  # hold the database open until the test closes our stdin
    con.close()
    """
)


def _start_holder(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER_SCRIPT, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "open 25":
        proc.kill()
        pytest.fail(f"holder process failed to open the database: {line!r} {proc.stderr.read()}")  # type: ignore[union-attr]
    return proc


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.communicate(input="", timeout=10)
    assert proc.returncode == 0


def test_other_processes_can_hold_the_file_open_read_only_at_the_same_time(tpch_db: Path) -> None:
    first = _start_holder(tpch_db)  # opened before this process
    try:
        with ReadOnlyExecutor(tpch_db) as ex:
            assert ex.execute("SELECT count(*) FROM region", ["region"]).rows == ((5,),)
            second = _start_holder(tpch_db)  # opened while this process holds it
            try:
                assert ex.execute("SELECT count(*) FROM nation", ["nation"]).rows == ((25,),)
            finally:
                _stop(second)
    finally:
        _stop(first)


def test_threads_share_one_executor(executor: ReadOnlyExecutor) -> None:
    queries = [
        ("SELECT count(*) FROM nation", ["nation"], 25),
        ("SELECT count(*) FROM region", ["region"], 5),
        ("SELECT count(*) FROM orders", ["orders"], 150_000),
        ("SELECT count(*) FROM customer", ["customer"], 15_000),
    ] * 4
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda q: executor.execute(q[0], q[1]).rows[0][0], queries))
    assert results == [expected for _, _, expected in queries]
