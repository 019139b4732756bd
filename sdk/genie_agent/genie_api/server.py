"""The Genie emulator as one ASGI app: a Genie Conversation API server over any :class:`GenieSpace`,
so the real databricks-sdk runs here.

Paths and JSON are databricks-sdk's ``GenieAPI`` (``/api/2.0/genie/...``): list, get, create, update
and trash spaces (:mod:`.space_admin`; a created space is answered at once), start a conversation,
create a message, poll it, fetch a query attachment's result as a ``statement_response`` and re-execute an expired one. A message moves SUBMITTED -> ASKING_AI ->
EXECUTING_QUERY -> COMPLETED (or FAILED with an ``error``, CANCELLED, QUERY_RESULT_EXPIRED) over
the space's artificial latency, on the event loop's timers, while the space answers in a bounded
thread pool: thousands of messages in flight hold no thread each (:mod:`.messages`).

Bearer tokens map to users through :class:`~genie_agent.identity.TokenIdentityProvider` (the
``users`` of ``serve``): the caller's identity decides which spaces it sees, owns its
conversations, and is passed to the space, which applies its row filters. :class:`GenieFaults`
scripts what tests need from a real workspace: a failed or cancelled message, an expired result, a
warehouse that is starting, HTTP 429 for the next questions or beyond N questions a minute.

The app also answers ``/.well-known/databricks-config`` (databricks-sdk probes it when a client
is built), ``/api/2.0/preview/scim/v2/Me`` and, given Lakebase instances, the database API of
:mod:`.workspace` (instance lookup, credentials) that Lakebase memory clients call. The routes
(:mod:`.routes`) hold the HTTP; the message service (:mod:`.messages`) and the database service
(:mod:`.workspace`) hold the state and behaviour. A SQL warehouse's Statement Execution API
(:mod:`.statements`) runs statements over the local spaces' DuckDB files, for the warehouse backend.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from ..identity import TokenIdentityProvider
from ..spaces.base import GenieSpace
from .errors import ApiError
from .faults import GenieFaults, QuestionLimit
from .messages import GenieService, MessageTrace, ServiceStats
from .payloads import DEFAULT_CHUNK_ROWS
from .results import ResultStore, result_routes
from .routes import database_routes, genie_routes, statement_routes
from .space_admin import SpaceAdmin, space_admin_routes
from .space_builder import LocalTables
from .statements import StatementService, local_schemas, space_grants
from .workspace import WorkspaceDatabases

__all__ = ["GenieApi", "build_genie_api", "serve_in_background"]


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

    def __init__(
        self,
        service: GenieService,
        databases: WorkspaceDatabases | None = None,
        spaces: SpaceAdmin | None = None,
        results: ResultStore | None = None,
        statements: StatementService | None = None,
    ) -> None:
        self._service = service
        self.databases = databases or WorkspaceDatabases({})
        self.spaces = spaces or SpaceAdmin(service, LocalTables(service.spaces))
        """The spaces' management state: records, created spaces, SQL warehouses."""
        self.results = results or ResultStore(service, DEFAULT_CHUNK_ROWS)
        """Query results past their first chunk: later chunks, full-result downloads, their files."""
        self._app = Starlette(
            routes=space_admin_routes(self.spaces)
            + genie_routes(service, self.results.chunk_rows)
            + result_routes(service, self.results)
            + database_routes(self.databases, service.authenticate),
            exception_handlers={ApiError: _api_error, 404: _not_found, 405: _not_found},
        )
        self.statements = statements or StatementService(
            service.authenticate,
            local_schemas(self.spaces.local.bases),
            warehouse_ids=self.spaces.warehouses,
            may_read=space_grants(lambda: service.spaces),
        )
        """The SQL warehouse's statements (the warehouse backend's) over the local spaces' DuckDB files."""
        self._app.router.routes[:0] = statement_routes(self.statements)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._app(scope, receive, send)

    @property
    def faults(self) -> GenieFaults:
        """Scripted failures for the next messages (tests, benchmarks)."""
        return self._service.faults

    def trace(self, message_id: str) -> MessageTrace | None:
        """The recorded statuses and polls of a message, if the server still holds it."""
        return self._service.trace(message_id)

    def stats(self) -> ServiceStats:
        """The server's counters so far (also ``GET /_genie_server/stats``)."""
        return self._service.stats()

    def expire(self, message_id: str) -> None:
        """Expire a completed message's query result now (as Genie does after some hours)."""
        self._service.expire(message_id)

    def close(self) -> None:
        """Stop the threads the spaces answer in; the app answers no question after this."""
        self._service.close()
        self.statements.close()


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
    questions_per_minute: int | None = None,
    engine_workers: int | None = None,
    warehouses: Iterable[str] = (),
    bare: bool = False,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    download_format: str = "JSON_ARRAY",
) -> GenieApi:
    """The Genie Conversation API over ``spaces`` (keyed by the space id clients use).

    ``latency_s`` maps a space id (or ``"*"``, any space) to the seconds a message takes from
    SUBMITTED to its end; ``latency_jitter`` spreads each message's latency by up to that
    fraction either way. ``result_ttl_s`` expires query results that long after completion.
    The server keeps the last ``max_messages`` messages in memory. ``lakebase_instances`` maps
    database instance names to the PostgreSQL host Lakebase clients are sent to.
    ``questions_per_minute`` limits the questions (start-conversation, create-message) of the whole
    server, as a workspace does: one beyond it is HTTP 429 with Retry-After (``faults`` changes it
    later). The spaces answer in ``engine_workers`` threads (default: :func:`.messages.engine_workers`).
    Spaces can be created on :data:`.space_admin.LOCAL_WAREHOUSE_ID` and on ``warehouses``, over the
    tables of ``spaces`` (as ``samples.<database>.<table>``); ``bare`` serves those tables only, as a
    workspace with no Genie space yet: none is listed until one is created.
    Query results come in chunks of ``chunk_rows`` rows; a full-result download's files are in
    ``download_format`` (``JSON_ARRAY`` or ``ARROW_STREAM``; :mod:`.results`).
    """
    if not 0 <= latency_jitter < 1:
        raise ValueError("latency_jitter must be in [0, 1)")
    if engine_workers is not None and engine_workers < 1:
        raise ValueError("engine_workers must be at least 1")
    limit = QuestionLimit(questions_per_minute) if questions_per_minute is not None else None
    service = GenieService(
        {} if bare else spaces,
        identities,
        latency_s or {},
        latency_jitter,
        result_ttl_s,
        max_messages,
        seed,
        question_limit=limit,
        workers=engine_workers,
    )
    return GenieApi(
        service,
        WorkspaceDatabases(lakebase_instances or {}),
        SpaceAdmin(service, LocalTables(spaces), warehouses),
        ResultStore(service, chunk_rows, download_format),
    )


@contextmanager
def serve_in_background(app: Callable[..., Any], *, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve an ASGI ``app`` with uvicorn in a daemon thread on a free port; yields its base URL."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    # Idle connections stay open 75 s, not uvicorn's 5 s: a pooled client connection left idle that
    # long is otherwise closed just as the client reuses it, and the request fails.
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_keep_alive=75)
    server = uvicorn.Server(config)
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
