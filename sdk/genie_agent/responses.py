"""Turn events -> Responses API stream events, and a Responses request -> turn arguments.

The one mapping every consumer reads (the served ResponsesAgent, the TUI's in-process target):
the routing decision as a reasoning item, each space query as a ``function_call`` item and its
``function_call_output`` item (AI Playground shows them as tool calls), the answer as
``response.output_text.delta`` events under one item id, and every item closed by
``response.output_item.done``. The last event carries the turn result as ``custom_outputs``.

Types come from :mod:`mlflow.types.responses` (types only; this module never imports
``mlflow.pyfunc``). Importing it costs what ``import mlflow`` costs: import it only on paths that
serve Responses.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, assert_never

from mlflow.types.responses import ResponsesAgentRequest, ResponsesAgentResponse, ResponsesAgentStreamEvent

from .contract import CONTEXT_PREFIX, PROGRESS_PREFIX, ROWS_IN_SPACE_EVENT
from .errors import GenieAgentError, UserInputError
from .feedback import FeedbackAction, FeedbackResult
from .memory.actions import MemoryAction, MemoryActionResult
from .turn import (
    Clarification,
    RouteDecided,
    SpaceAnswered,
    SpaceFailed,
    SpaceProgress,
    SpaceQueryStarted,
    TextDelta,
    TurnDone,
    TurnEvent,
    VisualizationReady,
)

if TYPE_CHECKING:
    from .understanding.routing import RouteDecision

__all__ = [
    "MAX_ROWS_IN_TOOL_OUTPUT",
    "PROGRESS_PREFIX",
    "ResponsesMapper",
    "TurnRequest",
    "aevents_to_responses",
    "collect_response",
    "error_events",
    "events_to_responses",
    "feedback_events",
    "memory_action_events",
    "parse_request",
    "rebuilding_event",
]

MAX_ROWS_IN_TOOL_OUTPUT = ROWS_IN_SPACE_EVENT
"""Rows of a space's result shown in its function_call_output; the full result is in custom_outputs."""


@dataclass(frozen=True)
class TurnRequest:
    """What a Responses request asks of a turn."""

    question: str
    thread_id: str | None
    genie_conversation_ids: dict[str, str]
    client_user_id: str | None
    """``custom_inputs.user_id`` or ``context.user_id``: honoured only when no authenticated identity exists."""
    memory_action: MemoryAction | None = None
    """``custom_inputs.memory_action``: list or forget the user's memories instead of running a turn."""
    feedback: FeedbackAction | None = None
    """``custom_inputs.feedback``: rate an earlier turn instead of running one (:mod:`genie_agent.feedback`)."""
    earlier_questions: tuple[str, ...] = ()
    """The user messages before the question, in order (a conversation sent whole, as the AI
    Playground sends it); what assistant messages say is never read."""


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") if isinstance(part, dict) else str(getattr(part, "text", ""))
            for part in content
        )
    return ""


def _user_messages(request: ResponsesAgentRequest) -> list[str]:
    """The text of each user message of ``input``, in order (assistant, system and tool items skipped)."""
    texts = []
    for item in request.input:
        data = item.model_dump() if hasattr(item, "model_dump") else dict(item)
        if data.get("role") == "user":
            texts.append(_text_of(data.get("content")))
    return texts


def parse_request(request: ResponsesAgentRequest | Mapping[str, Any]) -> TurnRequest:
    """The question is the last user message; conversation state comes from custom_inputs, and the
    user messages before it are ``earlier_questions`` (for a client that sends the whole conversation
    and no thread id: :mod:`genie_agent.continuation`).

    Raises :class:`UserInputError` when there is no user message or a custom input has the wrong type.
    """
    if not isinstance(request, ResponsesAgentRequest):
        try:
            request = ResponsesAgentRequest(**dict(request))
        except Exception as exc:  # pydantic's message names the bad field
            raise UserInputError(
                f"Malformed request: {exc}", "Send {'input': [{'role': 'user', 'content': '...'}]}."
            ) from None
    users = _user_messages(request)
    question = users[-1] if users else None
    custom = request.custom_inputs or {}
    action = MemoryAction.from_custom_inputs(custom)
    feedback = FeedbackAction.from_custom_inputs(custom)
    if question is None and action is None and feedback is None:
        raise UserInputError(
            "The request has no user message.", "Add {'role': 'user', 'content': 'your question'} to input."
        )
    thread_id = custom.get("thread_id")
    if thread_id is None and request.context is not None:
        thread_id = request.context.conversation_id
    ids = custom.get("genie_conversation_ids") or {}
    if thread_id is not None and not isinstance(thread_id, str):
        raise UserInputError(
            "custom_inputs.thread_id must be a string.", "Send the thread_id the last answer returned."
        )
    if not isinstance(ids, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in ids.items()
    ):
        raise UserInputError(
            "custom_inputs.genie_conversation_ids must map space ids to conversation ids (strings).",
            "Send back the genie_conversation_ids of the last answer unchanged.",
        )
    user_id = custom.get("user_id") or (request.context.user_id if request.context else None)
    return TurnRequest(
        question or "",
        thread_id,
        dict(ids),
        str(user_id) if user_id is not None else None,
        action,
        feedback=feedback,
        earlier_questions=tuple(users[:-1]),
    )


def _done(item: dict[str, Any], custom_outputs: dict[str, Any] | None = None) -> ResponsesAgentStreamEvent:
    return ResponsesAgentStreamEvent.model_validate(
        {"type": "response.output_item.done", "item": item, "custom_outputs": custom_outputs}
    )


def _delta(item_id: str, delta: str) -> ResponsesAgentStreamEvent:
    return ResponsesAgentStreamEvent.model_validate(
        {"type": "response.output_text.delta", "item_id": item_id, "delta": delta}
    )


