"""`genie-agent log` and `genie-agent deploy` as real processes against a local MLflow store.

The logged model is opened from the store and answers from a clean process that imports the SDK
shipped inside it. `deploy` is stopped by the evaluation gate before any request leaves; with a
passing gate its requests reach a local HTTP server standing in for the workspace.
"""

from __future__ import annotations

import http.server
import inspect
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

mlflow = pytest.importorskip("mlflow")

from genie_agent.config import load_settings  # noqa: E402
from genie_agent.deployment import plan_deployment, serving_deploy_kwargs  # noqa: E402
from genie_agent.evaluation.outcome import EvaluationOutcome, record_outcome  # noqa: E402
from tests.servers import CLI  # noqa: E402

pytestmark = pytest.mark.slow

LLM_KEY = "sk-never-printed-9f3b"
SPACES = {
    "sales": {"space_id": "01ef-sales", "warehouse_id": "wh-123", "keywords": ["revenue"]},
    "supply": {"space_id": "01ef-supply", "warehouse_id": "wh-123"},
}
WORKSPACE = {
    "genie_backend": "databricks",
    "genie_spaces": SPACES,
    "llm_base_url": "https://example.cloud.databricks.com/serving-endpoints",
    "llm_model": "databricks-claude-sonnet-4",
    "llm_api_key": LLM_KEY,
    "memory_backend": "lakebase",
    "lakebase_instance": "genie-memory",
}
UC = {"uc_catalog": "main", "uc_schema": "genie"}
UC_MODEL = "main.genie.genie_agent"


