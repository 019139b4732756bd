"""The errors of the Databricks Genie backend, each saying what to do, for both of its transports.

The synchronous path gets databricks-sdk's error classes from the SDK; the asynchronous one
(:mod:`.genie_http`) builds the same classes from a response's status and ``error_code`` with
:func:`sdk_error`. :func:`api_error` turns either into this package's errors, so both paths say
the same thing for the same failure. The rest is what Genie itself reports about a message
(FAILED, CANCELLED, no answer in time) and the network (:func:`unreachable`).
"""

from __future__ import annotations

import socket
import ssl
import time
from typing import TYPE_CHECKING

from ..errors import BackendError, BackendTimeoutError

if TYPE_CHECKING:
    from databricks.sdk.errors import DatabricksError
    from databricks.sdk.service.dashboards import GenieMessage

    from ..identity import Identity

__all__ = [
    "MAX_RATE_LIMIT_RETRIES",
    "RATE_LIMIT_ERRORS",
    "api_error",
    "message_cancelled",
    "message_failed",
    "rate_limit_delay",
    "sdk_error",
    "timed_out",
    "unreachable",
]

MAX_RATE_LIMIT_RETRIES = 4

# Genie's message error types (``GenieMessage.error.type``).
RATE_LIMIT_ERRORS = frozenset(
    {"RATE_LIMIT_EXCEEDED_GENERIC_EXCEPTION", "RATE_LIMIT_EXCEEDED_SPECIFIED_WAIT_EXCEPTION"}
)
WAREHOUSE_ERRORS = frozenset({"WAREHOUSE_ACCESS_MISSING_EXCEPTION", "WAREHOUSE_NOT_FOUND_EXCEPTION"})
RETRYABLE_ERRORS = frozenset(
    {
        "RETRYABLE_PROCESSING_EXCEPTION",
        "REPLY_PROCESS_TIMEOUT_EXCEPTION",
        "CHAT_COMPLETION_CLIENT_TIMEOUT_EXCEPTION",
        "CHAT_COMPLETION_NETWORK_EXCEPTION",
        "GENERIC_CHAT_COMPLETION_SERVICE_EXCEPTION",
        "DESCRIBE_QUERY_TIMEOUT",
    }
)


def sdk_error(status: int, error_code: str | None, message: str) -> DatabricksError:
    """The databricks-sdk error its own client raises for this response: by ``error_code`` first,
    then by HTTP status (``databricks.sdk.errors.mapper``)."""
    from databricks.sdk.errors import DatabricksError, platform

    cls = platform.ERROR_CODE_MAPPING.get(error_code or "") or platform.STATUS_CODE_MAPPING.get(status)
    return (cls or DatabricksError)(message, error_code=error_code)


def api_error(exc: DatabricksError, *, title: str, host: str, auth: str, caller: str) -> BackendError:
    """What a refused Genie API request means for the user. ``caller`` names who the workspace saw
    (read only for a refusal of access)."""
    from databricks.sdk import errors

    if isinstance(exc, errors.PermissionDenied):
        return BackendError(
            f"{caller} has no access to the {title} Genie space: {exc}",
            "Ask the space owner for CAN RUN on the space (and CAN USE on its warehouse, SELECT on "
            "its tables), or remove the space from genie_spaces.",
        )
    if isinstance(exc, errors.Unauthenticated):
        return BackendError(
            f"The workspace rejected the credentials ({auth}): {exc}",
            "Refresh the token (DATABRICKS_TOKEN), log in again (`databricks auth login`), or check "
            "DATABRICKS_CONFIG_PROFILE.",
        )
    if isinstance(exc, errors.NotFound):
        return BackendError(
            f"The {title} Genie space was not found on {host}: {exc}",
            "Check its space_id in genie_spaces (the id in the space's URL) and the workspace host.",
        )
    if isinstance(exc, (errors.TemporarilyUnavailable, errors.InternalError, errors.DeadlineExceeded)):
        return BackendError(
            f"Genie failed on the workspace side ({type(exc).__name__}): {exc}",
            "This is usually temporary: ask again in a moment.",
            retryable=True,
        )
    return BackendError(
        f"The Genie API refused the request for the {title} space: {exc}",
        "Check the space configuration; if it persists, report the message above.",
    )


def unreachable(host: str, exc: BaseException) -> BackendError:
    """Nothing answered at the workspace's address (refused, no such host, no route, timed out)."""
    return BackendError(
        f"Cannot reach the Databricks workspace at {host}: {_network_reason(exc)}.",
        "Check the workspace host (DATABRICKS_HOST or the profile's host), that this machine's network "
        "reaches it, and that the workspace is up; then ask again.",
        retryable=True,
    )


