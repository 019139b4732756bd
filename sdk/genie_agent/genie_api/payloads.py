"""The JSON the Genie API answers with: spaces, conversations, messages with their attachments,
and query results as a ``statement_response`` (databricks-sdk's ``GenieAPI`` shapes).

A query result is cut into chunks of ``chunk_rows`` rows, as the Statement Execution API cuts a
result: the manifest counts them all (``total_chunk_count``, ``chunks``, ``total_row_count``), the
response holds the first (``INLINE``, ``JSON_ARRAY``), and a chunk that is not the last names the next
(``next_chunk_index``, ``next_chunk_internal_link``). :mod:`.results` serves the later chunks and the
full-result downloads."""

from __future__ import annotations

import hashlib
from typing import Any

from ..spaces.base import SpaceAnswer, SpaceInfo
from ..spaces.statement import ColumnType, column_type_of, infer_column_type, render_rows
from .messages import Conversation, Message, user_id
from .visualizations import viz_json

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "chunk_bounds",
    "chunk_link",
    "column_types",
    "conversation_json",
    "inline_chunk_json",
    "manifest_json",
    "message_json",
    "space_json",
    "started_json",
    "statement_json",
]

_FINISHED = ("COMPLETED", "QUERY_RESULT_EXPIRED")
DEFAULT_CHUNK_ROWS = 1000
"""Rows in a chunk of a result (the first chunk is what ``query-result`` holds)."""


def space_json(space_id: str, info: SpaceInfo) -> dict[str, Any]:
    return {
        "space_id": space_id,
        "title": info.title,
        "description": info.description,
        "warehouse_id": hashlib.sha256(space_id.encode()).hexdigest()[:16],
    }


def conversation_json(conv: Conversation) -> dict[str, Any]:
    return {
        "id": conv.conversation_id,
        "conversation_id": conv.conversation_id,
        "space_id": conv.space_id,
        "title": conv.title,
        "created_timestamp": conv.created_ms,
        "last_updated_timestamp": conv.created_ms,
        "user_id": user_id(conv.user),
    }


def started_json(conv: Conversation, msg: Message) -> dict[str, Any]:
    """The answer to start-conversation: the conversation and its first message."""
    return {
        "conversation": conversation_json(conv),
        "conversation_id": conv.conversation_id,
        "message": message_json(msg),
        "message_id": msg.message_id,
    }


def message_json(msg: Message) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": msg.message_id,
        "message_id": msg.message_id,
        "conversation_id": msg.conversation_id,
        "space_id": msg.space_id,
        "content": msg.content,
        "status": msg.status,
        "created_timestamp": msg.created_ms,
        "last_updated_timestamp": msg.updated_ms,
        "user_id": user_id(msg.user),
    }
    attachments: list[dict[str, Any]] = []
    answer = msg.answer
    if answer is not None and answer.sql is not None and msg.query_visible:
        attachments.append({"attachment_id": msg.ids["query"], "query": _query_json(msg, answer)})
        if msg.status in _FINISHED:
            body["query_result"] = {
                "statement_id": msg.statement_id,
                "row_count": answer.row_count,
                "is_truncated": answer.truncated,
            }
    if msg.status in _FINISHED:
        if msg.text:
            text = {"id": msg.ids["text"], "content": msg.text}
            attachments.append({"attachment_id": msg.ids["text"], "text": text})
        if msg.suggested:
            questions = {"questions": list(msg.suggested)}
            attachments.append({"attachment_id": msg.ids["suggested"], "suggested_questions": questions})
        viz = viz_json(msg)
        if viz is not None:
            attachments.append(viz)
    if attachments:
        body["attachments"] = attachments
    if msg.feedback is not None:
        body["feedback"] = {"rating": msg.feedback}
    if msg.status == "FAILED" and msg.error is not None:
        body["error"] = {"error": msg.error[0], "type": msg.error[1]}
    return body


def _query_json(msg: Message, answer: SpaceAnswer) -> dict[str, Any]:
    query: dict[str, Any] = {
        "id": msg.ids["query"],
        "title": (answer.text[:1].upper() + answer.text[1:])[:120],
        "description": answer.text,
        "query": answer.sql,
        "last_updated_timestamp": msg.updated_ms,
    }
    if msg.status in _FINISHED:
        query["statement_id"] = msg.statement_id
        query["query_result_metadata"] = {"row_count": answer.row_count, "is_truncated": answer.truncated}
    return query


