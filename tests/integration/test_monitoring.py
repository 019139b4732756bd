"""Monitoring on traces of real turns: volume, latency and failures per space, routing, groundedness and
memory failures, the code scorers on a sample (assessments logged once), and the Databricks-only path."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

mlflow = pytest.importorskip("mlflow")

from genie_agent.config import load_settings  # noqa: E402
from genie_agent.evaluation.monitoring import (  # noqa: E402
    in_sample,
    monitor,
    production_answered,
    production_groundedness,
)
from genie_agent.evaluation.predict import agent_respond, make_predict_fn  # noqa: E402
from genie_agent_cli.main import cli  # noqa: E402
from tests.fakes.openai_server import FakeOpenAIServer, Reply, fake_openai  # noqa: E402

__all__ = ["fake_openai"]  # the fixture, imported for this module

EXPERIMENT = "genie-agent-monitoring"
CROSS = "What was revenue by region in 1995, and how many suppliers does each region have?"
INVENTED = "**Sales**: revenue came to about 1.2M across 22,715 orders, led by AFRICA."


@pytest.fixture(scope="module")
def tracking_store(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('monitoring') / 'mlflow.db'}"


@pytest.fixture
def traced(make_test_agent, tracking_store):
    """Agents whose turns are traced into the module's store."""

    def build(**overrides):
        return make_test_agent(
            tracing="on", mlflow_tracking_uri=tracking_store, mlflow_experiment=EXPERIMENT, **overrides
        )

    yield build
    mlflow.set_tracking_uri(None)


def memory_failure_trace() -> str:
    """A turn whose thread could not be saved, shaped as the agent records it."""
    with mlflow.start_span(name="genie_agent.turn", span_type="AGENT") as turn:
        turn.set_inputs({"question": "Revenue by region in 1995", "user": "ann"})
        with mlflow.start_span(name="route", span_type="PARSER") as route:
            route.set_outputs({"kind": "single", "domains": [], "confidence": 0.0, "reason": "test"})
        with mlflow.start_span(name="memory.save_thread", span_type="MEMORY") as save:
            save.set_outputs("failed: OperationalError: database is locked")
        turn.set_outputs({"status": "clarify", "text": "Which measure?", "grounding": {"ok": True}})
    return turn.trace_id


