"""The HTTP face of the emulator: request paths, the bearer token, bodies and query parameters in;
JSON out. Everything else is the services' (:mod:`.messages`, :mod:`.workspace`), called with plain
arguments; what they raise (:class:`~.errors.ApiError`) the server writes as Databricks does.

Paths are databricks-sdk's: ``GenieAPI``'s conversations (``/api/2.0/genie/spaces/{id}/...``, with the
deprecated message-level query-result forms it still has; the spaces themselves are
:mod:`.space_admin`'s), ``DatabaseAPI`` (``/api/2.0/database/...``), the
caller (``/api/2.0/preview/scim/v2/Me``) and the config probe a client makes when it is built
(``/.well-known/databricks-config``). One path is the emulator's own, not Databricks':
``GET /_genie_server/stats``, its counters (questions, 429s, polls) for benchmarks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..identity import Identity
from .errors import ApiError
from .messages import GenieService, MessageRef, user_id
from .payloads import DEFAULT_CHUNK_ROWS, message_json, started_json, statement_json
from .statements import STATEMENTS_PATH, StatementService
from .visualizations import png_of
from .workspace import WorkspaceDatabases

__all__ = ["STATS_PATH", "WORKSPACE_ID", "database_routes", "genie_routes", "statement_routes"]

_SPACES = "/api/2.0/genie/spaces"
_CONV = _SPACES + "/{space_id}/conversations/{conversation_id}"
_MSG = _CONV + "/messages/{message_id}"
_DATABASE = "/api/2.0/database"
WORKSPACE_ID = "1234567890123456"
STATS_PATH = "/_genie_server/stats"
"""The emulator's counters (:class:`~.messages.ServiceStats` as JSON): not a Databricks API."""

Authenticate = Callable[[str | None], Identity]


def _caller(authenticate: Authenticate, request: Request) -> Identity:
    return authenticate(request.headers.get("authorization"))


def _message_ref(request: Request) -> MessageRef:
    p = request.path_params
    return MessageRef(p["space_id"], p["conversation_id"], p["message_id"])


async def _question(request: Request) -> tuple[str, bool]:
    """The ``content`` of a start-conversation or create-message body, and its ``enable_visualization``."""
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "MALFORMED_REQUEST", "The request body is not valid JSON.") from None
    content = body.get("content") if isinstance(body, dict) else None
    if not isinstance(content, str) or not content.strip():
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "content must be a non-empty string.")
    visualize = body.get("enable_visualization", False)
    if not isinstance(visualize, bool):
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "enable_visualization must be a boolean.")
    return content, visualize


class _GenieRoutes:
    """One handler per Genie API call over the message service."""

    def __init__(self, service: GenieService, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> None:
        self.s = service
        self.chunk_rows = chunk_rows

    def _who(self, request: Request) -> Identity:
        return _caller(self.s.authenticate, request)

    async def start_conversation(self, request: Request) -> JSONResponse:
        who = self._who(request)
        space_id = request.path_params["space_id"]
        self.s.space(space_id, who)
        content, visualize = await _question(request)
        conv, msg = self.s.start_conversation(who, space_id, content, visualize=visualize)
        return JSONResponse(started_json(conv, msg))

    async def create_message(self, request: Request) -> JSONResponse:
        who = self._who(request)
        p = request.path_params
        conv = self.s.conversation(who, p["space_id"], p["conversation_id"])
        content, visualize = await _question(request)
        return JSONResponse(message_json(self.s.create_message(who, conv, content, visualize=visualize)))

    async def list_messages(self, request: Request) -> JSONResponse:
        who = self._who(request)
        p = request.path_params
        conv = self.s.conversation(who, p["space_id"], p["conversation_id"])
        return JSONResponse({"messages": [message_json(m) for m in self.s.conversation_messages(conv)]})

    async def get_message(self, request: Request) -> JSONResponse:
        return JSONResponse(message_json(self.s.poll(self._who(request), _message_ref(request))))

    async def send_feedback(self, request: Request) -> JSONResponse:
        who = self._who(request)
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "MALFORMED_REQUEST", "The request body is not valid JSON.") from None
        rating = body.get("rating") if isinstance(body, dict) else None
        self.s.send_feedback(who, _message_ref(request), rating)
        return JSONResponse({})

    async def query_result(self, request: Request) -> JSONResponse:
        who, attachment_id = self._who(request), request.path_params.get("attachment_id")
        msg = self.s.query_message(who, _message_ref(request), attachment_id)
        return JSONResponse(statement_json(msg, self.chunk_rows))

    async def execute_query(self, request: Request) -> JSONResponse:
        who, attachment_id = self._who(request), request.path_params.get("attachment_id")
        msg = self.s.execute_query(who, _message_ref(request), attachment_id)
        return JSONResponse(statement_json(msg, self.chunk_rows))

    async def download_visualization(self, request: Request) -> Response:
        """The PNG of a visualization attachment (:mod:`.visualizations`): the raw body, not JSON."""
        msg = self.s.message(self._who(request), _message_ref(request))
        png = png_of(msg, request.path_params["attachment_id"])
        return Response(png, media_type="image/png")

    async def stats(self, request: Request) -> JSONResponse:
        return JSONResponse(dataclasses.asdict(self.s.stats()))

    async def well_known(self, request: Request) -> JSONResponse:
        base = str(request.base_url).rstrip("/")
        return JSONResponse({"oidc_endpoint": f"{base}/oidc", "workspace_id": WORKSPACE_ID})

    async def me(self, request: Request) -> JSONResponse:
        who = self._who(request)
        uid = str(user_id(who.user))
        return JSONResponse({"id": uid, "userName": who.user, "displayName": who.user, "active": True})

    def routes(self) -> list[Route]:
        return [
            Route("/.well-known/databricks-config", self.well_known),
            Route("/api/2.0/preview/scim/v2/Me", self.me),
            Route(_SPACES + "/{space_id}/start-conversation", self.start_conversation, methods=["POST"]),
            Route(_CONV + "/messages", self.create_message, methods=["POST"]),
            Route(_CONV + "/messages", self.list_messages, methods=["GET"]),
            Route(_MSG, self.get_message),
            Route(_MSG + "/feedback", self.send_feedback, methods=["POST"]),
            Route(_MSG + "/attachments/{attachment_id}/query-result", self.query_result),
            Route(_MSG + "/attachments/{attachment_id}/execute-query", self.execute_query, methods=["POST"]),
            Route(_MSG + "/attachments/{attachment_id}/download-visualization", self.download_visualization),
            # Deprecated message-level forms the SDK still has.
            Route(_MSG + "/query-result", self.query_result),
            Route(_MSG + "/query-result/{attachment_id}", self.query_result),
            Route(_MSG + "/execute-query", self.execute_query, methods=["POST"]),
            # The emulator's own, outside the Genie API: its counters (no token needed).
            Route(STATS_PATH, self.stats),
        ]


