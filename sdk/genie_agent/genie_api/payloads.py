"""The JSON the Genie API answers with: spaces, conversations, messages with their attachments,
and query results as a ``statement_response`` (databricks-sdk's ``GenieAPI`` shapes)."""

from __future__ import annotations

import hashlib
from typing import Any

from ..spaces.base import SpaceAnswer, SpaceInfo
from ..spaces.statement import ColumnType, column_type_of, infer_column_type, render_rows
from .messages import Conversation, Message, user_id

__all__ = ["conversation_json", "message_json", "space_json", "started_json", "statement_json"]

_FINISHED = ("COMPLETED", "QUERY_RESULT_EXPIRED")


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


def statement_json(msg: Message) -> dict[str, Any]:
    """A query attachment's result: RUNNING until the message ends, CLOSED once it expired."""
    answer = msg.answer
    assert answer is not None
    state = "RUNNING" if msg.status not in _FINISHED else "CLOSED" if msg.result_expired else "SUCCEEDED"
    response: dict[str, Any] = {"statement_id": msg.statement_id, "status": {"state": state}}
    if state == "SUCCEEDED":
        types = _column_types(answer)
        columns = [
            _column_json(i, name, t) for i, (name, t) in enumerate(zip(answer.columns, types, strict=True))
        ]
        rows = len(answer.rows)
        response["manifest"] = {
            "format": "JSON_ARRAY",
            "schema": {"column_count": len(columns), "columns": columns},
            "total_chunk_count": 1,
            "chunks": [{"chunk_index": 0, "row_offset": 0, "row_count": rows}],
            "total_row_count": rows,
            "truncated": answer.truncated,
        }
        result: dict[str, Any] = {"chunk_index": 0, "row_offset": 0, "row_count": rows}
        if rows:  # like the Statement Execution API, an empty result has no data_array
            result["data_array"] = render_rows(answer.rows, [t.type_name for t in types])
        response["result"] = result
    return {"statement_response": response}


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


def _column_types(answer: SpaceAnswer) -> list[ColumnType]:
    if len(answer.column_types) == len(answer.columns):
        return [column_type_of(t) for t in answer.column_types]
    return [infer_column_type([row[i] for row in answer.rows]) for i in range(len(answer.columns))]
