"""The Genie Conversation API over ``httpx.AsyncClient``: a question waits on the event loop, not in a thread.

Requests are databricks-sdk's own (``GenieAPI`` in ``databricks/sdk/service/dashboards.py``): the
same paths, bodies and headers, authenticated per request by the SDK's unified auth
(``Config.authenticate()``, the caller's own ``Config`` for on-behalf-of credentials), and typed by
the SDK's dataclasses (``GenieMessage.from_dict``...), so both transports see the same objects.
Refusals become the SDK's error classes (:func:`~.genie_errors.sdk_error`), then this package's.

Every question on an event loop shares its pooled connections (:mod:`.genie_connections`). This
module imports httpx and databricks-sdk: :meth:`~.databricks.DatabricksGenieSpace.aask` imports it
on first use.

Retries, all within the question's deadline:

- HTTP 429 on the request that sends the question: none. :class:`~genie_agent.errors.RateLimitedError`
  at once with the workspace's ``Retry-After``: nothing was asked, the caller may queue it again.
- HTTP 429 on a poll or a result fetch: after ``Retry-After`` (else backoff), up to
  :data:`~.genie_errors.MAX_RATE_LIMIT_RETRIES` times.
- A connection refused or reset, a name that does not resolve, HTTP 502/503/504: short backoff for
  :data:`UNREACHABLE_WITHIN_S` from the first failure, then a :class:`BackendError` naming the host.
  A request that sends a question is retried only when it cannot have reached the workspace.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
from databricks.sdk import errors
from databricks.sdk.client_types import HostType
from databricks.sdk.service.dashboards import (
    GenieGenerateDownloadFullQueryResultResponse,
    GenieGetDownloadFullQueryResultResponse,
    GenieGetMessageQueryResultResponse,
    GenieMessage,
    GenieStartConversationResponse,
)
from databricks.sdk.service.iam import User
from databricks.sdk.service.sql import ResultData

from ..errors import BackendError, BackendTimeoutError, RateLimitedError
from .genie_calls import (
    Call,
    CreateMessage,
    DescribeCaller,
    FetchLink,
    FetchResult,
    GetChunk,
    GetDownload,
    GetMessage,
    Polled,
    Sent,
    Sleep,
    StartConversation,
    StartDownload,
)
from .genie_client import link_refused
from .genie_connections import CONNECT_TIMEOUT_S, MAX_CONNECTIONS, connection
from .genie_errors import api_error, caller_named, rate_limit_delay, sdk_error, unreachable
from .genie_visualization import visualizations_of

if TYPE_CHECKING:
    from databricks.sdk.config import Config
    from databricks.sdk.errors import DatabricksError

    from ..identity import Identity

__all__ = ["UNREACHABLE_WITHIN_S", "AsyncGenieCall", "question_body", "request_headers"]

log = logging.getLogger("genie_agent.genie")

UNREACHABLE_WITHIN_S = 8.0
"""How long after a first failed connection the workspace is reported unreachable (retrying until then)."""


class AsyncGenieCall:
    """The calls of one question (:mod:`.genie_flow`) over HTTP, as ``config``'s credentials."""

    def __init__(
        self, config: Config, title: str, identity: Identity | None, space_id: str, deadline: float
    ) -> None:
        self.config = config
        self.title = title
        self.identity = identity
        self.space_id = space_id
        self.deadline = deadline
        self._host = str(config.host or "the workspace").rstrip("/")
        self._rate_limited = 0

    async def __call__(self, call: Call) -> Any:
        base = f"/api/2.0/genie/spaces/{self.space_id}"
        match call:
            case Sleep(seconds):
                await asyncio.sleep(seconds)
                return None
            case StartConversation(question, visualize):
                body = await self._request(
                    "POST",
                    f"{base}/start-conversation",
                    question_body(question, visualize),
                    sends_question=True,
                )
                started = GenieStartConversationResponse.from_dict(body)
                return Sent(started.conversation_id, started.message_id)
            case CreateMessage(conversation_id, question, visualize):
                path = f"{base}/conversations/{conversation_id}/messages"
                body = await self._request(
                    "POST", path, question_body(question, visualize), sends_question=True, missing_ok=True
                )
                return (
                    None if body is None else Sent(conversation_id, GenieMessage.from_dict(body).message_id)
                )
            case GetMessage(conversation_id, message_id):
                path = f"{base}/conversations/{conversation_id}/messages/{message_id}"
                body = await self._request("GET", path)
                return Polled(GenieMessage.from_dict(body), visualizations_of(body))
            case FetchResult(conversation_id, message_id, attachment_id, execute):
                path = (
                    f"{base}/conversations/{conversation_id}/messages/{message_id}/attachments/{attachment_id}"
                    + ("/execute-query" if execute else "/query-result")
                )
                body = await self._request("POST" if execute else "GET", path)
                return GenieGetMessageQueryResultResponse.from_dict(body).statement_response
            case StartDownload(conversation_id, message_id, attachment_id):
                path = f"{base}/conversations/{conversation_id}/messages/{message_id}/attachments/{attachment_id}/downloads"
                return GenieGenerateDownloadFullQueryResultResponse.from_dict(
                    await self._request("POST", path)
                )
            case GetDownload(conversation_id, message_id, attachment_id, download_id, signature):
                path = (
                    f"{base}/conversations/{conversation_id}/messages/{message_id}/attachments/{attachment_id}"
                    f"/downloads/{download_id}?{urlencode({'download_id_signature': signature})}"
                )
                body = await self._request("GET", path)
                return GenieGetDownloadFullQueryResultResponse.from_dict(body).statement_response
            case GetChunk(path):
                return ResultData.from_dict(await self._request("GET", path))
            case FetchLink(url, headers):
                return await self._fetch_link(url, dict(headers))
            case DescribeCaller():
                return await self.describe_caller()
        raise TypeError(f"not a Genie call: {call!r}")

    async def describe_caller(self) -> str:
        """Who the workspace sees: its user name when it says (one extra request), else who we act for."""
        name = None
        try:
            body = await self._request("GET", "/api/2.0/preview/scim/v2/Me", missing_ok=True)
            if body is not None:
                me = User.from_dict(body)
                name = me.user_name or me.display_name
        except Exception:  # only to name the caller in an error message
            pass
        return caller_named(name, self.identity, self._auth())

    async def _fetch_link(self, url: str, headers: dict[str, str]) -> bytes:
        """An external link's file: the link's own headers and no credentials (its URL is signed)."""
        try:
            async with connection(self.deadline) as client:
                response = await client.get(url, headers=headers, timeout=self._timeout())
        except TimeoutError:
            raise BackendTimeoutError(
                f"No connection came free in time to download the {self.title} space's full result.",
                "This process asks too many questions at once: ask again.",
            ) from None
        except httpx.TransportError as exc:
            raise BackendError(
                f"A chunk of the {self.title} space's full result could not be downloaded: {type(exc).__name__}.",
                "Check that this machine reaches the workspace's cloud storage, then ask again.",
                retryable=True,
            ) from None
        if response.status_code >= 400:
            raise link_refused(self.title, response.status_code)
        return response.content

    async def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        sends_question: bool = False,
        missing_ok: bool = False,
    ) -> Any:
        """The JSON of a successful response; None for a 404 or 403 when ``missing_ok``."""
        first_failure: float | None = None
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._send(method, path, body)
            except httpx.TransportError as exc:
                not_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
                if sends_question and not not_sent:
                    raise self._no_response(exc) from None
                first_failure = first_failure or time.monotonic()
                if not await self._retried_later(attempt, first_failure):
                    raise unreachable(self._host, exc) from None
                continue
            if response.status_code < 400:
                return response.json() if response.content else {}
            error = self._error(response)
            if isinstance(error, errors.TooManyRequests):
                retry_after = _retry_after(response)
                if sends_question:
                    raise RateLimitedError(
                        f"The workspace's Genie rate limit refused the question to the {self.title} space; "
                        "it was not asked.",
                        "Genie limits how many questions a workspace asks per minute: it can be sent again "
                        + (f"in {retry_after:g} s." if retry_after is not None else "in a moment."),
                        retry_after_s=retry_after,
                    )
                self._rate_limited += 1
                reason = "Genie is rate-limiting requests"
                delay = rate_limit_delay(self._rate_limited, self.deadline, reason, self.title, retry_after)
                log.warning("%s in the %s space; retrying in %.1f s.", reason, self.title, delay)
                await asyncio.sleep(delay)
                continue
            transient = response.status_code == 503 or (
                response.status_code in (502, 504) and not sends_question
            )
            if transient:
                first_failure = first_failure or time.monotonic()
                if await self._retried_later(attempt, first_failure, _retry_after(response)):
                    continue
            elif missing_ok and isinstance(error, (errors.NotFound, errors.PermissionDenied)):
                return None
            caller = await self.describe_caller() if isinstance(error, errors.PermissionDenied) else ""
            raise api_error(error, title=self.title, host=self._host, auth=self._auth(), caller=caller)

    async def _send(self, method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
        """One request, once a connection is free for it (before the question's deadline)."""
        try:
            async with connection(self.deadline) as client:
                url, headers = self._host + path, self._headers(body)
                return await client.request(method, url, json=body, headers=headers, timeout=self._timeout())
        except TimeoutError:
            raise BackendTimeoutError(
                f"No connection to {self._host} came free in time for the {self.title} space "
                f"({MAX_CONNECTIONS} requests were open).",
                "This process asks too many questions at once: ask again.",
            ) from None

    async def _retried_later(
        self, attempt: int, first_failure: float, retry_after: float | None = None
    ) -> bool:
        """Wait before retrying a request that failed in transit; False (no wait) once the workspace
        has failed for too long, or the question's time is up."""
        delay = retry_after if retry_after is not None else min(0.25 * 2 ** (attempt - 1), 2.0)
        now = time.monotonic()
        if now + delay - first_failure > UNREACHABLE_WITHIN_S or now + delay >= self.deadline:
            return False
        log.info("A request to %s failed; retrying in %.2f s.", self._host, delay)
        await asyncio.sleep(delay)
        return True

    def _headers(self, body: dict[str, Any] | None) -> dict[str, str]:
        return request_headers(self.config, body)

    def _timeout(self) -> httpx.Timeout:
        remaining = max(1.0, self.deadline - time.monotonic())
        read = min(float(self.config.http_timeout_seconds or 60), remaining)
        return httpx.Timeout(read, connect=min(CONNECT_TIMEOUT_S, remaining), pool=remaining)

    def _error(self, response: httpx.Response) -> DatabricksError:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            payload = {"message": response.text[:500] or response.reason_phrase}
        code = payload.get("error_code")
        message = str(payload.get("message") or payload.get("error") or payload.get("detail") or "")
        if response.status_code in (401, 403):  # as databricks-sdk's client words them
            message = self.config.wrap_debug_info(message or "request failed")
        return sdk_error(response.status_code, code if isinstance(code, str) else None, message)

    def _no_response(self, exc: BaseException) -> BackendError:
        return BackendError(
            f"The workspace at {self._host} did not answer the question to the {self.title} space "
            f"({type(exc).__name__}: {exc or 'no response'}).",
            "It may or may not have been asked; ask again, and check the workspace's status if it persists.",
            retryable=True,
        )

    def _auth(self) -> str:
        return str(self.config.auth_type or "no auth type")


def question_body(question: str, visualize: bool) -> dict[str, Any]:
    """The body of start-conversation and create-message: the question, and ``enable_visualization``
    (Beta) when Genie may draw a chart of the answer (:mod:`.genie_visualization`)."""
    return {"content": question, "enable_visualization": True} if visualize else {"content": question}


def request_headers(config: Config, body: dict[str, Any] | None) -> dict[str, str]:
    """The headers databricks-sdk's own service calls send, authenticated as ``config``."""
    headers = {"Accept": "application/json", "User-Agent": config.user_agent}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if config.host_type == HostType.UNIFIED and config.workspace_id:
        headers["X-Databricks-Org-Id"] = str(config.workspace_id)
    headers.update(config.authenticate())  # fresh per request: tokens expire and are refreshed
    return headers


def _retry_after(response: httpx.Response) -> float | None:
    """The ``Retry-After`` seconds, when the response gives them as a number."""
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
