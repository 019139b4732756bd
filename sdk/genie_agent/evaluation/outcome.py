"""The outcome of an evaluation, where it is kept, and the gate a deployment passes through.

Each outcome is one JSON file under ``$GENIE_AGENT_HOME/evaluations/`` (and the same JSON is an
artifact of its MLflow run). :func:`check_gate` is what ``deploy`` calls: it refuses a target whose
latest evaluation is missing or failed, unless told to skip the gate, which it then says loudly.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..errors import UserInputError
from .thresholds import ThresholdCheck

__all__ = [
    "AssessmentView",
    "CaseResult",
    "EvaluationGateError",
    "EvaluationOutcome",
    "GateDecision",
    "check_gate",
    "latest_outcome",
    "load_outcomes",
    "record_outcome",
]

_log = logging.getLogger("genie_agent.evaluation")


class EvaluationGateError(UserInputError):
    """A deployment was refused: the target's latest evaluation is missing or failed.

    The user's side (what they asked to deploy has not passed), but a refusal rather than malformed
    input: the command line exits 1."""

    exit_code: ClassVar[int] = 1


@dataclass(frozen=True)
class AssessmentView:
    """One scorer's verdict on one case. ``passed`` is None when the value is informational (latency)."""

    name: str
    value: Any
    rationale: str = ""
    error: str | None = None
    passed: bool | None = None


@dataclass(frozen=True)
class CaseResult:
    """One case: did every assessment pass, and why not."""

    case_id: str
    kind: str
    question: str
    passed: bool
    assessments: tuple[AssessmentView, ...] = ()
    trace_id: str | None = None

    @property
    def failures(self) -> list[str]:
        """``name: why`` for each failed or errored assessment."""
        out = []
        for a in self.assessments:
            if a.error:
                out.append(f"{a.name}: scorer error: {a.error}")
            elif a.passed is False:
                out.append(f"{a.name}: {a.rationale or a.value}")
        return out


@dataclass(frozen=True)
class EvaluationOutcome:
    """What was evaluated, on which set, the metrics, each gate's verdict, and pass or fail."""

    target: str
    passed: bool
    run_id: str | None
    experiment_id: str | None
    tracking_uri: str | None
    eval_set: str
    judge_model: str | None
    metrics: dict[str, float]
    checks: tuple[ThresholdCheck, ...]
    cases: tuple[CaseResult, ...]
    started_at: str
    finished_at: str
    genie_agent_version: str
    path: Path | None = field(default=None, compare=False)

    @property
    def failed_checks(self) -> list[ThresholdCheck]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("path")
        data["checks"] = [c.to_dict() for c in self.checks]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path | None = None) -> EvaluationOutcome:
        cases = tuple(
            CaseResult(
                **{
                    **c,
                    "assessments": tuple(AssessmentView(**a) for a in c.get("assessments", ())),
                }
            )
            for c in data.get("cases", ())
        )
        checks = tuple(ThresholdCheck(**c) for c in data.get("checks", ()))
        fields = {k: v for k, v in data.items() if k not in ("cases", "checks", "path")}
        return cls(**fields, checks=checks, cases=cases, path=path)


def _directory(home: Path) -> Path:
    return home / "evaluations"


def record_outcome(outcome: EvaluationOutcome, home: Path) -> Path:
    """Write the outcome as ``$GENIE_AGENT_HOME/evaluations/<time>-<run>.json`` (atomically)."""
    directory = _directory(home)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = outcome.finished_at.replace(":", "").replace("-", "").split(".")[0]
    name = f"{stamp}-{(outcome.run_id or 'norun')[:12]}.json"
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".outcome-", suffix=".json")
    with os.fdopen(descriptor, "w") as handle:
        json.dump(outcome.to_dict(), handle, indent=2, default=str)
    target = directory / name
    os.replace(temporary, target)
    return target


def load_outcomes(home: Path, target: str | None = None) -> list[EvaluationOutcome]:
    """Every recorded outcome (of ``target`` when given), oldest first. Unreadable files are skipped."""
    outcomes = []
    for path in sorted(_directory(home).glob("*.json")):
        try:
            outcome = EvaluationOutcome.from_dict(json.loads(path.read_text()), path)
        except (OSError, ValueError, TypeError) as exc:
            _log.warning("Skipping unreadable evaluation outcome %s: %s", path, exc)
            continue
        if target is None or outcome.target == target.strip():
            outcomes.append(outcome)
    return sorted(outcomes, key=lambda o: o.finished_at)


def latest_outcome(target: str, home: Path) -> EvaluationOutcome | None:
    """The most recent evaluation of ``target`` (a model URI, or ``config:<fingerprint>``), if any."""
    found = load_outcomes(home, target)
    return found[-1] if found else None


@dataclass(frozen=True)
class GateDecision:
    """The gate let the deployment through. ``skipped`` means nobody checked: say so loudly."""

    target: str
    outcome: EvaluationOutcome | None
    skipped: bool
    message: str


def check_gate(target: str, home: Path, *, skip_gate: bool = False) -> GateDecision:
    """Allow deploying ``target`` only if its latest evaluation passed.

    Raises:
        EvaluationGateError: the latest evaluation is missing or failed (and ``skip_gate`` is False).
    """
    outcome = latest_outcome(target, home)
    if outcome is not None and outcome.passed:
        return GateDecision(
            target, outcome, False, f"Evaluation gate passed: run {outcome.run_id} at {outcome.finished_at}."
        )
    if outcome is None:
        problem = f"{target} has never been evaluated."
    else:
        failed = "; ".join(f"{c.name} {c.reason}" for c in outcome.failed_checks) or "see the outcome file"
        problem = f"The latest evaluation of {target} FAILED (run {outcome.run_id}, {outcome.finished_at}): {failed}."
    if skip_gate:
        message = f"EVALUATION GATE SKIPPED (--skip-gate): {problem} Deploying anyway, unverified."
        _log.warning(message)
        return GateDecision(target, outcome, True, message)
    command = "genie-agent evaluate" + ("" if target.startswith("config:") else f" --model-uri {target}")
    raise EvaluationGateError(
        f"Deployment refused. {problem}",
        f"Run `{command}` and fix what fails (or pass --skip-gate to deploy unverified).",
    )


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
