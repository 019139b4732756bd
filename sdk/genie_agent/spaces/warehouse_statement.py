"""One SQL statement's course through the Statement Execution API, written once for both transports.

:meth:`Statement.steps` is a generator: it yields each call it needs (:data:`StatementCall`) and is
sent the call's result, or raises. :func:`drive` runs it with blocking calls (databricks-sdk's
``statement_execution``, :mod:`.warehouse_client`), :func:`adrive` with awaited ones over the Genie
backend's HTTP connections (:mod:`.warehouse_http`), so the poll schedule, the time limit, the
errors and the result's typing are the same whichever transport asks.

The course, as databricks-sdk's ``StatementExecutionAPI`` describes the API: execute the statement
(``POST /api/2.0/sql/statements``: ``disposition`` INLINE, ``format`` JSON_ARRAY, ``row_limit``, the
catalog and schema, ``wait_timeout`` of up to 10 s with ``on_wait_timeout`` CONTINUE), poll
``GET /api/2.0/sql/statements/{id}`` while it is PENDING or RUNNING, cancel it
(``POST .../{id}/cancel``) once its time limit is spent, and on SUCCEEDED read the first chunk and
any next ones (``GET .../{id}/result/chunks/{n}``) up to the row limit, typed from the manifest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .warehouse_errors import cancelled, closed, failed, needs_caller, timed_out
from .warehouse_sql import WarehouseTarget

if TYPE_CHECKING:
    from databricks.sdk.service.sql import ResultData, StatementResponse

    from .local.executor import QueryResult

__all__ = [
    "CANCEL_GRACE_S",
    "CancelStatement",
    "DescribeCaller",
    "Execute",
    "GetChunk",
    "GetStatement",
    "Sleep",
    "Statement",
    "StatementCall",
    "adrive",
    "drive",
]

log = logging.getLogger("genie_agent.warehouse")

MAX_WAIT_S = 10
"""The longest ``wait_timeout`` asked for: the API waits that long for a result before answering
with the statement id (it allows 5 to 50 s, or 0 for no wait); a request open longer holds one of
the process's pooled connections."""
FIRST_POLL_S, POLL_GROWTH, MAX_POLL_S = 0.2, 1.5, 2.0
CANCEL_GRACE_S = 5.0
"""Requests may run this long past a statement's time limit: the cancel sent when it is spent."""
RUNNING = frozenset({"PENDING", "RUNNING"})


@dataclass(frozen=True)
class Execute:
    """-> ``StatementResponse``: the statement executed, waiting up to ``wait_s`` for its result."""

    statement: str
    target: WarehouseTarget
    row_limit: int
    wait_s: int

    def body(self) -> dict[str, Any]:
        """The request body, as databricks-sdk's ``execute_statement`` writes it."""
        return {
            "statement": self.statement,
            "warehouse_id": self.target.warehouse_id,
            "catalog": self.target.catalog,
            "schema": self.target.schema,
            "disposition": "INLINE",
            "format": "JSON_ARRAY",
            "row_limit": self.row_limit,
            "wait_timeout": f"{self.wait_s}s",
            "on_wait_timeout": "CONTINUE",
        }


@dataclass(frozen=True)
class GetStatement:
    """-> ``StatementResponse``: the statement's status, and its manifest and first chunk once it succeeded."""

    statement_id: str


@dataclass(frozen=True)
class GetChunk:
    """-> ``ResultData``: one chunk of a succeeded statement's result."""

    statement_id: str
    chunk_index: int


@dataclass(frozen=True)
class CancelStatement:
    """-> None: cancel the statement (the API only says it received the request). Best effort: a
    transport logs a failed cancel and answers None."""

    statement_id: str


@dataclass(frozen=True)
class Sleep:
    """-> None."""

    seconds: float


@dataclass(frozen=True)
class DescribeCaller:
    """-> ``str``: who the workspace sees, for an error message."""


StatementCall = Execute | GetStatement | GetChunk | CancelStatement | Sleep | DescribeCaller
Steps = Generator[StatementCall, Any, "QueryResult"]


def _state(response: StatementResponse | None) -> str | None:
    status = response.status if response is not None else None
    return status.state.value if status is not None and status.state is not None else None


