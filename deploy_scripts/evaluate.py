"""``genie-agent evaluate`` and ``genie-agent monitor``: thin over ``genie_agent.evaluation``.

``evaluate`` exits 0 when the gate passes, 1 when it fails, 2 on bad configuration or input;
``evaluate --from-feedback`` writes the turns users rated down as a draft set and exits 0.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .cli_base import json_option, pass_settings

if TYPE_CHECKING:
    from genie_agent.config import Settings
    from genie_agent.evaluation import EvaluationOutcome
    from genie_agent.evaluation.monitoring import MonitoringReport

__all__ = ["evaluate", "monitor"]

EXIT_PASSED, EXIT_FAILED = 0, 1
_WHY_CHARS = 300


@click.command()
@click.option(
    "--set",
    "eval_set",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Evaluation set (YAML or JSONL). Default: GENIE_AGENT_EVAL_SET, else eval.yaml beside the catalog.",
)
@click.option(
    "--model-uri",
    help="Evaluate this logged model (runs:/..., models:/...) instead of the configured agent.",
)
@click.option(
    "--judges/--no-judges",
    default=None,
    help="Run the LLM judges. Default: when GENIE_AGENT_JUDGE_MODEL is set.",
)
@click.option(
    "--from-feedback",
    "from_feedback",
    is_flag=True,
    help="Instead of evaluating: write the turns users rated down (--since) as a draft set to --out.",
)
@click.option(
    "--since",
    default="7d",
    show_default=True,
    help="With --from-feedback: turns since 30m, 24h, 7d, or a date.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("eval-from-feedback.yaml"),
    show_default=True,
    help="With --from-feedback: where to write the draft set (never over an existing file).",
)
@json_option("Print the outcome as one JSON object.")
@pass_settings
def evaluate(
    settings: Settings,
    eval_set: Path | None,
    model_uri: str | None,
    judges: bool | None,
    from_feedback: bool,
    since: str,
    out: Path,
    as_json: bool,
) -> None:
    """Evaluate the agent on a set with MLflow; exit 0 if the gate passes, 1 if it fails."""
    from genie_agent.evaluation import run_evaluation

    if from_feedback:
        _draft_from_feedback(settings, eval_set, model_uri, since, out, as_json)
        return
    respond = _load_model(settings, model_uri).predict if model_uri else None
    outcome = run_evaluation(settings, respond=respond, target=model_uri, eval_set=eval_set, judges=judges)
    if as_json:
        click.echo(json.dumps({**outcome.to_dict(), "path": str(outcome.path or "")}, default=str))
    else:
        render_outcome(outcome)
    sys.exit(EXIT_PASSED if outcome.passed else EXIT_FAILED)


def _draft_from_feedback(
    settings: Settings, eval_set: Path | None, model_uri: str | None, since: str, out: Path, as_json: bool
) -> None:
    from genie_agent.errors import UserInputError
    from genie_agent.evaluation.feedback_set import draft_from_feedback
    from genie_agent.evaluation.monitoring import parse_since

    if eval_set is not None or model_uri is not None:
        raise UserInputError(
            "--from-feedback writes a set; it does not evaluate one.", "Drop --set and --model-uri."
        )
    draft = draft_from_feedback(settings, since=parse_since(since))
    if draft.cases:
        draft.write(out)
    if as_json:
        click.echo(json.dumps({"path": str(out) if draft.cases else None, "cases": len(draft.cases)}))
    elif draft.cases:
        click.echo(
            f"Wrote {len(draft.cases)} draft case(s) from turns rated down since {draft.since} to {out}.\n"
            "They have no truth yet: check each case's spaces and add its expected_sql, then run "
            f"`genie-agent evaluate --set {out}`."
        )
    else:
        click.echo(
            f"No turn was rated down since {draft.since} (experiment {draft.experiment}); nothing written."
        )


def _load_model(settings: Settings, model_uri: str) -> Any:
    """The logged model at ``model_uri``, its tracing primed; raises UserInputError if it cannot load."""
    import mlflow.pyfunc

    from genie_agent.errors import UserInputError
    from genie_agent.evaluation import configure_mlflow

    configure_mlflow(settings)  # a runs:/ or models:/ URI resolves against the configured store
    try:
        model = mlflow.pyfunc.load_model(model_uri)
    except Exception as exc:
        raise UserInputError(
            f"Could not load the model {model_uri}: {exc}",
            "Check the URI (runs:/<id>/agent, models:/<name>/<version>).",
        ) from None
    _prime_model_tracing(model)
    return model


def _prime_model_tracing(model: Any) -> None:
    """Build the logged agent now so its tracer configures MLflow before the cases run (see prime_tracing)."""
    from genie_agent.agent import Agent
    from genie_agent.evaluation import prime_tracing

    try:
        python_model = model.unwrap_python_model()
    except Exception:  # a ResponsesAgent loads through MLflow's wrapper, which keeps it as `responses_agent`
        python_model = getattr(getattr(model, "_model_impl", None), "responses_agent", None)
    agent = getattr(python_model, "agent", None)
    if isinstance(agent, Agent):
        prime_tracing(agent)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _WHY_CHARS else text[: _WHY_CHARS - 1] + "…"


def render_outcome(outcome: EvaluationOutcome, console: Any = None) -> None:
    """Per-case table (failures first, with why), then each gate, then the verdict and where it is recorded."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    cases = sorted(outcome.cases, key=lambda c: c.passed)  # stable: failures first, set order within
    table = Table(title=f"{outcome.target} on {Path(outcome.eval_set).name}", show_lines=False)
    table.add_column("")
    table.add_column("case")
    table.add_column("kind")
    table.add_column("why" if any(not c.passed for c in cases) else "")
    for case in cases:
        why = "\n".join(_short(f) for f in case.failures)
        if case.passed:
            latency = next((a.value for a in case.assessments if a.name == "latency_s"), None)
            why = f"[dim]{latency:.2f} s[/dim]" if isinstance(latency, int | float) else ""
        mark = "[green]PASS[/green]" if case.passed else "[red]FAIL[/red]"
        table.add_row(mark, case.case_id, case.kind, why)
    console.print(table)

    gates = Table(title="gate", show_lines=False)
    for column in ("", "threshold", "metric", "value", "verdict"):
        gates.add_column(column)
    for check in outcome.checks:
        value = "-" if check.value is None else f"{check.value:.3g}"
        limit = (">= " if check.direction == "min" else "<= ") + f"{check.threshold:g}"
        mark = "[green]ok[/green]" if check.passed else "[red]FAIL[/red]"
        gates.add_row(mark, check.name, check.metric, value, f"{limit}: {check.reason}")
    console.print(gates)

    failed = sum(not c.passed for c in outcome.cases)
    verdict = "[bold green]PASSED[/bold green]" if outcome.passed else "[bold red]FAILED[/bold red]"
    console.print(
        f"{verdict}: {len(outcome.cases) - failed} of {len(outcome.cases)} cases passed; "
        f"judges: {outcome.judge_model or 'off'}",
        highlight=False,
    )
    console.print(
        f"[dim]MLflow run {outcome.run_id} (experiment {outcome.experiment_id}, {outcome.tracking_uri})\n"
        f"recorded: {outcome.path}[/dim]",
        highlight=False,
    )


