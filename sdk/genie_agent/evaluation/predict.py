"""The ``predict_fn`` an evaluation runs: a case's conversation, turn by turn, through a Responses target.

A target is anything that answers a Responses request with a Responses response: the configured
agent in this process (through the SDK's one event -> Responses mapping, exactly what the served
model streams) or a logged model's ``predict`` (the CLI loads it; the SDK never imports
``mlflow.pyfunc``). A follow-up turn sends back the previous turn's ``thread_id`` and
``genie_conversation_ids``, as a client does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .extract import response_text

if TYPE_CHECKING:
    from ..agent import Agent

__all__ = ["EVAL_SPAN", "EVAL_USER", "Respond", "agent_respond", "make_predict_fn"]

EVAL_SPAN = "genie_agent.eval_case"
"""Root span of an evaluation case's trace; monitoring leaves these traces out of production figures."""

EVAL_USER = "genie-agent-eval"
"""The user evaluation conversations belong to (their threads are kept apart from real users')."""

Respond = Callable[[dict[str, Any]], Any]
"""A Responses request (dict) -> a Responses response (dict or ``ResponsesAgentResponse``)."""


def agent_respond(agent: Agent) -> Respond:
    """The in-process agent as a Responses target: the served model's mapping, collected."""
    from ..errors import GenieAgentError
    from ..identity import Identity
    from ..responses import collect_response, error_events, events_to_responses, parse_request

    def respond(request: dict[str, Any]) -> dict[str, Any]:
        turn = parse_request(request)

        def events() -> Any:
            try:
                yield from events_to_responses(
                    agent.stream(
                        turn.question,
                        identity=Identity(turn.client_user_id or EVAL_USER),
                        thread_id=turn.thread_id,
                        genie_conversation_ids=turn.genie_conversation_ids,
                    )
                )
            except GenieAgentError as exc:
                yield from error_events(exc)

        return collect_response(events()).model_dump(exclude_none=True)

    return respond


def _as_dict(response: Any) -> dict[str, Any]:
    if hasattr(response, "model_dump"):
        return dict(response.model_dump(exclude_none=True))
    if isinstance(response, list) and len(response) == 1:
        return _as_dict(response[0])
    return dict(response) if isinstance(response, Mapping) else {"text": str(response)}


def make_predict_fn(respond: Respond) -> Callable[..., dict[str, Any]]:
    """``predict_fn(messages, case_id)`` for ``mlflow.genai.evaluate``: one trace per case.

    Returns ``{"output": <the last turn's output items>, "turns": [{question, text,
    custom_outputs, latency_ms}, ...]}``; the scorers read it through :mod:`.extract`.
    """
    import mlflow

    @mlflow.trace(name=EVAL_SPAN, span_type="AGENT")
    def predict(messages: list[dict[str, Any]], case_id: str | None = None) -> dict[str, Any]:
        thread_id: str | None = None
        conversation_ids: dict[str, str] = {}
        turns: list[dict[str, Any]] = []
        output: list[Any] = []
        for message in messages:
            if message.get("role", "user") != "user":
                continue
            custom_inputs: dict[str, Any] = {"user_id": EVAL_USER, "genie_conversation_ids": conversation_ids}
            if thread_id:
                custom_inputs["thread_id"] = thread_id
            request = {
                "input": [{"role": "user", "content": message["content"]}],
                "custom_inputs": custom_inputs,
            }
            started = time.perf_counter()
            response = _as_dict(respond(request))
            latency_ms = (time.perf_counter() - started) * 1000
            custom = response.get("custom_outputs") or {}
            output = list(response.get("output") or [])
            turns.append(
                {
                    "question": message["content"],
                    "text": response_text(response),
                    "custom_outputs": custom,
                    "latency_ms": round(latency_ms, 1),
                }
            )
            thread_id = custom.get("thread_id") or thread_id
            conversation_ids = dict(custom.get("genie_conversation_ids") or conversation_ids)
        return {"output": output, "turns": turns}

    return predict
