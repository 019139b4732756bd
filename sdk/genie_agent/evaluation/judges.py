"""LLM judges, when a judge model is configured: RelevanceToQuery, Safety, Guidelines, Correctness,
and a domain-accuracy judge (``make_judge``) that may inspect the trace through tool calls.

MLflow's built-in judges are called with the question and the answer's *text* (through
:func:`.extract.response_text`), not with the raw outputs: given a Responses dict, RelevanceToQuery
would judge its ``str()`` (tool calls, thousands of rows) instead of the answer.

Where the judge is: ``judge_model`` is an MLflow judge URI (``openai:/<model>``,
``databricks:/<endpoint>``, ``endpoints:/<endpoint>``, or ``databricks`` for the managed judge); a bare
name means ``openai:/<name>``. MLflow's ``openai`` provider reads its endpoint and key from
``OPENAI_API_BASE`` and ``OPENAI_API_KEY`` only, so :func:`judge_environ` derives those from
settings (``judge_base_url`` or ``llm_base_url``, ``judge_api_key`` or ``llm_api_key``) and
:func:`scoped_environ` sets them while judges run and restores them after.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from mlflow.entities import Feedback
from mlflow.genai.scorers import Scorer, scorer

from .extract import TurnView, question_text, response_text, turns_of

if TYPE_CHECKING:
    from ..config import Settings
    from .dataset import EvalSet

__all__ = [
    "DEFAULT_GUIDELINES",
    "DOMAIN_ACCURACY_INSTRUCTIONS",
    "domain_accuracy_judge",
    "judge_environ",
    "judge_model_uri",
    "judge_scorers",
    "scoped_environ",
]

DEFAULT_GUIDELINES: tuple[str, ...] = (
    "When the response answers from data, it states the specific values the question asks for.",
    "The response does not invent figures: every number it gives comes from the query results.",
    "The response stays on the user's question.",
    "When the request cannot be answered from the data, or asks to change data, the response says so "
    "plainly, changes nothing, and says what it can answer instead.",
)

DOMAIN_ACCURACY_INSTRUCTIONS = """\
You are checking a data analytics assistant's answer against the data it queried.

The user's question: {{ inputs }}

The assistant's answer, and the query results it was given (per Genie space: SQL, columns, first rows,
row count): {{ outputs }}

The trace {{ trace }} records how the answer was produced: a `route` span (the spaces chosen), one
`genie.<space>` TOOL span per space (its SQL and row count) and a `synthesis` span (grounding
attributes). Use the tools to inspect them when the outputs leave a doubt.

Score from 0.0 to 1.0:
- 1.0: the answer states the specific figures the question asks for, exactly as in the results, and
  interprets them correctly (the right measure, filters, period, grouping and ranking direction);
- 0.5: the right data, but something is misread, a part of the question is left out, or it is vague
  where a figure was available;
- 0.0: wrong numbers, the wrong measure or period, or figures that are in no result.
"""

_DECLINED = ("refused", "out_of_scope")
_ROWS_SHOWN = 20


def judge_model_uri(model: str) -> str:
    """``gpt-4o-mini`` -> ``openai:/gpt-4o-mini``; URIs and ``databricks`` unchanged."""
    return model if ":/" in model or model == "databricks" else f"openai:/{model}"


def judge_environ(settings: Settings) -> dict[str, str]:
    """The environment MLflow's ``openai`` provider needs to reach the configured judge endpoint."""
    model = settings.judge_model
    base_url = settings.judge_base_url or settings.llm_base_url
    if not model or not judge_model_uri(model).startswith("openai:/") or not base_url:
        return {}
    values = {"OPENAI_API_BASE": base_url.rstrip("/")}
    key = settings.judge_api_key or settings.llm_api_key
    if key is not None:
        values["OPENAI_API_KEY"] = key.get_secret_value()
    elif not os.environ.get("OPENAI_API_KEY"):
        values["OPENAI_API_KEY"] = "unused"  # MLflow insists on one; a local endpoint may not need it
    return values


@contextmanager
def scoped_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def domain_accuracy_judge(model: str | None) -> Scorer:
    """The custom judge (``make_judge``): specific figures from the data, correctly interpreted."""
    from mlflow.genai.judges import make_judge

    return make_judge(
        name="domain_accuracy",
        instructions=DOMAIN_ACCURACY_INSTRUCTIONS,
        model=judge_model_uri(model) if model else None,
        description="Specific figures from the query results, correctly interpreted.",
        feedback_value_type=float,
    )


def _evidence(turns: list[TurnView]) -> dict[str, Any]:
    """What the domain judge reads: the answer and, per space, a bounded view of its result."""
    results = [
        {
            "space": r.domain,
            "sql": r.sql,
            "columns": list(r.columns),
            "rows": [list(row) for row in r.rows[:_ROWS_SHOWN]],
            "row_count": r.row_count,
            "error": r.error,
        }
        for t in turns
        for r in t.tables
    ]
    return {"answer": turns[-1].text if turns else "", "query_results": results}


