"""A Genie Conversation API server over any :class:`GenieSpace`, so the real databricks-sdk runs here.

Paths and JSON are databricks-sdk's ``GenieAPI`` (``/api/2.0/genie/...``): list and get spaces,
start a conversation, create a message, poll it, fetch a query attachment's result as a
``statement_response`` and re-execute an expired one. A message moves SUBMITTED -> ASKING_AI ->
EXECUTING_QUERY -> COMPLETED (or FAILED with an ``error``, CANCELLED, QUERY_RESULT_EXPIRED) over
the space's artificial latency, on the event loop's timers, while the space answers in a thread.

Bearer tokens map to users through :class:`~genie_agent.identity.TokenIdentityProvider` (the
``users`` of ``serve``): the caller's identity decides which spaces it sees, owns its
conversations, and is passed to the space, which applies its row filters. :class:`GenieFaults`
scripts what tests need from a real workspace: a failed or cancelled message, an expired result, a
warehouse that is starting, HTTP 429.

The app also answers ``/.well-known/databricks-config`` (databricks-sdk probes it when a client
is built), ``/api/2.0/preview/scim/v2/Me`` and, given Lakebase instances, the database API of
:mod:`.workspace_api` (instance lookup, credentials) that Lakebase memory clients call.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..identity import TokenIdentityProvider
from .base import GenieSpace
from .genie_faults import GenieFaults, MessageFault
from .genie_messages import ApiError, Conversation, GenieService, MessageTrace, new_id, now_ms, user_id
from .workspace_api import WorkspaceDatabases, database_routes

__all__ = [
    "GenieApi",
    "GenieFaults",
    "MessageFault",
    "MessageTrace",
    "build_genie_api",
    "serve_in_background",
]

_PREFIX = "/api/2.0/genie/spaces"
_CONV = _PREFIX + "/{space_id}/conversations/{conversation_id}"
_MSG = _CONV + "/messages/{message_id}"
WORKSPACE_ID = "1234567890123456"


def _routes(s: GenieService) -> list[Route]:
    async def list_spaces(request: Request) -> JSONResponse:
        who = s.identity(request)
        ids = [k for k in s.spaces if who.may_use(k)]
        try:
            size = max(1, int(request.query_params.get("page_size") or 100))
            start = max(0, int(request.query_params.get("page_token") or 0))
        except ValueError:
            raise ApiError(
                400, "INVALID_PARAMETER_VALUE", "page_size and page_token must be integers."
            ) from None
        body: dict[str, Any] = {"spaces": [s.space_json(k) for k in ids[start : start + size]]}
        if start + size < len(ids):
            body["next_page_token"] = str(start + size)
        return JSONResponse(body)

    async def get_space(request: Request) -> JSONResponse:
        who = s.identity(request)
        s.space(request.path_params["space_id"], who)
        return JSONResponse(s.space_json(request.path_params["space_id"]))

    async def start_conversation(request: Request) -> JSONResponse:
        who = s.identity(request)
        space_id = request.path_params["space_id"]
        s.space(space_id, who)
        content = await s.content(request)
        conv = Conversation(new_id(), space_id, who.user, content[:100], now_ms())
        s.conversations[conv.conversation_id] = conv
        msg = s.add_message(conv, content, who)
        conversation = {
            "id": conv.conversation_id,
            "conversation_id": conv.conversation_id,
            "space_id": space_id,
            "title": conv.title,
            "created_timestamp": conv.created_ms,
            "last_updated_timestamp": conv.created_ms,
            "user_id": user_id(who.user),
        }
        return JSONResponse(
            {
                "conversation": conversation,
                "conversation_id": conv.conversation_id,
                "message": s.message_json(msg),
                "message_id": msg.message_id,
            }
        )

    async def create_message(request: Request) -> JSONResponse:
        who = s.identity(request)
        conv = s.conversation(request, who)
        content = await s.content(request)
        return JSONResponse(s.message_json(s.add_message(conv, content, who)))

    async def list_messages(request: Request) -> JSONResponse:
        who = s.identity(request)
        conv = s.conversation(request, who)
        found = [s.messages[m] for m in conv.message_ids if m in s.messages]
        return JSONResponse({"messages": [s.message_json(m) for m in found]})

    async def get_message(request: Request) -> JSONResponse:
        msg = s.message(request, s.identity(request))
        msg.polls += 1
        return JSONResponse(s.message_json(msg))

    async def query_result(request: Request) -> JSONResponse:
        who = s.identity(request)
        msg = s.query_message(request, who, request.path_params.get("attachment_id"))
        return JSONResponse(s.statement_json(msg))

    async def execute_query(request: Request) -> JSONResponse:
        who = s.identity(request)
        msg = s.query_message(request, who, request.path_params.get("attachment_id"))
        if msg.status not in ("COMPLETED", "QUERY_RESULT_EXPIRED"):
            raise ApiError(400, "INVALID_STATE", f"Message {msg.message_id} is still {msg.status}.")
        msg.statement_id, msg.result_expired, msg.completed_mono = str(uuid.uuid4()), False, time.monotonic()
        if msg.status == "QUERY_RESULT_EXPIRED":
            msg.set("COMPLETED")
        return JSONResponse(s.statement_json(msg))

    async def well_known(request: Request) -> JSONResponse:
        base = str(request.base_url).rstrip("/")
        return JSONResponse({"oidc_endpoint": f"{base}/oidc", "workspace_id": WORKSPACE_ID})

    async def me(request: Request) -> JSONResponse:
        who = s.identity(request)
        uid = str(user_id(who.user))
        return JSONResponse({"id": uid, "userName": who.user, "displayName": who.user, "active": True})

    return [
        Route("/.well-known/databricks-config", well_known),
        Route("/api/2.0/preview/scim/v2/Me", me),
        Route(_PREFIX, list_spaces),
        Route(_PREFIX + "/{space_id}", get_space),
        Route(_PREFIX + "/{space_id}/start-conversation", start_conversation, methods=["POST"]),
        Route(_CONV + "/messages", create_message, methods=["POST"]),
        Route(_CONV + "/messages", list_messages, methods=["GET"]),
        Route(_MSG, get_message),
        Route(_MSG + "/attachments/{attachment_id}/query-result", query_result),
        Route(_MSG + "/attachments/{attachment_id}/execute-query", execute_query, methods=["POST"]),
        # Deprecated message-level forms the SDK still has.
        Route(_MSG + "/query-result", query_result),
        Route(_MSG + "/query-result/{attachment_id}", query_result),
        Route(_MSG + "/execute-query", execute_query, methods=["POST"]),
    ]


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    body = {"error_code": exc.error_code, "message": exc.message}
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    status = getattr(exc, "status_code", 404)
    code = "ENDPOINT_NOT_FOUND" if status == 404 else "BAD_REQUEST"
    return JSONResponse(
        {"error_code": code, "message": f"No API found for '{request.method} {request.url.path}'"}, status
    )


class GenieApi:
    """The ASGI app of the Genie API server, with its :attr:`faults` and what it recorded."""

    def __init__(self, service: GenieService, databases: WorkspaceDatabases | None = None) -> None:
        self._service = service
        self.databases = databases or WorkspaceDatabases({})
        self._app = Starlette(
            routes=_routes(service) + database_routes(self.databases, service.identity),
            exception_handlers={ApiError: _api_error, 404: _not_found, 405: _not_found},
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._app(scope, receive, send)

    @property
    def faults(self) -> GenieFaults:
        """Scripted failures for the next messages (tests, benchmarks)."""
        return self._service.faults

    def trace(self, message_id: str) -> MessageTrace | None:
        """The recorded statuses and polls of a message, if the server still holds it."""
        msg = self._service.messages.get(message_id)
        if msg is None:
            return None
        return MessageTrace(msg.message_id, msg.space_id, msg.status, tuple(msg.timeline), msg.polls)

    def expire(self, message_id: str) -> None:
        """Expire a completed message's query result now (as Genie does after some hours)."""
        msg = self._service.messages[message_id]
        if msg.status == "COMPLETED":
            msg.result_expired = True
            msg.set("QUERY_RESULT_EXPIRED")


