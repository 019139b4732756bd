"""A turn as the chat shows it: the SDK client's events -> the updates the turn view applies.

The client (:mod:`genie_agent.client`) reads every target's answer into one set of events; the chat
folds them into its own updates: a space's reply or failure is one :class:`SpaceFinished` for the
status line, the closing :class:`~genie_agent.client.Done` a :class:`TurnFinished` holding the turn
result as the chat keeps it (:class:`TurnOutputs`). :class:`TurnReader` also reads a raw Responses
stream (through the SDK's reader), where an event saying the answer failed is a :class:`StreamFailed`
update and anything unreadable an :class:`Unreadable` one, never an exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from genie_agent import contract
from genie_agent.client.errors import TargetError
from genie_agent.client.events import (
    ClientEvent,
    Done,
    RouteChosen,
    SpaceFailed,
    SpaceQueryStarted,
    SpaceReplied,
    TextDelta,
    Unreadable,
    VisualizationReady,
)
from genie_agent.client.reader import ResponsesReader
from genie_agent.turn import SpaceProgress as SpaceWorking

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
    "parse_outputs",
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
    """A space's reply or failure; ``result`` holds the table a completed reply carried (its first rows:
    the turn result has them all)."""

    space: str
    status: Literal["completed", "no_answer", "failed"]
    row_count: int = 0
    error: str = ""
    hint: str = ""
    result: ResultData | None = None


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
"""What the turn view applies."""


def parse_results(value: Any) -> tuple[ResultData, ...]:
    """``results`` of a turn result, skipping entries that are not results."""
    return tuple(contract.TurnResult.read({"results": value}).results)


def parse_outputs(value: Mapping[str, Any]) -> TurnOutputs:
    """A ``custom_outputs`` mapping (possibly partial or from an older server) as :class:`TurnOutputs`."""
    error = value.get("error")
    message = error.get("message") if isinstance(error, Mapping) else error
    hint = error.get("hint") if isinstance(error, Mapping) else ""
    return TurnOutputs(
        contract.TurnResult.read(value),
        error_message=message if isinstance(message, str) else "",
        error_hint=hint if isinstance(hint, str) else "",
        raw=dict(value),
    )


def _landed(reply: SpaceReplied) -> ResultData:
    """The table a space's reply carried, as the turn result will have it (with all its rows)."""
    return ResultData.model_construct(
        domain=reply.domain,
        sql=reply.sql,
        columns=tuple(reply.columns),
        column_types=(),
        rows=tuple(reply.rows),
        row_count=reply.row_count,
        truncated=reply.truncated,
        conversation_id=reply.conversation_id,
        message_id=None,
        attachment_id=None,
        error=None,
    )


def _outputs(result: contract.TurnResult) -> TurnOutputs:
    failure = result.error
    return TurnOutputs(
        result,
        error_message=failure.message if failure is not None else "",
        error_hint=failure.hint if failure is not None else "",
        raw=result.model_dump(mode="json", exclude={"text"}),
    )


class TurnReader:
    """Reads one turn's events in order (the client's, or a raw Responses stream's) into updates."""

    def __init__(self) -> None:
        self._stream = ResponsesReader()
        self.text_parts: list[str] = []
        self.unreadable = 0

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    def take(self, event: ClientEvent) -> Sequence[TurnUpdate]:
        """The updates one client event means (often one, sometimes none)."""
        match event:
            case RouteChosen(route):
                return [route]
            case SpaceQueryStarted(domain, question):
                return [SpaceStarted(domain, question)]
            case SpaceWorking(domain, message):
                return [SpaceProgress(domain=domain, message=message)]
            case SpaceReplied(domain, status, text, row_count=rows):
                if status == "completed":
                    return [SpaceFinished(domain, "completed", rows, result=_landed(event))]
                return [SpaceFinished(domain, "no_answer", 0, text)]
            case SpaceFailed(domain, error, hint):
                return [SpaceFinished(domain, "failed", 0, error, hint)]
            case TextDelta(delta):
                self.text_parts.append(delta)
                return [TextArrived(delta)]
            case VisualizationReady():
                return []  # the hint is in the turn result
            case Done(result):
                return [TurnFinished(result.text or self.text, _outputs(result))]
            case Unreadable():
                self.unreadable += 1
                return [event]
        return []

    def read(self, event: Any) -> Sequence[TurnUpdate]:
        """The updates one raw Responses stream event means."""
        try:
            events = self._stream.read(event)
        except TargetError as exc:
            return [StreamFailed(exc.message)]
        return [update for each in events for update in self.take(each)]
