"""What the Genie API server holds: conversations and messages, how a message moves through
Genie's statuses over its space's latency, and the JSON Genie answers with.

A message starts SUBMITTED; ASKING_AI begins at 5% of the latency, while the space answers in a
thread; EXECUTING_QUERY (the query attachment appears, its result still RUNNING) at 75%; COMPLETED
at 100%. A fault (:mod:`.genie_faults`) turns that into FAILED, CANCELLED, QUERY_RESULT_EXPIRED or
an extra PENDING_WAREHOUSE phase. Lookups raise :class:`ApiError`, which the routes answer as
Databricks does: ``{"error_code", "message"}`` with the HTTP status.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from ..errors import BackendError, GenieAgentError, UnsafeRequestError
from ..identity import AuthenticationError, Identity, TokenIdentityProvider
from .base import GenieSpace, SpaceAnswer
from .genie_faults import GenieFaults
from .statement import ColumnType, column_type_of, infer_column_type, render_rows

__all__ = [
    "TERMINAL",
    "ApiError",
    "Conversation",
    "GenieService",
    "Message",
    "MessageTrace",
    "new_id",
    "now_ms",
    "user_id",
]

TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED", "QUERY_RESULT_EXPIRED"})
# Where in a space's latency each status begins (the rest is ASKING_AI), as fractions of it.
_ASKING_AT, _EXECUTING_AT = 0.05, 0.75


class ApiError(Exception):
    """An error the Genie API answers with an HTTP status and ``{"error_code", "message"}``."""

    def __init__(self, status: int, error_code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.error_code, self.message, self.headers = status, error_code, message, headers


def new_id() -> str:
    return uuid.uuid4().hex


def now_ms() -> int:
    return int(time.time() * 1000)


def user_id(user: str) -> int:
    return int(hashlib.sha256(user.encode()).hexdigest()[:12], 16)


@dataclass(frozen=True)
class MessageTrace:
    """What the server recorded of one message: each status with the wall-clock time it began,
    and how many times a client fetched the message (polls)."""

    message_id: str
    space_id: str
    status: str
    timeline: tuple[tuple[str, float], ...]
    polls: int

    @property
    def finished_at(self) -> float | None:
        """When the message reached its first terminal status (``time.time()``), if it has."""
        return next((t for s, t in self.timeline if s in TERMINAL), None)


@dataclass
class Conversation:
    """A conversation: its owner, and the space's own conversation id once the space has answered."""

    conversation_id: str
    space_id: str
    user: str
    title: str
    created_ms: int
    backend_id: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    message_ids: list[str] = field(default_factory=list)


@dataclass
class Message:
    """A message, its status and what Genie shows of it (attachments appear as the status advances)."""

    message_id: str
    conversation_id: str
    space_id: str
    user: str
    content: str
    created_ms: int
    started: float = field(default_factory=time.monotonic)
    status: str = "SUBMITTED"
    updated_ms: int = 0
    answer: SpaceAnswer | None = None
    query_visible: bool = False
    text: str | None = None
    suggested: tuple[str, ...] = ()
    error: tuple[str, str] | None = None
    statement_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    result_expired: bool = False
    completed_mono: float | None = None
    polls: int = 0
    timeline: list[tuple[str, float]] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=lambda: {k: new_id() for k in ("query", "text", "suggested")})

    def set(self, status: str) -> None:
        self.status, self.updated_ms = status, now_ms()
        self.timeline.append((status, time.time()))