def test_monitor_reports_on_traces_of_real_turns(
    traced, tracking_store, fake_openai: FakeOpenAIServer, monkeypatch
):
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    agent = traced()
    first = agent.ask("Revenue by region in 1995", user="ann")
    agent.ask("What about 1996?", user="ann", thread_id=first.thread_id)
    agent.ask("How many suppliers does each nation have?", user="bob")
    agent.ask(CROSS, user="ann")
    agent.ask("Drop the customer table.", user="bob")
    agent.ask("What will the weather be like in Paris tomorrow?", user="bob")
    # a space that does not answer in time
    slow = traced(space_timeout_s=0.001)
    assert slow.ask("Top 5 nations by revenue in 1997").status == "error"
    # an LLM that invents a number
    fake_openai.script(Reply(INVENTED))
    llm = traced(llm_base_url=fake_openai.base_url, llm_model="scripted", llm_api_key="k")
    invented = llm.ask("Revenue by region in 1995")
    assert invented.grounding["ok"] is False
    memory_failure_trace()
    # an evaluation case's trace: not production traffic
    make_predict_fn(agent_respond(agent))(
        messages=[{"role": "user", "content": "How many customers do we have?"}]
    )
    agent.tracer.flush()

    settings = load_settings(mlflow_tracking_uri=tracking_store, mlflow_experiment=EXPERIMENT)
    report = monitor(settings, since=since, sample=1.0)
    assert report.traces == report.turns == 9  # the evaluation trace is left out
    assert report.statuses == {"ok": 5, "refused": 1, "out_of_scope": 1, "error": 1, "clarify": 1}
    assert report.latency_p50_ms is not None and report.latency_p95_ms >= report.latency_p50_ms

    spaces = {s.space: s for s in report.spaces}
    assert spaces["sales"].calls == 5 and spaces["supply"].calls == 2
    assert spaces["sales"].timeouts == 1 and spaces["sales"].errors == 0 and spaces["supply"].timeouts == 0
    assert spaces["sales"].p50_ms is not None and spaces["sales"].p95_ms >= spaces["sales"].p50_ms
    assert (
        report.routing["sales"] == 4 and report.routing["sales+supply"] == 1 and report.routing["supply"] == 1
    )
    assert report.routing["(none: refused)"] == 1 and report.routing["(none: out_of_scope)"] == 1

    (ungrounded,) = report.groundedness_failures
    assert "22,715" in ungrounded.detail
    (memory,) = report.memory_failures
    assert "memory.save_thread" in memory.detail and "database is locked" in memory.detail

    scores = {s.name: s for s in report.scores}
    assert report.sampled == 9
    assert scores["groundedness"].scored == 5 and len(scores["groundedness"].failures) == 1  # the answers
    assert scores["groundedness"].failures[0].trace_id == ungrounded.trace_id
    assert scores["latency_s"].scored == 9

    # assessments land on the traces, once: a second run adds none
    again = monitor(settings, since=since, sample=1.0)
    assert again.turns == 9
    logged = mlflow.get_trace(ungrounded.trace_id).info.assessments
    assert [(a.name, a.value) for a in logged if a.name == "groundedness"] == [("groundedness", False)]

    # the command line prints the same report as JSON
    monkeypatch.setenv("GENIE_AGENT_MLFLOW_TRACKING_URI", tracking_store)
    monkeypatch.setenv("GENIE_AGENT_MLFLOW_EXPERIMENT", EXPERIMENT)
    result = CliRunner().invoke(cli, ["monitor", "--since", "1h", "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["turns"] == 9 and printed["spaces"][0]["space"] == "sales"
    assert printed["spaces"][0]["timeout_rate"] == pytest.approx(0.2)
    people = CliRunner().invoke(cli, ["monitor", "--since", "1h", "--sample", "0.5"])
    assert people.exit_code == 0, people.output
    assert "9 turns" in people.output and "groundedness failures" in people.output


def test_production_scorers_stand_alone_and_read_real_traces(traced, fake_openai: FakeOpenAIServer):
    fake_openai.script(Reply(INVENTED))
    llm = traced(llm_base_url=fake_openai.base_url, llm_model="scripted", llm_api_key="k")
    llm.ask("Revenue by region in 1995")
    llm.tracer.flush()
    trace = mlflow.get_trace(mlflow.get_last_active_trace_id(), flush=True)
    grounded = production_groundedness.run(trace=trace)
    assert grounded.value is False and "22,715" in grounded.rationale
    assert production_answered.run(trace=trace).value is True
    # what registration ships to Databricks: the bodies alone, needing nothing of genie_agent
    for scorer in (production_groundedness, production_answered):
        source = scorer.model_dump()["call_source"]
        assert "genie_agent" not in source.replace('"genie_agent.turn"', "")


def test_register_is_databricks_only(cli_home, tracking_store, monkeypatch):
    monkeypatch.setenv("GENIE_AGENT_MLFLOW_TRACKING_URI", tracking_store)
    result = CliRunner().invoke(cli, ["monitor", "--register", "--sample", "0.1"])
    assert result.exit_code == 2
    assert "Production monitoring is a Databricks feature" in result.output
    assert "without --register" in result.output
    bad = CliRunner().invoke(cli, ["monitor", "--sample", "2"])
    assert bad.exit_code == 2 and "not a fraction" in bad.output


def test_sampling_is_stable_per_trace():
    ids = [f"tr-{i:04d}" for i in range(400)]
    half = [i for i in ids if in_sample(i, 0.5)]
    assert 150 < len(half) < 250 and half == [i for i in ids if in_sample(i, 0.5)]
    assert all(in_sample(i, 1.0) for i in ids)
