"""``genie-agent serve``: the ResponsesAgent behind MLflow's agent server, as Databricks Apps run it.

MLflow's ``AgentServer("ResponsesAgent")`` provides ``/invocations``, ``/responses`` (``"stream":
true`` answered as SSE ending in ``[DONE]``) and ``/health``. In front of it sits one ASGI layer
that does what the agent server cannot: it admits at most ``max_inflight_turns`` requests at once
(beyond that a 503 with ``Retry-After``, at once: backpressure, not collapse), it authenticates the caller from their credentials (a
bearer token of ``users``, or under Databricks Apps the forwarded user token; never from the body or
a header naming the user), and it rejects malformed requests with a 4xx and a
clear message before the agent server would turn them into a 500 or a 200 SSE error.

The agent server keeps its invoke/stream functions in module globals, registered once per process;
they read the per-request agent and identity from a context variable this layer sets.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import ipaddress
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from genie_agent.config import Settings
from genie_agent.errors import ConfigError, GenieAgentError
from genie_agent.identity import AuthenticationError, Identity, IdentityProvider, TokenIdentityProvider
from genie_agent.tracing import use_experiment

__all__ = ["MAX_BODY_BYTES", "ServerState", "build_app", "check_bind_address", "run", "settle_heap"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY_BYTES = 1_000_000
RETRY_AFTER_S = b"2"
"""What a request refused for capacity is told to wait (a Genie turn is tens of seconds)."""
_AGENT_PATHS = frozenset({"/invocations", "/responses"})


@dataclass(frozen=True)
class ServerState:
    responses_agent: Any  # genie_agent_model.agent.GenieResponsesAgent (imports mlflow.pyfunc)
    identities: IdentityProvider
    max_question_chars: int
    max_inflight_turns: int = 1000


_current: contextvars.ContextVar[tuple[ServerState, Identity]] = contextvars.ContextVar("genie_agent_request")
_registered = threading.Lock()
_registered_once: list[bool] = []


def _register_handlers() -> None:
    """Register the agent server's invoke and stream functions (async: the event loop stays free)."""
    from mlflow.genai.agent_server import invoke, stream

    with _registered:
        if _registered_once:
            return

        @invoke()
        async def genie_agent_invoke(request: Any) -> Any:
            state, identity = _current.get()
            from genie_agent.responses import collect_response

            events = [event async for event in state.responses_agent.astream_events(request, identity)]
            return collect_response(events)

        @stream()
        async def genie_agent_stream(request: Any) -> AsyncIterator[Any]:
            state, identity = _current.get()
            async for event in state.responses_agent.astream_events(request, identity):
                yield event

        _registered_once.append(True)


