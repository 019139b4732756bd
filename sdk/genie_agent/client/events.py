"""The events a client's ``stream`` yields, the same for every target.

Where the agent's own event fits what a Responses stream carries, it is that class
(:class:`~genie_agent.turn.SpaceQueryStarted`, :class:`~genie_agent.turn.SpaceProgress`,
:class:`~genie_agent.turn.SpaceFailed`, :class:`~genie_agent.turn.TextDelta`,
:class:`~genie_agent.turn.VisualizationReady`), so ``isinstance(event, genie_agent.TextDelta)`` holds
for ``agent.stream`` and ``client.stream`` alike. Where it does not (the agent's route decision and
space answer hold more than crosses the wire, its turn result is not the wire's), the client has its
own: :class:`RouteChosen`, :class:`SpaceReplied`, :class:`Done`. In order::

    RouteChosen → (SpaceQueryStarted → SpaceProgress* → SpaceReplied | SpaceFailed)* → TextDelta*
      → VisualizationReady? → Done

:class:`Unreadable` stands for an event of a remote stream the client could not read (skipped; the
answer goes on). The agent's :class:`~genie_agent.turn.Clarification` is not among them: a clarify
turn's ``Done.result`` has ``status`` ``clarify`` and its ``suggested_questions``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .. import contract
from ..turn import (
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

__all__ = [
    "ClientEvent",
    "Done",
    "RouteChosen",
    "SpaceFailed",
    "SpaceProgress",
    "SpaceQueryStarted",
    "SpaceReplied",
    "TextDelta",
    "Unreadable",
    "VisualizationReady",
    "client_events",
    "route_chosen",
]


@dataclass(frozen=True)
class RouteChosen:
    """Where the question goes and why: ``route.kind``, ``route.domains``, ``route.confidence`` (to two
    decimals), ``route.reason``."""

    route: contract.Route


@dataclass(frozen=True)
class SpaceReplied:
    """A space answered: ``status`` ``completed`` (a table: ``columns``, ``row_count``, the first
    :data:`~genie_agent.contract.ROWS_IN_SPACE_EVENT` ``rows``) or ``no_answer`` (``text`` says why).
    The whole result is in the turn result's ``results``."""

    domain: str
    status: str
    text: str = ""
    sql: str | None = None
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()
    row_count: int = 0
    truncated: bool = False
    conversation_id: str | None = None
    suggested_questions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Done:
    """The turn result, last: :class:`genie_agent.contract.TurnResult` (its ``text`` is the whole answer)."""

    result: contract.TurnResult


@dataclass(frozen=True)
class Unreadable:
    """An event of a remote stream that could not be read; it was skipped and the answer goes on."""

    description: str


ClientEvent = (
    RouteChosen
    | SpaceQueryStarted
    | SpaceProgress
    | SpaceReplied
    | SpaceFailed
    | TextDelta
    | VisualizationReady
    | Done
    | Unreadable
)
"""What ``Client.stream`` yields."""


def route_chosen(kind: str, domains: Iterable[str], confidence: float | None, reason: str) -> RouteChosen:
    return RouteChosen(
        contract.Route.read(
            {
                "kind": kind,
                "domains": list(domains),
                "confidence": None if confidence is None else round(confidence, 2),
                "reason": reason,
            }
        )
    )


def _replied(event: SpaceAnswered) -> SpaceReplied:
    """What the Responses stream's ``function_call_output`` of this answer carries."""
    return SpaceReplied(event.domain, **event.reply())


def finished(result: contract.TurnResult) -> Iterator[VisualizationReady | Done]:
    """The last events of every target: the visualization hint (when there is one), then the result."""
    if result.visualization_hint is not None:
        yield VisualizationReady(result.visualization_hint.model_dump())
    yield Done(result)


def client_event(event: TurnEvent) -> list[ClientEvent]:
    """One of the agent's events (in-process) as the client's: what a remote client reads from the same turn."""
    match event:
        case RouteDecided(d):
            return [route_chosen(d.kind, d.domains, d.confidence, d.reason)]
        case SpaceQueryStarted() | SpaceProgress() | SpaceFailed() | TextDelta():
            return [event]
        case SpaceAnswered():
            return [_replied(event)]
        case VisualizationReady() | Clarification():
            return []  # in the turn result, as over the wire
        case TurnDone(result):
            return list(finished(result.to_wire()))
    return []  # pragma: no cover


def client_events(events: Iterable[TurnEvent]) -> Iterator[ClientEvent]:
    """:func:`client_event` over a turn's events."""
    for event in events:
        yield from client_event(event)
