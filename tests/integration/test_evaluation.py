"""The evaluation gate end to end: the embedded default passes, a real semantic-model defect fails with
the thresholds unchanged, a logged model is evaluated through its serialized outputs, and the LLM
judges run against the scripted OpenAI-compatible server (answering the domain judge's tool calls)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

mlflow = pytest.importorskip("mlflow")

from genie_agent.config import EXAMPLE_CATALOG, load_settings  # noqa: E402
from genie_agent.errors import ConfigError  # noqa: E402
from genie_agent.evaluation import (  # noqa: E402
    EvaluationGateError,
    check_gate,
    latest_outcome,
    load_eval_set,
    load_outcomes,
    run_evaluation,
)
from genie_agent_cli.main import cli  # noqa: E402
from tests.fakes.openai_server import FakeOpenAIServer, RecordedRequest, Reply, ToolCall  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EVAL_SET = ROOT / "examples" / "tpch" / "eval.yaml"
REVENUE = "expr: SUM(lineitem.l_extendedprice * (1 - lineitem.l_discount))"


@pytest.fixture(scope="module")
def tracking_store(tmp_path_factory) -> str:
    """One tracking store for the module: creating a SQLite store costs seconds. Runs keep tests apart."""
    return f"sqlite:///{tmp_path_factory.mktemp('evaluation') / 'mlflow.db'}"


@pytest.fixture
def tracking(tracking_store, monkeypatch):
    """Point settings at the module's store; MLflow's process-wide URI is reset afterwards."""
    monkeypatch.setenv("GENIE_AGENT_MLFLOW_TRACKING_URI", tracking_store)
    yield tracking_store
    mlflow.set_tracking_uri(None)


def subset(tmp_path: Path, *ids: str) -> Path:
    """The example set cut down to these cases, as a file."""
    data = yaml.safe_load(EVAL_SET.read_text())
    data["cases"] = [c for c in data["cases"] if c["id"] in ids]
    path = tmp_path / "subset.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def defective_catalog(tmp_path: Path, tpch_db: Path) -> Path:
    """The example catalog over the session's data, with revenue mapped to the tax column."""
    directory = tmp_path / "defective"
    directory.mkdir()
    for space in ("sales.yaml", "supply.yaml", "customers.yaml"):
        shutil.copy(EXAMPLE_CATALOG.parent / space, directory / space)
    sales = (directory / "sales.yaml").read_text()
    assert sales.count(REVENUE) == 1
    (directory / "sales.yaml").write_text(
        sales.replace(REVENUE, "expr: SUM(lineitem.l_extendedprice * (1 - lineitem.l_tax))")
    )
    catalog = {
        "databases": {"tpch": {"path": str(tpch_db)}},
        "spaces": ["sales.yaml", "supply.yaml", "customers.yaml"],
    }
    (directory / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    return directory / "catalog.yaml"


def test_the_embedded_default_passes_the_gate(cli_home, tracking, monkeypatch):
    monkeypatch.setenv("GENIE_AGENT_TRACING", "off")  # the agent's own spans: see the logged-model test
    result = CliRunner().invoke(cli, ["evaluate"])
    assert result.exit_code == 0, result.output
    cases = len(load_eval_set(EVAL_SET).cases)
    assert f"PASSED: {cases} of {cases} cases passed" in result.output
    assert "FAIL" not in result.output

    (outcome,) = load_outcomes(cli_home)  # recorded under $GENIE_AGENT_HOME/evaluations/
    assert outcome.passed and outcome.target.startswith("config:") and outcome.path is not None
    assert {c.name for c in outcome.checks} >= {
        "routing_accuracy",
        "result_correctness",
        "groundedness",
        "refusal_correctness",
        "latency_p90_s",
        "cases_scored",
    }
    assert outcome.metrics["routing_accuracy/mean"] == outcome.metrics["result_correctness/mean"] == 1.0
    assert check_gate(outcome.target, cli_home).skipped is False

    # ... and in the MLflow run: the verdict, the outcome, and per-row assessments on each case's trace
    mlflow.set_tracking_uri(tracking)
    run = mlflow.get_run(outcome.run_id)
    assert run.data.tags["genie_agent.gate"] == "passed" and run.data.metrics["gate_passed"] == 1.0
    assert run.data.params["target"] == outcome.target
    artifact = mlflow.artifacts.load_dict(f"runs:/{outcome.run_id}/evaluation_outcome.json")
    assert artifact["passed"] is True and artifact["target"] == outcome.target
    traces = mlflow.search_traces(
        locations=[outcome.experiment_id], run_id=outcome.run_id, return_type="list"
    )
    assert len(traces) == cases
    followup = next(
        t for t in traces if t.info.tags.get("genie_agent.eval_case", "").startswith("followup-top")
    )
    names = {a.name for a in followup.info.assessments}
    assert {
        "routing_accuracy",
        "result_correctness",
        "groundedness",
        "expected_spaces",
        "expected_sql",
    } <= names


def test_a_measure_on_the_wrong_column_fails_the_gate(cli_home, tracking, tmp_path, tpch_db, monkeypatch):
    monkeypatch.setenv("GENIE_AGENT_CATALOG", str(defective_catalog(tmp_path, tpch_db)))
    monkeypatch.setenv("GENIE_AGENT_TRACING", "off")  # the agent's own spans are not what this test is about
    result = CliRunner().invoke(cli, ["evaluate", "--set", str(EVAL_SET)])
    assert result.exit_code == 1, result.output
    rows = [line for line in result.output.splitlines() if "PASS" in line or "FAIL" in line]
    assert "FAIL" in rows[0]  # failures first
    assert "result_correctness: sales:" in result.output and "l_tax" in result.output  # with why
    assert "FAILED" in result.output

    outcome = load_outcomes(cli_home)[-1]
    failed = {c.name for c in outcome.failed_checks}
    assert failed == {"result_correctness"}, [c.reason for c in outcome.failed_checks]  # thresholds unchanged
    assert all(
        c.passed
        for c in outcome.cases
        if not c.case_id.startswith(("sales-", "cross-revenue", "followup-revenue", "followup-top"))
    )
    with pytest.raises(EvaluationGateError, match="FAILED"):
        check_gate(outcome.target, cli_home)
    skipped = check_gate(outcome.target, cli_home, skip_gate=True)
    assert skipped.skipped and "EVALUATION GATE SKIPPED" in skipped.message
    mlflow.set_tracking_uri(tracking)
    assert mlflow.get_run(outcome.run_id).data.tags["genie_agent.gate"] == "failed"


def test_a_logged_model_is_evaluated_through_its_serialized_outputs(cli_home, tracking, tmp_path):
    mlflow.set_tracking_uri(tracking)
    mlflow.set_experiment("genie-agent")
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="agent",
            python_model=str(ROOT / "agent_model" / "agent.py"),
            input_example={"input": [{"role": "user", "content": "How many customers do we have in total?"}]},
            pip_requirements=["genie-agent"],  # inferring them runs the model in a subprocess: slow
        )
    cases = subset(
        tmp_path,
        "sales-top5-nations-revenue-1995",
        "followup-top-nations-then-top-10",
        "unsafe-drop-customer-table",
    )
    result = CliRunner().invoke(
        cli, ["evaluate", "--model-uri", info.model_uri, "--set", str(cases), "--json"]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)  # stdout is exactly the outcome
    assert printed["passed"] is True and printed["target"] == info.model_uri
    assert printed["metrics"]["result_correctness/mean"] == 1.0 and len(printed["cases"]) == 3
    assert check_gate(info.model_uri, cli_home).outcome.run_id == printed["run_id"]
    # one trace per case; the served agent's turns (traced, as where it is served) nest inside it
    followup = next(c for c in printed["cases"] if c["case_id"].startswith("followup-"))
    spans = [s.name for s in mlflow.get_trace(followup["trace_id"]).data.spans]
    assert spans[0] == "genie_agent.eval_case" and spans.count("genie_agent.turn") == 2
    with pytest.raises(EvaluationGateError, match="never been evaluated"):
        check_gate("models:/genie_agent/99", cli_home)


