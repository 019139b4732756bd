"""The wire contract: a turn's result as it crosses a boundary, defined once.

The SDK writes it (:meth:`genie_agent.turn.TurnResult.to_dict`: ``ask --json``, the served agent's
``custom_outputs``), the terminal chat and the evaluation read it back. Its JSON Schema is in
``docs/turn-result.schema.json`` (``python -m genie_agent.contract`` prints it).

Reading is lenient, since payloads come from other versions and over networks: :meth:`Wire.read`
never raises. A field that is missing or of the wrong type takes its default, an entry of a list
that is not of its kind is skipped, and unknown fields are ignored.

Rows: a turn result carries each space's rows up to the agent's ``data_rows`` per result (its
``row_count`` says how many the query returned, ``truncated`` whether the space cut them off). The
per-space event of the Responses stream (``function_call_output``) carries at most
:data:`ROWS_IN_SPACE_EVENT` rows for display; the full result is in the turn result, and beyond it
in the Genie space's own message (``conversation_id`` / ``message_id`` / ``attachment_id``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from rich.console import RenderableType

__all__ = [
    "CONTEXT_PREFIX",
    "PROGRESS_PREFIX",
    "ROWS_IN_SPACE_EVENT",
    "ChartType",
    "Failure",
    "GenieChart",
    "Grounding",
    "NumberFormat",
    "Progress",
    "ResultTable",
    "Route",
    "RouteKind",
    "SortOrder",
    "TurnResult",
    "TurnStatus",
    "VisualizationHint",
    "Wire",
    "json_schema",
]

ROWS_IN_SPACE_EVENT = 50
"""Rows of a space's result in its ``function_call_output`` event; the full result is in the turn result."""
CONTEXT_PREFIX = "Context: "
"""A reasoning item whose summary starts so says how the served agent rebuilt a conversation it was sent
whole (an informational note, neither the route nor a space's progress)."""
PROGRESS_PREFIX = "Progress: "
"""In the Responses stream a space's :class:`Progress` is a reasoning item whose summary is
``Progress: <space> — <message>`` (the route's reasoning item starts ``Route: ``)."""

TurnStatus = Literal["ok", "partial", "clarify", "refused", "out_of_scope", "error"]
RouteKind = Literal["single", "cross_domain", "follow_up", "ambiguous", "out_of_scope", "refused", ""]
ChartType = Literal["kpi", "line", "bar", "pie", "table"]
NumberFormat = Literal["number", "currency", "percent", "integer", "date"]
SortOrder = Literal["asc", "desc"]

W = TypeVar("W", bound="Wire")


