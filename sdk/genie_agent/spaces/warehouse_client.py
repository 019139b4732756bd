"""The blocking transport of the warehouse backend: databricks-sdk's ``WorkspaceClient.statement_execution``.

databricks-sdk raises its own error classes and retries some requests itself (HTTP 429 and 503
after ``Retry-After``, connection errors) until its ``retry_timeout_seconds``, then raises
``TimeoutError`` from the last error. :class:`StatementCall` makes the calls of a statement's steps
(:mod:`.warehouse_statement`), turns all of that into this package's errors
(:mod:`.warehouse_errors`), and keeps retrying rate limits with backoff until the statement's deadline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import BackendError
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
    from databricks.sdk import WorkspaceClient

    from ..identity import Identity

__all__ = ["BlockingStatementCall"]

log = logging.getLogger("genie_agent.warehouse")
T = TypeVar("T")


class BlockingStatementCall:
    """The calls of one statement over databricks-sdk, as ``client``'s credentials."""

    def __init__(self, client: WorkspaceClient, identity: Identity | None, statement: Statement) -> None:
        self.client = client
        self.identity = identity
        self.statement = statement
        self._rate_limited = 0

    def __call__(self, call: StatementCall) -> Any:
        from databricks.sdk.service.sql import Disposition, ExecuteStatementRequestOnWaitTimeout, Format

        api = self.client.statement_execution
        match call:
            case Execute(sql, target, row_limit, wait_s):
                return self.run(
                    lambda: api.execute_statement(
                        sql,
                        target.warehouse_id,
                        catalog=target.catalog,
                        schema=target.schema,
                        disposition=Disposition.INLINE,
                        format=Format.JSON_ARRAY,
                        row_limit=row_limit,
                        wait_timeout=f"{wait_s}s",
                        on_wait_timeout=ExecuteStatementRequestOnWaitTimeout.CONTINUE,
                    )
                )
            case GetStatement(statement_id):
                return self.run(lambda: api.get_statement(statement_id))
            case GetChunk(statement_id, index):
                return self.run(lambda: api.get_statement_result_chunk_n(statement_id, index))
            case CancelStatement(statement_id):
                try:
                    self.run(lambda: api.cancel_execution(statement_id))
                except BackendError as exc:
                    log.warning("Could not cancel statement %s on the SQL warehouse: %s", statement_id, exc)
                return None
            case Sleep(seconds):
                time.sleep(seconds)
                return None
            case DescribeCaller():
                return self.describe_caller()
        raise TypeError(f"not a statement call: {call!r}")

    def run(self, fn: Callable[[], T]) -> T:
        """``fn()``, with SDK errors raised as :class:`BackendError` and rate limits retried with backoff."""
        import requests
        from databricks.sdk import errors

        from .genie_errors import unreachable
        from .warehouse_errors import refused

        while True:
            try:
                return fn()
            except errors.TooManyRequests:
                self._back_off()
            except TimeoutError as exc:  # the SDK's own retries ran out
                cause = exc.__cause__
                if isinstance(cause, errors.TooManyRequests):
                    self._back_off()
                    continue
                if isinstance(cause, requests.RequestException):
                    raise unreachable(self._host(), cause) from None
                raise BackendError(
                    f"The SQL warehouse did not respond for the {self.statement.title} space: {cause or exc}.",
                    "Check the workspace's status and ask again.",
                    retryable=True,
                ) from None
            except errors.DatabricksError as exc:
                caller = self.describe_caller() if isinstance(exc, errors.PermissionDenied) else ""
                s = self.statement
                raise refused(
                    exc, title=s.title, target=s.target, host=self._host(), auth=self._auth(), caller=caller
                ) from None
            except requests.RequestException as exc:
                raise unreachable(self._host(), exc) from None

    def describe_caller(self) -> str:
        """Who the workspace sees: its user name when it says (one extra request), else who we act for."""
        from .genie_errors import caller_named

        try:
            me = self.client.current_user.me()
            name = me.user_name or me.display_name
        except Exception:  # only to name the caller in an error message
            name = None
        return caller_named(name, self.identity, self._auth())

    def _back_off(self) -> None:
        from .warehouse_errors import rate_limit_delay

        self._rate_limited += 1
        delay = rate_limit_delay(self._rate_limited, self.statement.requests_until, self.statement.title)
        log.warning("The workspace is rate-limiting statements; retrying in %.1f s.", delay)
        time.sleep(delay)

    def _auth(self) -> str:
        return str(getattr(self.client.config, "auth_type", None) or "no auth type")

    def _host(self) -> str:
        return str(getattr(self.client.config, "host", None) or "the workspace")
