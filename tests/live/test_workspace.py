"""Against a real workspace: log the agent to a Unity Catalog schema, and ask a deployed endpoint.

Runs only with DATABRICKS_HOST and GENIE_AGENT_LIVE_TESTS=1 (plus the workspace's credentials in the
usual databricks-sdk variables). The settings are the ones `genie-agent` itself reads: at least
GENIE_AGENT_UC_CATALOG, GENIE_AGENT_UC_SCHEMA, GENIE_AGENT_GENIE_BACKEND=databricks and
GENIE_AGENT_GENIE_SPACES; the endpoint test also needs GENIE_AGENT_LIVE_ENDPOINT (a deployed agent)
and GENIE_AGENT_LIVE_QUESTION (a question its spaces answer).
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

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
