"""Where the chat sends its questions: a target is the chat's handle on an SDK client.

The clients are the SDK's (:mod:`genie_agent.client`), one interface for each target:

* :class:`InProcessTarget` — the embedded default: the SDK agent in this process
  (:class:`~genie_agent.client.LocalClient`). No server.
* :class:`ResponsesEndpointTarget` — a local endpoint (``genie-agent serve``):
  :class:`~genie_agent.client.HttpClient`, with a bearer token when the server has users.
* :class:`ServingEndpointTarget` — a Databricks Model Serving endpoint:
  :class:`~genie_agent.client.ServingClient` (databricks-sdk unified auth).

What is the chat's here: what the user picked (:class:`TargetSpec`), which panels a target offers
(:class:`TargetFeatures`), and hints that name the chat's options (``--url``, ``--token``). A target
that only implements :meth:`ChatTarget.stream` (the Responses stream of a request) gets a client over
it. Errors are the client's (:mod:`genie_agent.client.errors`), re-exported here::

    BackendError
     └── TargetError                  the target could not answer (message + hint)
          ├── TargetUnreachableError  nothing answers at the address
          ├── TargetAuthError         401/403: credentials missing, wrong or not allowed
          ├── TargetRequestError      any other non-2xx answer (``status`` holds the HTTP status)
          └── MemoryActionError       no memory action's outcome
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import httpx

from genie_agent.client import Client, HttpClient, LocalClient, ServingClient
from genie_agent.client.errors import (
    TargetAuthError,
    TargetError,
    TargetRequestError,
    TargetUnreachableError,
)
from genie_agent.client.http import DEFAULT_TIMEOUT, Transport
from genie_agent.client.sse import UNREADABLE_EVENT, sse_events
from genie_agent.errors import GenieAgentError

if TYPE_CHECKING:
    from collections.abc import Callable

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

TargetKind = Literal["embedded", "url", "endpoint"]


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


class ChatTarget:
    """A backend the chat talks to: a spec, the features it offers, and the SDK client that asks it.

    Give a ``client``, or override :meth:`stream` (the Responses stream of a request): the target's
    client then reads that.
    """

    features = TargetFeatures()

    def __init__(self, spec: TargetSpec, client: Client | None = None) -> None:
        self.spec = spec
        self.client: Client = client if client is not None else _StreamClient(self)

    @property
    def label(self) -> str:
        """How the chat names the target ("embedded", "http://127.0.0.1:8000", "endpoint NAME")."""
        return self.spec.label

    async def connect(self) -> None:
        """Get ready (build the agent, resolve credentials). Raises :class:`TargetError`.

        Called before the first question so the first answer does not wait.
        """
        await self.client.aconnect()

    def untraced_hint(self) -> str | None:
        """What to say about an answer that has no trace, where the target knows more than the agent's hint."""
        return None

    def stream(self, body: RequestBody) -> AsyncGenerator[StreamEvent]:
        """The answer to ``body`` as Responses stream events, as they arrive."""
        return self.client.aresponses(body)

    async def aclose(self) -> None:
        """Release connections."""
        await self.client.aclose()


class _StreamClient(Client):
    """The client of a target that implements :meth:`ChatTarget.stream` itself (async only)."""

    def __init__(self, target: ChatTarget) -> None:
        if type(target).stream is ChatTarget.stream:
            raise TypeError(f"{type(target).__name__} needs a client or its own stream().")
        super().__init__(target.label)
        self._target = target

    def responses(self, body: Mapping[str, Any]) -> Generator[dict[str, Any]]:
        raise TypeError("The chat's targets answer asynchronously: use aresponses.")

    async def aresponses(self, body: Mapping[str, Any]) -> AsyncGenerator[dict[str, Any]]:
        async for event in self._target.stream(dict(body)):
            yield event


# --- in-process --------------------------------------------------------------------------------------


class InProcessTarget(ChatTarget):
    """The agent in this process (built by ``make_agent`` on connect, off the UI thread)."""

    features = TargetFeatures(memory=True)

    def __init__(
        self, make_agent: Callable[[], Agent], *, identity: Identity, spec: TargetSpec | None = None
    ) -> None:
        spec = spec or TargetSpec("embedded", user=identity.user)
        super().__init__(spec, LocalClient(make_agent, identity=identity, label=spec.label))

    async def connect(self) -> None:
        try:
            await self.client.aconnect()
        except GenieAgentError as exc:
            raise TargetError(f"The embedded agent could not start: {exc.message}", exc.hint) from exc

    def untraced_hint(self) -> str | None:
        """What to say about an answer that has no trace, when the chat traces this agent's answers."""
        from .tracing import BackgroundTracer

        client = self.client
        tracer = client.agent.tracer if isinstance(client, LocalClient) else None
        if isinstance(tracer, BackgroundTracer):
            return (
                "This answer came while tracing was still starting (the chat's first seconds); "
                "answers from now on can be rated."
            )
        return None


# --- HTTP (SSE) ---------------------------------------------------------------------------------------


class _UrlClient(HttpClient):
    """:class:`HttpClient` whose hints name the chat's options."""

    def unreachable_hint(self) -> str:
        return "Start it with `genie-agent serve --port PORT`, or check --url."

    def auth_hint(self, status: int) -> str:
        if status == 403:
            return "The token is valid but not allowed here; ask the server's operator."
        if self.token:
            return "Check --token: it must be a token of one of the server's users."
        return "The server has users: pass --token TOKEN (ask its operator for one)."

    def not_found_hint(self) -> str:
        return "Check --url: it should be the address `genie-agent serve` printed."


class ResponsesEndpointTarget(ChatTarget):
    """An agent served over HTTP: ``genie-agent serve``'s ``/responses``.

    ``transport`` is the httpx seam: tests pass ``httpx.MockTransport`` or an ASGI transport.
    """

    features = TargetFeatures(memory=True)

    def __init__(
        self,
        spec: TargetSpec,
        *,
        transport: Transport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        try:
            client = _UrlClient(spec.address, token=spec.token, transport=transport, timeout=timeout)
        except GenieAgentError as exc:
            raise TargetError(f"{spec.address!r} is not a URL.", "Give --url http://HOST:PORT.") from exc
        super().__init__(spec, client)


class ServingEndpointTarget(ChatTarget):
    """A Databricks Model Serving endpoint, authenticated by databricks-sdk's unified auth."""

    features = TargetFeatures(memory=True)

    def __init__(
        self,
        spec: TargetSpec,
        *,
        transport: Transport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(spec, ServingClient(spec.address, transport=transport, timeout=timeout))


def target_for(spec: TargetSpec, settings: Settings) -> ChatTarget:
    """The target a spec names; the embedded agent is built from ``settings`` on first use, its answers
    traced (:mod:`.tracing`) so that they can be rated."""
    if spec.kind == "embedded":
        from genie_agent.factory import make_agent
        from genie_agent.identity import local_identity

        from .tracing import with_chat_tracing

        return InProcessTarget(
            lambda: with_chat_tracing(make_agent(settings, progress=False), settings),
            identity=local_identity(spec.user, settings.users),
            spec=spec,
        )
    if spec.kind == "url":
        return ResponsesEndpointTarget(spec)
    return ServingEndpointTarget(spec)