def genie_routes(service: GenieService, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> list[Route]:
    """The Genie API routes, the caller (``scim/v2/Me``) and the config probe; query results come in
    chunks of ``chunk_rows`` rows (the later ones: :mod:`.results`)."""
    return _GenieRoutes(service, chunk_rows).routes()


class _DatabaseRoutes:
    """The ``DatabaseAPI`` calls Lakebase clients make."""

    def __init__(self, db: WorkspaceDatabases, authenticate: Authenticate) -> None:
        self.db, self.authenticate = db, authenticate

    async def list_instances(self, request: Request) -> JSONResponse:
        _caller(self.authenticate, request)
        return JSONResponse({"database_instances": [self.db.instance_json(n) for n in self.db.instances]})

    async def get_instance(self, request: Request) -> JSONResponse:
        _caller(self.authenticate, request)
        return JSONResponse(self.db.instance_json(request.path_params["name"]))

    async def generate_credential(self, request: Request) -> JSONResponse:
        who = _caller(self.authenticate, request)
        try:
            body = await request.json()
        except ValueError:
            body = None
        names = body.get("instance_names") if isinstance(body, dict) else None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "instance_names must be a list of instance names.")
        cred = self.db.mint(who, names)
        expiry = cred.expires_at.isoformat(timespec="seconds").replace("+00:00", "Z")
        return JSONResponse({"token": cred.token, "expiration_time": expiry})

    def routes(self) -> list[Route]:
        return [
            Route(_DATABASE + "/instances", self.list_instances),
            Route(_DATABASE + "/instances/{name}", self.get_instance),
            Route(_DATABASE + "/credentials", self.generate_credential, methods=["POST"]),
        ]


def database_routes(db: WorkspaceDatabases, authenticate: Authenticate) -> list[Route]:
    """The ``DatabaseAPI`` routes; ``authenticate`` names the caller from an ``Authorization`` value."""
    return _DatabaseRoutes(db, authenticate).routes()


class _StatementRoutes:
    """The Statement Execution API calls of a SQL warehouse (:mod:`.statements`)."""

    CHUNK = STATEMENTS_PATH + "/{statement_id}/result/chunks/{chunk_index:int}"

    def __init__(self, service: StatementService) -> None:
        self.s = service

    def _who(self, request: Request) -> Identity:
        return _caller(self.s.authenticate, request)

    async def execute(self, request: Request) -> JSONResponse:
        who = self._who(request)
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "MALFORMED_REQUEST", "The request body is not valid JSON.") from None
        return JSONResponse(await self.s.execute(who, body))

    async def get(self, request: Request) -> JSONResponse:
        return JSONResponse(self.s.get(self._who(request), request.path_params["statement_id"]))

    async def chunk(self, request: Request) -> Response:
        p = request.path_params
        if not self.s.holds(p["statement_id"]):
            # The same path serves Genie's query results (:mod:`.results`): the app's other route for it.
            for route in request.app.router.routes:
                if isinstance(route, Route) and route.path == self.CHUNK and route.endpoint != self.chunk:
                    answer: Response = await route.endpoint(request)
                    return answer
        return JSONResponse(self.s.chunk(self._who(request), p["statement_id"], int(p["chunk_index"])))

    async def cancel(self, request: Request) -> JSONResponse:
        await self.s.cancel(self._who(request), request.path_params["statement_id"])
        return JSONResponse({})

    def routes(self) -> list[Route]:
        one = STATEMENTS_PATH + "/{statement_id}"
        return [
            Route(STATEMENTS_PATH, self.execute, methods=["POST"]),
            Route(one, self.get, methods=["GET"]),
            Route(self.CHUNK, self.chunk, methods=["GET"]),
            Route(one + "/cancel", self.cancel, methods=["POST"]),
        ]


def statement_routes(service: StatementService) -> list[Route]:
    """The Statement Execution API routes. Put them before any other route of the chunk path."""
    return _StatementRoutes(service).routes()
