"""The Statement Execution API over ``httpx.AsyncClient``: a statement waits on the event loop, not in a thread.

The same transport as the Genie backend's async path (:class:`~.genie_http.AsyncGenieCall`, which
this extends): the process's pooled connections per event loop (:mod:`.genie_connections`), auth
per request from the caller's own databricks-sdk ``Config`` (on-behalf-of credentials), refusals
built as databricks-sdk's error classes. Requests are databricks-sdk's ``StatementExecutionAPI``
ones: the same paths and bodies, answers typed by its dataclasses (``StatementResponse``,
``ResultData``).

Retries, all within the statement's deadline: HTTP 429 after ``Retry-After`` (else backoff), up to
:data:`~.warehouse_errors.MAX_RATE_LIMIT_RETRIES` times; a connection refused or reset, HTTP
502/503/504: short backoff for :data:`~.genie_http.UNREACHABLE_WITHIN_S` from the first failure,
then a :class:`BackendError` naming the host. A statement is read-only, so sending it again after
a failure in transit is safe.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import httpx
from databricks.sdk import errors
from databricks.sdk.service.sql import ResultData, StatementResponse

from ..errors import BackendError
from .genie_errors import unreachable
from .genie_http import AsyncGenieCall
from .warehouse_errors import rate_limit_delay, refused
from .warehouse_statement import (
    CancelStatement,
    DescribeCaller,
    Execute,
    GetChunk,
    GetStatement,
    Sleep,
    Statement,
    StatementCall,
)

if TYPE_CHECKING:
    from databricks.sdk.config import Config

    from ..identity import Identity

__all__ = ["STATEMENTS_PATH", "AsyncStatementCall"]

log = logging.getLogger("genie_agent.warehouse")

STATEMENTS_PATH = "/api/2.0/sql/statements"


class AsyncStatementCall(AsyncGenieCall):
    """The calls of one statement (:mod:`.warehouse_statement`) over HTTP, as ``config``'s credentials."""

    def __init__(self, config: Config, identity: Identity | None, statement: Statement) -> None:
        super().__init__(
            config, statement.title, identity, statement.target.warehouse_id, statement.requests_until
        )
        self.statement = statement

    async def __call__(self, call: StatementCall) -> Any:  # type: ignore[override]
        match call:
            case Execute():
                return StatementResponse.from_dict(await self._request("POST", STATEMENTS_PATH, call.body()))
            case GetStatement(statement_id):
                return StatementResponse.from_dict(
                    await self._request("GET", f"{STATEMENTS_PATH}/{statement_id}")
                )
            case GetChunk(statement_id, index):
                path = f"{STATEMENTS_PATH}/{statement_id}/result/chunks/{index}"
                return ResultData.from_dict(await self._request("GET", path))
            case CancelStatement(statement_id):
                try:
                    await self._request("POST", f"{STATEMENTS_PATH}/{statement_id}/cancel")
                except BackendError as exc:
                    log.warning("Could not cancel statement %s on the SQL warehouse: %s", statement_id, exc)
                return None
            case Sleep(seconds):
                await asyncio.sleep(seconds)
                return None
            case DescribeCaller():
                return await self.describe_caller()
        raise TypeError(f"not a statement call: {call!r}")

    async def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        sends_question: bool = False,
        missing_ok: bool = False,
    ) -> Any:
        """The JSON of a successful response; None for a 404 or 403 when ``missing_ok``. Refusals
        are the warehouse's errors (:func:`~.warehouse_errors.refused`)."""
        first_failure: float | None = None
        attempt = limited = 0
        while True:
            attempt += 1
            try:
                response = await self._send(method, path, body)
            except httpx.TransportError as exc:
                first_failure = first_failure or time.monotonic()
                if not await self._retried_later(attempt, first_failure):
                    raise unreachable(self._host, exc) from None
                continue
            if response.status_code < 400:
                return response.json() if response.content else {}
            error = self._error(response)
            retry_after = _retry_after(response)
            if isinstance(error, errors.TooManyRequests):
                limited += 1
                delay = rate_limit_delay(limited, self.deadline, self.title, retry_after)
                log.warning("The workspace is rate-limiting statements; retrying in %.1f s.", delay)
                await asyncio.sleep(delay)
                continue
            if response.status_code in (502, 503, 504):
                first_failure = first_failure or time.monotonic()
                if await self._retried_later(attempt, first_failure, retry_after):
                    continue
            elif missing_ok and isinstance(error, (errors.NotFound, errors.PermissionDenied)):
                return None
            caller = await self.describe_caller() if isinstance(error, errors.PermissionDenied) else ""
            raise refused(
                error,
                title=self.title,
                target=self.statement.target,
                host=self._host,
                auth=self._auth(),
                caller=caller,
            )


def _retry_after(response: httpx.Response) -> float | None:
    """The ``Retry-After`` seconds, when the response gives them as a number."""
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
