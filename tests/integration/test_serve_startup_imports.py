"""``serve`` on the Databricks backend imports the async Genie client (httpx, databricks-sdk) while it
starts, not on the first question: that import takes about a second and would hold the core loop, and
every turn on it, the first time any turn asks Genie. The embedded default does not pay for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.servers import serve_home

_BUILD = (
    "import sys; from genie_agent.config import load_settings; from genie_agent_cli.serve import build_app; "
    "build_app(load_settings()); print('genie_agent.spaces.genie_http' in sys.modules)"
)
SPACES = {"sales": {"space_id": "sales", "title": "Sales", "keywords": ["revenue"]}}


def _imported_after_build(home, config: str) -> bool:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("GENIE_AGENT_", "MLFLOW_", "DATABRICKS_"))
    }
    (home / "config.yaml").write_text(config)
    env |= {
        "GENIE_AGENT_HOME": str(home),
        "GENIE_AGENT_CONFIG": str(home / "config.yaml"),
        "GENIE_AGENT_TRACING": "off",
        "DATABRICKS_HOST": "http://127.0.0.1:9",
        "DATABRICKS_TOKEN": "unused",
        "DATABRICKS_CONFIG_FILE": "/nonexistent",
    }
    proc = subprocess.run(
        [sys.executable, "-c", _BUILD], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip().splitlines()[-1] == "True"


@pytest.mark.parametrize(("backend", "imported"), [("databricks", True), ("local", False)])
def test_serve_imports_the_genie_client_at_start_on_the_databricks_backend_only(
    tmp_path_factory, tpch_db, backend, imported
):
    home = serve_home(tmp_path_factory, tpch_db, f"startup-{backend}")
    config = f"genie_backend: {backend}\nmemory_backend: 'off'\n"
    if backend == "databricks":
        config += f"genie_spaces: {json.dumps(SPACES)}\n"
    assert _imported_after_build(home, config) is imported
