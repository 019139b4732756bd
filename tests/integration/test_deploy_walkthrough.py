"""README "Deploy to your workspace", step by step, as a user runs it, against a local stand-in workspace.

One ``genie-agent genie-server`` is the workspace: the Genie Conversation API over the local spaces,
SCIM Me, the Lakebase database-instance and credential API (the instance is the shared PostgreSQL,
reached over TLS in ``databricks_postgres`` as the role ``genie-agent-app``; ``.ci/run`` sets it up)
and bearer users. The user's config file is the README's example with local hosts, ids and names;
every step is a real ``genie-agent`` process: ``setup-memory`` (twice), ``ask`` and a follow-up,
``log``, a ``deploy`` refused before evaluation, ``evaluate --model-uri`` (its gate passes),
``deploy --dry-run``, ``deploy --target apps``, and then the app itself, started from its
``app.yaml`` and asked over HTTP with a user's forwarded token.

Only the workspace identity differs from a real workspace: the local PostgreSQL has one login role, so
both the user's CLI and the app authenticate as ``genie-agent-app`` (a workspace gives each identity
its own Lakebase role). The steps run in order in one test: each needs what the ones before made.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.integration.test_lakebase_memory import (  # noqa: F401 - the fixture is used by name
    APP_ROLE,
    DATABASE,
    INSTANCE,
    _admin_url,
    _drop,
    lakebase_postgres,
)
from tests.servers import CLI, free_port, start_server

pytestmark = pytest.mark.slow

APP_TOKEN = "walkthrough-app-token"
ANN, BOB = "walkthrough-ann-token", "walkthrough-bob-token"
ANN_NAME, BOB_NAME = "ann@example.com", "bob@example.com"
REGIONS = ["AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"]

# The workspace's side: who its tokens are. bob may query sales only and sees EUROPE's rows.
WORKSPACE_CONFIG = f"""
users:
  {APP_ROLE}: {{token: {APP_TOKEN}}}
  {ANN_NAME}: {{token: {ANN}}}
  {BOB_NAME}:
    token: {BOB}
    spaces: [sales]
    row_filters: {{sales: {{region: [EUROPE]}}}}
"""

# README step 1, with the stand-in's space and warehouse ids, its Lakebase instance and a local MLflow
# store. No uc_catalog/uc_schema: the local model registry. No LLM: deterministic synthesis.
USER_CONFIG = """
genie_backend: databricks
genie_spaces:
  sales:
    space_id: sales
    warehouse_id: {sales}
    description: Orders and their line items, with revenue, order counts, quantities and discounts by
      the customer's nation, region and market segment.
    keywords: [revenue, orders, order value, units, quantity, discount]
    sample_questions: [Revenue by region in 1995, Top 5 nations by revenue]
  supply:
    space_id: supply
    warehouse_id: {supply}
    description: Suppliers, parts and part supply; supplier counts and account balances by the
      supplier's nation and region, supply cost, available quantity and inventory value by part brand,
      type, size, container and manufacturer.
    keywords: [suppliers, supply cost, inventory value, available quantity]
  customers:
    space_id: customers
    warehouse_id: {customers}
    description: Customers with their nation, region and market segment; customer counts and account
      balances.
    keywords: [customers, account balance]
