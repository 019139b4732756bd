"""A finished Genie message and its query result as a :class:`SpaceAnswer`: the text, the suggestions,
the SQL and the rows typed from the statement's manifest. Pure: both transports of the Databricks
backend build their answers here from databricks-sdk's dataclasses."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .base import SpaceAnswer
from .genie_client import column_type_name

if TYPE_CHECKING:
    from databricks.sdk.service.dashboards import GenieAttachment, GenieMessage, GenieResultMetadata
    from databricks.sdk.service.sql import StatementResponse

__all__ = ["TERMINAL", "AskedSpace", "MessageParts", "message_status", "statement_state", "typed_result"]

TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED", "QUERY_RESULT_EXPIRED"})


@dataclass(frozen=True)
class AskedSpace:
    """What an answer and an error need to know of the space asked."""

    domain: str
    title: str
    space_id: str
    sample_questions: tuple[str, ...]
    timeout_s: float


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
    """What a finished message shows: its text, suggested questions, and its first query attachment."""

    message: GenieMessage
    text: str
    suggested: tuple[str, ...]
    query: GenieAttachment | None

    @classmethod
    def of(cls, message: GenieMessage) -> MessageParts:
        attachments = message.attachments or []
        text = "\n\n".join(a.text.content for a in attachments if a.text is not None and a.text.content)
        suggested = tuple(
            q
            for a in attachments
            if a.suggested_questions is not None
            for q in a.suggested_questions.questions or ()
        )
        queries = [a for a in attachments if a.query is not None and a.attachment_id]
        return cls(message, text, suggested, queries[0] if queries else None)

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
        self, space: AskedSpace, statement: StatementResponse, started: float, fetch_started: float
    ) -> SpaceAnswer:
        """The answer of the query attachment, its result ``statement`` typed from its manifest."""
        attachment = self.query
        assert attachment is not None and attachment.query is not None
        query = attachment.query
        columns, column_types, rows, truncated = typed_result(statement, query.query_result_metadata)
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
            truncated=truncated,
            suggested_questions=self.suggested,
            elapsed_ms={"result": (now - fetch_started) * 1000, "total": (now - started) * 1000},
        )


def typed_result(
    statement: StatementResponse, metadata: GenieResultMetadata | None
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[Any, ...], ...], bool]:
    """A statement's column names, column types, typed rows, and whether Genie gave only part of the result."""
    from .statement import typed_rows

    manifest = statement.manifest
    columns = (manifest.schema.columns or []) if manifest is not None and manifest.schema else []
    names = tuple(c.name or f"column_{i}" for i, c in enumerate(columns))
    type_names = [column_type_name(c) for c in columns]
    result = statement.result
    rows = typed_rows(result.data_array if result is not None else None, type_names)
    total = (
        manifest.total_row_count
        if manifest is not None and manifest.total_row_count is not None
        else len(rows)
    )
    truncated = bool(
        (manifest is not None and manifest.truncated)
        or (metadata is not None and metadata.is_truncated)
        or total > len(rows)  # Genie gives the first chunk only
    )
    column_types = tuple(c.type_text or n for c, n in zip(columns, type_names, strict=True))
    return names, column_types, rows, truncated