JUDGED = (
    "sales-revenue-by-segment-1995",
    "cross-revenue-and-suppliers-by-region-1995",
    "oos-weather-paris",
    "unsafe-drop-customer-table",
)


def scripted_judge(verdict: str = "yes", score: float = 0.9):
    """Answers like a judge model: the trace-reading judge first calls a tool, then scores."""

    def respond(request: RecordedRequest) -> Reply:
        body = request.body
        if body.get("tools"):
            if not any(m.get("role") == "tool" for m in body.get("messages", [])):
                return Reply(tool_calls=(ToolCall("list_spans"),))
            return Reply(
                json.dumps({"result": score, "rationale": "The figures match the genie.sales span."})
            )
        return Reply(json.dumps({"result": verdict, "rationale": f"Let's think step by step: {verdict}."}))

    return respond


@pytest.fixture
def judge_server():
    with FakeOpenAIServer(responder=scripted_judge()) as server:
        yield server


def judged_settings(server: FakeOpenAIServer, home: Path, tracking: str):
    return load_settings(
        home=home,
        judge_model="openai:/judge-model",
        judge_base_url=server.base_url,
        judge_api_key="judge-key",
        mlflow_tracking_uri=tracking,
        tracing="on",
    )


def test_judges_run_against_an_openai_compatible_endpoint(
    judge_server, tracking, tpch_catalog, _isolated_genie_agent_home
):
    import os

    from genie_agent.factory import make_agent

    settings = judged_settings(judge_server, _isolated_genie_agent_home, tracking)
    eval_set = load_eval_set(EVAL_SET).select(JUDGED)
    outcome = run_evaluation(
        settings,
        agent=make_agent(settings, catalog=tpch_catalog, progress=False),
        catalog=tpch_catalog,
        eval_set=eval_set,
    )
    assert outcome.passed, [c.reason for c in outcome.failed_checks]
    metrics = outcome.metrics
    for name in ("relevance_to_query", "safety", "guidelines", "correctness"):
        assert metrics[f"{name}/mean"] == 1.0, name
    assert metrics["domain_accuracy/mean"] == pytest.approx(0.9)
    assert {c.name for c in outcome.checks} >= {
        "relevance_to_query",
        "safety",
        "guidelines",
        "correctness",
        "domain_accuracy",
    }
    assert outcome.judge_model == "openai:/judge-model"

    requests = judge_server.requests
    assert all(r.authorization == "Bearer judge-key" and r.path == "/v1/chat/completions" for r in requests)
    # the domain judge read the trace through a tool call, and saw the real spans
    tool_results = [m for r in requests for m in r.messages if m.get("role") == "tool"]
    assert tool_results and any("genie.sales" in str(m.get("content")) for m in tool_results)
    # the built-in judges got the question and the answer's text, not a serialized dict
    relevance = [r.content("user") for r in requests if "<question>" in r.content("user")]
    assert relevance and all(
        "custom_outputs" not in text and "function_call" not in text for text in relevance
    )
    assert any("revenue by market segment" in text and "**Sales**" in text for text in relevance)
    assert "OPENAI_API_BASE" not in os.environ  # the judge endpoint was set only while judging


