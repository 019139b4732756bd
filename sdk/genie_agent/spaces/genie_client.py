"""How the Databricks Genie backend talks to the API: error translation, backoff, result fetching, polling pace.

databricks-sdk raises its own error classes and retries some requests itself (HTTP 429 and 503
after ``Retry-After``, connection errors) until its ``retry_timeout_seconds``, then raises
``TimeoutError`` from the last error. :class:`GenieCall` turns all of that into this package's
errors, each saying what to do, and keeps retrying rate limits with backoff until the question's
deadline.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from ..errors import BackendError, BackendTimeoutError
from ..identity import Identity

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service.sql import ColumnInfo, StatementResponse

__all__ = ["GenieCall", "Pacer", "column_type_name", "describe_caller"]

log = logging.getLogger("genie_agent.genie")
T = TypeVar("T")

MAX_RATE_LIMIT_RETRIES = 4


class GenieCall:
    """The calls made for one question: a client, who it acts for, and the question's deadline."""

    def __init__(
        self, client: WorkspaceClient, title: str, identity: Identity | None, deadline: float
    ) -> None:
        self.client = client
        self.title = title
        self.identity = identity
        self.deadline = deadline
        self._rate_limited = 0

    def run(self, fn: Callable[[], T], *, keep: tuple[type[BaseException], ...] = ()) -> T:
        """``fn()``, with SDK errors raised as :class:`BackendError` (except those in ``keep``) and
        rate limits retried with backoff."""
        import requests
        from databricks.sdk import errors

        while True:
            try:
                return fn()
            except keep:
                raise
            except errors.TooManyRequests:
                self._rate_limited += 1
                self.back_off(self._rate_limited, "Genie is rate-limiting requests")
            except TimeoutError as exc:  # the SDK's own retries ran out
                cause = exc.__cause__
                if isinstance(cause, errors.TooManyRequests):
                    self._rate_limited += 1
                    self.back_off(self._rate_limited, "Genie is rate-limiting requests")
                    continue
                if isinstance(cause, requests.RequestException):
                    raise self._unreachable(cause) from None
                raise BackendError(
                    f"The {self.title} Genie space did not respond: {cause or exc}.",
                    "Check the workspace's status and ask again.",
                    retryable=True,
                ) from None
            except errors.PermissionDenied as exc:
                raise BackendError(
                    f"{describe_caller(self)} has no access to the {self.title} Genie space: {exc}",
                    "Ask the space owner for CAN RUN on the space (and CAN USE on its warehouse, SELECT on "
                    "its tables), or remove the space from genie_spaces.",
                ) from None
            except errors.Unauthenticated as exc:
                raise BackendError(
                    f"The workspace rejected the credentials ({self._auth()}): {exc}",
                    "Refresh the token (DATABRICKS_TOKEN), log in again (`databricks auth login`), or check "
                    "DATABRICKS_CONFIG_PROFILE.",
                ) from None
            except errors.NotFound as exc:
                raise BackendError(
                    f"The {self.title} Genie space was not found on {self._host()}: {exc}",
                    "Check its space_id in genie_spaces (the id in the space's URL) and the workspace host.",
                ) from None
            except (errors.TemporarilyUnavailable, errors.InternalError, errors.DeadlineExceeded) as exc:
                raise BackendError(
                    f"Genie failed on the workspace side ({type(exc).__name__}): {exc}",
                    "This is usually temporary: ask again in a moment.",
                    retryable=True,
                ) from None
            except errors.DatabricksError as exc:
                raise BackendError(
                    f"The Genie API refused the request for the {self.title} space: {exc}",
                    "Check the space configuration; if it persists, report the message above.",
                ) from None
            except requests.RequestException as exc:
                raise self._unreachable(exc) from None

    def back_off(self, attempt: int, reason: str) -> None:
        """Wait before retry ``attempt`` (0.5 s, doubling), or raise once retries or time run out."""
        delay = min(0.5 * 2 ** (attempt - 1), 8.0)
        if attempt > MAX_RATE_LIMIT_RETRIES or time.monotonic() + delay >= self.deadline:
            raise BackendError(
                f"{reason} in the {self.title} space; retried {attempt - 1} times with backoff, then gave up.",
                "Genie limits how many questions a workspace asks per minute: wait a minute and ask again.",
                retryable=True,
            )
        log.warning("%s in the %s space; retrying in %.1f s (retry %d).", reason, self.title, delay, attempt)
        time.sleep(delay)

    def statement(
        self, space_id: str, conversation_id: str, message_id: str, attachment_id: str, expired: bool
    ) -> StatementResponse:
        """The attachment's query result; an expired one (QUERY_RESULT_EXPIRED, or a CLOSED statement)
        is re-executed once; a running one is waited for until the deadline."""
        genie = self.client.genie
        ids = (space_id, conversation_id, message_id, attachment_id)

        def execute() -> StatementResponse | None:
            return self.run(lambda: genie.execute_message_attachment_query(*ids)).statement_response

        def fetch() -> StatementResponse | None:
            return self.run(lambda: genie.get_message_attachment_query_result(*ids)).statement_response

        reexecuted = expired
        response = execute() if expired else fetch()
        delay = 0.1
        while True:
            status = response.status if response is not None else None
            state = status.state.value if status is not None and status.state is not None else None
            if state == "SUCCEEDED" and response is not None:
                return response
            if state == "CLOSED" and not reexecuted:
                reexecuted = True
                response = execute()
                continue
            if state in ("FAILED", "CANCELED", "CLOSED"):
                error = status.error.message if status is not None and status.error is not None else None
                raise BackendError(
                    f"The query of the {self.title} space ended {state}: {error or 'no reason given'}.",
                    "Ask again; Genie writes and runs the query anew.",
                    retryable=state != "FAILED",
                )
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise BackendTimeoutError(
                    f"The result of the {self.title} space's query was not ready in time (state: {state}).",
                    "Ask again, or raise GENIE_AGENT_GENIE_POLL_TIMEOUT_S.",
                )
            time.sleep(min(delay, remaining))
            delay = min(delay * 1.6, 1.0)
            response = fetch()

    def _auth(self) -> str:
        return str(getattr(self.client.config, "auth_type", None) or "no auth type")

    def _host(self) -> str:
        return str(getattr(self.client.config, "host", None) or "the workspace")

    def _unreachable(self, exc: BaseException) -> BackendError:
        return BackendError(
            f"Cannot reach the Databricks workspace at {self._host()}: {exc}",
            "Check DATABRICKS_HOST (or the profile's host) and the network.",
            retryable=True,
        )


