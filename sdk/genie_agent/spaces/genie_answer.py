"""A finished Genie message and its query result as a :class:`SpaceAnswer`: the text, the suggestions,
the SQL and the rows typed from the statement's manifest. Pure: both transports of the Databricks
backend build their answers here from databricks-sdk's dataclasses.

Genie's query result holds the first chunk of the statement's rows. :func:`first_chunk_rows` says
whether that chunk is the answer (all of the result, or at least the space's row limit); when it is
not, the rest is read from a full-result download (:mod:`.genie_download`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .base import GenieVisualization, SpaceAnswer
from .genie_client import column_type_name

if TYPE_CHECKING:
    from databricks.sdk.service.dashboards import GenieAttachment, GenieMessage, GenieResultMetadata
    from databricks.sdk.service.sql import StatementResponse

__all__ = [
    "TERMINAL",
    "AskedSpace",
    "MessageParts",
    "ResultRows",
    "columns_of",
    "first_chunk_only",
    "first_chunk_rows",
    "message_status",
    "statement_state",
]

TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED", "QUERY_RESULT_EXPIRED"})


@dataclass(frozen=True)
class AskedSpace:
    """What an answer and an error need to know of the space asked."""

    domain: str
    title: str
    space_id: str
    sample_questions: tuple[str, ...]
    timeout_s: float
    row_limit: int = 1000
    """Most rows an answer holds; a result with more is cut there (``truncated``)."""
    visualize: bool = True
    """Ask Genie to draw a chart of the answer (``enable_visualization``, Beta) and keep it."""


@dataclass(frozen=True)
class ResultRows:
    """A query result's rows as read: typed, at most the row limit, and whether the result had more
    (Genie cut it, or the row limit did)."""

    rows: tuple[tuple[Any, ...], ...]
    truncated: bool


def message_status(message: GenieMessage) -> str | None:
    # The SDK turns a status it does not know into None: keep polling those.
    return message.status.value if message.status is not None else None


def statement_state(response: StatementResponse | None) -> str | None:
    status = response.status if response is not None else None
    return status.state.value if status is not None and status.state is not None else None


def statement_error(response: StatementResponse | None) -> str | None:
    status = response.status if response is not None else None
    return status.error.message if status is not None and status.error is not None else None


@dataclass(frozen=True)
class MessageParts:
    """What a finished message shows: its text, suggested questions, its first query attachment, and
    the visualization attachments read from its raw JSON (:mod:`.genie_visualization`)."""

    message: GenieMessage
    text: str
    suggested: tuple[str, ...]
    query: GenieAttachment | None
    visualizations: tuple[GenieVisualization, ...] = ()

    @classmethod
    def of(cls, message: GenieMessage, visualizations: tuple[GenieVisualization, ...] = ()) -> MessageParts:
        attachments = message.attachments or []
        text = "\n\n".join(a.text.content for a in attachments if a.text is not None and a.text.content)
        suggested = tuple(
            q
            for a in attachments
            if a.suggested_questions is not None
            for q in a.suggested_questions.questions or ()
        )
        queries = [a for a in attachments if a.query is not None and a.attachment_id]
        return cls(message, text, suggested, queries[0] if queries else None, visualizations)

    def no_answer(self, space: AskedSpace, started: float) -> SpaceAnswer:
        """The answer of a message with no query: Genie's text and what the space can answer."""
        return SpaceAnswer(
            domain=space.domain,
            status="no_answer",
            text=self.text or f"The {space.title} space gave no answer to that question.",
            conversation_id=self.message.conversation_id,
            message_id=self.message.message_id,
            suggested_questions=self.suggested or space.sample_questions[:4],
            elapsed_ms={"total": (time.monotonic() - started) * 1000},
        )

    def query_answer(
        self,
        space: AskedSpace,
        statement: StatementResponse,
        result: ResultRows,
        started: float,
        fetch_started: float,
    ) -> SpaceAnswer:
        """The answer of the query attachment: the columns of its result ``statement``, the rows read."""
        attachment = self.query
        assert attachment is not None and attachment.query is not None
        query = attachment.query
        from .genie_visualization import chosen

        columns, column_types, _ = columns_of(statement)
        rows = result.rows
        now = time.monotonic()
        return SpaceAnswer(
            domain=space.domain,
            status="completed",
            text=self.text or query.description or query.title or "",
            conversation_id=self.message.conversation_id,
            message_id=self.message.message_id,
            attachment_id=attachment.attachment_id,
            sql=query.query,
            columns=columns,
            column_types=column_types,
            rows=rows,
            row_count=len(rows),
            truncated=result.truncated,
            suggested_questions=self.suggested,
            elapsed_ms={"result": (now - fetch_started) * 1000, "total": (now - started) * 1000},
            visualization=chosen(self.visualizations, attachment.attachment_id, space.space_id),
        )


def columns_of(statement: StatementResponse) -> tuple[tuple[str, ...], tuple[str, ...], list[str]]:
    """A statement's column names, column types (``type_text``) and base type names, from its manifest."""
    manifest = statement.manifest
    columns = (manifest.schema.columns or []) if manifest is not None and manifest.schema else []
    names = tuple(c.name or f"column_{i}" for i, c in enumerate(columns))
    type_names = [column_type_name(c) for c in columns]
    column_types = tuple(c.type_text or n for c, n in zip(columns, type_names, strict=True))
    return names, column_types, type_names


def first_chunk_rows(
    statement: StatementResponse, metadata: GenieResultMetadata | None, row_limit: int
) -> ResultRows | None:
    """The answer's rows when the result's first chunk holds them: all of the result, or at least
    ``row_limit`` rows (cut there). None when the result has more rows than the chunk (its manifest
    counts more, it points at a next chunk, or Genie says it cut it) and the limit wants more of them."""
    rows = _chunk_rows(statement)
    result, manifest = statement.result, statement.manifest
    total = manifest.total_row_count if manifest is not None else None
    more = (
        (total is not None and total > len(rows))
        or (
            result is not None
            and (result.next_chunk_index is not None or bool(result.next_chunk_internal_link))
        )
        or bool(manifest is not None and manifest.truncated)
        or bool(metadata is not None and metadata.is_truncated)
    )
    if more and len(rows) < row_limit:
        return None
    return ResultRows(rows[:row_limit], more or len(rows) > row_limit)


def first_chunk_only(statement: StatementResponse) -> ResultRows:
    """The rows of the result's first chunk, as a part of it (``truncated``)."""
    return ResultRows(_chunk_rows(statement), True)


def _chunk_rows(statement: StatementResponse) -> tuple[tuple[Any, ...], ...]:
    from .statement import typed_rows

    _, _, type_names = columns_of(statement)
    result = statement.result
    return typed_rows(result.data_array if result is not None else None, type_names)
