"""Against a real workspace: log the agent to a Unity Catalog schema, and ask a deployed endpoint.

Runs only with DATABRICKS_HOST and GENIE_AGENT_LIVE_TESTS=1 (plus the workspace's credentials in the
usual databricks-sdk variables). The settings are the ones `genie-agent` itself reads: at least
GENIE_AGENT_UC_CATALOG, GENIE_AGENT_UC_SCHEMA, GENIE_AGENT_GENIE_BACKEND=databricks and
GENIE_AGENT_GENIE_SPACES; the endpoint test also needs GENIE_AGENT_LIVE_ENDPOINT (a deployed agent)
and GENIE_AGENT_LIVE_QUESTION (a question its spaces answer). The README's "From a bare workspace" runs
with GENIE_AGENT_LIVE_WAREHOUSE_ID (a pro or serverless SQL warehouse the caller has CAN USE on, with
`samples.tpch`) and its own settings only: the spaces it creates are titled "<title> (genie-agent live
<random>)", so no existing space is reused, and every one of them is trashed at the end.
"""

from __future__ import annotations

import csv
import json
import os
import re
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_spaces_create import readme_commands, run, split_line
from tests.servers import CLI

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not (os.environ.get("DATABRICKS_HOST") and os.environ.get("GENIE_AGENT_LIVE_TESTS") == "1"),
        reason="live workspace tests run only when DATABRICKS_HOST and GENIE_AGENT_LIVE_TESTS=1 are set",
    ),
]


@pytest.fixture(autouse=True)
def _workspace_tracking(monkeypatch):
    # The suite's autouse fixture points MLflow at a local SQLite file; live tests use the workspace.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "databricks")