@click.command()
@click.option("--since", default="24h", show_default=True, help="Window start: 30m, 24h, 7d, or an ISO date.")
@click.option(
    "--sample",
    type=float,
    default=None,
    help="Fraction of traces to score (0-1]. Default: 1 locally, 0.1 with --register.",
)
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1), help="Most traces read.")
@click.option(
    "--register",
    is_flag=True,
    help="Databricks only: register the scorers with production monitoring at the --sample rate.",
)
@click.option(
    "--judges/--no-judges", default=None, help="Score with the LLM judges too. Default: when configured."
)
@json_option("Print the report as one JSON object.")
@pass_settings
def monitor(
    settings: Settings,
    since: str,
    sample: float | None,
    limit: int,
    register: bool,
    judges: bool | None,
    as_json: bool,
) -> None:
    """Report on recent production traces and score a sample with the evaluation's scorers."""
    from genie_agent.evaluation.monitoring import monitor as run_monitor
    from genie_agent.evaluation.monitoring import parse_since, register_production_monitoring

    if register:
        names = register_production_monitoring(settings, sample_rate=0.1 if sample is None else sample)
        click.echo(f"Production monitoring started for: {', '.join(names)}")
        return
    report = run_monitor(
        settings,
        since=parse_since(since),
        sample=1.0 if sample is None else sample,
        limit=limit,
        judges=judges,
    )
    if as_json:
        click.echo(json.dumps(report.to_dict(), default=str))
    else:
        render_report(report)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def render_feedback(report: MonitoringReport, console: Any) -> None:
    """Users' ratings per space, then each space's latest thumbs-down comments."""
    from rich.table import Table

    if not any(f.rated for f in report.feedback):
        console.print("[dim]No turn was rated (users rate a turn with custom_inputs.feedback).[/dim]")
        return
    table = Table(title="feedback")
    for column in ("space", "turns", "rated", "up", "down", "positive"):
        table.add_column(column, justify="left" if column == "space" else "right")
    for f in report.feedback:
        positive = "-" if f.positive_rate is None else f"{f.positive_rate:.0%}"
        table.add_row(
            f.space, str(f.turns), f"{f.rated} ({f.rating_rate:.0%})", str(f.up), str(f.down), positive
        )
    console.print(table)
    for f in report.feedback:
        if f.latest_negative:
            console.print(f"[yellow]latest thumbs-down comments, {f.space}:[/yellow]")
            for c in f.latest_negative:
                console.print(
                    f"  {c.at} {c.user} on {_short(c.question)!r}: {_short(c.comment)} ({c.trace_id})",
                    highlight=False,
                )


