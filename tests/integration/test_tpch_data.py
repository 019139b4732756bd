"""The TPC-H example database: contents, idempotence, crash safety and concurrent generation."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from genie_agent.data import tpch
from genie_agent.data.tpch import TPCH_TABLES, ensure_tpch_database
from genie_agent.errors import ConfigError
from tests.conftest import open_readonly

SF01_ROW_COUNTS = {
    "customer": 15_000,
    "orders": 150_000,
    "supplier": 1_000,
    "part": 20_000,
    "partsupp": 80_000,
    "nation": 25,
    "region": 5,
}


def _row_counts(path: Path) -> dict[str, int]:
    con = open_readonly(path)
    try:
        tables = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in sorted(tables)}
    finally:
        con.close()


def test_sf01_has_the_eight_tables_with_standard_row_counts(tpch_db: Path) -> None:
    counts = _row_counts(tpch_db)
    assert set(counts) == set(TPCH_TABLES)
    for table, expected in SF01_ROW_COUNTS.items():
        assert counts[table] == expected, table
    assert 590_000 <= counts["lineitem"] <= 610_000


def test_second_call_is_a_fast_no_op(tpch_db: Path) -> None:
    before = tpch_db.stat()
    started = time.perf_counter()
    assert ensure_tpch_database(tpch_db, scale_factor=0.1, progress=False) == tpch_db
    assert time.perf_counter() - started < 0.5
    after = tpch_db.stat()
    assert (after.st_mtime_ns, after.st_size, after.st_ino) == (
        before.st_mtime_ns,
        before.st_size,
        before.st_ino,
    )


def test_leftover_temp_file_is_not_taken_for_the_database(tmp_path: Path) -> None:
    target = tmp_path / "data" / "tpch.duckdb"
    target.parent.mkdir()
    leftover = target.with_name(f"{target.name}.tmp-999999")
    leftover.write_bytes(b"half-written by a crashed run")

    ensure_tpch_database(target, scale_factor=0.01, progress=False)

    assert _row_counts(target)["region"] == 5
    assert not leftover.exists()
    assert sorted(p.name for p in target.parent.iterdir()) == ["tpch.duckdb", "tpch.duckdb.lock"]


def test_failed_generation_leaves_no_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "tpch.duckdb"

    def crash_midway(database: Path, scale_factor: float, *, progress: bool) -> None:
        database.write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(tpch, "_generate_into", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        ensure_tpch_database(target, scale_factor=0.01, progress=False)
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


_GENERATE_SCRIPT = textwrap.dedent(
    """
    import sys
    import time
    from pathlib import Path
    from genie_agent.data import tpch

    real = tpch._generate_into

    def counting(*args, **kwargs):
        print("generated", flush=True)
        time.sleep(1.0)  # hold the lock long enough that the other process must wait for it
        return real(*args, **kwargs)

    tpch._generate_into = counting
    tpch.ensure_tpch_database(Path(sys.argv[1]), scale_factor=0.01, progress=False)
    print("done", flush=True)
    """
)


def test_two_processes_generate_once_and_both_succeed(tmp_path: Path) -> None:
    target = tmp_path / "shared" / "tpch.duckdb"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _GENERATE_SCRIPT, str(target)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=60) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    stdout = "".join(out for out, _ in outputs)
    assert stdout.count("generated") == 1
    assert stdout.count("done") == 2
    counts = _row_counts(target)
    assert counts["nation"] == 25 and counts["customer"] == 1_500
    assert [p.name for p in target.parent.iterdir() if ".tmp-" in p.name] == []


def test_progress_goes_to_stderr_only(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    ensure_tpch_database(tmp_path / "tpch.duckdb", scale_factor=0.01, progress=True)
    out, err = capfd.readouterr()
    assert out == ""
    assert "TPC-H database ready" in err


@pytest.mark.parametrize("scale_factor", [0, -1, 100.5, math.nan, math.inf, True, "0.1"])
def test_invalid_scale_factor_is_a_config_error(tmp_path: Path, scale_factor: object) -> None:
    target = tmp_path / "tpch.duckdb"
    with pytest.raises(ConfigError) as info:
        ensure_tpch_database(target, scale_factor=scale_factor, progress=False)  # type: ignore[arg-type]
    assert info.value.hint
    assert not target.exists()


def test_missing_extension_wheel_is_a_config_error_with_install_hint() -> None:
    with pytest.raises(ConfigError) as info:
        tpch._find_tpch_extension("no_such_duckdb_extension_package")
    assert f"pip install duckdb-extension-tpch=={duckdb.__version__}" in info.value.hint


def test_extension_is_found_in_the_installed_wheel() -> None:
    path = tpch._find_tpch_extension()
    assert path.name == "tpch.duckdb_extension"
    assert path.parent.name == f"v{duckdb.__version__}"