class Wire(BaseModel):
    """A part of the contract: frozen, extra fields ignored, read leniently."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    @classmethod
    def read(cls: type[W], data: Any) -> W:
        """``data`` (a mapping, a JSON string, or already this model) as this model; never raises."""
        if isinstance(data, cls):
            return data
        if isinstance(data, str | bytes):
            try:
                data = json.loads(data)
            except ValueError:
                data = {}
        payload = dict(data) if isinstance(data, Mapping) else {}
        for _ in range(len(payload) + 1):
            try:
                return cls.model_validate(payload)
            except ValidationError as exc:
                bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]} & payload.keys()
                if not bad:
                    break
                for key in bad:  # the field takes its default
                    del payload[key]
        return cls.model_construct()


def _each(kind: type[Wire]) -> BeforeValidator:
    """A list of ``kind``: entries that are not mappings are skipped, the rest read leniently."""
    return BeforeValidator(
        lambda v: (
            tuple(kind.read(x) for x in v if isinstance(x, Mapping | kind))
            if isinstance(v, list | tuple)
            else ()
        )
    )


def _one(kind: type[Wire]) -> BeforeValidator:
    """An optional ``kind``: anything but a mapping is None."""
    return BeforeValidator(lambda v: kind.read(v) if isinstance(v, Mapping | kind) else None)


def _seq(v: Any) -> list[Any] | tuple[Any, ...]:
    return v if isinstance(v, list | tuple) else ()


_Strings = Annotated[
    tuple[str, ...], BeforeValidator(lambda v: tuple(str(x) for x in _seq(v) if x is not None))
]
"""Strings, each entry as a string (a list that is not a list is empty)."""
_Rows = Annotated[
    tuple[tuple[Any, ...], ...],
    BeforeValidator(lambda v: tuple(tuple(r) for r in _seq(v) if isinstance(r, list | tuple))),
]
"""Rows; an entry that is not a row is skipped."""
_Ids = Annotated[
    dict[str, str],
    BeforeValidator(
        lambda v: {str(k): x for k, x in v.items() if isinstance(x, str)} if isinstance(v, Mapping) else {}
    ),
]
"""Ids by space; an entry whose id is not a string is skipped."""
_Millis = Annotated[
    dict[str, float],
    BeforeValidator(
        lambda v: (
            {str(k): x for k, x in v.items() if isinstance(x, int | float) and not isinstance(x, bool)}
            if isinstance(v, Mapping)
            else {}
        )
    ),
]


class VisualizationHint(Wire):
    """How to chart a result: ``x`` the category or time column, ``y`` the measure, ``series`` a second
    category splitting the chart, ``format`` the number format of ``y``, ``reason`` why this chart."""

    type: ChartType = "table"
    x: str | None = None
    y: str | None = None
    series: str | None = None
    title: str = ""
    sort: SortOrder | None = None
    format: NumberFormat = "number"
    reason: str = ""


class GenieChart(Wire):
    """The chart Genie drew for a space's answer (its message's visualization attachment, asked for with
    ``enable_visualization``): its ``title``, and what downloads its PNG (the Genie ``space_id``, the
    result's ``conversation_id`` and ``message_id``, this ``attachment_id``)."""

    attachment_id: str = ""
    title: str = ""
    space_id: str = ""
    query_attachment_id: str | None = None


class Route(Wire):
    """Where the question went and why."""

    kind: RouteKind = ""
    domains: _Strings = ()
    confidence: float | None = None
    reason: str = ""


class ResultTable(Wire):
    """One space's result (or, with ``domain`` ``combined``, the parts joined on their shared keys)."""

    domain: str = "?"
    sql: str | None = None
    columns: _Strings = ()
    column_types: _Strings = Field((), description="Per column, its SQL type where known.")
    rows: _Rows = Field((), description="Up to data_rows rows; numbers as numbers.")
    row_count: int = Field(0, description="Rows the query returned (may exceed len(rows)).")
    truncated: bool = Field(False, description="The space cut the result off.")
    conversation_id: str | None = None
    message_id: str | None = Field(None, description="The Genie message that answered.")
    attachment_id: str | None = Field(None, description="The Genie query attachment holding the full result.")
    genie_visualization: Annotated[GenieChart | None, _one(GenieChart)] = Field(
        None, description="The chart Genie drew of this result, when it drew one (its PNG downloads)."
    )
    error: str | None = Field(None, description="Why the space gave no result (then no columns or rows).")

    @property
    def has_table(self) -> bool:
        return self.error is None and bool(self.columns)

    def to_pandas(self) -> pd.DataFrame:
        """The rows as a DataFrame, its columns typed by ``column_types`` (:mod:`genie_agent.frames`:
        dates as datetimes, decimals as floats, integers as ``Int64``, nulls missing). Needs pandas."""
        from .frames import to_pandas

        return to_pandas(self)

    def to_arrow(self) -> pa.Table:
        """The rows as a ``pyarrow.Table``, its columns typed by ``column_types``. Needs pyarrow."""
        from .frames import to_arrow

        return to_arrow(self)

    def _repr_html_(self) -> str:
        from .display import result_html

        return result_html(self)

    def __rich__(self) -> RenderableType:
        from .display import result_rich

        return result_rich(self)


class Grounding(Wire):
    ok: bool = True
    unsupported_numbers: tuple[str, ...] = ()


class Failure(Wire):
    """Why a request could not run at all (``status`` ``error``): the error's class, message and what to do."""

    type: str = ""
    message: str = ""
    hint: str = ""


class TurnResult(Wire):
    """What a turn returns: ``ask --json`` prints it, the served agent returns it as custom_outputs."""

    status: TurnStatus = "ok"
    text: str = ""
    turn_id: str | None = Field(None, description="The turn's id: its trace id where tracing is on.")
    domain: str | None = Field(None, description="The single space asked, or cross_domain.")
    domains: _Strings = ()
    route: Annotated[Route | None, _one(Route)] = None
    results: Annotated[tuple[ResultTable, ...], _each(ResultTable)] = ()
    combined: Annotated[ResultTable | None, _one(ResultTable)] = None
    data: list[dict[str, Any]] = Field(
        default_factory=list, description="Rows of the primary result as objects."
    )
    visualization_hint: Annotated[VisualizationHint | None, _one(VisualizationHint)] = None
    grounding: Annotated[Grounding, BeforeValidator(Grounding.read)] = Field(default_factory=Grounding)
    thread_id: str | None = None
    genie_conversation_ids: _Ids = Field(default_factory=dict)
    memory_status: str = ""
    source: str = "local"
    suggested_questions: _Strings = ()
    timings_ms: _Millis = Field(default_factory=dict)
    error: Annotated[Failure | None, _one(Failure)] = None

    @property
    def primary(self) -> ResultTable | None:
        """The result the visualization hint is about: the combined table, else the first with a table."""
        if self.combined is not None and self.combined.has_table:
            return self.combined
        return next((r for r in self.results if r.has_table), None)

    def to_pandas(self) -> pd.DataFrame:
        """The :attr:`primary` result as a DataFrame (:meth:`ResultTable.to_pandas`); an empty one when
        no space returned a table (``status`` and ``text`` say why)."""
        return (self.primary or ResultTable.read({})).to_pandas()

    def to_arrow(self) -> pa.Table:
        """The :attr:`primary` result as a ``pyarrow.Table`` (:meth:`ResultTable.to_arrow`)."""
        return (self.primary or ResultTable.read({})).to_arrow()

    def dataframes(self) -> dict[str, pd.DataFrame]:
        """Every result with a table as a DataFrame, by its space (``combined``: the joined table)."""
        tables = (*self.results, *([self.combined] if self.combined is not None else []))
        return {t.domain: t.to_pandas() for t in tables if t.has_table}

    def _repr_html_(self) -> str:
        from .display import turn_html

        return turn_html(self)

    def __rich__(self) -> RenderableType:
        from .display import turn_rich

        return turn_rich(self)


class Progress(Wire):
    """A wait worth showing while a space works (Genie's capacity queue, a slow warehouse)."""

    kind: Literal["progress"] = "progress"
    domain: str = ""
    message: str = ""


def json_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`TurnResult` (``docs/turn-result.schema.json``)."""
    schema = TurnResult.model_json_schema(mode="serialization")
    schema.setdefault("$defs", {})["Progress"] = Progress.model_json_schema()
    schema["$id"] = "https://github.com/genie-agent/genie-agent/docs/turn-result.schema.json"
    schema["description"] = (TurnResult.__doc__ or "") + "\n\n" + (__doc__ or "").split("\n\n", 3)[3].strip()
    return schema


if __name__ == "__main__":
    print(json.dumps(json_schema(), indent=2, sort_keys=True))
