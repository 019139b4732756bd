"""Where the chat sends its questions: one client protocol, three targets.

Every target takes a Responses request body and yields the Responses stream events of the answer
as plain dicts (what the agent server sends as SSE ``data:`` lines), so the chat reads one stream
whatever answers it:

* :class:`InProcessTarget` — the embedded default: the SDK agent (``make_agent``) run in a thread of
  its own, its events mapped by :func:`genie_agent.responses.events_to_responses`, the same mapping
  the served agent uses. No server.
* :class:`ResponsesEndpointTarget` — a local endpoint (``genie-agent serve``): ``POST {url}/responses``
  with ``"stream": true``, with a bearer token when the server has users.
* :class:`ServingEndpointTarget` — a Databricks Model Serving endpoint:
  ``POST {host}/serving-endpoints/{name}/invocations``, authenticated through databricks-sdk's
  unified auth (profile, environment, OAuth).

Errors a target raises, each with a hint saying what to do (a target is the chat's backend, so they
sit under the SDK's :class:`~genie_agent.errors.BackendError`, drawn in :mod:`genie_agent.errors`)::

    BackendError
     └── TargetError                  the target could not answer (message + hint)
          ├── TargetUnreachableError  nothing answers at the address
          ├── TargetAuthError         401/403: credentials missing, wrong or not allowed
          ├── TargetRequestError      any other non-2xx answer (``status`` holds the HTTP status)
          └── MemoryActionError       no memory action's outcome (:mod:`genie_agent_tui.memory`)

A data line of the stream that is not a JSON object is yielded as
``{"type": UNREADABLE_EVENT, "data": ...}`` rather than raised: one bad event must not end a turn.
"""

from __future__ import annotations

import asyncio
import json
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import httpx

from genie_agent.aio import iterate_in_thread
from genie_agent.errors import BackendError, GenieAgentError

if TYPE_CHECKING:
    from genie_agent.agent import Agent
    from genie_agent.config import Settings
    from genie_agent.identity import Identity

__all__ = [
    "UNREADABLE_EVENT",
    "ChatTarget",
    "InProcessTarget",
    "RequestBody",
    "ResponsesEndpointTarget",
    "ServingEndpointTarget",
    "StreamEvent",
    "TargetAuthError",
    "TargetError",
    "TargetFeatures",
    "TargetKind",
    "TargetRequestError",
    "TargetSpec",
    "TargetUnreachableError",
    "sse_events",
    "target_for",
]

RequestBody = dict[str, Any]
"""A Responses request: ``{"input": [{"role": "user", "content": ...}], "custom_inputs": {...}}``."""
StreamEvent = dict[str, Any]
"""One Responses stream event, as the agent server serializes it."""

UNREADABLE_EVENT = "genie_agent_tui.unreadable"
"""The ``type`` given to a stream data line that is not a JSON object."""

TargetKind = Literal["embedded", "url", "endpoint"]


class TargetError(BackendError):
    """The target could not answer. Raised by :meth:`ChatTarget.connect` and :meth:`ChatTarget.stream`."""


class TargetUnreachableError(TargetError):
    """Nothing answers at the target's address (connection refused, DNS, timeout)."""


class TargetAuthError(TargetError):
    """The target refused the credentials (HTTP 401 or 403), or there are none to send."""


class TargetRequestError(TargetError):
    """The target answered with another error status."""

    def __init__(self, message: str, hint: str = "", *, status: int) -> None:
        super().__init__(message, hint)
        self.status = status


@dataclass(frozen=True)
class TargetFeatures:
    """Optional features a target offers; the chat shows the matching panels only when on."""

    memory: bool = False
    """List and forget long-term memories (``custom_inputs.memory_action``): the memory panel (F2).
    On for the embedded agent, ``genie-agent serve`` and serving endpoints; an endpoint whose agent
    predates the actions answers with an error the panel shows as a notice."""


