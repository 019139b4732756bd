"""Reading a Responses stream (the served agent's, as JSON objects) into the client's events.

The mapping read is the SDK's (:mod:`genie_agent.responses`): a ``reasoning`` item is the route (or,
starting ``Progress: ``, a space's progress), ``function_call`` + ``function_call_output`` one
space, ``response.output_text.delta`` the answer's text, the closing ``message`` item's
``custom_outputs`` the turn result. Read defensively: whatever arrives over the network, a missing
key, a wrong type or an unknown event is an :class:`~.events.Unreadable` event, never an exception.
The one exception is an event saying the answer failed (the agent server's ``{"error": ...}``):
:class:`~.errors.TargetError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .. import contract
from .errors import TargetError
from .events import (
    ClientEvent,
    SpaceFailed,
    SpaceProgress,
    SpaceQueryStarted,
    SpaceReplied,
    TextDelta,
    Unreadable,
    finished,
    route_chosen,
)
from .sse import UNREADABLE_EVENT

__all__ = ["ResponsesReader", "message_text"]

_ROUTE = re.compile(
    r"Route: (?P<where>.*?) \((?P<kind>[\w-]+), confidence (?P<conf>[\d.]+)\) — (?P<reason>.*)", re.S
)


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def message_text(item: Mapping[str, Any]) -> str:
    """The text of a ``message`` item's ``output_text`` parts."""
    content = item.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "".join(
        _str(part.get("text"))
        for part in content
        if isinstance(part, Mapping) and part.get("type") == "output_text"
    )


class ResponsesReader:
    """Reads one answer's stream events in order; keeps which call id is which space's."""

    def __init__(self) -> None:
        self._spaces: dict[str, str] = {}
        self._text: list[str] = []
        self.unreadable = 0
        """Events skipped as unreadable so far."""

    @property
    def text(self) -> str:
        """The answer's text so far."""
        return "".join(self._text)

    def read(self, event: Any) -> list[ClientEvent]:
        """The events one stream event means (often one, sometimes none). Raises :class:`TargetError`
        only for an event saying the answer failed."""
        try:
            events = self._read(event)
        except TargetError:
            raise
        except Exception as exc:  # a shape nobody anticipated: reported, never raised
            events = [Unreadable(f"{type(exc).__name__}: {exc}")]
        self.unreadable += sum(isinstance(e, Unreadable) for e in events)
        return events

    def _read(self, event: Any) -> list[ClientEvent]:
        if not isinstance(event, Mapping):
            return [Unreadable(f"not an object: {str(event)[:80]}")]
        kind = event.get("type")
        if kind == "response.output_text.delta":
            delta = event.get("delta")
            if not isinstance(delta, str):
                return [Unreadable("a text delta without text")]
            self._text.append(delta)
            return [TextDelta(delta)]
        if kind == "response.output_item.done":
            item = event.get("item")
            if not isinstance(item, Mapping):
                return [Unreadable("an output item without an item")]
            return self._item(item, event.get("custom_outputs"))
        if kind == UNREADABLE_EVENT:
            return [Unreadable(f"not JSON: {_str(event.get('data'))[:80]}")]
        if kind is None and "error" in event:  # the agent server's error chunk
            _failed(str(event["error"]))
        if kind is None and "trace_id" in event:
            return []  # the agent server's trailing trace id
        if kind in ("error", "response.failed"):
            _failed(_str(event.get("message")) or json.dumps(event, default=str)[:200])
        if isinstance(kind, str) and kind.startswith("response."):
            return []  # other Responses events (created, in_progress, ...) carry nothing of the turn
        return [Unreadable(f"unknown event {str(kind)[:40]!r}")]

    def _item(self, item: Mapping[str, Any], custom_outputs: Any) -> list[ClientEvent]:
        kind = item.get("type")
        if kind == "reasoning":
            return self._reasoning(item)
        if kind == "function_call":
            return [self._call(item)]
        if kind == "function_call_output":
            return [self._output(item)]
        if kind == "message":
            outputs = dict(custom_outputs) if isinstance(custom_outputs, Mapping) else {}
            outputs["text"] = message_text(item) or self.text
            return list(finished(contract.TurnResult.read(outputs)))
        return []  # item types that carry nothing of the turn

    def _reasoning(self, item: Mapping[str, Any]) -> list[ClientEvent]:
        summary = item.get("summary")
        text = (
            " ".join(_str(part.get("text")) for part in summary if isinstance(part, Mapping))
            if isinstance(summary, list)
            else ""
        )
        if text.startswith(contract.PROGRESS_PREFIX):
            space, _, message = text.removeprefix(contract.PROGRESS_PREFIX).partition(" — ")
            return [SpaceProgress(space, message)]
        if not text or text.startswith(contract.CONTEXT_PREFIX):
            return []  # nothing to show, or the served agent's note on a rebuilt conversation
        match = _ROUTE.match(text)
        if match is None:
            return [route_chosen("", (), None, text)]
        where = match["where"]
        domains = [] if where == "no space" else [d.strip() for d in where.split(",")]
        return [route_chosen(match["kind"], domains, float(match["conf"]), match["reason"])]

    def _call(self, item: Mapping[str, Any]) -> ClientEvent:
        space, question = _str(item.get("name")).removeprefix("genie_"), ""
        try:
            arguments = json.loads(_str(item.get("arguments"), "{}"))
        except ValueError:
            arguments = {}
        if isinstance(arguments, dict):
            space = _str(arguments.get("space"), space)
            question = _str(arguments.get("question"))
        self._spaces[_str(item.get("call_id"))] = space or "?"
        return SpaceQueryStarted(space or "?", question)

    def _output(self, item: Mapping[str, Any]) -> ClientEvent:
        call_id = _str(item.get("call_id"))
        space = self._spaces.get(call_id, call_id or "?")
        try:
            output = json.loads(_str(item.get("output"), "{}"))
        except ValueError:
            return Unreadable(f"the output of {space} is not JSON")
        if not isinstance(output, dict):
            return Unreadable(f"the output of {space} is not an object")
        if output.get("status") == "failed":
            return SpaceFailed(
                space,
                _str(output.get("error")),
                _str(output.get("hint")),
                output.get("retryable") is True,
                output.get("refused") is True,
            )
        rows = output.get("rows")
        return SpaceReplied(
            space,
            _str(output.get("status"), "no_answer"),
            _str(output.get("text")),
            output.get("sql") if isinstance(output.get("sql"), str) else None,
            _strings(output.get("columns")),
            tuple(tuple(r) for r in rows if isinstance(r, list)) if isinstance(rows, list) else (),
            _int(output.get("row_count")),
            output.get("truncated") is True,
            output.get("conversation_id") if isinstance(output.get("conversation_id"), str) else None,
            _strings(output.get("suggested_questions")),
        )


def _failed(message: str) -> None:
    raise TargetError(
        f"The agent reported an error while answering: {message}",
        "Try again; if it happens again, check the server's log.",
    )