memory_backend: lakebase
lakebase_instance: {instance}
memory_postgres_schema: {schema}
mlflow_tracking_uri: sqlite:///{home}/mlflow.db
mlflow_experiment: /Shared/genie-agent
uc_model: genie_agent
auth: auto
serving_endpoint: genie-agent
secret_scope: genie-agent
"""


@dataclass
class Walkthrough:
    """What the steps share: the workspace, the user's home and config, what earlier steps made."""

    workspace_url: str
    home: Path
    cwd: Path
    config: Path
    schema: str
    made: dict[str, Any] = field(default_factory=dict)

    def env(self, **extra: str) -> dict[str, str]:
        """The user's shell: the config file, a token for the workspace, nothing else of the machine's."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GENIE_AGENT_", "MLFLOW_", "DATABRICKS_", "IS_IN_DB", "PGAPPNAME"))
        }
        env.update(
            GENIE_AGENT_HOME=str(self.home),
            GENIE_AGENT_CONFIG=str(self.config),
            DATABRICKS_HOST=self.workspace_url,
            DATABRICKS_TOKEN=APP_TOKEN,
            DATABRICKS_CONFIG_FILE=str(self.cwd / "no-databrickscfg"),
        )
        env.update(extra)
        return env

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CLI, *args], env=self.env(), cwd=self.cwd, capture_output=True, text=True, timeout=timeout
        )


def _warehouses(url: str) -> dict[str, str]:
    """Each space's warehouse id, as a user reads it from the space's settings."""
    r = httpx.get(f"{url}/api/2.0/genie/spaces", headers={"Authorization": f"Bearer {APP_TOKEN}"}, timeout=10)
    r.raise_for_status()
    return {s["space_id"]: s["warehouse_id"] for s in r.json()["spaces"]}


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def walk(
    tmp_path_factory: pytest.TempPathFactory, tpch_db: Path, request: pytest.FixtureRequest
) -> Iterator[Walkthrough]:
    pg_host: str = request.getfixturevalue("lakebase_postgres")  # skips, or fails in CI, when not set up
    root = tmp_path_factory.mktemp("walkthrough")
    ws_home, home = root / "workspace-home", root / "home"
    for h in (ws_home, home):  # the user's home too: evaluation runs each case's expected SQL on the data
        (h / "data").mkdir(parents=True)
        (h / "data" / "tpch-sf0.1.duckdb").symlink_to(tpch_db)
    (root / "workspace").mkdir()
    server, url = start_server(
        ws_home,
        root / "workspace",
        WORKSPACE_CONFIG,
        command=[CLI, "genie-server", "--lakebase-instance", f"{INSTANCE}={pg_host}:5432"],
    )
    schema = f"walkthrough_{uuid.uuid4().hex[:12]}"
    try:
        config = root / "config.yaml"
        config.write_text(
            USER_CONFIG.format(**_warehouses(url), instance=INSTANCE, schema=schema, home=home.as_posix())
        )
        yield Walkthrough(url, home, root, config, schema)
    finally:
        _stop(server)
        _drop(schema)


def _tables(schema: str) -> set[str]:
    import psycopg

    with psycopg.connect(_admin_url()) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
    return {r[0] for r in rows}


def _rows(schema: str, table: str) -> int:
    import psycopg

    with psycopg.connect(_admin_url()) as conn:
        row = conn.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone()
    return int(row[0]) if row else 0


# --- 2. memory tables --------------------------------------------------------------------------------


def step2_setup_memory_creates_the_lakebase_tables_and_is_safe_to_repeat(walk: Walkthrough):
    first = walk.run("setup-memory")
    assert first.returncode == 0, first.stderr
    assert first.stdout.split("\n")[:2] == ["ready: threads (lakebase)", "ready: user memories (lakebase)"]
    tables = _tables(walk.schema)
    assert {"checkpoints", "checkpoint_writes", "store"} <= tables, tables
    again = walk.run("setup-memory")
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout and _tables(walk.schema) == tables


# --- the configured agent answers: Databricks Genie backend, Lakebase memory ------------------------------


def ask_then_a_follow_up_in_another_process(walk: Walkthrough):
    first = walk.run("ask", "--json", "What was revenue by region in 1995?")
    assert first.returncode == 0, first.stderr
    answer = json.loads(first.stdout)
    assert (answer["status"], answer["source"], answer["memory_status"]) == ("ok", "genie", "saved")
    assert answer["domains"] == ["sales"] and sorted(r[0] for r in answer["results"][0]["rows"]) == REGIONS
    conversation = answer["genie_conversation_ids"]["sales"]

    follow = walk.run("ask", "--json", "--thread-id", answer["thread_id"], "What about 1996?")
    assert follow.returncode == 0, follow.stderr
    more = json.loads(follow.stdout)
    assert more["status"] == "ok" and more["memory_status"] == "saved", more
    assert more["route"]["kind"] == "follow_up" and more["domains"] == ["sales"]
    # The thread came back from Lakebase: the same Genie conversation goes on, now about 1996.
    assert more["genie_conversation_ids"]["sales"] == conversation
    assert "1996-01-01" in more["results"][0]["sql"] and len(more["results"][0]["rows"]) == 5
    assert _rows(walk.schema, "checkpoints") >= 2


# --- 3. log and register, then the model loads -------------------------------------------------------


LOAD = """
import json, sys
import mlflow.pyfunc
model = mlflow.pyfunc.load_model(sys.argv[1])
out = model.predict({"input": [{"role": "user", "content": "How many customers are there?"}]})
print(json.dumps(out["custom_outputs"]))
"""


def step3_log_registers_the_model_and_it_loads(walk: Walkthrough):
    done = walk.run("log")
    assert done.returncode == 0, done.stderr
    registered = re.search(r"^registered (models:/genie_agent/(\d+))$", done.stdout, re.M)
    assert registered, done.stdout
    assert "prompt   genie-agent-synthesis version 1" in done.stdout
    uri = registered.group(1)
    assert f"next: genie-agent evaluate --model-uri {uri}" in done.stderr
    walk.made.update(model_uri=uri, version=registered.group(2))

    store = f"sqlite:///{walk.home.as_posix()}/mlflow.db"  # the config's mlflow_tracking_uri
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD, uri], env=walk.env(MLFLOW_TRACKING_URI=store), cwd=walk.cwd,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    out = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert (out["status"], out["source"], out["memory_status"]) == ("ok", "genie", "saved"), out
    assert out["results"][0]["rows"] == [[15000]]

    # README step 5: a version never evaluated is refused before anything is written.
    build = walk.cwd / "refused-app"
    refused = walk.run(
        "deploy", "--target", "apps", "--version", walk.made["version"], "--build-dir", str(build)
    )
    assert refused.returncode == 1 and "Deployment refused" in refused.stderr, refused.stderr
    assert "never been evaluated" in refused.stderr and not (build / "app.yaml").exists()


# --- 4. evaluate the logged version ------------------------------------------------------------------


def step4_evaluate_the_logged_version_records_its_gate(walk: Walkthrough):
    uri = walk.made["model_uri"]
    done = walk.run("evaluate", "--model-uri", uri, "--json")
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    walk.made["outcome"] = outcome
    failed = [f"{c['name']}: {c['reason']}" for c in outcome["checks"] if not c["passed"]]
    assert done.returncode == 0 and outcome["passed"] and not failed, (failed, done.stderr)
    assert outcome["target"] == uri and Path(outcome["path"]).parent == walk.home / "evaluations"
    assert {c["name"] for c in outcome["checks"]} >= {
        "cases_scored", "routing_accuracy", "result_correctness", "refusal_correctness", "groundedness",
    }  # fmt: skip


# --- 5. deploy --dry-run -----------------------------------------------------------------------------


def step5_deploy_dry_run_shows_the_gate_and_the_plan(walk: Walkthrough):
    version, outcome = walk.made["version"], walk.made["outcome"]
    done = walk.run("deploy", "--dry-run", "--version", version)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"gate        models:/genie_agent/{version}: passed (run {outcome['run_id']})" in out
    assert "model       genie_agent  (registered in the local model registry)" in out
    assert "auth        on behalf of the calling user (auth_policy)" in out
    warehouses = _warehouses(walk.workspace_url)
    for space in ("sales", "supply", "customers"):
        assert re.search(rf"genie_space +{space} +as the user", out)
        assert re.search(rf"sql_warehouse +{warehouses[space]} +as the user", out)
    assert re.search(rf"lakebase +{INSTANCE} +declared", out)
    assert f"serving     endpoint genie-agent <- genie_agent version {version}" in out
    assert "GENIE_AGENT_AUTH=model-serving" in out and "GENIE_AGENT_MEMORY_BACKEND=lakebase" in out
    assert "missing:" in out and "uc_catalog, uc_schema" in out and "note:" not in out


# --- 5. deploy --target apps, then the app answers as the forwarded user ----------------------------


def _start_app(walk: Walkthrough, build: Path) -> tuple[subprocess.Popen[str], str]:
    """Run the app as Databricks Apps would: app.yaml's command and env, the workspace's host and the
    app's own identity. Only where it listens, its home and its MLflow store are local."""
    app = yaml.safe_load((build / "app.yaml").read_text())
    command = list(app["command"])
    port = free_port()
    command[command.index("--port") + 1] = str(port)
    command[command.index("--host") + 1] = "127.0.0.1"
    env = {k: v for k, v in walk.env().items() if not k.startswith("GENIE_AGENT_")}
    env.update({e["name"]: e["value"] for e in app["env"]})
    app_home = walk.cwd / "app-home"
    env.update(
        DATABRICKS_APP_NAME="genie-agent",
        DATABRICKS_APP_PORT=str(port),
        GENIE_AGENT_HOME=str(app_home),
        # genie-server has no MLflow API: the app traces to a local store instead of the workspace's.
        GENIE_AGENT_MLFLOW_TRACKING_URI=f"sqlite:///{app_home.as_posix()}/mlflow.db",
    )
    env["PATH"] = f"{Path(CLI).parent}{os.pathsep}{env.get('PATH', '')}"  # `genie-agent` as installed
    log = (walk.cwd / "app.log").open("w")
    proc = subprocess.Popen(command, env=env, cwd=build, stdout=log, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the app exited: {(walk.cwd / 'app.log').read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    _stop(proc)
    raise AssertionError("the app did not start within 90 s")


def step5_apps_target_writes_the_app_and_it_answers_as_the_forwarded_user(walk: Walkthrough):
    build = walk.cwd / "app"
    done = walk.run(
        "deploy", "--target", "apps", "--version", walk.made["version"], "--build-dir", str(build)
    )
    assert done.returncode == 0, done.stderr
    assert "EVALUATION GATE SKIPPED" not in done.stderr  # the evaluated version passed its gate
    assert f"Wrote the app source to {build}" in done.stderr
    assert "databricks apps deploy genie-agent --source-code-path" in done.stderr
    app = yaml.safe_load((build / "app.yaml").read_text())
    assert app["command"] == ["genie-agent", "serve", "--host", "0.0.0.0", "--port", "8000"]
    app_env = {e["name"]: e["value"] for e in app["env"]}
    assert app_env["GENIE_AGENT_AUTH"] == "apps" and app_env["GENIE_AGENT_LAKEBASE_INSTANCE"] == INSTANCE
    assert APP_TOKEN not in (build / "app.yaml").read_text()
    assert (build / "requirements.txt").read_text().strip().endswith("[databricks,postgres]")

    proc, url = _start_app(walk, build)
    try:
        body = {"input": [{"role": "user", "content": "What was revenue by region in 1995?"}], "stream": True}
        started = time.monotonic()
        with httpx.stream(
            "POST", f"{url}/responses", json=body, headers={"x-forwarded-access-token": BOB}, timeout=60
        ) as r:
            assert r.status_code == 200, r.read()
            events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
        assert time.monotonic() - started < 30
        assert events[-1] == "[DONE]"
        parsed = [json.loads(e) for e in events[:-1]]
        kinds = [e["type"] for e in parsed]
        assert "response.output_text.delta" in kinds and kinds.count("response.output_item.done") >= 2
        final = parsed[-1]
        result = final["custom_outputs"] if "custom_outputs" in final else final["response"]["custom_outputs"]
        assert (result["status"], result["source"], result["memory_status"]) == ("ok", "genie", "saved")
        assert [r[0] for r in result["results"][0]["rows"]] == ["EUROPE"]  # bob's row filter
        text = "".join(e["delta"] for e in parsed if e["type"] == "response.output_text.delta")
        assert "EUROPE" in text and "ASIA" not in text

        ann = httpx.post(
            f"{url}/invocations",
            json={"input": [{"role": "user", "content": "What was revenue by region in 1995?"}]},
            headers={"x-forwarded-access-token": ANN, "x-forwarded-email": BOB_NAME},
            timeout=60,
        )
        assert ann.status_code == 200, ann.text
        rows = ann.json()["custom_outputs"]["results"][0]["rows"]
        assert sorted(r[0] for r in rows) == REGIONS  # ann's own rights, whatever the email header says
        stolen = httpx.post(
            f"{url}/invocations",
            json={
                "input": [{"role": "user", "content": "What about 1996?"}],
                "custom_inputs": {"thread_id": result["thread_id"]},
            },
            headers={"x-forwarded-access-token": ANN},
            timeout=60,
        )
        assert stolen.json()["custom_outputs"]["status"] == "error"  # bob's thread, in Lakebase, is bob's
        no_token = httpx.post(f"{url}/invocations", json=body | {"stream": False}, timeout=60)
        assert no_token.status_code == 401
    finally:
        _stop(proc)


def test_the_readme_walkthrough(walk: Walkthrough):
    """The steps in order, in one test: each needs what the ones before made (and xdist may not split them)."""
    step2_setup_memory_creates_the_lakebase_tables_and_is_safe_to_repeat(walk)
    ask_then_a_follow_up_in_another_process(walk)
    step3_log_registers_the_model_and_it_loads(walk)
    step4_evaluate_the_logged_version_records_its_gate(walk)
    step5_deploy_dry_run_shows_the_gate_and_the_plan(walk)
    step5_apps_target_writes_the_app_and_it_answers_as_the_forwarded_user(walk)


def test_the_plan_notes_an_experiment_name_a_workspace_refuses():
    from genie_agent.config import load_settings
    from genie_agent.deployment import plan_deployment

    relative = plan_deployment(load_settings(mlflow_experiment="genie-agent")).notes
    assert any("mlflow_experiment is 'genie-agent'" in n and "/Shared/genie-agent" in n for n in relative)
    absolute = plan_deployment(load_settings(mlflow_experiment="/Shared/genie-agent")).notes
    assert not any("mlflow_experiment" in n for n in absolute)