def describe_caller(call: GenieCall) -> str:
    """Who the workspace sees: its user name when it says (one extra request), else who we act for."""
    auth = call._auth()
    try:
        me = call.client.current_user.me()
        name = me.user_name or me.display_name
    except Exception:  # only to name the caller in an error message
        name = None
    if name:
        return f"Databricks user {name!r} (auth: {auth})"
    if call.identity is not None:
        return f"The credentials used for {call.identity.user!r} (auth: {auth})"
    return f"The configured Databricks credentials (auth: {auth})"


_TEXT_TYPES = {
    "BIGINT": "LONG",
    "LONG": "LONG",
    "INT": "INT",
    "INTEGER": "INT",
    "SMALLINT": "SHORT",
    "SHORT": "SHORT",
    "TINYINT": "BYTE",
    "BYTE": "BYTE",
    "DOUBLE": "DOUBLE",
    "FLOAT": "FLOAT",
    "REAL": "FLOAT",
    "DECIMAL": "DECIMAL",
    "NUMERIC": "DECIMAL",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",
    "TIMESTAMP_NTZ": "TIMESTAMP",
    "TIMESTAMP_LTZ": "TIMESTAMP",
    "BOOLEAN": "BOOLEAN",
    "ARRAY": "ARRAY",
    "MAP": "MAP",
    "STRUCT": "STRUCT",
}


def column_type_name(column: ColumnInfo) -> str:
    """The column's base type; from ``type_text`` when the SDK did not know the ``type_name`` (it
    turns enum values it does not know into None)."""
    if column.type_name is not None:
        return str(column.type_name.value)
    base = re.split(r"[(<\s]", (column.type_text or "").upper(), maxsplit=1)[0]
    return _TEXT_TYPES.get(base, "STRING")


class Pacer:
    """When to poll a Genie message next, trading how late an answer is seen against polls.

    Cold (no answer seen from this space yet): 0.1 s, growing by 60% a poll up to 2 s. Warm: recent
    answers took ``mean`` ± ``dev`` seconds, so polls go where the answer will land: every
    ``mean / 6`` seconds (0.1 to 0.5 s) from ``mean - 2 dev`` to ``mean + 2 dev`` (one check halfway there when
    that window is 4 s or more away, for an answer much faster than usual), then growing again up to
    2 s. Sleeping through the time no answer came before costs lateness only when an answer comes
    unusually early. While Genie executes the query the answer is near: polls are never more than
    0.5 s apart then. Targets (``bench/bench_genie_poll.py``): an answer seen at most 0.5 s late at
    p50, at most one poll a second.
    """

    FIRST_S, GROWTH, MAX_S, NEAR_S = 0.1, 1.6, 2.0, 0.5

    def __init__(self, expected: tuple[float, float] | None = None) -> None:
        self._interval = self.FIRST_S
        self._window: tuple[float, float] | None = None
        self._checked = True
        self._step = self.NEAR_S
        if expected is not None:
            mean, dev = expected
            dev = max(dev, 0.05 * mean, 0.05)
            self._window = (max(0.0, mean - 2 * dev), mean + 2 * dev)
            self._step = min(max(mean / 6, 0.1), self.NEAR_S)
            self._checked = self._window[0] < 4.0

    def next_delay(self, elapsed: float, status: str | None) -> float:
        """Seconds to sleep before the next poll, ``elapsed`` seconds after the question was sent."""
        near = status == "EXECUTING_QUERY"
        if self._window is not None:
            start, end = self._window
            if elapsed < start:
                target = start
                if not self._checked and elapsed < start / 2:
                    target = start / 2
                    self._checked = True
                delay = max(target - elapsed, 0.05)
                return min(delay, self.NEAR_S) if near else delay
            if elapsed < end:
                return self._step
            self._interval = max(self._interval, self._step)
        delay = self._interval
        self._interval = min(self._interval * self.GROWTH, self.MAX_S)
        return min(delay, self.NEAR_S) if near else delay