def statement_json(msg: Message, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> dict[str, Any]:
    """A query attachment's result: RUNNING until the message ends, CLOSED once it expired; then its
    manifest and first chunk."""
    answer = msg.answer
    assert answer is not None
    state = "RUNNING" if msg.status not in _FINISHED else "CLOSED" if msg.result_expired else "SUCCEEDED"
    response: dict[str, Any] = {"statement_id": msg.statement_id, "status": {"state": state}}
    if state == "SUCCEEDED":
        response["manifest"] = manifest_json(answer, "JSON_ARRAY", chunk_rows)
        response["result"] = inline_chunk_json(msg.statement_id, answer, 0, chunk_rows)
    return {"statement_response": response}


def chunk_bounds(rows: int, chunk_rows: int) -> list[tuple[int, int]]:
    """``(row_offset, row_count)`` of each chunk of a result of ``rows`` rows (one, empty, for none)."""
    return [(start, min(chunk_rows, rows - start)) for start in range(0, rows, chunk_rows)] or [(0, 0)]


def chunk_link(statement_id: str, index: int) -> str:
    """The workspace path of a statement's chunk (the Statement Execution API's get-result-chunk-n)."""
    return f"/api/2.0/sql/statements/{statement_id}/result/chunks/{index}"


def manifest_json(
    answer: SpaceAnswer, fmt: str, chunk_rows: int, byte_counts: list[int] | None = None
) -> dict[str, Any]:
    """The result's manifest: format, schema, and its chunks (with their sizes, for external links)."""
    types = column_types(answer)
    columns = [
        _column_json(i, name, t) for i, (name, t) in enumerate(zip(answer.columns, types, strict=True))
    ]
    chunks: list[dict[str, Any]] = []
    for index, (offset, count) in enumerate(chunk_bounds(len(answer.rows), chunk_rows)):
        chunk = {"chunk_index": index, "row_offset": offset, "row_count": count}
        if byte_counts is not None:
            chunk["byte_count"] = byte_counts[index]
        chunks.append(chunk)
    manifest: dict[str, Any] = {
        "format": fmt,
        "schema": {"column_count": len(columns), "columns": columns},
        "total_chunk_count": len(chunks),
        "chunks": chunks,
        "total_row_count": len(answer.rows),
        "truncated": answer.truncated,
    }
    if byte_counts is not None:
        manifest["total_byte_count"] = sum(byte_counts)
    return manifest


def inline_chunk_json(statement_id: str, answer: SpaceAnswer, index: int, chunk_rows: int) -> dict[str, Any]:
    """Chunk ``index`` of the result inline (``ResultData`` with ``data_array``)."""
    bounds = chunk_bounds(len(answer.rows), chunk_rows)
    offset, count = bounds[index]
    result: dict[str, Any] = {"chunk_index": index, "row_offset": offset, "row_count": count}
    if count:  # like the Statement Execution API, an empty result has no data_array
        names = [t.type_name for t in column_types(answer)]
        result["data_array"] = render_rows(answer.rows[offset : offset + count], names)
    if index + 1 < len(bounds):
        result["next_chunk_index"] = index + 1
        result["next_chunk_internal_link"] = chunk_link(statement_id, index + 1)
    return result


def _column_json(position: int, name: str, t: ColumnType) -> dict[str, Any]:
    column: dict[str, Any] = {
        "name": name,
        "position": position,
        "type_name": t.type_name,
        "type_text": t.type_text,
    }
    if t.precision is not None:
        column |= {"type_precision": t.precision, "type_scale": t.scale}
    return column


def column_types(answer: SpaceAnswer) -> list[ColumnType]:
    """Each column's Databricks type: from the space's DuckDB types, else from the values."""
    if len(answer.column_types) == len(answer.columns):
        return [column_type_of(t) for t in answer.column_types]
    return [infer_column_type([row[i] for row in answer.rows]) for i in range(len(answer.columns))]