def _network_reason(exc: BaseException) -> str:
    """The root cause of a failed connection in a few words, not a urllib3 or httpcore repr."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    last = exc
    while todo:
        err = todo.pop(0)
        if id(err) in seen:
            continue
        seen.add(id(err))
        last = err
        if isinstance(err, ConnectionRefusedError):
            return "the connection was refused (nothing listens there, or the workspace is down)"
        if isinstance(err, socket.gaierror):
            return "its host name does not resolve"
        if isinstance(err, ssl.SSLError):
            return f"the TLS handshake failed ({err.reason or err})"
        if isinstance(err, TimeoutError) or "timed out" in str(err).lower():
            return "connecting timed out"
        # requests -> urllib3's MaxRetryError(.reason) -> NewConnectionError; httpx -> httpcore -> OSError
        nested = [getattr(err, "reason", None), err.__cause__, err.__context__, *err.args]
        todo.extend(e for e in nested if isinstance(e, BaseException))
    return str(last) or type(last).__name__


def rate_limit_delay(
    attempt: int, deadline: float, reason: str, title: str, retry_after_s: float | None = None
) -> float:
    """Seconds to wait before retry ``attempt`` of a rate-limited request: the workspace's
    ``Retry-After`` when it said, else 0.5 s doubling to 8 s. Raises once retries or time run out."""
    delay = retry_after_s if retry_after_s is not None else min(0.5 * 2 ** (attempt - 1), 8.0)
    if attempt > MAX_RATE_LIMIT_RETRIES or time.monotonic() + delay >= deadline:
        raise BackendError(
            f"{reason} in the {title} space; retried {attempt - 1} times with backoff, then gave up.",
            "Genie limits how many questions a workspace asks per minute: wait a minute and ask again.",
            retryable=True,
        )
    return delay


def message_failed(title: str, message: GenieMessage, caller: str) -> BackendError:
    """A FAILED message, with Genie's own error text. ``caller`` is read for a warehouse error only."""
    error = message.error
    text = (error.error if error is not None else None) or "Genie gave no reason."
    kind = error_type(message)
    if kind in WAREHOUSE_ERRORS:
        return BackendError(
            f"The {title} Genie space cannot run its SQL warehouse: {text}",
            f"The warehouse is stopped, deleted or not shared: ask the space owner to start it and to grant "
            f"CAN USE on it to {caller}.",
        )
    return BackendError(
        f"Genie could not answer in the {title} space: {text}",
        "Rephrase the question, or ask the space owner to check its instructions and tables."
        if kind not in RETRYABLE_ERRORS
        else "This is usually temporary: ask again.",
        retryable=kind in RETRYABLE_ERRORS,
    )


def needs_caller(message: GenieMessage) -> bool:
    """Whether :func:`message_failed` names the caller (worth a request to the workspace to learn it)."""
    return error_type(message) in WAREHOUSE_ERRORS


def error_type(message: GenieMessage) -> str | None:
    error = message.error
    return error.type.value if error is not None and error.type is not None else None


def caller_named(user_name: str | None, identity: Identity | None, auth: str) -> str:
    """Who the workspace sees: the user name it gave (``scim/v2/Me``), else who we act for."""
    if user_name:
        return f"Databricks user {user_name!r} (auth: {auth})"
    if identity is not None:
        return f"The credentials used for {identity.user!r} (auth: {auth})"
    return f"The configured Databricks credentials (auth: {auth})"


def message_cancelled(title: str) -> BackendError:
    return BackendError(
        f"The question to the {title} Genie space was cancelled in Genie.",
        "Someone cancelled it (or the space changed while it ran); ask again.",
        retryable=True,
    )


def timed_out(title: str, timeout_s: float, status: str | None) -> BackendTimeoutError:
    limit = f"{timeout_s:g}"
    if status == "PENDING_WAREHOUSE":
        return BackendTimeoutError(
            f"The {title} Genie space did not answer within {limit} s: its SQL warehouse is still starting.",
            "A stopped warehouse takes a few minutes to start: ask again shortly, or keep it running "
            "(a serverless warehouse starts in seconds).",
        )
    return BackendTimeoutError(
        f"The {title} Genie space did not answer within {limit} s (last status: {status or 'unknown'}).",
        "Genie may still be working on it: ask again later, or raise GENIE_AGENT_GENIE_POLL_TIMEOUT_S.",
    )
