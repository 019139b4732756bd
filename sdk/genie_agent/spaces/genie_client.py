"""The blocking transport of the Databricks Genie backend (databricks-sdk's ``WorkspaceClient.genie``),
the poll schedule both transports share (:class:`Pacer`), and Genie's column types.

databricks-sdk raises its own error classes and retries some requests itself (HTTP 429 and 503
after ``Retry-After``, connection errors) until its ``retry_timeout_seconds``, then raises
``TimeoutError`` from the last error. :class:`GenieCall` makes the calls of a question's steps
(:mod:`.genie_flow`), turns all of that into this package's errors (:mod:`.genie_errors`), each
saying what to do, and keeps retrying rate limits with backoff until the question's deadline.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import BackendError
from ..identity import Identity

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service.sql import ColumnInfo

    from .genie_calls import Call

__all__ = ["GenieCall", "Pacer", "column_type_name", "describe_caller", "link_refused"]

log = logging.getLogger("genie_agent.genie")
T = TypeVar("T")


class GenieCall:
    """The calls made for one question: a client, who it acts for, and the question's deadline."""

    def __init__(
        self,
        client: WorkspaceClient,
        title: str,
        identity: Identity | None,
        deadline: float,
        space_id: str = "",
    ) -> None:
        self.client = client
        self.title = title
        self.identity = identity
        self.deadline = deadline
        self.space_id = space_id
        self._rate_limited = 0

    def __call__(self, call: Call) -> Any:
        """Make one call of a question's steps (:mod:`.genie_flow`) and give its result."""
        from databricks.sdk.errors import NotFound, PermissionDenied
        from databricks.sdk.service.dashboards import GenieMessage, GenieStartConversationResponse

        from .genie_calls import (
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
        from .genie_visualization import visualizations_of

        genie, space_id = self.client.genie, self.space_id
        match call:
            case Sleep(seconds):
                time.sleep(seconds)
                return None
            case StartConversation(question, visualize):
                # databricks-sdk's start_conversation has no enable_visualization: its own request, raw
                path = f"/api/2.0/genie/spaces/{space_id}/start-conversation"
                body = self.run(lambda: self._do("POST", path, question, visualize))
                started = GenieStartConversationResponse.from_dict(body)
                return Sent(started.conversation_id, started.message_id)
            case CreateMessage(conversation_id, question, visualize):
                path = f"/api/2.0/genie/spaces/{space_id}/conversations/{conversation_id}/messages"
                try:
                    body = self.run(
                        lambda: self._do("POST", path, question, visualize), keep=(NotFound, PermissionDenied)
                    )
                except (NotFound, PermissionDenied):
                    return None
                return Sent(conversation_id, GenieMessage.from_dict(body).message_id)
            case GetMessage(conversation_id, message_id):
                # raw, for the visualization attachments databricks-sdk's GenieAttachment drops
                path = (
                    f"/api/2.0/genie/spaces/{space_id}/conversations/{conversation_id}/messages/{message_id}"
                )
                body = self.run(lambda: self._do("GET", path))
                return Polled(GenieMessage.from_dict(body), visualizations_of(body))
            case FetchResult(conversation_id, message_id, attachment_id, execute):
                ids = (space_id, conversation_id, message_id, attachment_id)
                fetch = (
                    genie.execute_message_attachment_query
                    if execute
                    else genie.get_message_attachment_query_result
                )
                return self.run(lambda: fetch(*ids)).statement_response
            case StartDownload(conversation_id, message_id, attachment_id):
                generate = self._download_method("generate_download_full_query_result")
                return self.run(lambda: generate(space_id, conversation_id, message_id, attachment_id))
            case GetDownload(conversation_id, message_id, attachment_id, download_id, signature):
                get = self._download_method("get_download_full_query_result")
                return self.run(
                    lambda: get(
                        space_id=space_id,
                        conversation_id=conversation_id,
                        message_id=message_id,
                        attachment_id=attachment_id,
                        download_id=download_id,
                        download_id_signature=signature,
                    )
                ).statement_response
            case GetChunk(path):
                from databricks.sdk.service.sql import ResultData

                body = self.run(lambda: self.client.api_client.do("GET", path, headers=self._headers()))
                return ResultData.from_dict(body if isinstance(body, dict) else {})
            case FetchLink(url, headers):
                return self._fetch_link(url, dict(headers))
            case DescribeCaller():
                return describe_caller(self)
        raise TypeError(f"not a Genie call: {call!r}")

    def _do(self, method: str, path: str, question: str | None = None, visualize: bool = False) -> Any:
        """A Genie request as databricks-sdk's ``GenieAPI`` sends it (its API client, its retries),
        the body a question's (:func:`~.genie_http.question_body`); its JSON, a dict. Raises the SDK's
        errors: call it within :meth:`run`."""
        from .genie_http import question_body

        headers = self._headers()
        body = None if question is None else question_body(question, visualize)
        if body is not None:
            headers["Content-Type"] = "application/json"
        answer = self.client.api_client.do(method, path, body=body, headers=headers)
        return answer if isinstance(answer, dict) else {}

    def _download_method(self, name: str) -> Callable[..., Any]:
        method = getattr(self.client.genie, name, None)
        if method is None:  # databricks-sdk before 0.83
            raise BackendError(
                f"This databricks-sdk has no GenieAPI.{name}: the full result of a large answer cannot be read.",
                "pip install 'databricks-sdk>=0.83' (genie-agent's databricks extra pins a version that has it).",
            )
        return method

    def _headers(self) -> dict[str, str]:
        """What databricks-sdk's own service calls send besides their auth (see ``GenieAPI``)."""
        from databricks.sdk.client_types import HostType

        headers = {"Accept": "application/json"}
        cfg = self.client.config
        if cfg.host_type == HostType.UNIFIED and cfg.workspace_id:
            headers["X-Databricks-Org-Id"] = str(cfg.workspace_id)
        return headers

    def _fetch_link(self, url: str, headers: dict[str, str]) -> bytes:
        """An external link's file, with the link's own headers and no credentials (its URL is signed)."""
        import requests

        timeout = max(1.0, self.deadline - time.monotonic())
        try:
            response = requests.get(url, headers=headers, timeout=(5.0, timeout))
        except requests.RequestException as exc:
            raise BackendError(
                f"A chunk of the {self.title} space's full result could not be downloaded: {type(exc).__name__}.",
                "Check that this machine reaches the workspace's cloud storage, then ask again.",
                retryable=True,
            ) from None
        if response.status_code >= 400:
            raise link_refused(self.title, response.status_code)
        return response.content

    def run(self, fn: Callable[[], T], *, keep: tuple[type[BaseException], ...] = ()) -> T:
        """``fn()``, with SDK errors raised as :class:`BackendError` (except those in ``keep``) and
        rate limits retried with backoff."""
        import requests
        from databricks.sdk import errors

        from .genie_errors import api_error, unreachable

        while True:
            try:
                return fn()
            except keep:
                raise
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
                    f"The {self.title} Genie space did not respond: {cause or exc}.",
                    "Check the workspace's status and ask again.",
                    retryable=True,
                ) from None
            except errors.DatabricksError as exc:
                caller = describe_caller(self) if isinstance(exc, errors.PermissionDenied) else ""
                raise api_error(
                    exc, title=self.title, host=self._host(), auth=self._auth(), caller=caller
                ) from None
            except requests.RequestException as exc:
                raise unreachable(self._host(), exc) from None

    def _back_off(self) -> None:
        from .genie_errors import rate_limit_delay

        self._rate_limited += 1
        reason = "Genie is rate-limiting requests"
        delay = rate_limit_delay(self._rate_limited, self.deadline, reason, self.title)
        log.warning(
            "%s in the %s space; retrying in %.1f s (retry %d).",
            reason,
            self.title,
            delay,
            self._rate_limited,
        )
        time.sleep(delay)

    def _auth(self) -> str:
        return str(getattr(self.client.config, "auth_type", None) or "no auth type")

    def _host(self) -> str:
        return str(getattr(self.client.config, "host", None) or "the workspace")


def link_refused(title: str, status: int) -> BackendError:
    """The error for an external link whose storage answered HTTP ``status``."""
    expired = status in (401, 403)
    return BackendError(
        f"The cloud storage holding the {title} space's full result refused a chunk of it (HTTP {status}"
        + (": the signed link expired or was not accepted)." if expired else ")."),
        "Ask again: a new download gives new links.",
        retryable=True,
    )


def describe_caller(call: GenieCall) -> str:
    """Who the workspace sees: its user name when it says (one extra request), else who we act for."""
    from .genie_errors import caller_named

    try:
        me = call.client.current_user.me()
        name = me.user_name or me.display_name
    except Exception:  # only to name the caller in an error message
        name = None
    return caller_named(name, call.identity, call._auth())


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