async def _send_json(
    send: Send, status: int, body: dict[str, Any], headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _busy(limit: int) -> dict[str, Any]:
    return {
        "error": {
            "type": "BackendError",
            "message": f"This server is answering {limit:,} turns already (max_inflight_turns).",
            "hint": f"Try again in {RETRY_AFTER_S.decode()} s, or add replicas.",
        }
    }


def _error(exc: GenieAgentError) -> dict[str, Any]:
    return {"error": {"type": type(exc).__name__, "message": exc.message, "hint": exc.hint}}


class _Gate:
    """ASGI layer before the agent server: admission, size limit, JSON, authentication, request validation."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], state: ServerState) -> None:
        self.app = app
        self.state = state
        self.inflight = 0  # requests past admission (all on this server's event loop: no lock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in _AGENT_PATHS or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if self.inflight >= self.state.max_inflight_turns:  # backpressure, not collapse: refused at once
            await _send_json(
                send, 503, _busy(self.state.max_inflight_turns), ((b"retry-after", RETRY_AFTER_S),)
            )
            return
        self.inflight += 1
        try:
            await self._admitted(scope, receive, send)
        finally:
            self.inflight -= 1

    async def _admitted(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        identities = self.state.identities
        try:
            if isinstance(identities, TokenIdentityProvider):  # a digest and a lookup: no thread
                identity = identities.identify(headers)
            else:  # off the event loop: on a workspace this asks who the token belongs to (once per token)
                identity = await asyncio.to_thread(identities.identify, headers)
        except AuthenticationError as exc:
            await _send_json(send, 401, _error(exc), ((b"www-authenticate", b"Bearer"),))
            return
        except GenieAgentError as exc:
            await _send_json(send, 503, _error(exc))
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY_BYTES:
                await _send_json(
                    send,
                    413,
                    {
                        "error": {
                            "type": "UserInputError",
                            "message": f"The request is larger than {MAX_BODY_BYTES:,} bytes.",
                            "hint": "Send a shorter question.",
                        }
                    },
                )
                return
        body, problem = self._validate(body)
        if problem is not None:
            await _send_json(send, 400, problem)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        _current.set((self.state, identity))
        await self.app(scope, replay, send)

    def _validate(self, body: bytes) -> tuple[bytes, dict[str, Any] | None]:
        """The body to pass on (a string ``input`` becomes one user message), or the 400 to send."""
        from genie_agent.errors import UserInputError
        from genie_agent.responses import parse_request

        try:
            data = json.loads(body)
        except ValueError as exc:
            return body, _error(UserInputError(f"The body is not valid JSON: {exc}.", "Send a JSON object."))
        if not isinstance(data, dict):
            return body, _error(UserInputError("The body must be a JSON object.", "Send {'input': [...]}."))
        if "stream" in data and not isinstance(data["stream"], bool):
            return body, _error(UserInputError("`stream` must be true or false.", "Send a JSON boolean."))
        if isinstance(data.get("input"), str):  # the Responses API allows a bare string
            data["input"] = [{"role": "user", "content": data["input"]}]
            body = json.dumps(data).encode()
        fields = {k: v for k, v in data.items() if k != "stream"}
        try:
            turn = parse_request(fields)
            if turn.memory_action is None and turn.feedback is None:  # an action has no question
                self.state.responses_agent.agent.validate_question(turn.question)
        except GenieAgentError as exc:
            return body, _error(exc)
        return body, None


def build_app(settings: Settings, responses_agent: Any | None = None) -> Any:
    """The ASGI app: the gate in front of MLflow's agent server. ``responses_agent`` defaults to one
    built from ``settings``."""
    import mlflow
    from mlflow.genai.agent_server import AgentServer

    from genie_agent_model.agent import GenieResponsesAgent

    identities = _identities(settings)
    if settings.tracing == "off":
        mlflow.tracing.disable()
    else:
        uri = settings.tracking_uri()
        if uri:
            mlflow.set_tracking_uri(uri)
        use_experiment(settings.mlflow_experiment)
    if responses_agent is None:
        from genie_agent.factory import make_agent

        responses_agent = GenieResponsesAgent(make_agent(settings, progress=False))
    if settings.genie_backend == "databricks":
        # Now rather than on the first question, where importing httpx and databricks-sdk (1.2 s)
        # would hold the core loop and every turn on it.
        import genie_agent.spaces.genie_http  # noqa: F401
    _register_handlers()
    server = AgentServer("ResponsesAgent")
    state = ServerState(responses_agent, identities, settings.max_question_chars, settings.max_inflight_turns)
    return _Gate(server.app, state)


def _identities(settings: Settings) -> IdentityProvider:
    from genie_agent.workspace_identity import make_identity_provider

    if settings.auth_mode() == "model-serving":
        raise ConfigError(
            "`serve` cannot use auth: model-serving: on-behalf-of credentials exist only inside Model Serving.",
            "Set GENIE_AGENT_AUTH=token (bearer tokens of `users`) or apps (behind Databricks Apps).",
        )
    return make_identity_provider(settings)


def check_bind_address(host: str, settings: Settings, *, workspace_auth: bool = False) -> None:
    """Without configured users the server has one local user: it may listen on loopback only.
    ``workspace_auth``: the server names callers by ``auth: apps`` (``serve``), which needs no users."""
    if settings.users or (workspace_auth and settings.auth_mode() == "apps"):
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ConfigError(
            f"Refusing to serve on {host} without users: anyone who can reach it would act as the local user.",
            "Configure `users` with tokens (see README: Configuration), or serve on 127.0.0.1.",
        )


def run(
    settings: Settings, host: str, port: int
) -> None:  # pragma: no cover - exercised via subprocess tests
    import uvicorn

    check_bind_address(host, settings, workspace_auth=True)
    app = build_app(settings)
    settle_heap()
    uvicorn.run(app, host=host, port=port, log_level="warning")


def settle_heap() -> None:
    """What start-up built (the imports, the agent, its vocabulary and router: ~200,000 objects) lives as
    long as the process: kept out of the garbage collector's full passes, which otherwise walk all of it,
    100-200 ms with every turn in flight waiting on the GIL (a full pass came about once a burst of 50 turns)."""
    gc.collect()
    gc.freeze()