def build_genie_api(
    spaces: Mapping[str, GenieSpace],
    identities: TokenIdentityProvider,
    *,
    latency_s: Mapping[str, float] | None = None,
    latency_jitter: float = 0.0,
    result_ttl_s: float | None = None,
    max_messages: int = 10_000,
    seed: int | None = None,
    lakebase_instances: Mapping[str, str] | None = None,
) -> GenieApi:
    """The Genie Conversation API over ``spaces`` (keyed by the space id clients use).

    ``latency_s`` maps a space id (or ``"*"``, any space) to the seconds a message takes from
    SUBMITTED to its end; ``latency_jitter`` spreads each message's latency by up to that
    fraction either way. ``result_ttl_s`` expires query results that long after completion.
    The server keeps the last ``max_messages`` messages in memory. ``lakebase_instances`` maps
    database instance names to the PostgreSQL host Lakebase clients are sent to.
    """
    if not 0 <= latency_jitter < 1:
        raise ValueError("latency_jitter must be in [0, 1)")
    service = GenieService(
        spaces, identities, latency_s or {}, latency_jitter, result_ttl_s, max_messages, seed
    )
    return GenieApi(service, WorkspaceDatabases(lakebase_instances or {}))


@contextmanager
def serve_in_background(app: Callable[..., Any], *, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve an ASGI ``app`` with uvicorn in a daemon thread on a free port; yields its base URL."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="genie-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the background server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
