"""Code checks and scorers, thresholds, evaluation-set loading, and the deploy gate — no agent, no LLM."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from genie_agent.config import load_settings
from genie_agent.errors import ConfigError, UserInputError
from genie_agent.evaluation import (
    DEFAULT_THRESHOLDS,
    EvalCase,
    EvaluationGateError,
    EvaluationOutcome,
    check_gate,
    check_thresholds,
    checks,
    latest_outcome,
    load_eval_set,
    record_outcome,
)
from genie_agent.evaluation.expected import ExpectedTable, compare_rows
from genie_agent.evaluation.extract import TurnView

EXAMPLE_SET = Path(__file__).resolve().parents[2] / "examples" / "tpch" / "eval.yaml"


def case(**fields) -> EvalCase:
    return EvalCase.model_validate({"id": "c", "kind": "single", "question": "q", **fields})


def turn(status="ok", domains=("sales",), results=(), grounding=None, latency_ms=None) -> TurnView:
    result = {
        "status": status,
        "domains": list(domains),
        "results": list(results),
        "grounding": grounding or {"ok": True, "unsupported_numbers": []},
    }
    return TurnView("q", "text", result, latency_ms)


def test_routing_names_the_turn_and_both_sides():
    followup = EvalCase.model_validate(
        {
            "id": "f",
            "kind": "followup",
            "turns": [{"question": "a", "spaces": ["sales"]}, {"question": "b", "spaces": ["sales"]}],
        }
    )
    assert checks.routing(followup, [turn(), turn()]).value is True
    miss = checks.routing(followup, [turn(), turn(domains=("supply",))])
    assert miss.value is False and "turn 2: asked supply; expected sales" in miss.rationale
    assert "only 1 of 2 turns" in checks.routing(followup, [turn()]).rationale


def test_result_correctness_compares_tables_not_names():
    c = case(spaces=["sales"], expected_sql={"sales": "SELECT ..."}, ordered=True)
    expected = [
        {"sales": ExpectedTable("sales", "SELECT ...", (("ASIA", 10.004), ("EUROPE", 5)), True, False)}
    ]
    good = {"domain": "sales", "rows": [["ASIA", 10.0], ["EUROPE", 5.0]], "error": None}
    assert checks.result_correctness(c, [turn(results=[good])], expected).value is True
    swapped = {**good, "rows": [["EUROPE", 5.0], ["ASIA", 10.0]]}
    verdict = checks.result_correctness(c, [turn(results=[swapped])], expected)
    assert verdict.value is False and "row 1 is ['EUROPE', 5.0]" in verdict.rationale
    assert "returned no result" in checks.result_correctness(c, [turn(results=[])], expected).rationale
    assert checks.result_correctness(case(), [turn()], []).value is None  # no expected SQL: not applicable


def test_compare_rows_normalizes_dates_and_cents():
    import datetime

    assert compare_rows([["1996-01-01T00:00:00", 1.001]], [[datetime.date(1996, 1, 1), 1.0]], False) is None
    assert compare_rows([[1, 2]], [[1, 2], [3, 4]], False) == "1 rows, expected 2"
    assert compare_rows([[1]], [[1, 2]], False) == "1 columns, expected 2"


def test_groundedness_applies_to_answers_from_data_only():
    assert checks.groundedness([turn(status="refused", domains=())]).value is None
    bad = checks.groundedness([turn(grounding={"ok": False, "unsupported_numbers": ["22,715"]})])
    assert bad.value is False and "22,715" in bad.rationale
    assert checks.groundedness([turn()]).value is True


@pytest.mark.parametrize(
    ("kind", "status", "results", "passed"),
    [
        ("unsafe", "refused", [], True),
        ("unsafe", "out_of_scope", [], False),
        ("unsafe", "refused", [{"domain": "sales"}], False),  # refused, yet a space ran
        ("out_of_scope", "out_of_scope", [], True),
        ("single", "ok", [], True),
        ("single", "out_of_scope", [], False),  # declined a question it should answer
    ],
)
def test_refusal_declines_exactly_when_expected(kind, status, results, passed):
    c = case(kind=kind) if kind in ("unsafe", "out_of_scope") else case(spaces=["sales"])
    assert checks.refusal(c, [turn(status=status, domains=(), results=results)]).value is passed


def test_latency_is_the_slowest_turn_or_the_trace():
    assert checks.latency([turn(latency_ms=200), turn(latency_ms=1500)]).value == 1.5
    assert checks.latency([TurnView("q", "t")], trace_ms=800).value == 0.8
    assert checks.latency([]).value is None


def test_code_scorers_read_serialized_outputs():
    from genie_agent.evaluation.scorers import groundedness, latency_s

    outputs = json.dumps(
        {
            "output": [],
            "turns": [{"question": "q", "text": "t", "latency_ms": 900, "custom_outputs": turn().result}],
        }
    )
    assert groundedness.run(outputs=outputs).value is True
    assert latency_s.run(outputs=outputs).value == 0.9
    assert groundedness.run(outputs=json.dumps({"status": "out_of_scope", "text": "no"})) is None


def test_thresholds_fail_on_a_low_metric_a_scorer_error_and_skip_the_unmeasured():
    metrics = {"routing_accuracy/mean": 0.8, "result_correctness/mean": 1.0, "latency_s/p90": 4.0}
    found = {c.name: c for c in check_thresholds(metrics, DEFAULT_THRESHOLDS, judges=False, scorer_errors={})}
    assert not found["routing_accuracy"].passed and "0.8 is not >= 0.9" in found["routing_accuracy"].reason
    assert found["result_correctness"].passed and found["latency_p90_s"].passed
    assert found["groundedness"].passed and found["groundedness"].value is None  # nothing to measure
    assert "safety" not in found  # judges off
    errored = check_thresholds(metrics, DEFAULT_THRESHOLDS, judges=True, scorer_errors={"safety": 2})
    safety = next(c for c in errored if c.name == "safety")
    assert not safety.passed and "2 case(s) could not be scored" in safety.reason
    slow = check_thresholds({"latency_s/p90": 31.0}, DEFAULT_THRESHOLDS, judges=False, scorer_errors={})
    assert not next(c for c in slow if c.name == "latency_p90_s").passed


def test_thresholds_merge_over_defaults_in_settings():
    settings = load_settings(eval_thresholds={"safety": 0.9})
    assert settings.eval_thresholds["safety"] == 0.9
    assert settings.eval_thresholds["routing_accuracy"] == DEFAULT_THRESHOLDS["routing_accuracy"]
    with pytest.raises(ConfigError) as info:
        load_settings(eval_thresholds={"speed": 1})
    assert "unknown threshold(s) speed" in info.value.problems[0]


def test_the_example_set_covers_every_kind():
    eval_set = load_eval_set(EXAMPLE_SET)
    kinds = {c.kind for c in eval_set.cases}
    assert kinds == {"single", "cross", "followup", "out_of_scope", "unsafe"}
    assert eval_set.guidelines and any(c.expected_facts for c in eval_set.cases)
    record = eval_set.records()[0]
    assert record["inputs"]["case_id"] == eval_set.cases[0].id
    assert record["inputs"]["messages"][0]["role"] == "user"
    assert record["expectations"]["expected_status"] == "answered"


def test_the_question_set_is_an_evaluation_set_too():
    questions = EXAMPLE_SET.with_name("questions.yaml")
    assert len(load_eval_set(questions).cases) >= 50


def test_a_bad_set_reports_every_problem(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        "\n".join(
            [
                json.dumps({"id": "a", "kind": "single", "question": "q", "expected_sql": {"x": "SELECT 1"}}),
                json.dumps({"id": "b", "kind": "followup", "question": "only one"}),
                json.dumps({"id": "c", "kind": "unsafe", "question": "drop", "spaces": ["sales"]}),
                "{broken",
                json.dumps({"id": "a", "kind": "out_of_scope", "question": "weather"}),
            ]
        )
    )
    with pytest.raises(ConfigError) as info:
        load_eval_set(bad)
    problems = "\n".join(info.value.problems)
    for expected in ("case a", "case b", "case c", "line 4", "used twice"):
        assert expected in problems, problems
    with pytest.raises(ConfigError, match="does not exist"):
        load_eval_set(tmp_path / "missing.yaml")


def _outcome(target: str, passed: bool, finished: str) -> EvaluationOutcome:
    return EvaluationOutcome(
        target=target,
        passed=passed,
        run_id=f"run-{finished}",
        experiment_id="1",
        tracking_uri="sqlite:///x",
        eval_set="eval.yaml",
        judge_model=None,
        metrics={"routing_accuracy/mean": 1.0 if passed else 0.5},
        checks=tuple(
            check_thresholds(
                {"routing_accuracy/mean": 1.0 if passed else 0.5},
                DEFAULT_THRESHOLDS,
                judges=False,
                scorer_errors={},
            )
        ),
        cases=(),
        started_at=finished,
        finished_at=finished,
        genie_agent_version="0",
    )


def test_the_gate_follows_the_latest_evaluation_of_that_target(tmp_path, caplog):
    uri = "models:/genie_agent/3"
    with pytest.raises(EvaluationGateError, match="never been evaluated"):
        check_gate(uri, tmp_path)
    record_outcome(_outcome(uri, True, "2026-01-01T10:00:00.000+00:00"), tmp_path)
    record_outcome(_outcome("models:/genie_agent/2", False, "2026-01-02T10:00:00.000+00:00"), tmp_path)
    assert check_gate(uri, tmp_path).skipped is False
    record_outcome(_outcome(uri, False, "2026-01-03T10:00:00.000+00:00"), tmp_path)
    with pytest.raises(EvaluationGateError) as info:
        check_gate(uri, tmp_path)
    assert "FAILED" in info.value.message and "routing_accuracy" in info.value.message
    assert "--skip-gate" in info.value.hint
    decision = check_gate(uri, tmp_path, skip_gate=True)
    assert decision.skipped and "EVALUATION GATE SKIPPED" in decision.message
    assert "EVALUATION GATE SKIPPED" in caplog.text  # loudly, in the log too
    latest = latest_outcome(uri, tmp_path)
    assert latest is not None and latest.finished_at.startswith("2026-01-03") and latest.path is not None
    assert EvaluationOutcome.from_dict(json.loads(latest.path.read_text())).checks == latest.checks


def test_parse_since():
    from genie_agent.evaluation.monitoring import parse_since

    now = dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC)
    assert parse_since("24h", now=now) == now - dt.timedelta(hours=24)
    assert parse_since("30m", now=now) == now - dt.timedelta(minutes=30)
    assert parse_since("2026-01-01", now=now) == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(UserInputError, match="neither a duration nor a date"):
        parse_since("yesterday-ish", now=now)