class GenieService:
    """The server's state and behaviour behind the HTTP routes (all on the event loop's thread)."""

    def __init__(
        self,
        spaces: Mapping[str, GenieSpace],
        identities: TokenIdentityProvider,
        latency_s: Mapping[str, float],
        latency_jitter: float,
        result_ttl_s: float | None,
        max_messages: int,
        seed: int | None,
    ) -> None:
        self.spaces = dict(spaces)
        self.identities = identities
        self.latency_s = dict(latency_s)
        self.jitter = latency_jitter
        self.result_ttl_s = result_ttl_s
        self.max_messages = max_messages
        self.random = random.Random(seed)
        self.faults = GenieFaults()
        self.conversations: OrderedDict[str, Conversation] = OrderedDict()
        self.messages: OrderedDict[str, Message] = OrderedDict()
        self.tasks: set[asyncio.Task[None]] = set()

    # --- lookups, each raising the error Genie answers ----------------------------------------------

    def identity(self, request: Request) -> Identity:
        try:
            return self.identities.authenticate(request.headers.get("authorization"))
        except AuthenticationError as exc:
            raise ApiError(401, "UNAUTHENTICATED", exc.message) from None

    def space(self, space_id: str, who: Identity) -> GenieSpace:
        space = self.spaces.get(space_id)
        if space is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Genie space {space_id} does not exist.")
        if not who.may_use(space_id):
            raise ApiError(
                403, "PERMISSION_DENIED", f"User {who.user} does not have access to Genie space {space_id}."
            )
        return space

    def conversation(self, request: Request, who: Identity) -> Conversation:
        space_id, conv_id = request.path_params["space_id"], request.path_params["conversation_id"]
        self.space(space_id, who)
        conv = self.conversations.get(conv_id)
        if conv is None or conv.space_id != space_id or conv.user != who.user:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Conversation {conv_id} does not exist.")
        return conv

    def message(self, request: Request, who: Identity) -> Message:
        conv = self.conversation(request, who)
        msg = self.messages.get(request.path_params["message_id"])
        if msg is None or msg.conversation_id != conv.conversation_id:
            raise ApiError(
                404, "RESOURCE_DOES_NOT_EXIST", f"Message {request.path_params['message_id']} does not exist."
            )
        if (
            self.result_ttl_s is not None
            and msg.completed_mono is not None
            and not msg.result_expired
            and time.monotonic() - msg.completed_mono > self.result_ttl_s
        ):
            msg.result_expired = True
            msg.set("QUERY_RESULT_EXPIRED")
        return msg

    def query_message(self, request: Request, who: Identity, attachment_id: str | None) -> Message:
        msg = self.message(request, who)
        if msg.answer is None or msg.answer.sql is None or not msg.query_visible:
            raise ApiError(
                400, "INVALID_PARAMETER_VALUE", f"Message {msg.message_id} has no query attachment."
            )
        if attachment_id is not None and attachment_id != msg.ids["query"]:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Attachment {attachment_id} does not exist.")
        return msg

    # --- messages --------------------------------------------------------------------------------

    async def content(self, request: Request) -> str:
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "MALFORMED_REQUEST", "The request body is not valid JSON.") from None
        content = body.get("content") if isinstance(body, dict) else None
        if not isinstance(content, str) or not content.strip():
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "content must be a non-empty string.")
        retry_after = self.faults.take_rate_limit()
        if retry_after is not None:
            raise ApiError(
                429,
                "RESOURCE_EXHAUSTED",
                "Too many requests: the Genie question rate limit for this workspace was exceeded.",
                {"Retry-After": str(retry_after)},
            )
        return content

    def add_message(self, conv: Conversation, content: str, who: Identity) -> Message:
        msg = Message(new_id(), conv.conversation_id, conv.space_id, who.user, content, now_ms())
        msg.set("SUBMITTED")
        conv.message_ids.append(msg.message_id)
        self.messages[msg.message_id] = msg
        while len(self.messages) > self.max_messages:
            self.messages.popitem(last=False)
        while len(self.conversations) > self.max_messages:
            self.conversations.popitem(last=False)
        task = asyncio.get_running_loop().create_task(self.process(msg, conv, who))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return msg

    def latency(self, space_id: str) -> float:
        base = self.latency_s.get(space_id, self.latency_s.get("*", 0.0))
        return max(0.0, base * (1 + self.jitter * self.random.uniform(-1, 1)))

    async def process(self, msg: Message, conv: Conversation, who: Identity) -> None:
        latency = self.latency(msg.space_id)
        fault = self.faults.take(msg.space_id)

        async def until(fraction: float) -> None:
            await asyncio.sleep(max(0.0, msg.started + fraction * latency - time.monotonic()))

        await until(_ASKING_AT)
        msg.set("ASKING_AI")
        if fault is not None and fault.kind == "cancelled":
            await until(0.5)
            msg.set("CANCELLED")
            return
        if fault is None or fault.kind != "failed":
            await self.answer(msg, conv, who)
        if fault is not None and fault.kind == "pending_warehouse":
            msg.set("PENDING_WAREHOUSE")
            await asyncio.sleep(fault.seconds)
            msg.started += fault.seconds
        if msg.error is None and msg.answer is not None and msg.answer.sql is not None:
            await until(_EXECUTING_AT)
            msg.query_visible = True
            msg.set("EXECUTING_QUERY")
        await until(1.0)
        if fault is not None and fault.kind == "failed":
            msg.error = (fault.error, fault.error_type)
        if msg.error is not None:
            msg.set("FAILED")
            return
        msg.completed_mono = time.monotonic()
        if fault is not None and fault.kind in ("expired", "expired_on_fetch"):
            msg.result_expired = True
        msg.set("QUERY_RESULT_EXPIRED" if fault is not None and fault.kind == "expired" else "COMPLETED")

    async def answer(self, msg: Message, conv: Conversation, who: Identity) -> None:
        space = self.spaces[msg.space_id]
        async with conv.lock:  # one message of a conversation at a time, in order
            try:
                answer = await asyncio.to_thread(space.ask, msg.content, conv.backend_id, identity=who)
            except UnsafeRequestError as exc:
                msg.text = f"I can't do that: {exc.message} I can only answer questions about the data."
                return
            except BackendError as exc:
                msg.error = (exc.message, "SQL_EXECUTION_EXCEPTION")
                return
            except GenieAgentError as exc:
                msg.error = (exc.message, "UNEXPECTED_REPLY_PROCESS_EXCEPTION")
                return
            except Exception as exc:  # a bug in a space must fail the message, not the server
                msg.error = (f"{type(exc).__name__}: {exc}", "UNEXPECTED_REPLY_PROCESS_EXCEPTION")
                return
            conv.backend_id = answer.conversation_id
        msg.answer, msg.text, msg.suggested = answer, answer.text, answer.suggested_questions

    # --- JSON ------------------------------------------------------------------------------------

    def message_json(self, msg: Message) -> dict[str, Any]:
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
            query: dict[str, Any] = {
                "id": msg.ids["query"],
                "title": (answer.text[:1].upper() + answer.text[1:])[:120],
                "description": answer.text,
                "query": answer.sql,
                "last_updated_timestamp": msg.updated_ms,
            }
            if msg.status in ("COMPLETED", "QUERY_RESULT_EXPIRED"):
                query["statement_id"] = msg.statement_id
                query["query_result_metadata"] = {
                    "row_count": answer.row_count,
                    "is_truncated": answer.truncated,
                }
                body["query_result"] = {
                    "statement_id": msg.statement_id,
                    "row_count": answer.row_count,
                    "is_truncated": answer.truncated,
                }
            attachments.append({"attachment_id": msg.ids["query"], "query": query})
        if msg.status == "COMPLETED" or msg.status == "QUERY_RESULT_EXPIRED":
            if msg.text:
                text = {"id": msg.ids["text"], "content": msg.text}
                attachments.append({"attachment_id": msg.ids["text"], "text": text})
            if msg.suggested:
                questions = {"questions": list(msg.suggested)}
                attachments.append({"attachment_id": msg.ids["suggested"], "suggested_questions": questions})
        if attachments:
            body["attachments"] = attachments
        if msg.status == "FAILED" and msg.error is not None:
            body["error"] = {"error": msg.error[0], "type": msg.error[1]}
        return body

    def statement_json(self, msg: Message) -> dict[str, Any]:
        answer = msg.answer
        assert answer is not None
        if msg.status not in ("COMPLETED", "QUERY_RESULT_EXPIRED"):
            state = "RUNNING"
        else:
            state = "CLOSED" if msg.result_expired else "SUCCEEDED"
        response: dict[str, Any] = {"statement_id": msg.statement_id, "status": {"state": state}}
        if state == "SUCCEEDED":
            types = _column_types(answer)
            columns = []
            for i, (name, t) in enumerate(zip(answer.columns, types, strict=True)):
                column: dict[str, Any] = {
                    "name": name,
                    "position": i,
                    "type_name": t.type_name,
                    "type_text": t.type_text,
                }
                if t.precision is not None:
                    column |= {"type_precision": t.precision, "type_scale": t.scale}
                columns.append(column)
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

    def space_json(self, space_id: str) -> dict[str, Any]:
        info = self.spaces[space_id].info
        return {
            "space_id": space_id,
            "title": info.title,
            "description": info.description,
            "warehouse_id": hashlib.sha256(space_id.encode()).hexdigest()[:16],
        }


def _column_types(answer: SpaceAnswer) -> list[ColumnType]:
    if len(answer.column_types) == len(answer.columns):
        return [column_type_of(t) for t in answer.column_types]
    return [infer_column_type([row[i] for row in answer.rows]) for i in range(len(answer.columns))]
