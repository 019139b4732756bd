"""A turn: the typed events it streams and the turn result every consumer reads (DESIGN.md)."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from . import contract
from .spaces.base import GenieVisualization, SpaceAnswer
from .understanding.routing import RouteDecision

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from rich.console import RenderableType

__all__ = [
    "COMBINED",
    "Clarification",
    "GenieChart",
    "Grounding",
    "ResultTable",
    "RouteDecided",
    "SpaceAnswered",
    "SpaceFailed",
    "SpaceProgress",
    "SpaceQueryStarted",
    "TextDelta",
    "TurnDone",
    "TurnEvent",
    "TurnResult",
    "TurnStatus",
    "VisualizationReady",
    "jsonable",
]

COMBINED = "combined"
"""The ``domain`` of the table that joins a cross-domain answer's parts (:attr:`TurnResult.combined`)."""

TurnStatus = Literal["ok", "partial", "clarify", "refused", "out_of_scope", "error"]


def jsonable(value: Any) -> Any:
    """A result cell as JSON: numbers stay numbers, dates become ISO strings."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 2**53 else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


class Grounding(TypedDict):
    ok: bool
    unsupported_numbers: list[str]


@dataclass(frozen=True)
class GenieChart:
    """The chart Genie drew of a space's answer, as the turn result carries it (``genie_visualization``)."""

    attachment_id: str
    title: str
    space_id: str
    query_attachment_id: str | None = None

    @classmethod
    def of(cls, visualization: GenieVisualization) -> GenieChart:
        v = visualization
        return cls(v.attachment_id, v.title, v.space_id, v.query_attachment_id)

    def to_wire(self) -> contract.GenieChart:
        return contract.GenieChart.model_construct(
            attachment_id=self.attachment_id,
            title=self.title,
            space_id=self.space_id,
            query_attachment_id=self.query_attachment_id,
        )


@dataclass(frozen=True)
class ResultTable:
    """One space's result, as it appears in ``results``."""

    domain: str
    sql: str | None
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    row_count: int
    truncated: bool
    conversation_id: str | None
    error: str | None = None
    column_types: tuple[str, ...] = ()
    text: str = ""
    column_formats: tuple[str, ...] = ()
    """Per column, its display format where the space said it (:attr:`SpaceAnswer.column_formats`)."""
    message_id: str | None = None
    attachment_id: str | None = None
    genie_visualization: GenieChart | None = None
    """The chart Genie drew of the answer (a remote space's, asked with ``enable_visualization``)."""

    @classmethod
    def from_answer(cls, answer: SpaceAnswer) -> ResultTable:
        rows = tuple(tuple(jsonable(v) for v in row) for row in answer.rows)
        error = None if answer.status == "completed" else answer.text
        return cls(
            answer.domain,
            answer.sql,
            answer.columns,
            rows,
            answer.row_count,
            answer.truncated,
            answer.conversation_id,
            error,
            answer.column_types,
            answer.text,
            answer.column_formats,
            answer.message_id or None,
            answer.attachment_id,
            None if answer.visualization is None else GenieChart.of(answer.visualization),
        )

    def to_wire(self) -> contract.ResultTable:
        """This result as the contract has it (:class:`genie_agent.contract.ResultTable`)."""
        return contract.ResultTable.model_construct(
            domain=self.domain,
            sql=self.sql,
            columns=self.columns,
            column_types=self.column_types,
            rows=self.rows,
            row_count=self.row_count,
            truncated=self.truncated,
            conversation_id=self.conversation_id,
            message_id=self.message_id,
            attachment_id=self.attachment_id,
            genie_visualization=None
            if self.genie_visualization is None
            else self.genie_visualization.to_wire(),
            error=self.error,
        )

    def to_dict(self) -> dict[str, Any]:
        return self.to_wire().model_dump(mode="json")

    def to_pandas(self) -> pd.DataFrame:
        """The rows as a typed DataFrame (:meth:`genie_agent.contract.ResultTable.to_pandas`)."""
        return self.to_wire().to_pandas()

    def to_arrow(self) -> pa.Table:
        """The rows as a typed ``pyarrow.Table`` (:meth:`genie_agent.contract.ResultTable.to_arrow`)."""
        return self.to_wire().to_arrow()

    def _repr_html_(self) -> str:
        return self.to_wire()._repr_html_()

    def __rich__(self) -> RenderableType:
        return self.to_wire().__rich__()