@dataclass(frozen=True)
class TargetSpec:
    """What the user asked to talk to: ``chat``'s options, or a pick in the target screen."""

    kind: TargetKind
    address: str = ""
    """The URL (``url``) or the serving endpoint's name (``endpoint``); empty for ``embedded``."""
    token: str | None = field(default=None, repr=False)
    """Bearer token for a ``url`` target whose server has users."""
    user: str = "local"
    """The trusted local user of the ``embedded`` target."""

    @property
    def label(self) -> str:
        if self.kind == "embedded":
            return "embedded" if self.user == "local" else f"embedded as {self.user}"
        if self.kind == "url":
            return self.address
        return f"endpoint {self.address}"


class ChatTarget(ABC):
    """A backend the chat talks to. Subclasses implement :meth:`stream`."""

    features = TargetFeatures()

    def __init__(self, spec: TargetSpec) -> None:
        self.spec = spec

    @property
    def label(self) -> str:
        """How the chat names the target ("embedded", "http://127.0.0.1:8000", "endpoint NAME")."""
        return self.spec.label

    async def connect(self) -> None:  # noqa: B027 - optional hook
        """Get ready (build the agent, resolve credentials). Raises :class:`TargetError`.

        Called before the first question so the first answer does not wait; :meth:`stream` calls it too.
        """

    @abstractmethod
    def stream(self, body: RequestBody) -> AsyncIterator[StreamEvent]:
        """The answer to ``body`` as Responses stream events, as they arrive.

        Raises :class:`TargetError` when the target cannot be reached or refuses the request. Closing
        the iterator (the turn is cancelled) stops the request.
        """

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


# --- in-process --------------------------------------------------------------------------------------


class InProcessTarget(ChatTarget):
    """The agent in this process: its turn runs in a thread of its own, read through the SDK's mapping.

    A memory action (``custom_inputs.memory_action``) is answered as the served agent answers it: on
    the identity's own memories, without running a turn.
    """

    features = TargetFeatures(memory=True)

    def __init__(
        self, make_agent: Callable[[], Agent], *, identity: Identity, spec: TargetSpec | None = None
    ) -> None:
        super().__init__(spec or TargetSpec("embedded", user=identity.user))
        self._make_agent = make_agent
        self._identity = identity
        self._agent: Agent | None = None
        self._lock = threading.Lock()

    def _ensure_agent(self) -> Agent:
        with self._lock:
            if self._agent is None:
                # The agent first: its tracer is built while mlflow is not yet imported, so tracing
                # "auto" stays off here as it does for `ask`. Then the mapping, which imports mlflow's
                # Responses types (~2 s): paid here, off the UI thread, before the first question.
                agent = self._make_agent()
                import genie_agent.responses  # noqa: F401

                self._agent = agent
            return self._agent

    async def connect(self) -> None:
        try:
            await asyncio.to_thread(self._ensure_agent)
        except GenieAgentError as exc:
            raise TargetError(f"The embedded agent could not start: {exc.message}", exc.hint) from exc

    def _events(self, body: RequestBody) -> Generator[StreamEvent]:
        from genie_agent.memory.actions import run_memory_action
        from genie_agent.responses import (
            error_events,
            events_to_responses,
            memory_action_events,
            parse_request,
        )

        agent = self._ensure_agent()
        try:
            turn = parse_request(body)
            if turn.memory_action is not None:
                result = run_memory_action(agent.memories, self._identity.user, turn.memory_action)
                for event in memory_action_events(result):
                    yield event.model_dump(exclude_none=True)
                return
            turn_events = agent.stream(
                turn.question,
                identity=self._identity,
                thread_id=turn.thread_id,
                genie_conversation_ids=turn.genie_conversation_ids,
            )
            for event in events_to_responses(turn_events):
                # Serialized exactly as the agent server serializes each SSE chunk.
                yield event.model_dump(exclude_none=True)
        except GenieAgentError as exc:
            for event in error_events(exc):
                yield event.model_dump(exclude_none=True)

    async def stream(self, body: RequestBody) -> AsyncIterator[StreamEvent]:
        await self.connect()
        async for event in iterate_in_thread(lambda: self._events(body), name="genie-agent-tui-turn"):
            yield event


