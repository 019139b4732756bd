"""Reading a turn's Responses stream: raw event dicts -> typed updates the turn view applies.

The stream is read defensively. Whatever arrives over the network, a missing key, a wrong type or
an unknown event is an :class:`Unreadable` update (shown dimly, counted), never an exception.
The mapping read here is the SDK's (``genie_agent.responses``): reasoning item = route,
``function_call`` + ``function_call_output`` = one space, ``response.output_text.delta`` = answer
text, the closing ``message`` item's ``custom_outputs`` = the turn result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from genie_agent import contract

from .targets import UNREADABLE_EVENT

__all__ = [
    "ResultData",
    "RouteInfo",
    "SpaceFinished",
    "SpaceProgress",
    "SpaceStarted",
    "StreamFailed",
    "TextArrived",
    "TurnFinished",
    "TurnOutputs",
    "TurnReader",
    "TurnUpdate",
    "Unreadable",
    "parse_results",
]


RouteInfo = contract.Route
"""Where the question went and why (from the route's reasoning item, or the turn result's ``route``)."""
SpaceProgress = contract.Progress
"""A space is still working and says on what."""
ResultData = contract.ResultTable
"""One space's result (or the parts joined: ``domain`` ``combined``) from the turn result."""


@dataclass(frozen=True)
class SpaceStarted:
    space: str
    question: str


@dataclass(frozen=True)
class SpaceFinished:
    space: str
    status: Literal["completed", "no_answer", "failed"]
    row_count: int = 0
    error: str = ""
    hint: str = ""


@dataclass(frozen=True)
class TextArrived:
    delta: str


@dataclass(frozen=True)
class TurnOutputs:
    """The turn result (``custom_outputs``) as the contract reads it, leniently; ``raw`` keeps all of it
    (for sessions), ``error_*`` the error a failed request carries."""

    result: contract.TurnResult
    error_message: str = ""
    error_hint: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return self.result.status

    @property
    def route(self) -> RouteInfo | None:
        return self.result.route

    @property
    def results(self) -> tuple[ResultData, ...]:
        """Each space's result."""
        return self.result.results

    @property
    def tables(self) -> tuple[ResultData, ...]:
        """What the chat shows: each space's result, then the parts joined (when the turn joined them)."""
        combined = (self.result.combined,) if self.result.combined is not None else ()
        return (*self.result.results, *combined)

    @property
    def visualization_hint(self) -> Mapping[str, Any] | None:
        hint = self.result.visualization_hint
        return None if hint is None else hint.model_dump()

    @property
    def thread_id(self) -> str | None:
        return self.result.thread_id or None

    @property
    def genie_conversation_ids(self) -> dict[str, str]:
        return dict(self.result.genie_conversation_ids)

    @property
    def suggested_questions(self) -> tuple[str, ...]:
        return tuple(self.result.suggested_questions)

    @property
    def primary(self) -> ResultData | None:
        """The result the visualization hint is about: the parts joined, else the first with a table."""
        return self.result.primary


@dataclass(frozen=True)
class TurnFinished:
    text: str
    outputs: TurnOutputs


@dataclass(frozen=True)
class StreamFailed:
    """The server reported an error inside the stream (the agent server's ``{"error": ...}`` chunk)."""

    message: str


@dataclass(frozen=True)
class Unreadable:
    description: str


TurnUpdate = (
    SpaceStarted
    | SpaceProgress
    | SpaceFinished
    | TextArrived
    | TurnFinished
    | StreamFailed
    | Unreadable
    | RouteInfo
)

_ROUTE = re.compile(
    r"Route: (?P<where>.*?) \((?P<kind>[\w-]+), confidence (?P<conf>[\d.]+)\) — (?P<reason>.*)", re.S
)


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _route_from_summary(text: str) -> RouteInfo:
    match = _ROUTE.match(text)
    if match is None:
        return RouteInfo.read({"reason": text})
    where = match["where"]
    domains = [] if where == "no space" else [d.strip() for d in where.split(",")]
    return RouteInfo.read(
        {
            "domains": domains,
            "kind": match["kind"],
            "confidence": float(match["conf"]),
            "reason": match["reason"],
        }
    )


def parse_results(value: Any) -> tuple[ResultData, ...]:
    """``results`` of a turn result, skipping entries that are not results."""
    return tuple(contract.TurnResult.read({"results": value}).results)