@dataclass(frozen=True)
class TurnResult:
    """The one contract: printed by ``ask --json``, returned as the served agent's custom_outputs."""

    status: TurnStatus
    text: str
    route: RouteDecision
    results: tuple[ResultTable, ...]
    thread_id: str
    genie_conversation_ids: dict[str, str]
    grounding: Grounding
    memory_status: str
    source: str = "local"
    visualization_hint: dict[str, Any] | None = None
    suggested_questions: tuple[str, ...] = ()
    data_rows: int = 100
    timings_ms: dict[str, float] = field(default_factory=dict)
    combined: ResultTable | None = None
    """The parts of a cross-domain answer joined on the grouping they share (:mod:`genie_agent.combine`)."""
    turn_id: str | None = None
    """The turn's id: its trace id where tracing is on."""

    @property
    def domain(self) -> str | None:
        if len(self.route.domains) > 1:
            return "cross_domain"
        return self.route.domains[0] if self.route.domains else None

    @property
    def data(self) -> list[dict[str, Any]]:
        """Rows of the primary result as objects, bounded: the parts joined when the turn joined them (the
        table the visualization hint is about), else the first successful result."""
        tables = self.results if self.combined is None else (self.combined,)
        primary = next((r for r in tables if r.error is None and r.columns), None)
        if primary is None:
            return []
        return [dict(zip(primary.columns, row, strict=False)) for row in primary.rows[: self.data_rows]]

    def to_wire(self) -> contract.TurnResult:
        """This result as the contract has it (:class:`genie_agent.contract.TurnResult`)."""
        return contract.TurnResult.model_construct(
            status=self.status,
            text=self.text,
            turn_id=self.turn_id,
            domain=self.domain,
            domains=self.route.domains,
            route=contract.Route.model_construct(
                kind=self.route.kind,
                domains=self.route.domains,
                confidence=self.route.confidence,
                reason=self.route.reason,
            ),
            results=tuple(r.to_wire() for r in self.results),
            combined=None if self.combined is None else self.combined.to_wire(),
            data=self.data,
            visualization_hint=None
            if self.visualization_hint is None
            else contract.VisualizationHint.model_construct(**self.visualization_hint),
            grounding=contract.Grounding.model_construct(
                ok=self.grounding["ok"], unsupported_numbers=tuple(self.grounding["unsupported_numbers"])
            ),
            thread_id=self.thread_id,
            genie_conversation_ids=dict(self.genie_conversation_ids),
            memory_status=self.memory_status,
            source=self.source,
            suggested_questions=self.suggested_questions,
            timings_ms={k: round(v, 2) for k, v in self.timings_ms.items()},
        )

    def to_dict(self) -> dict[str, Any]:
        """The turn result as JSON-ready data: ``ask --json``, the served agent's custom_outputs."""
        return self.to_wire().model_dump(mode="json")

    def to_pandas(self) -> pd.DataFrame:
        """The primary result as a typed DataFrame (:meth:`genie_agent.contract.TurnResult.to_pandas`)."""
        return self.to_wire().to_pandas()

    def to_arrow(self) -> pa.Table:
        """The primary result as a typed ``pyarrow.Table`` (:meth:`genie_agent.contract.TurnResult.to_arrow`)."""
        return self.to_wire().to_arrow()

    def dataframes(self) -> dict[str, pd.DataFrame]:
        """Each result with a table as a DataFrame, by space (:meth:`genie_agent.contract.TurnResult.dataframes`)."""
        return self.to_wire().dataframes()

    def _repr_html_(self) -> str:
        return self.to_wire()._repr_html_()

    def __rich__(self) -> RenderableType:
        return self.to_wire().__rich__()


@dataclass(frozen=True)
class RouteDecided:
    decision: RouteDecision


@dataclass(frozen=True)
class SpaceQueryStarted:
    domain: str
    question: str


@dataclass(frozen=True)
class SpaceProgress:
    """A space is still working and says on what (a wait in Genie's capacity queue, a slow warehouse)."""

    domain: str
    message: str


@dataclass(frozen=True)
class SpaceAnswered:
    domain: str
    answer: SpaceAnswer

    def reply(self) -> dict[str, Any]:
        """What a per-space event carries (the Responses stream's ``function_call_output``, the client's
        ``SpaceReplied``): the first :data:`~genie_agent.contract.ROWS_IN_SPACE_EVENT` rows as JSON values;
        the whole result is in the turn result."""
        a = self.answer
        rows = tuple(tuple(jsonable(v) for v in row) for row in a.rows[: contract.ROWS_IN_SPACE_EVENT])
        return {
            "status": a.status,
            "text": a.text,
            "sql": a.sql,
            "columns": tuple(a.columns),
            "rows": rows,
            "row_count": a.row_count,
            "truncated": a.truncated or a.row_count > len(rows),
            "conversation_id": a.conversation_id,
            "suggested_questions": tuple(a.suggested_questions),
        }


@dataclass(frozen=True)
class SpaceFailed:
    domain: str
    error: str
    hint: str
    retryable: bool
    refused: bool = False
    """The space refused the request (a request to change data): not a failure to retry."""


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class VisualizationReady:
    """How to chart the primary result: the turn result's ``visualization_hint``."""

    hint: dict[str, Any]


@dataclass(frozen=True)
class Clarification:
    """No space could map the question: what to ask instead."""

    text: str
    suggested_questions: tuple[str, ...]


@dataclass(frozen=True)
class TurnDone:
    result: TurnResult


TurnEvent = (
    RouteDecided
    | SpaceQueryStarted
    | SpaceProgress
    | SpaceAnswered
    | SpaceFailed
    | TextDelta
    | VisualizationReady
    | Clarification
    | TurnDone
)
