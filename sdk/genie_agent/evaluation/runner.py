"""``run_evaluation``: the set through the agent under ``mlflow.genai.evaluate``, the gate, the record.

Steps: load the set; run its expected SQL (problems surface before anything else runs); answer
every case through the target inside one MLflow run (a trace per case, per-row assessments on
it); apply the thresholds; record the outcome in the run (tags, metric, JSON artifact) and under
``$GENIE_AGENT_HOME/evaluations/``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.metadata
import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .dataset import EvalSet, default_eval_set_path, load_eval_set
from .expected import ExpectedTable, expected_tables
from .outcome import AssessmentView, CaseResult, EvaluationOutcome, record_outcome, utc_now
from .predict import Respond, agent_respond, make_predict_fn
from .thresholds import THRESHOLDS, ThresholdCheck, check_thresholds

if TYPE_CHECKING:
    from mlflow.genai.evaluation.entities import EvaluationResult
    from mlflow.genai.scorers import Scorer

    from ..agent import Agent
    from ..config import Settings
    from ..spaces.catalog import Catalog

__all__ = ["config_fingerprint", "configure_mlflow", "prime_tracing", "run_evaluation"]

_CASE_TAG = "genie_agent.eval_case"


def configure_mlflow(settings: Settings) -> str:
    """Point MLflow at the configured tracking store and experiment; return the experiment id.

    A new experiment on a local store keeps its artifacts under ``$GENIE_AGENT_HOME/mlartifacts``
    (MLflow's default is ``./mlruns`` in whatever directory the command ran from).
    """
    import mlflow

    uri = settings.tracking_uri()
    if uri:
        mlflow.set_tracking_uri(uri)
    name = settings.mlflow_experiment
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None and mlflow.get_tracking_uri().startswith("sqlite:"):
        location = settings.home / "mlartifacts"
        location.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(Exception):  # another process created it first
            mlflow.create_experiment(name, artifact_location=location.as_uri())
    return str(mlflow.set_experiment(name).experiment_id)


def config_fingerprint(settings: Settings, catalog: Catalog) -> str:
    """``config:<hash>`` of what decides the configured agent's answers (spaces, synthesis, limits, version)."""
    relevant = {
        "spaces": [s.model_dump(mode="json") for s in catalog.spaces],
        "llm": [settings.llm_base_url, settings.llm_model],
        "verified_queries": settings.verified_queries,
        "row_limit": settings.row_limit,
        "data_rows": settings.data_rows,
        "version": _version(),
    }
    digest = hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()
    return f"config:{digest[:16]}"


def _version() -> str:
    try:
        return importlib.metadata.version("genie-agent")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _verdict(name: str, value: Any, thresholds: Mapping[str, float]) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() == "yes" if value.lower() in ("yes", "no") else None
    if isinstance(value, int | float):
        if name == "latency_s":
            return float(value) <= thresholds.get("latency_p90_s", THRESHOLDS["latency_p90_s"].default)
        if name in thresholds:
            return float(value) >= thresholds[name]
    return None


def _case_results(
    frame: Any, eval_set: EvalSet, names: Iterable[str], thresholds: Mapping[str, float]
) -> tuple[list[CaseResult], dict[str, int]]:
    """Per-case assessments from the result DataFrame, in the set's order; scorer errors by name."""
    errors: dict[str, int] = {}
    by_id: dict[str, CaseResult] = {}
    cases = {c.id: c for c in eval_set.cases}
    for row in frame.to_dict(orient="records") if frame is not None else []:
        case_id = str((row.get("tags") or {}).get(_CASE_TAG, ""))
        case = cases.get(case_id)
        if case is None:
            continue
        views = []
        for name in names:
            value, error = row.get(f"{name}/value"), row.get(f"{name}/error_message")
            if not _missing(error):
                errors[name] = errors.get(name, 0) + 1
                views.append(AssessmentView(name, None, "", str(error), False))
                continue
            if _missing(value):
                continue
            value = str(value.value) if hasattr(value, "value") else value  # CategoricalRating
            rationale = row.get(f"{name}/rationale")
            views.append(
                AssessmentView(
                    name,
                    value,
                    "" if _missing(rationale) else str(rationale),
                    None,
                    _verdict(name, value, thresholds),
                )
            )
        passed = all(v.passed is not False and not v.error for v in views)
        by_id[case_id] = CaseResult(
            case.id, case.kind, case.question, passed, tuple(views), row.get("trace_id")
        )
    return [by_id[c.id] for c in eval_set.cases if c.id in by_id], errors


def prime_tracing(agent: Agent) -> None:
    """Let the agent's tracer configure MLflow now, not on its first span inside the evaluation.

    The tracer sets the tracking URI and experiment on first use, and ``mlflow.set_experiment``
    resets MLflow's tracer provider: done while cases run, it drops their traces in flight.
    """
    agent.tracer.flush()


def _coverage(cases: list[CaseResult], eval_set: EvalSet) -> ThresholdCheck:
    """Every case must come back scored; a lost trace is a failed evaluation, not a smaller one."""
    scored, total = len(cases), len(eval_set.cases)
    missing = sorted({c.id for c in eval_set.cases} - {c.case_id for c in cases})
    reason = (
        "every case scored" if not missing else f"{total - scored} case(s) not scored: {', '.join(missing)}"
    )
    return ThresholdCheck("cases_scored", "cases", "min", float(total), float(scored), not missing, reason)


def run_evaluation(
    settings: Settings,
    *,
    agent: Agent | None = None,
    respond: Respond | None = None,
    target: str | None = None,
    catalog: Catalog | None = None,
    eval_set: Path | EvalSet | None = None,
    judges: bool | None = None,
    record: bool = True,
) -> EvaluationOutcome:
    """Evaluate a target on a set and decide the gate.

    The target is ``respond`` (a Responses callable, e.g. a logged model's ``predict``; name it
    with ``target``, e.g. its model URI), else ``agent``, else the agent ``settings`` configure;
    an agent's target is ``config:<fingerprint>`` unless ``target`` names it. The set defaults to
    ``settings.eval_set``, else ``eval.yaml`` beside the catalog. ``judges`` defaults to "when a
    judge model is configured".

    Raises:
        ConfigError: the set is invalid or does not fit the catalog, or judges were asked for
            without ``judge_model``.
    """
    import mlflow

    from ..spaces.catalog import load_catalog

    catalog = catalog or load_catalog(settings.catalog)
    if not isinstance(eval_set, EvalSet):
        eval_set = load_eval_set(eval_set or settings.eval_set or default_eval_set_path(catalog.source))
    use_judges = _use_judges(settings, judges)
    expected = expected_tables(eval_set, catalog, settings)
    respond, target = _target(settings, catalog, agent, respond, target)
    scorers = _scorers(settings, eval_set, expected, use_judges)
    thresholds = dict(settings.eval_thresholds)
    experiment_id = configure_mlflow(settings)
    started = utc_now()
    with mlflow.start_run(run_name=f"evaluate {target}") as run:
        _log_params(settings, target, eval_set, thresholds)
        result = _evaluate(settings, eval_set, scorers, respond)
        metrics, cases, checks = _gate(result, eval_set, scorers, thresholds, use_judges)
        outcome = EvaluationOutcome(
            target=target,
            passed=all(c.passed for c in checks),
            run_id=run.info.run_id,
            experiment_id=experiment_id,
            tracking_uri=mlflow.get_tracking_uri(),
            eval_set=str(eval_set.path),
            judge_model=settings.judge_model if use_judges else None,
            metrics=metrics,
            checks=tuple(checks),
            cases=tuple(cases),
            started_at=started,
            finished_at=utc_now(),
            genie_agent_version=_version(),
        )
        _log_gate(outcome)
    if record:
        path = record_outcome(outcome, settings.home)
        outcome = dataclasses.replace(outcome, path=path)
    return outcome


def _use_judges(settings: Settings, judges: bool | None) -> bool:
    """Whether the LLM judges run: as asked, else when a judge model is configured."""
    use_judges = bool(settings.judge_model) if judges is None else judges
    if use_judges and not settings.judge_model:
        raise ConfigError(
            "Judges were asked for, but no judge model is configured.",
            "Set GENIE_AGENT_JUDGE_MODEL (e.g. openai:/gpt-4o-mini), or run without --judges.",
        )
    return use_judges


def _target(
    settings: Settings, catalog: Catalog, agent: Agent | None, respond: Respond | None, target: str | None
) -> tuple[Respond, str]:
    """What answers the cases and its name: ``respond`` as given, else the agent (made from
    ``settings`` when none is given, named by its configuration's fingerprint)."""
    if respond is None:
        if agent is None:
            from ..factory import make_agent

            agent = make_agent(settings, catalog=catalog, progress=False)
        respond = agent_respond(agent)
        target = target or config_fingerprint(settings, catalog)
        prime_tracing(agent)
    return respond, (target or "unnamed").strip()


def _scorers(
    settings: Settings,
    eval_set: EvalSet,
    expected: Mapping[str, Sequence[Mapping[str, ExpectedTable]]],
    use_judges: bool,
) -> list[Scorer]:
    """The code scorers, and the LLM judges when they run."""
    from .judges import judge_scorers
    from .scorers import code_scorers

    scorers = code_scorers(eval_set, expected)
    if use_judges:
        scorers += judge_scorers(settings.judge_model, eval_set)
    return scorers


def _log_params(settings: Settings, target: str, eval_set: EvalSet, thresholds: Mapping[str, float]) -> None:
    import mlflow

    mlflow.log_params(
        {
            "target": target,
            "eval_set": str(eval_set.path),
            "cases": len(eval_set.cases),
            "judge_model": settings.judge_model or "none",
            **{f"threshold.{k}": v for k, v in sorted(thresholds.items())},
        }
    )
    mlflow.set_tags({"genie_agent.evaluation_target": target})


def _evaluate(
    settings: Settings, eval_set: EvalSet, scorers: list[Scorer], respond: Respond
) -> EvaluationResult:
    """``mlflow.genai.evaluate`` over the set's cases; its result (metrics and the per-case frame)."""
    import mlflow

    from .judges import judge_environ, scoped_environ

    # predict_fn is always traced, so MLflow's extra validation call of the first case (with
    # tracing off) proves nothing; skip it. MLflow's default of 10 cases at once exhausts a
    # SQLite store's connection pool and, in one interpreter, only inflates each case's
    # latency. MLflow prints its summary to stdout, which is the command's own (the table, or
    # JSON): send it to stderr.
    environ = {
        **judge_environ(settings),
        "MLFLOW_GENAI_EVAL_SKIP_TRACE_VALIDATION": "true",
        "MLFLOW_GENAI_EVAL_MAX_WORKERS": str(settings.eval_workers),
    }
    with scoped_environ(environ), contextlib.redirect_stdout(sys.stderr):
        return mlflow.genai.evaluate(
            data=eval_set.records(), scorers=scorers, predict_fn=make_predict_fn(respond)
        )


def _gate(
    result: EvaluationResult,
    eval_set: EvalSet,
    scorers: list[Scorer],
    thresholds: Mapping[str, float],
    use_judges: bool,
) -> tuple[dict[str, float], list[CaseResult], list[ThresholdCheck]]:
    """The run's metrics, each case's assessments, and the gate's checks (every case scored among them)."""
    metrics = {k: float(v) for k, v in result.metrics.items() if v is not None}
    cases, errors = _case_results(result.result_df, eval_set, [s.name for s in scorers], thresholds)
    checks = check_thresholds(metrics, thresholds, judges=use_judges, scorer_errors=errors)
    checks.append(_coverage(cases, eval_set))
    return metrics, cases, checks


def _log_gate(outcome: EvaluationOutcome) -> None:
    """The gate in the run: a tag, a metric, and the whole outcome as a JSON artifact."""
    import mlflow

    mlflow.set_tags({"genie_agent.gate": "passed" if outcome.passed else "failed"})
    mlflow.log_metric("gate_passed", 1.0 if outcome.passed else 0.0)
    mlflow.log_dict(outcome.to_dict(), "evaluation_outcome.json")