def render_report(report: MonitoringReport, console: Any = None) -> None:
    """Volume and latency, per-space health, routing, feedback, then the sample's scores and the incidents."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    if not report.turns:
        console.print(
            f"No production turns since {report.since} in experiment {report.experiment} "
            f"({report.tracking_uri}). Turns are traced by `serve`, the served model, and "
            "GENIE_AGENT_TRACING=on; evaluation traces are left out.",
            highlight=False,
        )
        return
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(report.statuses.items())) or "none"
    console.print(
        f"[bold]{report.turns} turns[/bold] in {report.traces} traces, {report.since} to {report.until} "
        f"(experiment {report.experiment}); statuses: {statuses}; "
        f"latency p50 {_ms(report.latency_p50_ms)}, p95 {_ms(report.latency_p95_ms)}",
        highlight=False,
    )
    spaces = Table(title="spaces")
    for column in ("space", "calls", "p50", "p95", "errors", "timeouts"):
        spaces.add_column(column, justify="left" if column == "space" else "right")
    for s in report.spaces:
        spaces.add_row(
            s.space,
            str(s.calls),
            _ms(s.p50_ms),
            _ms(s.p95_ms),
            f"{s.errors} ({s.error_rate:.0%})",
            f"{s.timeouts} ({s.timeout_rate:.0%})",
        )
    console.print(spaces)
    routing = Table(title="routing")
    routing.add_column("spaces asked")
    routing.add_column("turns", justify="right")
    for label, count in report.routing.items():
        routing.add_row(label, str(count))
    console.print(routing)
    render_feedback(report, console)
    scores = Table(title=f"scores on a sample of {report.sampled} traces")
    for column in ("scorer", "scored", "mean", "failures"):
        scores.add_column(column)
    for score in report.scores:
        mean = "-" if score.mean is None else f"{score.mean:.3g}"
        scores.add_row(score.name, str(score.scored), mean, str(len(score.failures)))
    console.print(scores)
    for title, incidents in (
        ("groundedness failures", report.groundedness_failures),
        ("memory failures", report.memory_failures),
        *((f"{s.name} failures", s.failures) for s in report.scores if s.name != "groundedness"),
    ):
        if incidents:
            console.print(f"[yellow]{title}:[/yellow]")
            for incident in incidents[:20]:
                console.print(f"  {incident.trace_id}: {_short(incident.detail)}", highlight=False)