def _request(inputs: Any) -> dict[str, Any]:
    """The question as one user message: what the built-in judges render as the request, verbatim."""
    return {"messages": [{"role": "user", "content": question_text(inputs)}]}


def _named(feedback: Feedback, name: str) -> Feedback:
    feedback.name = name
    return feedback


def judge_scorers(model: str | None, eval_set: EvalSet | None = None) -> list[Scorer]:
    """The judges as MLflow scorers. ``eval_set`` supplies the set's and each case's guidelines and facts.

    ``model=None`` uses MLflow's default judge (on Databricks, the managed judge).
    """
    uri = judge_model_uri(model) if model else None
    return [
        _relevance_scorer(uri),
        _safety_scorer(uri),
        _guidelines_scorer(uri, eval_set),
        _correctness_scorer(uri),
        _domain_accuracy_scorer(model),
    ]


def _answered(turns: list[TurnView]) -> bool:
    return bool(turns) and turns[-1].status not in _DECLINED


def _relevance_scorer(uri: str | None) -> Scorer:
    from mlflow.genai.scorers import RelevanceToQuery

    judge = RelevanceToQuery(model=uri)

    @scorer(name="relevance_to_query", description="Judge: the answer addresses the question (answers only).")
    def relevance_to_query(inputs: Any, outputs: Any) -> Feedback | None:
        if not _answered(turns_of(outputs)):
            return None  # a decline is judged by refusal_correctness, safety and guidelines
        feedback = judge(inputs=_request(inputs), outputs=response_text(outputs))
        return _named(feedback, "relevance_to_query")

    return relevance_to_query


def _safety_scorer(uri: str | None) -> Scorer:
    from mlflow.genai.scorers import Safety

    judge = Safety(model=uri)

    @scorer(name="safety", description="Judge: nothing harmful, offensive or toxic.")
    def safety(outputs: Any) -> Feedback:
        return _named(judge(outputs=response_text(outputs)), "safety")

    return safety


def _guidelines_scorer(uri: str | None, eval_set: EvalSet | None) -> Scorer:
    """The set's guidelines (the defaults when it has none) and the case's own, judged together."""
    from mlflow.genai.scorers import Guidelines

    set_guidelines = tuple(eval_set.guidelines) if eval_set and eval_set.guidelines else DEFAULT_GUIDELINES
    cases = {c.id: c for c in eval_set.cases} if eval_set else {}

    def case_guidelines(inputs: Any) -> tuple[str, ...]:
        case = cases.get(str(inputs.get("case_id"))) if isinstance(inputs, Mapping) else None
        return case.guidelines if case else ()

    @scorer(name="guidelines", description="Judge: the set's and the case's guidelines are followed.")
    def guidelines(inputs: Any, outputs: Any) -> Feedback:
        judge = Guidelines(
            name="guidelines", guidelines=[*set_guidelines, *case_guidelines(inputs)], model=uri
        )
        return _named(judge(inputs=_request(inputs), outputs=response_text(outputs)), "guidelines")

    return guidelines


def _correctness_scorer(uri: str | None) -> Scorer:
    from mlflow.genai.scorers import Correctness

    judge = Correctness(model=uri)

    @scorer(name="correctness", description="Judge: the case's expected facts are supported.")
    def correctness(inputs: Any, outputs: Any, expectations: Any) -> Feedback | None:
        facts = (expectations or {}).get("expected_facts") if isinstance(expectations, Mapping) else None
        if not facts:
            return None
        feedback = judge(
            inputs=_request(inputs),
            outputs=response_text(outputs),
            expectations={"expected_facts": list(facts)},
        )
        return _named(feedback, "correctness")

    return correctness


def _domain_accuracy_scorer(model: str | None) -> Scorer:
    """:func:`domain_accuracy_judge` on answers from data, its score clamped to [0, 1]."""
    judge = domain_accuracy_judge(model)

    @scorer(
        name="domain_accuracy", description="Judge: specific figures from the data, correctly interpreted."
    )
    def domain_accuracy(inputs: Any, outputs: Any, trace: Any = None) -> Feedback | None:
        turns = turns_of(outputs)
        if not _answered(turns) or not any(t.results for t in turns):
            return None
        feedback = judge(inputs=question_text(inputs), outputs=_evidence(turns), trace=trace)
        if not isinstance(feedback, Feedback):
            raise TypeError(f"the domain_accuracy judge returned {type(feedback).__name__}, not Feedback")
        if isinstance(feedback.value, int | float) and not isinstance(feedback.value, bool):
            feedback.value = min(1.0, max(0.0, float(feedback.value)))
        return _named(feedback, "domain_accuracy")

    return domain_accuracy
