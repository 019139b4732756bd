"""The evaluation gate and monitoring: evaluation sets, scorers, ``run_evaluation``, the deploy gate.

The names below are loaded on first use (the settings module imports :mod:`.thresholds` on every
command's start-up, which must not pay for the rest). MLflow itself is imported only when an
evaluation or monitoring run starts. Monitoring lives in :mod:`genie_agent.evaluation.monitoring`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .dataset import EvalCase, EvalSet, EvalTurn, default_eval_set_path, load_eval_set
    from .extract import TurnView, question_text, response_text, turns_of
    from .outcome import (
        AssessmentView,
        CaseResult,
        EvaluationGateError,
        EvaluationOutcome,
        GateDecision,
        check_gate,
        latest_outcome,
        load_outcomes,
        record_outcome,
    )
    from .runner import config_fingerprint, configure_mlflow, prime_tracing, run_evaluation
    from .thresholds import DEFAULT_THRESHOLDS, THRESHOLDS, Threshold, ThresholdCheck, check_thresholds

_EXPORTS = {
    "dataset": ("EvalCase", "EvalSet", "EvalTurn", "default_eval_set_path", "load_eval_set"),
    "extract": ("TurnView", "question_text", "response_text", "turns_of"),
    "outcome": (
        "AssessmentView",
        "CaseResult",
        "EvaluationGateError",
        "EvaluationOutcome",
        "GateDecision",
        "check_gate",
        "latest_outcome",
        "load_outcomes",
        "record_outcome",
    ),
    "runner": ("config_fingerprint", "configure_mlflow", "prime_tracing", "run_evaluation"),
    "thresholds": ("DEFAULT_THRESHOLDS", "THRESHOLDS", "Threshold", "ThresholdCheck", "check_thresholds"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "DEFAULT_THRESHOLDS",
    "THRESHOLDS",
    "AssessmentView",
    "CaseResult",
    "EvalCase",
    "EvalSet",
    "EvalTurn",
    "EvaluationGateError",
    "EvaluationOutcome",
    "GateDecision",
    "Threshold",
    "ThresholdCheck",
    "TurnView",
    "check_gate",
    "check_thresholds",
    "config_fingerprint",
    "configure_mlflow",
    "default_eval_set_path",
    "latest_outcome",
    "load_eval_set",
    "load_outcomes",
    "prime_tracing",
    "question_text",
    "record_outcome",
    "response_text",
    "run_evaluation",
    "turns_of",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