def _answer_output(event: SpaceAnswered) -> str:
    return json.dumps(event.reply(), default=str)


class ResponsesMapper:
    """Maps one turn's events to Responses stream events, in order, as they happen (one per turn:
    it keeps the ids of the turn's items and its text so far)."""

    def __init__(self) -> None:
        self.text_id = f"msg_{uuid.uuid4().hex}"
        self.call_ids: dict[str, str] = {}
        self.text: list[str] = []

    def __call__(self, event: TurnEvent) -> list[ResponsesAgentStreamEvent]:
        call_ids = self.call_ids
        match event:
            case RouteDecided(decision):
                return [_done(_reasoning_item(_route_summary(decision)))]
            case SpaceQueryStarted(domain, question):
                call_ids[domain] = f"call_{uuid.uuid4().hex}"
                return [_done(_call_item(call_ids[domain], domain, question))]
            case SpaceProgress(domain, message):
                return [_done(_reasoning_item(f"{PROGRESS_PREFIX}{domain} — {message}"))]
            case SpaceAnswered(domain, _):
                return [_done(_output_item(call_ids.get(domain, domain), _answer_output(event)))]
            case SpaceFailed(domain=domain):
                return [_done(_output_item(call_ids.get(domain, domain), _failure_output(event)))]
            case TextDelta(delta):
                self.text.append(delta)
                return [_delta(self.text_id, delta)]
            case VisualizationReady() | Clarification():
                return []  # carried in custom_outputs (visualization_hint, suggested_questions)
            case TurnDone(result):
                outputs = result.to_dict()
                full_text = outputs.pop("text")
                assert full_text == "".join(self.text), "TextDelta events must add up to the answer"
                return [_done(_message(self.text_id, full_text), custom_outputs=outputs)]
            case _:
                assert_never(event)


def events_to_responses(events: Iterable[TurnEvent]) -> Iterator[ResponsesAgentStreamEvent]:
    """Map a turn's events to Responses stream events, in order, as they happen."""
    mapped = ResponsesMapper()
    for event in events:
        yield from mapped(event)


async def aevents_to_responses(events: AsyncIterable[TurnEvent]) -> AsyncIterator[ResponsesAgentStreamEvent]:
    """:func:`events_to_responses` for a turn read asynchronously."""
    mapped = ResponsesMapper()
    async for event in events:
        for out in mapped(event):
            yield out


def _route_summary(decision: RouteDecision) -> str:
    where = ", ".join(decision.domains) or "no space"
    return f"Route: {where} ({decision.kind}, confidence {decision.confidence:.2f}) — {decision.reason}"


def _reasoning_item(text: str) -> dict[str, Any]:
    return {
        "type": "reasoning",
        "id": f"rs_{uuid.uuid4().hex}",
        "summary": [{"type": "summary_text", "text": text}],
    }


def _call_item(call_id: str, domain: str, question: str) -> dict[str, Any]:
    """A space query as a tool call (``genie_<space>``)."""
    return {
        "type": "function_call",
        "id": f"fc_{uuid.uuid4().hex}",
        "call_id": call_id,
        "name": f"genie_{domain}",
        "arguments": json.dumps({"space": domain, "question": question}),
    }


def _output_item(call_id: str, output: str) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": output}


def _failure_output(event: SpaceFailed) -> str:
    return json.dumps(
        {
            "status": "failed",
            "error": event.error,
            "hint": event.hint,
            "retryable": event.retryable,
            "refused": event.refused,
        }
    )


def _message(item_id: str, text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def error_events(exc: GenieAgentError) -> Iterator[ResponsesAgentStreamEvent]:
    """A request the agent could not run, as one message item plus an error turn result."""
    text = f"{exc.message} {exc.hint}".strip()
    outputs = {
        "status": "error",
        "error": {"type": type(exc).__name__, "message": exc.message, "hint": exc.hint},
    }
    item_id = f"msg_{uuid.uuid4().hex}"
    yield _delta(item_id, text)
    yield _done(_message(item_id, text), custom_outputs=outputs)


def memory_action_events(result: MemoryActionResult) -> Iterator[ResponsesAgentStreamEvent]:
    """A memory action's answer: one message item, the action's outcome as custom_outputs."""
    item_id = f"msg_{uuid.uuid4().hex}"
    yield _delta(item_id, result.text)
    yield _done(_message(item_id, result.text), custom_outputs=result.outputs)


def feedback_events(result: FeedbackResult) -> Iterator[ResponsesAgentStreamEvent]:
    """A rating's answer: one message item, the outcome as custom_outputs."""
    yield from memory_action_events(MemoryActionResult(result.text, result.outputs))


def rebuilding_event(questions: int) -> ResponsesAgentStreamEvent:
    """A reasoning item saying a conversation's context is being rebuilt: no saved thread holds it,
    so its last ``questions`` earlier questions are asked again first (:mod:`genie_agent.continuation`)."""
    asked = "question is" if questions == 1 else f"{questions} questions are"
    return _done(
        _reasoning_item(
            f"{CONTEXT_PREFIX}no saved thread holds this conversation; its last {asked} asked again first."
        )
    )


def collect_response(events: Iterable[ResponsesAgentStreamEvent]) -> ResponsesAgentResponse:
    """``predict`` is the stream collected: every finished item, and the last custom_outputs."""
    output: list[Any] = []
    custom_outputs: dict[str, Any] | None = None
    for event in events:
        if event.type == "response.output_item.done":
            output.append(event.model_dump(exclude_none=True)["item"])
            if event.custom_outputs is not None:
                custom_outputs = event.custom_outputs
    return ResponsesAgentResponse(output=output, custom_outputs=custom_outputs)