class Statement:
    """One statement on the warehouse, from when it is sent until its result is read.

    ``statement_id`` is set once the warehouse accepted it, and ``finished`` once it ended, so a
    driver that is itself cancelled can cancel the statement too.
    """

    def __init__(
        self, title: str, sql: str, target: WarehouseTarget, row_limit: int, timeout_s: float
    ) -> None:
        self.title, self.sql, self.target = title, sql, target
        self.row_limit, self.timeout_s = row_limit, timeout_s
        self.deadline = time.monotonic() + timeout_s
        self.requests_until = self.deadline + CANCEL_GRACE_S
        """The deadline of the statement's HTTP requests (its cancel included)."""
        self.statement_id: str | None = None
        self.finished = False

    def steps(self) -> Steps:
        started = time.perf_counter()
        remaining = self.deadline - time.monotonic()
        wait = min(MAX_WAIT_S, int(remaining)) if remaining >= 5 else 0
        response: StatementResponse = yield Execute(self.sql, self.target, self.row_limit, wait)
        self.statement_id = statement_id = response.statement_id or ""
        delay = FIRST_POLL_S
        while (state := _state(response)) in RUNNING or state is None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                yield CancelStatement(statement_id)
                self.finished = True
                raise timed_out(self.title, self.timeout_s, state)
            yield Sleep(min(delay, remaining))
            delay = min(delay * POLL_GROWTH, MAX_POLL_S)
            response = yield GetStatement(statement_id)
        self.finished = True
        if state == "SUCCEEDED":
            result = yield from self._result(response)
            result_ms = (time.perf_counter() - started) * 1000
            return _typed(response, result, self.row_limit, result_ms)
        status = response.status
        error = status.error if status is not None else None
        if state == "FAILED":
            message = (error.message if error is not None else None) or ""
            code = error.error_code.value if error is not None and error.error_code is not None else None
            caller = (yield DescribeCaller()) if needs_caller(message, code) else ""
            raise failed(self.title, self.target, message, code, caller)
        if state == "CANCELED":
            raise cancelled(self.title)
        raise closed(self.title)

    def _result(self, response: StatementResponse) -> Generator[StatementCall, Any, list[list[str]]]:
        """Every row of the result up to one past the row limit: the first chunk, then the next ones
        (a null is None, whatever databricks-sdk's type says)."""
        first = response.result
        data: list[list[str]] = list(first.data_array or []) if first is not None else []
        following = first.next_chunk_index if first is not None else None
        while following is not None and len(data) <= self.row_limit:
            chunk: ResultData = yield GetChunk(self.statement_id or "", following)
            data += chunk.data_array or []
            following = chunk.next_chunk_index
        return data


def _typed(
    response: StatementResponse, data: list[list[str]], row_limit: int, elapsed_ms: float
) -> QueryResult:
    """The result typed from its manifest, as the Genie backend types a Genie query's result."""
    from .genie_client import column_type_name
    from .local.executor import QueryResult
    from .statement import typed_rows

    manifest = response.manifest
    columns = (manifest.schema.columns or []) if manifest is not None and manifest.schema else []
    type_names = [column_type_name(c) for c in columns]
    rows = typed_rows(data[:row_limit], type_names)
    total = manifest.total_row_count if manifest is not None and manifest.total_row_count is not None else 0
    truncated = bool(
        (manifest is not None and manifest.truncated) or len(data) > row_limit or total > len(rows)
    )
    return QueryResult(
        columns=tuple(c.name or f"column_{i}" for i, c in enumerate(columns)),
        column_types=tuple(c.type_text or n for c, n in zip(columns, type_names, strict=True)),
        rows=rows,
        row_count=len(rows),
        truncated=truncated,
        elapsed_ms=elapsed_ms,
    )


def drive(statement: Statement, call: Callable[[StatementCall], Any]) -> QueryResult:
    """Run a statement's steps with a blocking ``call``."""
    steps = statement.steps()
    try:
        result: Any = None
        while True:
            try:
                step = steps.send(result)
            except StopIteration as done:
                return done.value
            result = call(step)
    finally:
        steps.close()


_cancels: set[asyncio.Task[None]] = set()


async def adrive(statement: Statement, call: Callable[[StatementCall], Awaitable[Any]]) -> QueryResult:
    """Run a statement's steps with an awaited ``call``: waiting holds no thread. When the caller
    gives up on it (this coroutine is cancelled), the statement is cancelled on the warehouse once
    its id is known: not while the execute request itself waits (up to :data:`MAX_WAIT_S`)."""
    steps = statement.steps()
    try:
        result: Any = None
        while True:
            try:
                step = steps.send(result)
            except StopIteration as done:
                return done.value
            result = await call(step)
    except asyncio.CancelledError:
        if statement.statement_id and not statement.finished:
            task = asyncio.get_running_loop().create_task(_cancel(call, statement.statement_id))
            _cancels.add(task)
            task.add_done_callback(_cancels.discard)
        raise
    finally:
        steps.close()


async def _cancel(call: Callable[[StatementCall], Awaitable[Any]], statement_id: str) -> None:
    with contextlib.suppress(Exception):
        await call(CancelStatement(statement_id))
        log.info("Cancelled statement %s on the SQL warehouse: its caller gave up on it.", statement_id)
