"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from genie_agent.data.tpch import ensure_tpch_database


@pytest.fixture(scope="session")
def tpch_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TPC-H SF 0.1 DuckDB file, generated once per test session (~3 s)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # Under xdist each worker has its own basetemp below the session's; share one file there
        # (ensure_tpch_database's lock makes the workers generate it once).
        base = base.parent
    return ensure_tpch_database(base / "tpch-data" / "tpch_sf0.1.duckdb", scale_factor=0.1, progress=False)


@pytest.fixture(autouse=True)
def _isolated_genie_agent_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point GENIE_AGENT_HOME at a fresh directory so no test touches the user's real state."""
    home = tmp_path / "genie-agent-home"
    monkeypatch.setenv("GENIE_AGENT_HOME", str(home))
    # Anything MLflow writes (traces of the served agent, logged models) stays in the test's directory.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture(scope="session")
def tpch_catalog(tpch_db: Path):
    """The embedded example catalog, pointed at the session's TPC-H file."""
    from genie_agent.config import EXAMPLE_CATALOG
    from genie_agent.spaces.catalog import DatabaseSpec, load_catalog

    catalog = load_catalog(EXAMPLE_CATALOG)
    return catalog.model_copy(update={"databases": {"tpch": DatabaseSpec(path=tpch_db)}})


@pytest.fixture
def make_test_agent(tpch_catalog, _isolated_genie_agent_home: Path):
    """Build the agent the way the CLI does, over the session's TPC-H file, with setting overrides."""
    from genie_agent.config import load_settings
    from genie_agent.factory import make_agent

    def build(**overrides):
        # Tracing changes MLflow's process-wide tracking URI and experiment: only where a test asks.
        settings = load_settings(**{"home": _isolated_genie_agent_home, "tracing": "off", **overrides})
        return make_agent(settings, catalog=tpch_catalog, progress=False)

    return build


@pytest.fixture
def cli_home(tpch_db: Path, _isolated_genie_agent_home: Path) -> Path:
    """A GENIE_AGENT_HOME whose example data is the session's TPC-H file (no regeneration per test)."""
    data = _isolated_genie_agent_home / "data"
    data.mkdir(parents=True)
    (data / "tpch-sf0.1.duckdb").symlink_to(tpch_db)
    return _isolated_genie_agent_home


def open_readonly(path: Path):
    """A DuckDB connection configured exactly like the executor's.

    DuckDB keeps one database instance per file per process and refuses a second connection with
    another configuration; tests that read the data directly must match the executor.
    """
    import duckdb

    from genie_agent.spaces.local.executor import _READ_ONLY_CONFIG

    return duckdb.connect(str(path), read_only=True, config=dict(_READ_ONLY_CONFIG))
