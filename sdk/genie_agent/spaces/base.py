"""The Genie space boundary: one protocol, a local engine and (later) the Databricks Genie API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..identity import Identity

__all__ = [
    "AnswerStatus",
    "AsyncGenieSpace",
    "GenieSpace",
    "GenieVisualization",
    "RoutingTerm",
    "SpaceAnswer",
    "SpaceInfo",
]

AnswerStatus = Literal["completed", "no_answer"]
"""``completed``: a query ran and its result is in the answer. ``no_answer``: the space could not
turn the question into a query; ``text`` says why and ``suggested_questions`` what it can answer."""


@dataclass(frozen=True)
class SpaceInfo:
    """What a router and a user need to know about a space."""

    id: str
    title: str
    description: str
    sample_questions: tuple[str, ...] = ()
    knows_values: bool = True
    """The routing terms name every value the space holds (closed world, the local engine): a name
    they do not know is not in its data. False for a space whose values the router never sees (a
    remote Genie space, open world): a question naming one goes to the space, which decides."""


@dataclass(frozen=True)
class RoutingTerm:
    """A phrase that signals a space is relevant. ``kind`` weighs it: a measure names what the
    question asks for; a dimension, value or filter only narrows it."""

    phrase: str
    kind: Literal["measure", "dimension", "value", "time_dimension", "filter", "topic"]
    name: str | None = None
    """What the phrase names, for reading statements (the preference extractor): the measure,
    dimension, time dimension or filter it is a phrase of, a remote space's configured word itself,
    or for a value the value as stored (a synonym's value: "1-URGENT" for "urgent"). None: the
    phrase only points at the space ("how many e-bikes") and names nothing to remember."""
    dimension: str | None = None
    """For a value: the dimension it belongs to, where the space knows it."""


@dataclass(frozen=True)
class GenieVisualization:
    """A chart Genie drew for an answer: a message's ``viz`` attachment (asked for with
    ``enable_visualization``). The image itself is a PNG downloaded on demand
    (:mod:`~genie_agent.spaces.genie_visualization`)."""

    attachment_id: str
    """The visualization attachment: what the download-visualization call renders."""
    title: str
    """The visualization's name, as Genie gave it ("" when it gave none)."""
    query_attachment_id: str | None = None
    """The query attachment the visualization was drawn from."""
    space_id: str = ""
    """The Genie space whose message holds it (with the answer's conversation and message ids, what
    addresses its download)."""


@dataclass(frozen=True)
class SpaceAnswer:
    """One answer from a space. Values in ``rows`` are typed (numbers, dates), never pre-formatted."""

    domain: str
    """The space's name in the catalog (its domain key), not a Databricks Genie space id."""
    status: AnswerStatus
    text: str
    conversation_id: str
    message_id: str
    sql: str | None = None
    columns: tuple[str, ...] = ()
    column_types: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()
    row_count: int = 0
    truncated: bool = False
    suggested_questions: tuple[str, ...] = ()
    elapsed_ms: dict[str, float] = field(default_factory=dict)
    column_formats: tuple[str, ...] = ()
    """Per column, its display format where the space knows it: ``key`` for a grouping column, else a
    measure's format (``percent``, ``currency``, ``integer``, ``number``); ``""`` or none: not known."""
    attachment_id: str | None = None
    """The Genie query attachment holding the full result (a remote space's answer)."""
    visualization: GenieVisualization | None = None
    """The chart Genie drew for the answer, when it drew one (a remote space asked with
    ``enable_visualization``); local spaces draw none."""


@runtime_checkable
class GenieSpace(Protocol):
    """A Genie space: natural language in, SQL and its result out.

    ``ask`` raises :class:`~genie_agent.errors.UnsafeRequestError` for a request to change data,
    :class:`~genie_agent.errors.BackendTimeoutError` when the space does not answer in time and
    :class:`~genie_agent.errors.BackendError` when it fails. It never returns invented data.
    """

    @property
    def info(self) -> SpaceInfo: ...

    def ask(
        self, question: str, conversation_id: str | None = None, *, identity: Identity | None = None
    ) -> SpaceAnswer:
        """Ask a question as ``identity``, continuing ``conversation_id`` when given (a follow-up).

        The answer holds only rows ``identity`` may see; a conversation of another identity is not continued.
        """
        ...

    def routing_terms(self) -> Sequence[RoutingTerm]:
        """Phrases that signal this space is relevant (measures, dimensions, values), for routing."""
        ...


@runtime_checkable
class AsyncGenieSpace(Protocol):
    """A space that answers without holding a thread while it waits (the Databricks Genie backend:
    a question is tens of seconds of polling). The fan-out awaits :meth:`aask` where a space has it
    and runs :meth:`GenieSpace.ask` in a bounded executor otherwise (the local engine: CPU work).

    Raises as :meth:`GenieSpace.ask` does; a question the workspace refused for its rate limit
    before it was sent raises :class:`~genie_agent.errors.RateLimitedError` (nothing was asked, so
    it may be sent again once capacity allows).
    """

    async def aask(
        self, question: str, conversation_id: str | None = None, *, identity: Identity | None = None
    ) -> SpaceAnswer: ...