def parse_outputs(value: Mapping[str, Any]) -> TurnOutputs:
    """A ``custom_outputs`` mapping (possibly partial or from an older server) as :class:`TurnOutputs`."""
    error = value.get("error")
    return TurnOutputs(
        contract.TurnResult.read(value),
        error_message=_str(error.get("message")) if isinstance(error, Mapping) else _str(error),
        error_hint=_str(error.get("hint")) if isinstance(error, Mapping) else "",
        raw=dict(value),
    )


def _message_text(item: Mapping[str, Any]) -> str:
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


class TurnReader:
    """Reads one turn's events in order; keeps which call id belongs to which space."""

    def __init__(self) -> None:
        self._spaces: dict[str, str] = {}
        self.text_parts: list[str] = []
        self.unreadable = 0

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    def read(self, event: Any) -> Sequence[TurnUpdate]:
        """The updates one event means (often one, sometimes none)."""
        try:
            updates = self._read(event)
        except Exception as exc:  # a shape nobody anticipated: reported, never raised
            updates = [Unreadable(f"{type(exc).__name__}: {exc}")]
        self.unreadable += sum(isinstance(u, Unreadable) for u in updates)
        return updates

    def _read(self, event: Any) -> list[TurnUpdate]:
        if not isinstance(event, Mapping):
            return [Unreadable(f"not an object: {str(event)[:80]}")]
        kind = event.get("type")
        if kind == "response.output_text.delta":
            delta = event.get("delta")
            if not isinstance(delta, str):
                return [Unreadable("a text delta without text")]
            self.text_parts.append(delta)
            return [TextArrived(delta)]
        if kind == "response.output_item.done":
            item = event.get("item")
            if not isinstance(item, Mapping):
                return [Unreadable("an output item without an item")]
            return self._item(item, event.get("custom_outputs"))
        if kind == UNREADABLE_EVENT:
            return [Unreadable(f"not JSON: {_str(event.get('data'))[:80]}")]
        if kind is None and "error" in event:
            return [StreamFailed(str(event["error"]))]
        if kind is None and "trace_id" in event:
            return []  # the agent server's trailing trace id
        if kind == "error" or kind == "response.failed":
            return [StreamFailed(_str(event.get("message")) or json.dumps(event, default=str)[:200])]
        if isinstance(kind, str) and kind.startswith("response."):
            return []  # other Responses events (created, in_progress, ...) carry nothing we show
        return [Unreadable(f"unknown event {str(kind)[:40]!r}")]

    def _item(self, item: Mapping[str, Any], custom_outputs: Any) -> list[TurnUpdate]:
        item_type = item.get("type")
        if item_type == "reasoning":
            summary = item.get("summary")
            text = (
                " ".join(_str(part.get("text")) for part in summary or () if isinstance(part, Mapping))
                if isinstance(summary, list)
                else ""
            )
            if text.startswith(contract.PROGRESS_PREFIX):
                space, _, message = text.removeprefix(contract.PROGRESS_PREFIX).partition(" — ")
                return [SpaceProgress.read({"domain": space, "message": message})]
            return [_route_from_summary(text)] if text else []
        if item_type == "function_call":
            name = _str(item.get("name"))
            space, question = name.removeprefix("genie_"), ""
            try:
                arguments = json.loads(_str(item.get("arguments"), "{}"))
            except ValueError:
                arguments = {}
            if isinstance(arguments, dict):
                space = _str(arguments.get("space"), space)
                question = _str(arguments.get("question"))
            self._spaces[_str(item.get("call_id"))] = space
            return [SpaceStarted(space or "?", question)]
        if item_type == "function_call_output":
            call_id = _str(item.get("call_id"))
            space = self._spaces.get(call_id, call_id or "?")
            try:
                output = json.loads(_str(item.get("output"), "{}"))
            except ValueError:
                return [SpaceFinished(space, "completed")]
            if not isinstance(output, dict):
                return [SpaceFinished(space, "completed")]
            status = output.get("status")
            if status == "failed":
                return [
                    SpaceFinished(space, "failed", 0, _str(output.get("error")), _str(output.get("hint")))
                ]
            if status == "completed":
                return [SpaceFinished(space, "completed", _int(output.get("row_count")))]
            return [SpaceFinished(space, "no_answer", 0, _str(output.get("text")))]
        if item_type == "message":
            text = _message_text(item)
            outputs = parse_outputs(custom_outputs if isinstance(custom_outputs, Mapping) else {})
            return [TurnFinished(text or self.text, outputs)]
        return []  # item types this chat does not show
