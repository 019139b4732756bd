"""The errors of the warehouse backend, each saying what to do, for both of its transports.

A request the Statement Execution API refused (an HTTP error: no access to the warehouse, no such
warehouse, bad credentials) is :func:`refused`; a statement the warehouse accepted and then failed
(``status.state`` FAILED: a table it cannot find, a privilege the caller lacks) is :func:`failed`;
the rest is the statement's time limit, a cancel that was not ours, and a result already closed.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from ..errors import BackendError, BackendTimeoutError

if TYPE_CHECKING:
    from databricks.sdk.errors import DatabricksError

    from .warehouse_sql import WarehouseTarget

__all__ = [
    "MAX_RATE_LIMIT_RETRIES",
    "cancelled",
    "closed",
    "failed",
    "needs_caller",
    "rate_limit_delay",
    "refused",
    "timed_out",
]

MAX_RATE_LIMIT_RETRIES = 4

_ERROR_CLASS = re.compile(r"\[([A-Z_]+)(?:\.[A-Z_]+)?\]")
_NO_ACCESS = frozenset({"INSUFFICIENT_PERMISSIONS", "PERMISSION_DENIED", "UNAUTHORIZED_ACCESS"})
_NOT_FOUND = frozenset({"TABLE_OR_VIEW_NOT_FOUND", "SCHEMA_NOT_FOUND", "CATALOG_NOT_FOUND"})
_TRANSIENT = frozenset(
    {
        "TEMPORARILY_UNAVAILABLE",
        "WORKSPACE_TEMPORARILY_UNAVAILABLE",
        "SERVICE_UNDER_MAINTENANCE",
        "INTERNAL_ERROR",
    }
)


def _error_class(message: str) -> str | None:
    """The Databricks error class a message starts with (``[TABLE_OR_VIEW_NOT_FOUND] ...``)."""
    match = _ERROR_CLASS.search(message)
    return match.group(1) if match else None


def needs_caller(message: str, error_code: str | None) -> bool:
    """Whether :func:`failed` names the caller (worth a request to learn who the workspace saw)."""
    return _error_class(message) in _NO_ACCESS or error_code == "PERMISSION_DENIED"


def failed(
    title: str, target: WarehouseTarget, message: str, error_code: str | None, caller: str
) -> BackendError:
    """A statement the warehouse failed, with the warehouse's own error text."""
    kind = _error_class(message)
    where = f"{target.catalog}.{target.schema}"
    if kind in _NO_ACCESS or error_code == "PERMISSION_DENIED":
        return BackendError(
            f"{caller} may not read the {title} space's tables in {where}: {message}",
            f"Ask the tables' owner to grant SELECT on them, and USE CATALOG {target.catalog} and USE "
            f"SCHEMA {where}, to that user.",
        )
    if kind in _NOT_FOUND:
        return BackendError(
            f"The SQL warehouse cannot find the {title} space's tables in {where}: {message}",
            "Set warehouse_catalog and warehouse_schema (GENIE_AGENT_WAREHOUSE_CATALOG, "
            "GENIE_AGENT_WAREHOUSE_SCHEMA) to the schema that holds the space's tables.",
        )
    transient = error_code in _TRANSIENT
    return BackendError(
        f"The SQL warehouse could not run the {title} space's query: {message or 'it gave no reason'}",
        "This is usually temporary: ask again."
        if transient
        else "Rephrase the question; if it persists, report the message above with the query.",
        retryable=transient,
    )


def refused(
    exc: DatabricksError, *, title: str, target: WarehouseTarget, host: str, auth: str, caller: str
) -> BackendError:
    """What a refused Statement Execution API request means for the user. ``caller`` names who the
    workspace saw (read only for a refusal of access)."""
    from databricks.sdk import errors

    warehouse = target.warehouse_id
    if isinstance(exc, errors.PermissionDenied):
        return BackendError(
            f"{caller} may not use the SQL warehouse {warehouse} for the {title} space: {exc}",
            "Ask the warehouse's owner for CAN USE on it, or set warehouse_id to a warehouse you may use.",
        )
    if isinstance(exc, errors.Unauthenticated):
        return BackendError(
            f"The workspace rejected the credentials ({auth}): {exc}",
            "Refresh the token (DATABRICKS_TOKEN), log in again (`databricks auth login`), or check "
            "DATABRICKS_CONFIG_PROFILE.",
        )
    if isinstance(exc, errors.NotFound):
        return BackendError(
            f"The SQL warehouse {warehouse} was not found on {host}: {exc}",
            "Check warehouse_id (GENIE_AGENT_WAREHOUSE_ID): the id in the warehouse's Connection details "
            "(SQL Warehouses, then the warehouse), on this workspace.",
        )
    if isinstance(exc, (errors.TemporarilyUnavailable, errors.InternalError, errors.DeadlineExceeded)):
        return BackendError(
            f"The SQL warehouse failed on the workspace side ({type(exc).__name__}): {exc}",
            "This is usually temporary: ask again in a moment.",
            retryable=True,
        )
    return BackendError(
        f"The Statement Execution API refused the {title} space's query on warehouse {warehouse}: {exc}",
        "Check warehouse_id, warehouse_catalog and warehouse_schema; if it persists, report the message above.",
    )


def rate_limit_delay(attempt: int, deadline: float, title: str, retry_after_s: float | None = None) -> float:
    """Seconds to wait before retry ``attempt`` of a request the workspace rate-limited: its
    ``Retry-After`` when it said, else 0.5 s doubling to 8 s. Raises once retries or time run out."""
    delay = retry_after_s if retry_after_s is not None else min(0.5 * 2 ** (attempt - 1), 8.0)
    if attempt > MAX_RATE_LIMIT_RETRIES or time.monotonic() + delay >= deadline:
        raise BackendError(
            f"The workspace is rate-limiting the Statement Execution API for the {title} space; retried "
            f"{attempt - 1} times with backoff, then gave up.",
            "Too many statements are being sent to the workspace: wait a moment and ask again.",
            retryable=True,
        )
    return delay


def timed_out(title: str, timeout_s: float, state: str | None) -> BackendTimeoutError:
    limit = f"{timeout_s:g}"
    if state == "PENDING":
        return BackendTimeoutError(
            f"The SQL warehouse did not start the {title} space's query within {limit} s (still PENDING: "
            "the warehouse is starting or busy); it was cancelled.",
            "A stopped warehouse takes a few minutes to start (a serverless one seconds): ask again shortly, "
            "or raise GENIE_AGENT_QUERY_TIMEOUT_S.",
        )
    return BackendTimeoutError(
        f"The {title} space's query ran longer than the {limit} s time limit on the SQL warehouse; it was "
        "cancelled.",
        "Ask a narrower question (fewer rows, a shorter period), or raise GENIE_AGENT_QUERY_TIMEOUT_S.",
    )


def cancelled(title: str) -> BackendError:
    return BackendError(
        f"The {title} space's query was cancelled on the SQL warehouse.",
        "Someone cancelled it, or the warehouse stopped while it ran; ask again.",
        retryable=True,
    )


def closed(title: str) -> BackendError:
    return BackendError(
        f"The {title} space's query result was closed on the SQL warehouse before it was read.",
        "Ask again.",
        retryable=True,
    )