def run_cli(
    *args: str, home: Path, config: dict | None = None, env: dict[str, str] | None = None, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """`genie-agent ARGS` in a fresh process that sees only the settings given here."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("GENIE_AGENT_", "MLFLOW_", "DATABRICKS_"))
    }
    clean.update({"GENIE_AGENT_HOME": str(home), "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"})
    if config is not None:
        path = cwd / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        clean["GENIE_AGENT_CONFIG"] = str(path)
    clean.update(env or {})
    return subprocess.run([CLI, *args], env=clean, cwd=cwd, capture_output=True, text=True, timeout=300)


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def mlmodel(home: Path, model_id: str) -> dict:
    path = next(home.glob(f"mlartifacts/**/{model_id}/artifacts/MLmodel"))
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def logged(tmp_path_factory) -> tuple[Path, dict]:
    """`genie-agent log --json` with spaces, warehouse, LLM and Lakebase configured (endpoint identity)."""
    home = tmp_path_factory.mktemp("log-home")
    done = run_cli(
        "log", "--json", "--alias", "candidate", home=home, config={**WORKSPACE, "auth": "token"}, cwd=home
    )
    assert done.returncode == 0, done.stderr
    return home, last_json(done.stdout)


def test_log_declares_every_resource_and_ships_the_sdk(logged):
    home, created = logged
    assert created["registered_model_uri"] == "models:/genie_agent/1" and created["version"] == 1
    model = mlmodel(home, created["model_uri"].removeprefix("models:/"))
    assert model["resources"]["databricks"] == {
        "genie_space": [{"name": "01ef-sales"}, {"name": "01ef-supply"}],
        "sql_warehouse": [{"name": "wh-123"}],
        "serving_endpoint": [{"name": "databricks-claude-sonnet-4"}],
        "lakebase": [{"name": "genie-memory"}],
    }
    assert "auth_policy" not in model
    assert model["flavors"]["python_function"]["code"] == "code"
    artifacts = next(home.glob("mlartifacts/**/artifacts/code")).parent
    assert (artifacts / "code" / "genie_agent" / "prompts" / "synthesis.md").is_file()
    assert (artifacts / "code" / "genie_agent_examples" / "tpch" / "catalog.yaml").is_file()
    requirements = (artifacts / "requirements.txt").read_text().split()
    assert f"mlflow=={mlflow.__version__}" in requirements and any(
        r.startswith("duckdb==") for r in requirements
    )


def test_log_registers_the_prompts(logged):
    home, created = logged
    assert created["prompts"] == {"genie-agent-memory_extraction": "1", "genie-agent-synthesis": "1"}
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    assert str(client.get_model_version_by_alias("genie_agent", "candidate").version) == "1"
    prompt = client.load_prompt("prompts:/genie-agent-synthesis/1")
    packaged = Path(__file__).resolve().parents[2] / "sdk" / "genie_agent" / "prompts" / "synthesis.md"
    assert prompt.template == packaged.read_text(encoding="utf-8")


ANSWER = """
import json, sys
import mlflow.pyfunc
model = mlflow.pyfunc.load_model(sys.argv[1])
response = model.predict({"input": [{"role": "user", "content": "Top 5 nations by revenue in 1995"}]})
import genie_agent
print(json.dumps({"status": response["custom_outputs"]["status"], "text": response["output"][-1]["content"][0]["text"],
                  "sdk": genie_agent.__file__}))
"""


def test_logged_model_answers_in_a_clean_process(logged, tmp_path, tpch_db):
    home, created = logged
    run_home = tmp_path / "run-home"  # no config: the embedded example answers
    (run_home / "data").mkdir(parents=True)
    (run_home / "data" / "tpch-sf0.1.duckdb").symlink_to(tpch_db)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("GENIE_AGENT_", "MLFLOW_", "DATABRICKS_"))
    }
    env.update(
        GENIE_AGENT_HOME=str(run_home),
        GENIE_AGENT_TRACING="off",
        MLFLOW_TRACKING_URI=f"sqlite:///{home / 'mlflow.db'}",
    )
    done = subprocess.run(
        [sys.executable, "-c", ANSWER, created["registered_model_uri"]],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer = last_json(done.stdout)
    assert answer["status"] == "ok" and "MOZAMBIQUE" in answer["text"]
    assert f"{os.sep}code{os.sep}genie_agent{os.sep}" in answer["sdk"]  # the copy inside the model


def test_log_on_behalf_of_user_records_an_auth_policy(tmp_path):
    config = {**WORKSPACE, "auth": "model-serving"}
    done = run_cli("log", "--json", "--no-register", home=tmp_path / "home", config=config, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    created = last_json(done.stdout)
    assert created["version"] is None and created["registered_model"] is None
    model = mlmodel(tmp_path / "home", created["model_uri"].removeprefix("models:/"))
    assert "resources" not in model
    policy = model["auth_policy"]
    assert {"dashboards.genie", "sql.warehouses"} <= set(policy["user_auth_policy"]["api_scopes"])
    assert policy["system_auth_policy"]["resources"]["databricks"] == {
        "serving_endpoint": [{"name": "databricks-claude-sonnet-4"}],
        "lakebase": [{"name": "genie-memory"}],
    }  # Genie spaces and warehouses are reached as the calling user, not declared


def test_log_dry_run_prints_the_plan_and_changes_nothing(tmp_path):
    home = tmp_path / "home"
    done = run_cli(
        "log", "--dry-run", "--json", home=home, config={**WORKSPACE, **UC, "auth": "token"}, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    plan = last_json(done.stdout)["plan"]
    assert plan["model_name"] == UC_MODEL and plan["registry"] == "unity-catalog"
    assert plan["prompts"] == ["main.genie.genie_agent_memory_extraction", "main.genie.genie_agent_synthesis"]
    assert not (home / "mlflow.db").exists() and not (home / "mlartifacts").exists()


def test_deploy_dry_run_with_nothing_configured_names_defaults_and_what_is_missing(tmp_path):
    done = run_cli("deploy", "--dry-run", home=tmp_path / "home", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Dry run" in out and "genie_agent  (registered in the local model registry)" in out
    assert "endpoint agents_genie_agent" in out
    assert "missing:" in out and "uc_catalog, uc_schema" in out and "genie_spaces:" in out
    assert not (tmp_path / "home" / "mlflow.db").exists()


def test_deploy_dry_run_configured_shows_resources_environment_and_secret_references(tmp_path):
    config = {**WORKSPACE, **UC, "auth": "token", "serving_endpoint": "genie-prod", "row_limit": 500}
    done = run_cli(
        "deploy", "--dry-run", "--version", "2", "--json", home=tmp_path / "home", config=config, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert LLM_KEY not in done.stdout + done.stderr
    report = last_json(done.stdout)
    plan = report["plan"]
    assert report["gate"] == {
        "target": f"models:/{UC_MODEL}/2",
        "status": "never evaluated: deploy would refuse",
    }
    assert plan["missing"] == [] and plan["serving"] == {"endpoint_name": "genie-prod", "scale_to_zero": True}
    assert [(r["type"], r["name"]) for r in plan["resources"]] == [
        ("genie_space", "01ef-sales"),
        ("sql_warehouse", "wh-123"),
        ("genie_space", "01ef-supply"),
        ("serving_endpoint", "databricks-claude-sonnet-4"),
        ("lakebase", "genie-memory"),
    ]
    env = plan["environment"]
    assert env["GENIE_AGENT_LLM_API_KEY"] == "{{secrets/genie-agent/llm-api-key}}"
    assert env["GENIE_AGENT_ROW_LIMIT"] == "500" and env["GENIE_AGENT_AUTH"] == "token"
    assert json.loads(env["GENIE_AGENT_GENIE_SPACES"]) == SPACES
    assert env["GENIE_AGENT_PROMPT_REGISTRY_PREFIX"] == "main.genie.genie_agent_"
    assert not any(k in env for k in ("GENIE_AGENT_UC_CATALOG", "GENIE_AGENT_USERS", "GENIE_AGENT_CATALOG"))
    app = yaml.safe_load(plan["app"]["app_yaml"])
    assert app["command"][:2] == ["genie-agent", "serve"]
    app_env = {e["name"]: e for e in app["env"]}
    assert app_env["GENIE_AGENT_AUTH"]["value"] == "apps"
    assert app_env["GENIE_AGENT_LLM_API_KEY"] == {
        "name": "GENIE_AGENT_LLM_API_KEY",
        "valueFrom": "llm-api-key",
    }


class Workspace:
    """A local HTTP server standing in for the workspace: records every request, answers 404."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict]] = []
        seen = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                size = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(size) or b"{}") if size else {}
                seen.append((self.command, self.path, body))
                payload = json.dumps(
                    {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "not here"}
                ).encode()
                self.send_response(404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def env(self) -> dict[str, str]:
        return {"DATABRICKS_HOST": self.url, "DATABRICKS_TOKEN": "dapi-test"}


@pytest.fixture
def workspace() -> Iterator[Workspace]:
    ws = Workspace()
    yield ws
    ws.server.shutdown()


def record(home: Path, target: str, passed: bool) -> None:
    outcome = EvaluationOutcome(
        target=target, passed=passed, run_id="run-1", experiment_id="1", tracking_uri=None, eval_set="eval.yaml",
        judge_model=None, metrics={}, checks=(), cases=(), started_at="2026-01-01T00:00:00.000+00:00",
        finished_at="2026-01-01T00:01:00.000+00:00", genie_agent_version="0.1.0",
    )  # fmt: skip
    record_outcome(outcome, home)


def test_deploy_refuses_a_version_never_evaluated_before_any_request(tmp_path, workspace):
    done = run_cli(
        "deploy",
        "--version",
        "1",
        home=tmp_path / "home",
        config={**WORKSPACE, **UC},
        env=workspace.env(),
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "Deployment refused" in done.stderr and "never been evaluated" in done.stderr
    assert f"genie-agent evaluate --model-uri models:/{UC_MODEL}/1" in done.stderr
    assert workspace.requests == []


def test_deploy_refuses_a_failed_evaluation(tmp_path, workspace):
    home = tmp_path / "home"
    record(home, f"models:/{UC_MODEL}/1", passed=True)
    record(home, f"models:/{UC_MODEL}/3", passed=False)
    done = run_cli(
        "deploy", "--version", "3", home=home, config={**WORKSPACE, **UC}, env=workspace.env(), cwd=tmp_path
    )
    assert done.returncode == 1 and "evaluation of models:/main.genie.genie_agent/3 FAILED" in done.stderr
    assert workspace.requests == []


def test_deploy_refuses_a_model_outside_unity_catalog(tmp_path, workspace):
    home = tmp_path / "home"
    record(home, "models:/genie_agent/1", passed=True)
    done = run_cli("deploy", "--version", "1", home=home, config=WORKSPACE, env=workspace.env(), cwd=tmp_path)
    assert done.returncode == 2 and "not a Unity Catalog model" in done.stderr
    assert workspace.requests == []


def test_deploy_past_a_passing_gate_asks_the_workspace_for_that_version(tmp_path, workspace):
    home = tmp_path / "home"
    record(home, f"models:/{UC_MODEL}/4", passed=True)
    done = run_cli(
        "deploy", "--version", "4", home=home, config={**WORKSPACE, **UC}, env=workspace.env(), cwd=tmp_path
    )
    assert "Evaluation gate passed: run run-1" in done.stderr
    # databricks.agents.deploy starts by reading the model version from Unity Catalog: the local
    # workspace has no such model, so the deployment fails there, with the workspace's answer.
    assert done.returncode == 1 and "databricks.agents.deploy failed" in done.stderr
    bodies = [body for _, path, body in workspace.requests if "unity-catalog/model-versions" in path]
    assert {"name": UC_MODEL, "version": "4"}.items() <= bodies[0].items()


def test_skip_gate_is_loud_and_goes_on(tmp_path, workspace):
    done = run_cli(
        "deploy", "--version", "5", "--skip-gate", home=tmp_path / "home", config={**WORKSPACE, **UC},
        env=workspace.env(), cwd=tmp_path,
    )  # fmt: skip
    assert "EVALUATION GATE SKIPPED (--skip-gate)" in done.stderr and "never been evaluated" in done.stderr
    assert done.stderr.count("EVALUATION GATE SKIPPED") == 1  # said once, not echoed from the log too
    assert any("unity-catalog" in path for _, path, _ in workspace.requests)


def test_serving_arguments_fit_databricks_agents_deploy(monkeypatch):
    """The exact call `deploy` makes: bound to the installed signature, checked by its own validators."""
    agents = pytest.importorskip("databricks.agents")
    from databricks.agents import deployments
    from databricks.agents.utils.uc import _check_model_name

    for key, value in {**WORKSPACE, **UC}.items():
        monkeypatch.setenv(
            f"GENIE_AGENT_{key.upper()}", value if isinstance(value, str) else json.dumps(value)
        )
    plan = plan_deployment(load_settings(auth="model-serving"))
    kwargs = serving_deploy_kwargs(plan, 7)
    bound = inspect.signature(agents.deploy).bind(**kwargs)
    assert bound.arguments["model_name"] == UC_MODEL and bound.arguments["model_version"] == 7
    assert bound.arguments["scale_to_zero"] is True
    assert bound.arguments["endpoint_name"] == deployments._create_endpoint_name(UC_MODEL)  # its own default
    deployments._validate_environment_vars(kwargs["environment_vars"])
    _check_model_name(kwargs["model_name"])
    assert kwargs["environment_vars"]["GENIE_AGENT_AUTH"] == "model-serving"
    assert LLM_KEY not in json.dumps(kwargs)


def test_apps_target_writes_the_app_source(tmp_path, workspace):
    home = tmp_path / "home"
    record(home, f"models:/{UC_MODEL}/2", passed=True)
    build = tmp_path / "app"
    done = run_cli(
        "deploy", "--target", "apps", "--version", "2", "--build-dir", str(build), "--json", home=home,
        config={**WORKSPACE, **UC}, env=workspace.env(), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = last_json(done.stdout)
    assert report["steps"][-1].startswith("databricks apps deploy genie-agent --source-code-path ")
    app = yaml.safe_load((build / "app.yaml").read_text())
    assert app["command"] == ["genie-agent", "serve", "--host", "0.0.0.0", "--port", "8000"]
    assert {"name": "GENIE_AGENT_AUTH", "value": "apps"} in app["env"]
    (requirement,) = (build / "requirements.txt").read_text().split()
    wheel = requirement.removeprefix("./").split("[")[0]
    assert (build / wheel).is_file() and requirement.endswith("[databricks,postgres]")
    assert LLM_KEY not in (build / "app.yaml").read_text()
    assert workspace.requests == []  # the app is uploaded with the Databricks CLI, printed as steps


def test_embedding_endpoint_is_declared_when_memory_recall_uses_one():
    plan = plan_deployment(
        load_settings(
            auth="token", llm_base_url=WORKSPACE["llm_base_url"], llm_model="databricks-claude-sonnet-4",
            memory_embeddings="endpoint", memory_embedding_model="databricks-gte-large-en",
        )
    )  # fmt: skip
    endpoints = [r.name for r in plan.resources if r.kind == "serving_endpoint"]
    assert endpoints == ["databricks-claude-sonnet-4", "databricks-gte-large-en"]
    assert plan.environment["GENIE_AGENT_MEMORY_EMBEDDINGS"] == "endpoint"


WAREHOUSE_BACKEND = {"genie_backend": "warehouse", "warehouse_id": "wh-777"}


def test_the_warehouse_backends_warehouse_is_declared_and_the_dry_run_prints_it(tmp_path):
    config = {**WAREHOUSE_BACKEND, **UC, "auth": "token"}
    done = run_cli("deploy", "--dry-run", home=tmp_path / "home", config=config, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (line,) = [line for line in done.stdout.splitlines() if line.strip().startswith("sql_warehouse")]
    assert line.split()[:3] == ["sql_warehouse", "wh-777", "declared"] and "genie_backend warehouse" in line
    assert "genie_spaces:" not in done.stdout, "the warehouse backend needs no Genie spaces"
    assert "GENIE_AGENT_WAREHOUSE_ID=wh-777" in done.stdout, "the served agent reads the same warehouse"
    plan = plan_deployment(load_settings(**config))
    assert plan.missing == ()
    from mlflow.models import Model
    from mlflow.models.resources import DatabricksSQLWarehouse

    declared = plan.log_model_auth()["resources"]
    assert any(isinstance(r, DatabricksSQLWarehouse) and r.name == "wh-777" for r in declared)
    model = Model()
    model.resources = declared  # as log_model records them in MLmodel
    assert model.resources["databricks"]["sql_warehouse"] == [{"name": "wh-777"}]


def test_on_behalf_of_the_user_the_warehouse_is_reached_as_the_caller():
    obo = plan_deployment(load_settings(**WAREHOUSE_BACKEND, auth="model-serving"))
    (warehouse,) = [r for r in obo.resources if r.kind == "sql_warehouse"]
    assert warehouse.name == "wh-777" and warehouse.as_user
    assert "sql.statement-execution" in obo.api_scopes
    narrow = plan_deployment(
        load_settings(**WAREHOUSE_BACKEND, auth="model-serving", obo_scopes=["dashboards.genie"])
    )
    assert any("Add sql.statement-execution" in note for note in narrow.notes)
