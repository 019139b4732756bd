"""Code scorers (no LLM) as MLflow scorers: routing, result correctness, groundedness, refusal, latency.

Each wraps a check from :mod:`.checks` and reads the outputs through :mod:`.extract`. The ones that
need the case (routing, results, refusal) find it by the ``case_id`` in the row's inputs; the
others (groundedness, latency) need nothing but the outputs and trace, so monitoring runs the very
same objects on production traces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mlflow.entities import Feedback
from mlflow.genai.scorers import Scorer, scorer

from . import checks
from .dataset import EvalCase, EvalSet
from .expected import ExpectedTable
from .extract import turns_of

__all__ = ["code_scorers", "groundedness", "latency_s", "monitoring_code_scorers"]


def _feedback(check: checks.Check) -> Feedback | None:
    if check.value is None:
        return None  # does not apply: no assessment, not counted in the mean
    return Feedback(value=check.value, rationale=check.rationale)


def _trace_ms(trace: Any) -> float | None:
    duration = getattr(getattr(trace, "info", None), "execution_duration", None)
    return float(duration) if duration is not None else None


@scorer(name="groundedness", description="Every number in an answer from data appears in a query result.")
def groundedness(outputs: Any) -> Feedback | None:
    return _feedback(checks.groundedness(turns_of(outputs)))


@scorer(
    name="latency_s",
    description="Seconds of the case's slowest turn.",
    aggregations=["mean", "p90", "max"],
)
def latency_s(outputs: Any, trace: Any = None) -> Feedback | None:
    return _feedback(checks.latency(turns_of(outputs), _trace_ms(trace)))


def monitoring_code_scorers() -> list[Scorer]:
    """The code scorers that need no expectations: what monitoring runs on production traces."""
    return [groundedness, latency_s]


def code_scorers(
    eval_set: EvalSet, expected: Mapping[str, Sequence[Mapping[str, ExpectedTable]]]
) -> list[Scorer]:
    """Every code scorer for this set; ``expected`` holds each case's expected tables per turn."""
    cases = {c.id: c for c in eval_set.cases}

    def case_of(inputs: Any) -> EvalCase | None:
        return cases.get(str(inputs.get("case_id"))) if isinstance(inputs, Mapping) else None

    @scorer(name="routing_accuracy", description="Every turn asked exactly the expected spaces.")
    def routing_accuracy(inputs: Any, outputs: Any) -> Feedback | None:
        case = case_of(inputs)
        return _feedback(checks.routing(case, turns_of(outputs))) if case else None

    @scorer(
        name="result_correctness", description="Each expected space's table equals its expected SQL's result."
    )
    def result_correctness(inputs: Any, outputs: Any) -> Feedback | None:
        case = case_of(inputs)
        if case is None:
            return None
        return _feedback(checks.result_correctness(case, turns_of(outputs), expected.get(case.id, [])))

    @scorer(name="refusal_correctness", description="Declined exactly when the case expects it.")
    def refusal_correctness(inputs: Any, outputs: Any) -> Feedback | None:
        case = case_of(inputs)
        return _feedback(checks.refusal(case, turns_of(outputs))) if case else None

    return [routing_accuracy, result_correctness, groundedness, refusal_correctness, latency_s]