def test_a_judge_verdict_below_its_threshold_fails_the_gate(
    tracking, tpch_catalog, _isolated_genie_agent_home
):
    from genie_agent.factory import make_agent

    with FakeOpenAIServer(responder=scripted_judge(verdict="no", score=0.2)) as server:
        settings = judged_settings(server, _isolated_genie_agent_home, tracking)
        outcome = run_evaluation(
            settings,
            agent=make_agent(settings, catalog=tpch_catalog, progress=False),
            catalog=tpch_catalog,
            eval_set=load_eval_set(EVAL_SET).select(JUDGED[:1]),
        )
    assert not outcome.passed
    assert {c.name for c in outcome.failed_checks} == {
        "relevance_to_query",
        "safety",
        "guidelines",
        "correctness",
        "domain_accuracy",
    }
    (case,) = outcome.cases
    assert not case.passed and any(f.startswith("safety:") for f in case.failures)
    # the code scorers still passed: the data was right, only the judges objected
    assert outcome.metrics["result_correctness/mean"] == 1.0


def test_judges_need_a_judge_model(_isolated_genie_agent_home, tpch_catalog):
    with pytest.raises(ConfigError, match="no judge model is configured"):
        run_evaluation(load_settings(home=_isolated_genie_agent_home), catalog=tpch_catalog, judges=True)


def test_latest_outcome_is_per_target(cli_home):
    assert latest_outcome("config:none", cli_home) is None
