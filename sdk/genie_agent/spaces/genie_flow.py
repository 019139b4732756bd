"""One question's course through the Genie Conversation API, written once for both transports.

:meth:`GenieQuestion.steps` is a generator: it yields each call it needs (:data:`Call`) and is sent
the call's result, or raises. :func:`drive` runs it with blocking calls (databricks-sdk,
:class:`~.genie_client.GenieCall`), :func:`adrive` with awaited ones (:mod:`.genie_http`). So the
poll schedule (:class:`~.genie_client.Pacer`), the deadline, the retry of a rate-limited message,
re-executing an expired result, the errors and the answer are the same whichever transport asks.

The course: send the question (continuing ``conversation_id`` when it is the caller's, else in a
new conversation), poll the message until COMPLETED, FAILED, CANCELLED or QUERY_RESULT_EXPIRED,
then fetch the query attachment's result (re-executed when it expired) and type it. When that first
chunk of the result is not all of it and the space's row limit wants more rows, the rest comes from
a full-result download (:mod:`.genie_download`); if that fails, the answer keeps the first chunk,
``truncated``, and the reason is logged.

The calls (:mod:`.genie_calls`) are the driver's to make: an error a call raises is thrown into the
steps, which let it through except where they have somewhere to go on without it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any

from ..errors import BackendError, BackendTimeoutError
from .genie_answer import (
    TERMINAL,
    AskedSpace,
    MessageParts,
    first_chunk_only,
    first_chunk_rows,
    message_status,
    statement_error,
    statement_state,
)
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
from .genie_errors import (
    RATE_LIMIT_ERRORS,
    error_type,
    message_cancelled,
    message_failed,
    needs_caller,
    rate_limit_delay,
    timed_out,
)

if TYPE_CHECKING:
    from databricks.sdk.service.dashboards import GenieMessage
    from databricks.sdk.service.sql import StatementResponse

    from .base import SpaceAnswer
    from .genie_answer import ResultRows
    from .genie_client import Pacer

__all__ = [
    "Call",
    "CreateMessage",
    "DescribeCaller",
    "FetchLink",
    "FetchResult",
    "GenieQuestion",
    "GetChunk",
    "GetDownload",
    "GetMessage",
    "Polled",
    "Sent",
    "Sleep",
    "StartConversation",
    "StartDownload",
    "adrive",
    "drive",
]

log = logging.getLogger("genie_agent.genie")


Steps = Generator[Call, Any, "SpaceAnswer"]


class GenieQuestion:
    """One question to a space, from when it is sent until its answer. ``learn`` is told how long a
    message took to finish (the space's :class:`Pacer` history)."""

    def __init__(
        self,
        space: AskedSpace,
        question: str,
        conversation_id: str | None,
        *,
        pacer: Pacer,
        learn: Callable[[float], None],
        started: float | None = None,
    ) -> None:
        self.space = space
        self.question = question
        self.conversation_id = conversation_id
        self.pacer = pacer
        self.learn = learn
        self.started = time.monotonic() if started is None else started
        self.deadline = self.started + space.timeout_s

    def steps(self) -> Steps:
        conversation_id = self.conversation_id
        rate_limited = 0
        while True:
            sent = yield from self._send(conversation_id)
            polled = yield from self._wait(sent)
            message = polled.message
            if message_status(message) == "FAILED" and error_type(message) in RATE_LIMIT_ERRORS:
                rate_limited += 1
                reason = "Genie rate-limited the question"
                delay = rate_limit_delay(rate_limited, self.deadline, reason, self.space.title)
                log.warning(
                    "%s in the %s space; retrying in %.1f s (retry %d).",
                    reason,
                    self.space.title,
                    delay,
                    rate_limited,
                )
                yield Sleep(delay)
                conversation_id = sent.conversation_id
                continue
            return (yield from self._answer(polled))

    def _send(self, conversation_id: str | None) -> Generator[Call, Any, Sent]:
        visualize = self.space.visualize
        if conversation_id:
            sent = yield CreateMessage(conversation_id, self.question, visualize)
            if sent is not None:
                return sent
            # gone, or another user's: start a new one and reveal nothing
        sent = yield StartConversation(self.question, visualize)
        assert isinstance(sent, Sent)
        return sent

    def _wait(self, sent: Sent) -> Generator[Call, Any, Polled]:
        since = time.monotonic()
        status: str | None = "SUBMITTED"
        while True:
            now = time.monotonic()
            if now >= self.deadline:
                raise timed_out(self.space.title, self.space.timeout_s, status)
            yield Sleep(min(self.pacer.next_delay(now - since, status), self.deadline - now))
            polled = yield GetMessage(sent.conversation_id, sent.message_id)
            status = message_status(polled.message)
            if status in TERMINAL:
                break
        if status in ("COMPLETED", "QUERY_RESULT_EXPIRED"):
            self.learn(time.monotonic() - since)
        return polled

    def _answer(self, polled: Polled) -> Steps:
        """The space's answer to a finished message: its query's result, or its text when it has no query."""
        message = polled.message
        status = message_status(message)
        if status == "CANCELLED":
            raise message_cancelled(self.space.title)
        if status == "FAILED":
            caller = (yield DescribeCaller()) if needs_caller(message) else ""
            raise message_failed(self.space.title, message, caller)
        parts = MessageParts.of(message, polled.visualizations if self.space.visualize else ())
        if parts.query is None:
            return parts.no_answer(self.space, self.started)
        fetch_started = time.monotonic()
        statement = yield from self._result(message, parts, expired=status == "QUERY_RESULT_EXPIRED")
        assert parts.query is not None and parts.query.query is not None
        metadata = parts.query.query.query_result_metadata
        rows = first_chunk_rows(statement, metadata, self.space.row_limit)
        if rows is None:
            rows = yield from self._rest(message, parts, statement)
        return parts.query_answer(self.space, statement, rows, self.started, fetch_started)

    def _rest(
        self, message: GenieMessage, parts: MessageParts, statement: StatementResponse
    ) -> Generator[Call, Any, ResultRows]:
        """All of the result up to the row limit, from a full-result download; the first chunk alone
        (``truncated``) when the download fails."""
        from .genie_download import download_rows

        assert parts.query is not None and parts.query.attachment_id is not None
        ids = (message.conversation_id, message.message_id, parts.query.attachment_id)
        try:
            return (yield from download_rows(ids, self.space.title, self.space.row_limit, self.deadline))
        except BackendError as exc:
            log.warning(
                "The full result of the %s space's query could not be read (%s); the answer keeps the "
                "first chunk of it.",
                self.space.title,
                exc.message,
            )
            return first_chunk_only(statement)

    def _result(
        self, message: GenieMessage, parts: MessageParts, *, expired: bool
    ) -> Generator[Call, Any, StatementResponse]:
        """The attachment's query result; an expired one (QUERY_RESULT_EXPIRED, or a CLOSED statement)
        is re-executed once; a running one is waited for until the deadline."""
        assert parts.query is not None and parts.query.attachment_id is not None
        ids = (message.conversation_id, message.message_id, parts.query.attachment_id)
        title = self.space.title
        reexecuted = expired
        response = yield FetchResult(*ids, execute=expired)
        delay = 0.1
        while True:
            state = statement_state(response)
            if state == "SUCCEEDED" and response is not None:
                return response
            if state == "CLOSED" and not reexecuted:
                reexecuted = True
                response = yield FetchResult(*ids, execute=True)
                continue
            if state in ("FAILED", "CANCELED", "CLOSED"):
                raise BackendError(
                    f"The query of the {title} space ended {state}: "
                    f"{statement_error(response) or 'no reason given'}.",
                    "Ask again; Genie writes and runs the query anew.",
                    retryable=state != "FAILED",
                )
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise BackendTimeoutError(
                    f"The result of the {title} space's query was not ready in time (state: {state}).",
                    "Ask again, or raise GENIE_AGENT_GENIE_POLL_TIMEOUT_S.",
                )
            yield Sleep(min(delay, remaining))
            delay = min(delay * 1.6, 1.0)
            response = yield FetchResult(*ids, execute=False)


def drive(steps: Steps, call: Callable[[Call], Any]) -> SpaceAnswer:
    """Run a question's steps with a blocking ``call``."""
    try:
        step = next(steps)
        while True:
            try:
                result = call(step)
            except Exception as exc:
                step = steps.throw(exc)
            else:
                step = steps.send(result)
    except StopIteration as done:
        return done.value
    finally:
        steps.close()


async def adrive(steps: Steps, call: Callable[[Call], Awaitable[Any]]) -> SpaceAnswer:
    """Run a question's steps with an awaited ``call``: waiting holds no thread."""
    try:
        step = next(steps)
        while True:
            try:
                result = await call(step)
            except Exception as exc:
                step = steps.throw(exc)
            else:
                step = steps.send(result)
    except StopIteration as done:
        return done.value
    finally:
        steps.close()
