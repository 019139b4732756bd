"""Reading an answer back out of whatever shape its outputs arrived in.

The seed's warning: ``mlflow.genai.evaluate`` hands scorers the outputs as ``predict_fn``
returned them, but outputs read back from a trace are the root span's outputs after a JSON round
trip (a dict, or a JSON *string*), a served model's outputs are a ``ResponsesAgentResponse``
(object or dict, sometimes wrapped in a list by pyfunc), and a chat endpoint answers in
``choices``. A scorer that looks in the wrong place reads "" and scores 0 on every row.
:func:`response_text` is the one place that knows every shape; every scorer reads text through it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .. import contract

__all__ = ["TurnView", "question_text", "response_text", "turns_of"]

_MAX_DEPTH = 6


def _plain(value: Any) -> Any:
    """Pydantic objects and JSON strings as plain Python; anything else unchanged."""
    if hasattr(value, "model_dump") and callable(value.model_dump):
        return value.model_dump()
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("{", "["):
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                return value
    return value


def _content_text(content: Any) -> str | None:
    """A message's content: a string, or a list of parts (``output_text``/``text``)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            str(p.get("text", ""))
            for p in (_plain(c) for c in content)
            if isinstance(p, Mapping) and p.get("type", "output_text") in ("output_text", "text")
        ]
        return "".join(parts) if parts else None
    return None


def _from_items(items: list[Any]) -> str | None:
    """The last assistant message of a Responses ``output`` list or a chat ``messages`` list."""
    for item in reversed([_plain(i) for i in items]):
        if not isinstance(item, Mapping):
            continue
        if item.get("type", "message") == "message" and item.get("role", "assistant") == "assistant":
            text = _content_text(item.get("content"))
            if text is not None:
                return text
    return None


def _text(value: Any, depth: int) -> str | None:
    if depth > _MAX_DEPTH or value is None:
        return None
    value = _plain(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        items = [_plain(v) for v in value]
        if any(isinstance(i, Mapping) and ("role" in i or i.get("type") == "message") for i in items):
            return _from_items(items)
        # pyfunc wraps a single prediction in a list
        return _text(value[0], depth + 1) if len(value) == 1 else None
    if not isinstance(value, Mapping):
        return None
    if isinstance(value.get("output"), list):  # Responses API (ResponsesAgentResponse)
        found = _from_items(value["output"])
        if found is not None:
            return found
    choices = value.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):  # chat completion
        message = choices[0].get("message") or choices[0].get("delta") or {}
        found = _content_text(message.get("content")) if isinstance(message, Mapping) else None
        if found is not None:
            return found
    if isinstance(value.get("messages"), list):  # chat agent
        found = _from_items(value["messages"])
        if found is not None:
            return found
    if isinstance(value.get("turns"), list) and value["turns"]:  # our predict_fn: the last turn
        found = _text(value["turns"][-1], depth + 1)
        if found is not None:
            return found
    for key in ("text", "content", "response", "answer", "outputs", "predictions"):
        if key in value:
            found = _text(value[key], depth + 1)
            if found is not None:
                return found
    return None


def response_text(outputs: Any) -> str:
    """The answer's text from any serialized outputs; ``""`` when there is none. Never raises."""
    try:
        return _text(outputs, 0) or ""
    except Exception:  # a scorer must not crash on an odd shape; "" scores as no answer
        return ""


def question_text(inputs: Any) -> str:
    """The question from a case's or a trace's inputs: the last user message, with earlier ones as context."""
    value = _plain(inputs)
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        messages = value.get("messages") or value.get("input")
        if isinstance(messages, list):
            users = [
                _content_text(m.get("content")) or ""
                for m in (_plain(x) for x in messages)
                if isinstance(m, Mapping) and m.get("role", "user") == "user"
            ]
            if len(users) > 1:
                earlier = " / ".join(users[:-1])
                return f"{users[-1]}\n(Earlier in this conversation the user asked: {earlier})"
            if users:
                return users[0]
        for key in ("question", "request", "query"):
            if isinstance(value.get(key), str):
                return str(value[key])
    return response_text(value)


@dataclass(frozen=True)
class TurnView:
    """One turn as the scorers see it: the answer, the turn result (custom_outputs), the latency."""

    question: str
    text: str
    result: dict[str, Any] = field(default_factory=dict)
    latency_ms: float | None = None

    @property
    def status(self) -> str:
        """The turn result's status; ``unknown`` when the outputs carried no turn result."""
        return str(self.result.get("status", "unknown"))

    @cached_property
    def wire(self) -> contract.TurnResult:
        """The turn result as the contract reads it (leniently: an odd payload reads as empty)."""
        return contract.TurnResult.read(self.result)

    @property
    def domains(self) -> list[str]:
        wire = self.wire
        return list(wire.domains or (wire.route.domains if wire.route is not None else ()))

    @property
    def results(self) -> list[dict[str, Any]]:
        """The results as sent (plain data, as a judge renders them)."""
        return [dict(r) for r in self.result.get("results") or [] if isinstance(r, Mapping)]

    @property
    def tables(self) -> tuple[contract.ResultTable, ...]:
        """The results as the contract reads them."""
        return self.wire.results

    @property
    def seconds(self) -> float | None:
        if self.latency_ms is not None:
            return self.latency_ms / 1000
        total = (self.result.get("timings_ms") or {}).get("total")
        return float(total) / 1000 if total is not None else None


def _turn_result(value: Mapping[str, Any]) -> dict[str, Any]:
    custom = _plain(value.get("custom_outputs"))
    if isinstance(custom, Mapping):
        return dict(custom)
    if "status" in value and ("grounding" in value or "route" in value or "domains" in value):
        return dict(value)  # a turn result itself (ask --json, the genie_agent.turn span's outputs)
    return {}


def turns_of(outputs: Any) -> list[TurnView]:
    """Every turn in the outputs: our predict_fn's ``turns``, else the one turn a response holds."""
    value = _plain(outputs)
    if isinstance(value, list) and len(value) == 1:
        value = _plain(value[0])
    if not isinstance(value, Mapping):
        text = response_text(value)
        return [TurnView("", text)] if text else []
    turns = value.get("turns")
    if isinstance(turns, list):
        views = []
        for turn in (_plain(t) for t in turns):
            if not isinstance(turn, Mapping):
                continue
            latency = turn.get("latency_ms")
            views.append(
                TurnView(
                    str(turn.get("question", "")),
                    response_text(turn),
                    _turn_result(turn),
                    float(latency) if isinstance(latency, int | float) else None,
                )
            )
        return views
    return [TurnView("", response_text(value), _turn_result(value))]