# --- HTTP (SSE) ---------------------------------------------------------------------------------------


async def sse_events(lines: AsyncIterator[str]) -> AsyncIterator[StreamEvent]:
    """Server-sent events -> JSON objects. Stops at ``data: [DONE]``; a bad data line becomes an
    :data:`UNREADABLE_EVENT` event."""
    data: list[str] = []

    def parse(raw: str) -> StreamEvent:
        try:
            value = json.loads(raw)
        except ValueError:
            return {"type": UNREADABLE_EVENT, "data": raw[:200]}
        if not isinstance(value, dict):
            return {"type": UNREADABLE_EVENT, "data": raw[:200]}
        return value

    async for line in lines:
        if line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
            continue
        if line.strip() or not data:
            continue  # event:, id:, retry:, comments; or a blank line with nothing pending
        raw = "\n".join(data)
        data.clear()
        if raw.strip() == "[DONE]":
            return
        yield parse(raw)
    if data:
        raw = "\n".join(data)
        if raw.strip() != "[DONE]":
            yield parse(raw)


_TIMEOUT = httpx.Timeout(connect=10.0, read=600.0, write=30.0, pool=10.0)
"""A Genie turn can take minutes between two events; connecting must not."""


class ResponsesEndpointTarget(ChatTarget):
    """An agent served over HTTP: ``genie-agent serve``'s ``/responses`` (or any Responses endpoint).

    ``transport`` is the httpx seam: tests pass ``httpx.MockTransport`` or an ASGI transport.
    """

    features = TargetFeatures(memory=True)

    def __init__(
        self,
        spec: TargetSpec,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout = _TIMEOUT,
    ) -> None:
        super().__init__(spec)
        self._client = httpx.AsyncClient(transport=transport, timeout=timeout)

    async def request_url(self) -> str:
        return self.spec.address.rstrip("/") + "/responses"

    async def request_headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        if self.spec.token:
            headers["Authorization"] = f"Bearer {self.spec.token}"
        return headers

    def unreachable_hint(self) -> str:
        return "Start it with `genie-agent serve --port PORT`, or check --url."

    def auth_hint(self, status: int) -> str:
        if status == 403:
            return "The token is valid but not allowed here; ask the server's operator."
        if self.spec.token:
            return "Check --token: it must be a token of one of the server's users."
        return "The server has users: pass --token TOKEN (ask its operator for one)."

    def not_found_hint(self) -> str:
        return "Check --url: it should be the address `genie-agent serve` printed."

    async def stream(self, body: RequestBody) -> AsyncIterator[StreamEvent]:
        await self.connect()
        url = await self.request_url()
        headers = await self.request_headers()
        try:
            async with self._client.stream(
                "POST", url, json={**body, "stream": True}, headers=headers
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise self._status_error(response)
                async for event in sse_events(response.aiter_lines()):
                    yield event
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise TargetUnreachableError(
                f"Cannot reach {self.label}: {_reason(exc)}.", self.unreachable_hint()
            ) from exc
        except httpx.TimeoutException as exc:
            raise TargetUnreachableError(
                f"{self.label} stopped answering ({type(exc).__name__}).",
                "Try again; a long Genie turn may need the server's timeouts raised.",
            ) from exc
        except httpx.HTTPError as exc:
            raise TargetError(
                f"The connection to {self.label} failed: {_reason(exc)}.", "Try again."
            ) from exc

    def _status_error(self, response: httpx.Response) -> TargetError:
        status = response.status_code
        message, hint = _error_body(response)
        if status in (401, 403):
            what = "refused the credentials" if status == 401 else "denied access"
            detail = f": {message}" if message else ""
            return TargetAuthError(f"{self.label} {what} ({status}){detail}", self.auth_hint(status))
        if status == 404:
            return TargetRequestError(
                f"{self.label} has no such route ({status}): {message or response.url}",
                hint or self.not_found_hint(),
                status=status,
            )
        return TargetRequestError(
            f"{self.label} answered {status}: {message or response.reason_phrase}",
            hint or ("Try again." if status >= 500 else "Check the question and try again."),
            status=status,
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _error_body(response: httpx.Response) -> tuple[str, str]:
    """(message, hint) from a JSON error body (``{"error": {...}}``, ``{"message": ...}``,
    ``{"detail": ...}``) or its text."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:300], ""
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or ""), str(error.get("hint") or "")
        for key in ("message", "detail", "error"):
            if isinstance(data.get(key), str):
                return str(data[key]), ""
    return str(data)[:300], ""


class ServingEndpointTarget(ResponsesEndpointTarget):
    """A Databricks Model Serving endpoint, authenticated by databricks-sdk's unified auth.

    The host and credentials come from the environment, ``~/.databrickscfg`` or OAuth, exactly as for
    ``WorkspaceClient()``; headers are asked for on every request, so refreshed tokens are used.
    """

    def __init__(
        self,
        spec: TargetSpec,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout = _TIMEOUT,
    ) -> None:
        super().__init__(spec, transport=transport, timeout=timeout)
        self._config: Any = None

    def _resolve_config(self) -> Any:
        try:
            from databricks.sdk import WorkspaceClient
        except ImportError as exc:
            raise TargetError(
                "--endpoint needs databricks-sdk.", "Install it: pip install 'genie-agent[databricks]'."
            ) from exc
        try:
            return WorkspaceClient().config
        except ValueError as exc:  # the SDK's "cannot configure default credentials"
            raise TargetAuthError(
                f"No Databricks credentials for {self.label}: {exc}",
                "Run `databricks auth login --host https://<workspace>`, or set DATABRICKS_HOST and "
                "DATABRICKS_TOKEN, or DATABRICKS_CONFIG_PROFILE.",
            ) from exc

    async def connect(self) -> None:
        if self._config is None:
            self._config = await asyncio.to_thread(self._resolve_config)

    async def request_url(self) -> str:
        await self.connect()
        host = str(self._config.host).rstrip("/")
        return f"{host}/serving-endpoints/{self.spec.address}/invocations"

    async def request_headers(self) -> dict[str, str]:
        await self.connect()
        try:
            auth: Mapping[str, str] = await asyncio.to_thread(self._config.authenticate)
        except Exception as exc:  # OAuth refresh and friends raise their own types
            raise TargetAuthError(
                f"Databricks authentication failed: {exc}", "Run `databricks auth login` and try again."
            ) from exc
        return {"Accept": "text/event-stream", **auth}

    def unreachable_hint(self) -> str:
        return "Check DATABRICKS_HOST (or your profile's host) and your network."

    def auth_hint(self, status: int) -> str:
        if status == 403:
            return f"Ask for CAN QUERY on the serving endpoint {self.spec.address!r}."
        return "Run `databricks auth login`, or check DATABRICKS_TOKEN / DATABRICKS_CONFIG_PROFILE."

    def not_found_hint(self) -> str:
        return (
            f"Is {self.spec.address!r} the endpoint's name? `databricks serving-endpoints list` lists them."
        )


def target_for(spec: TargetSpec, settings: Settings) -> ChatTarget:
    """The target a spec names; the embedded agent is built from ``settings`` on first use."""
    if spec.kind == "embedded":
        from genie_agent.factory import make_agent
        from genie_agent.identity import local_identity

        return InProcessTarget(
            lambda: make_agent(settings, progress=False),
            identity=local_identity(spec.user, settings.users),
            spec=spec,
        )
    if spec.kind == "url":
        if not spec.address.startswith(("http://", "https://")):
            raise TargetError(f"{spec.address!r} is not a URL.", "Give --url http://HOST:PORT.")
        return ResponsesEndpointTarget(spec)
    return ServingEndpointTarget(spec)
