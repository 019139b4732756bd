"""A served agent over HTTP: ``genie-agent serve`` (``POST {url}/responses``), answered as SSE.

Requests stream (``"stream": true``); a turn can take minutes between two events, connecting must not
(:data:`DEFAULT_TIMEOUT`). Every failure is a :class:`~.errors.TargetError` naming the target and
saying what to do; an error the agent reported with its class (a 4xx whose body names a
:class:`~genie_agent.errors.UserInputError`) is raised as that class, as in-process.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Mapping
from typing import Any

import httpx

from ..errors import GenieAgentError, UserInputError
from .base import Client
from .errors import TargetAuthError, TargetError, TargetRequestError, TargetUnreachableError, error_from
from .genie_images import ChartRef, unsupported
from .sse import sse_events, sse_lines

__all__ = ["DEFAULT_TIMEOUT", "HttpClient", "HttpTarget"]

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=600.0, write=30.0, pool=10.0)
"""A Genie turn can take minutes between two events; connecting must not."""

Transport = httpx.BaseTransport | httpx.AsyncBaseTransport


class HttpTarget(Client):
    """A target answering Responses requests over HTTP with SSE. Subclasses say where
    (:meth:`request_url`), with which headers (:meth:`request_headers`), and what to do when it fails
    (the ``*_hint`` methods).

    ``transport`` is httpx's seam (tests pass ``httpx.MockTransport`` or an ASGI transport): one that
    is only an ``AsyncBaseTransport`` serves the async methods only.
    """

    def __init__(self, label: str, *, transport: Transport | None = None, timeout: httpx.Timeout) -> None:
        super().__init__(label)
        self._transport = transport
        self._timeout = timeout
        self._sync: httpx.Client | None = None
        self._async: httpx.AsyncClient | None = None

    # --- what subclasses say ------------------------------------------------------------------------
    def request_url(self) -> str:
        raise NotImplementedError

    def request_headers(self) -> dict[str, str]:
        return {"Accept": "text/event-stream"}

    async def arequest(self) -> tuple[str, dict[str, str]]:
        """URL and headers, from the event loop (override when finding them blocks)."""
        return self.request_url(), self.request_headers()

    def unreachable_hint(self) -> str:
        return "Check the address and your network."

    def auth_hint(self, status: int) -> str:
        return "Check the credentials."

    def not_found_hint(self) -> str:
        return "Check the address."

    # --- streaming ----------------------------------------------------------------------------------
    def _client(self) -> httpx.Client:
        if self._sync is None:
            transport = self._transport
            if transport is not None and not isinstance(transport, httpx.BaseTransport):
                raise TypeError("This client's transport is async only: use aask / astream.")
            self._sync = httpx.Client(transport=transport, timeout=self._timeout)
        return self._sync

    def _aclient(self) -> httpx.AsyncClient:
        if self._async is None:
            transport = self._transport
            if transport is not None and not isinstance(transport, httpx.AsyncBaseTransport):
                raise TypeError("This client's transport is sync only: use ask / stream.")
            self._async = httpx.AsyncClient(transport=transport, timeout=self._timeout)
        return self._async

    def responses(self, body: Mapping[str, Any]) -> Generator[dict[str, Any]]:
        url, headers = self.request_url(), self.request_headers()
        try:
            with self._client().stream("POST", url, json={**body, "stream": True}, headers=headers) as r:
                if r.status_code >= 400:
                    r.read()
                    raise self._status_error(r)
                yield from sse_lines(r.iter_lines())
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from exc

    async def aresponses(self, body: Mapping[str, Any]) -> AsyncGenerator[dict[str, Any]]:
        url, headers = await self.arequest()
        client = self._aclient()
        try:
            async with client.stream("POST", url, json={**body, "stream": True}, headers=headers) as r:
                if r.status_code >= 400:
                    await r.aread()
                    raise self._status_error(r)
                async for event in sse_events(r.aiter_lines()):
                    yield event
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from exc

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        self.close()
        if self._async is not None:
            await self._async.aclose()
            self._async = None

    # --- failures -----------------------------------------------------------------------------------
    def _transport_error(self, exc: httpx.HTTPError) -> TargetError:
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return TargetUnreachableError(
                f"Cannot reach {self.label}: {_reason(exc)}.", self.unreachable_hint()
            )
        if isinstance(exc, httpx.TimeoutException):
            return TargetUnreachableError(
                f"{self.label} stopped answering ({type(exc).__name__}).",
                "Try again; a long Genie turn may need the server's timeouts raised.",
            )
        return TargetError(f"The connection to {self.label} failed: {_reason(exc)}.", "Try again.")

    def _status_error(self, response: httpx.Response) -> GenieAgentError:
        status = response.status_code
        kind, message, hint = _error_body(response)
        if status in (401, 403):
            what = "refused the credentials" if status == 401 else "denied access"
            detail = f": {message}" if message else ""
            return TargetAuthError(
                f"{self.label} {what} ({status}){detail}", self.auth_hint(status), status=status
            )
        if status == 404:
            return TargetRequestError(
                f"{self.label} has no such route ({status}): {message or response.url}",
                hint or self.not_found_hint(),
                status=status,
            )
        reported = error_from(kind, message, hint) if 400 <= status < 500 and kind else None
        if reported is not None:
            return reported  # the agent's own error (the question is empty, too long, ...), as in-process
        return TargetRequestError(
            f"{self.label} answered {status}: {message or response.reason_phrase}",
            hint or ("Try again." if status >= 500 else "Check the question and try again."),
            status=status,
        )


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _error_body(response: httpx.Response) -> tuple[str, str, str]:
    """(type, message, hint) from a JSON error body (``{"error": {...}}``, ``{"message": ...}``,
    ``{"detail": ...}``) or its text."""
    try:
        data = response.json()
    except ValueError:
        return "", response.text.strip()[:300], ""
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            return str(error.get("type") or ""), str(error.get("message") or ""), str(error.get("hint") or "")
        for key in ("message", "detail", "error"):
            if isinstance(data.get(key), str):
                return "", str(data[key]), ""
    return "", str(data)[:300], ""


class HttpClient(HttpTarget):
    """``genie-agent serve`` at ``url`` (e.g. ``http://127.0.0.1:8000``), with a bearer ``token`` when
    the server has users."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        transport: Transport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise UserInputError(
                f"{url!r} is not a URL.",
                "Give the address `genie-agent serve` printed, e.g. http://127.0.0.1:8000.",
            )
        super().__init__(url.rstrip("/"), transport=transport, timeout=timeout)
        self.url = url.rstrip("/")
        self.token = token

    def __repr__(self) -> str:
        return f"<HttpClient {self.url}{' (token)' if self.token else ''}>"

    def request_url(self) -> str:
        return self.url + "/responses"

    def request_headers(self) -> dict[str, str]:
        headers = super().request_headers()
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def unreachable_hint(self) -> str:
        return f"Start the server (`genie-agent serve --port PORT`), or check the URL {self.url}."

    def auth_hint(self, status: int) -> str:
        if status == 403:
            return "The token is valid but not allowed here; ask the server's operator."
        if self.token:
            return "Check the token: it must be a token of one of the server's users."
        return "The server has users: pass token=... (or set GENIE_AGENT_TOKEN); ask its operator for one."

    def not_found_hint(self) -> str:
        return "Check the URL: it should be the address `genie-agent serve` printed."

    async def _agenie_image(self, ref: ChartRef) -> bytes:
        raise unsupported(
            self.label,
            "a genie-agent server does not pass Genie's images on, and this client holds no credentials "
            "of the workspace behind it.",
        )