def _need(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} must be set for the live workspace tests (see this module's docstring).")
    return value


def test_log_registers_the_agent_in_unity_catalog():
    catalog, schema = _need("GENIE_AGENT_UC_CATALOG"), _need("GENIE_AGENT_UC_SCHEMA")
    done = subprocess.run([CLI, "log", "--json"], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout.strip().splitlines()[-1])
    assert created["registered_model"].startswith(f"{catalog}.{schema}.")
    assert created["version"] >= 1

    from mlflow import MlflowClient

    version = MlflowClient(registry_uri="databricks-uc").get_model_version(
        created["registered_model"], str(created["version"])
    )
    assert version.status == "READY"


def test_deployed_endpoint_answers_a_question():
    endpoint, question = _need("GENIE_AGENT_LIVE_ENDPOINT"), _need("GENIE_AGENT_LIVE_QUESTION")
    from databricks.sdk import WorkspaceClient

    w = WorkspaceClient()
    response = w.api_client.do(
        "POST",
        f"/serving-endpoints/{endpoint}/invocations",
        body={"input": [{"role": "user", "content": question}]},
    )
    assert isinstance(response, dict)
    custom = response["custom_outputs"]
    assert custom["status"] in ("ok", "partial"), custom
    assert any(r.get("sql") for r in custom["results"])
    assert response["output"][-1]["type"] == "message"


# --- the README's "From a bare workspace", on the workspace -------------------------------------------


def _titled_catalog(target: Path, suffix: str) -> Path:
    """The example catalog, each space titled ``<title> <suffix>``."""
    from genie_agent.config import EXAMPLE_CATALOG
    from genie_agent.spaces.catalog import load_catalog

    shutil.copytree(EXAMPLE_CATALOG.parent, target)
    for space in load_catalog(EXAMPLE_CATALOG).spaces:
        path = target / f"{space.id}.yaml"
        text, n = re.subn(
            r"^title: .*$", f"title: {space.title} {suffix}", path.read_text(), count=1, flags=re.M
        )
        assert n == 1, path
        path.write_text(text)
    return target / EXAMPLE_CATALOG.name


def _answer(line: str, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    done = run(f"{line} --json", env, cwd, timeout=600)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    assert result["status"] == "ok", result["text"]
    return result


def _keyed(result: dict[str, Any], domain: str) -> dict[tuple[str, ...], list[float]]:
    """A space's rows by their text values (the region), with their numbers: Genie names its columns itself."""
    (part,) = [r for r in result["results"] if r["domain"] == domain]
    out: dict[tuple[str, ...], list[float]] = {}
    for row in part["rows"]:
        key = tuple(str(v) for v in row if isinstance(v, str))
        out[key] = [float(v) for v in row if isinstance(v, int | float) and not isinstance(v, bool)]
    return out


def _count(w: Any, warehouse_id: str, sql: str) -> int:
    from databricks.sdk.service.sql import StatementState

    response = w.statement_execution.execute_statement(sql, warehouse_id, wait_timeout="50s")
    deadline = time.monotonic() + 600
    while response.status.state in (StatementState.PENDING, StatementState.RUNNING):
        assert time.monotonic() < deadline, f"{sql} did not finish in 10 minutes"
        time.sleep(2)
        response = w.statement_execution.get_statement(response.statement_id)
    assert response.status.state == StatementState.SUCCEEDED, response.status
    return int(response.result.data_array[0][0])


def test_from_a_bare_workspace_as_the_readme_says(tmp_path):
    """Every line of the README's walkthrough, as written but for the warehouse id, on the workspace."""
    warehouse_id = _need("GENIE_AGENT_LIVE_WAREHOUSE_ID")
    from databricks.sdk import WorkspaceClient

    from genie_agent.genie_api import LOCAL_WAREHOUSE_ID

    w = WorkspaceClient()
    suffix = f"(genie-agent live {secrets.token_hex(4)})"
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENIE_AGENT_", "MLFLOW_"))}
    env |= {
        "GENIE_AGENT_HOME": str(home),
        "GENIE_AGENT_CATALOG": str(_titled_catalog(tmp_path / "catalog", suffix)),
        "GENIE_AGENT_TRACING": "off",
    }
    lines = [line.replace(LOCAL_WAREHOUSE_ID, warehouse_id) for line in readme_commands()]
    assert len(lines) == 5, lines
    create_line, genie_line, export_line, warehouse_line, csv_line = lines
    created: list[str] = []
    try:
        first = run(create_line, env, tmp_path, timeout=600)
        created = [line.split()[-1] for line in first.stdout.splitlines() if line.startswith("created")]
        assert first.returncode == 0, first.stderr
        assert len(created) == 3 and "reused" not in first.stdout, first.stdout
        titles = {w.genie.get_space(space_id).title for space_id in created}
        assert titles == {f"{t} {suffix}" for t in ("Sales", "Supply", "Customers")}
        assert "keywords" not in (home / "config.yaml").read_text()

        genie = _answer(genie_line, env, tmp_path)
        assert genie["source"] == "genie" and genie["route"]["domains"] == ["sales", "supply"], genie["route"]
        assert genie["combined"] is not None and len(genie["combined"]["rows"]) == 5

        exported = run(export_line, env, tmp_path)
        assert exported.returncode == 0, exported.stderr
        export_words = split_line(export_line)[1]
        out_dir = tmp_path / export_words[export_words.index("-o") + 1]
        assert len(list(out_dir.glob("*.metric_view.yaml"))) == len(list(out_dir.glob("*.sql"))) == 2

        warehouse = _answer(warehouse_line, env, tmp_path)
        assert warehouse["source"] == "warehouse" and warehouse["route"]["domains"] == ["sales", "supply"]
        for domain in ("sales", "supply"):
            ours, genies = _keyed(warehouse, domain), _keyed(genie, domain)
            assert ours.keys() == genies.keys(), domain
            for key, numbers in ours.items():
                assert genies[key] == pytest.approx(numbers, rel=1e-6), (domain, key)

        truth = _count(
            w,
            warehouse_id,
            "SELECT COUNT(*) FROM (SELECT p.p_size, p.p_type FROM samples.tpch.partsupp ps "
            "JOIN samples.tpch.part p ON p.p_partkey = ps.ps_partkey GROUP BY p.p_size, p.p_type)",
        )
        assert truth >= 5_000
        big = run(csv_line, env, tmp_path, timeout=900)
        assert big.returncode == 0, big.stderr
        target = split_line(csv_line)[1][-1]
        assert f"Wrote {truth} rows to {target}." in big.stderr and "cut off" not in big.stderr
        with (tmp_path / target).open(newline="") as f:
            assert len(list(csv.reader(f))) == truth + 1
    finally:
        ours = set(created)
        page: str | None = None
        while True:  # and any space of this run's titles that a failed create did not print
            listing = w.genie.list_spaces(page_token=page)
            ours |= {s.space_id for s in listing.spaces or [] if s.title and s.title.endswith(suffix)}
            page = listing.next_page_token
            if not page:
                break
        for space_id in sorted(ours):
            w.genie.trash_space(space_id)
