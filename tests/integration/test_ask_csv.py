"""``genie-agent ask --csv``: the whole result written as CSV, as processes: a 10,000-row answer from
``genie-agent genie-server`` read in full by the Databricks backend, and one file per space."""

from __future__ import annotations

import csv
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import CLI, serve_home, start_server

pytestmark = pytest.mark.slow


def run_ask(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("GENIE_AGENT_", "MLFLOW_", "DATABRICKS_"))
    }
    clean.update({"GENIE_AGENT_HOME": str(home), "GENIE_AGENT_TRACING": "off"}, **(env or {}))
    return subprocess.run([CLI, "ask", *args], env=clean, capture_output=True, text=True, timeout=300)


def read(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))


@pytest.fixture(scope="module")
def genie_server(tmp_path_factory, tpch_db) -> Iterator[str]:
    home = serve_home(tmp_path_factory, tpch_db, "csv-genie-server")
    command = [CLI, "genie-server", "--latency", "*=0.1"]
    proc, url = start_server(home, home, 'tracing: "off"\nrow_limit: 100000\n', command=command, timeout_s=90)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_a_large_genie_result_is_written_whole(genie_server, tmp_path_factory, tpch_db, tmp_path):
    home = serve_home(tmp_path_factory, tpch_db, "csv-client")
    env = {
        "DATABRICKS_HOST": genie_server,
        "DATABRICKS_TOKEN": "any-token",
        "DATABRICKS_CONFIG_FILE": "/nonexistent",
        "GENIE_AGENT_GENIE_BACKEND": "databricks",
        "GENIE_AGENT_GENIE_SPACES": '{"sales": {"space_id": "sales", "keywords": ["revenue"]}}',
        "GENIE_AGENT_ROW_LIMIT": "100000",
    }
    out = tmp_path / "revenue.csv"
    done = run_ask(home, "--json", "--csv", str(out), "Revenue by customer", env=env)
    assert done.returncode == 0, done.stderr
    rows = read(out)
    assert rows[0] == ["customer", "revenue"] and len(rows) == 10_001
    assert rows[1][0] == "Customer#000008362" and float(rows[1][1]) == pytest.approx(5570473.9885)
    assert len({r[0] for r in rows[1:]}) == 10_000
    assert f"Wrote 10000 rows to {out}." in done.stderr

    cut = tmp_path / "cut.csv"
    done = run_ask(
        home, "--csv", str(cut), "Revenue by customer", env={**env, "GENIE_AGENT_ROW_LIMIT": "2500"}
    )
    assert done.returncode == 0, done.stderr
    assert len(read(cut)) == 2_501 and read(cut)[1:] == rows[1:2_501]
    assert "Wrote 2500 rows" in done.stderr and "cut off" in done.stderr


def test_a_directory_gets_one_file_per_space(tmp_path_factory, tpch_db, tmp_path):
    home = serve_home(tmp_path_factory, tpch_db, "csv-local")
    target = tmp_path / "parts"
    done = run_ask(
        home, "--csv", f"{target}/", "How many customers and how many suppliers are there in each nation?"
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in target.iterdir()) == ["combined.csv", "customers.csv", "supply.csv"]
    customers, supply = read(target / "customers.csv"), read(target / "supply.csv")
    assert len(customers) == len(supply) == 26 and customers[0][0] == supply[0][0] == "nation"
    assert len(read(target / "combined.csv")[0]) == 3
