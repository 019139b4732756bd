"""The Statement Execution API of a SQL warehouse, answered over local DuckDB files: what the warehouse
backend (:mod:`genie_agent.spaces.warehouse`) calls, so it runs here end to end.

Paths, bodies and JSON are databricks-sdk's ``StatementExecutionAPI``: execute
(``POST /api/2.0/sql/statements``), get (``GET .../{statement_id}``), get a result chunk
(``GET .../{statement_id}/result/chunks/{chunk_index}``) and cancel (``POST .../{statement_id}/cancel``).
A statement is PENDING (for the service's ``latency_s``, as while a warehouse starts), then RUNNING
on DuckDB in a small thread pool, then SUCCEEDED, FAILED (with the warehouse's error class and
text), or CANCELED. ``wait_timeout`` (``0s``, or 5 to 50 s) and ``on_wait_timeout`` (CONTINUE or
CANCEL) behave as documented; ``row_limit`` cuts the result and sets ``truncated``. Results are
INLINE JSON_ARRAY, split into chunks of ``chunk_rows`` rows (a warehouse splits by size), every
value a string as :mod:`genie_agent.spaces.statement` renders it. A statement belongs to the user who
ran it (another user's is not found). ``samples.tpch.orders`` and the like are resolved by
:mod:`.statement_sql` to the DuckDB file that holds the schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..identity import Identity
from ..spaces.statement import ColumnType, column_type_of, render_rows
from .errors import ApiError
from .statement_sql import StatementFailure, TranslatedStatement, to_duckdb

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "STATEMENTS_PATH",
    "StatementRecord",
    "StatementService",
    "local_schemas",
    "space_grants",
]

STATEMENTS_PATH = "/api/2.0/sql/statements"
_WAIT = re.compile(r"(\d+)s")
_DISPOSITIONS, _FORMATS = ("INLINE", "EXTERNAL_LINKS"), ("JSON_ARRAY", "ARROW_STREAM", "CSV")


@dataclass
class StatementRecord:
    """One statement the service holds: who ran it, what it ran, where it is, and its result."""

    statement_id: str
    user: str
    statement: str
    state: str = "PENDING"
    duckdb_sql: str | None = None
    error: tuple[str, str] | None = None
    columns: list[tuple[str, ColumnType]] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    truncated: bool = False
    cancel_requested: bool = False
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    cursor: duckdb.DuckDBPyConnection | None = field(default=None, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in ("SUCCEEDED", "FAILED", "CANCELED", "CLOSED")


def space_grants(spaces: Callable[[], Mapping[str, Any]]) -> Callable[[Identity, str], bool]:
    """Who may SELECT a table: a user limited to some spaces reads the tables of those spaces (a
    space's ``definition.physical_tables``, of the spaces ``spaces()`` gives now); any other user,
    and any table no space has, is readable."""

    def may_read(who: Identity, table: str) -> bool:
        if who.spaces is None:
            return True
        name = table.rsplit(".", 1)[-1]
        owners = [
            space_id
            for space_id, space in spaces().items()
            if name in {t.lower() for t in getattr(getattr(space, "definition", None), "physical_tables", ())}
        ]
        return not owners or any(who.may_use(s) for s in owners)

    return may_read


def local_schemas(spaces: Iterable[Any], catalog: str = "samples") -> dict[str, Path]:
    """``catalog.<database>`` -> the DuckDB file, for each local space's database (``samples.tpch``)."""
    return {
        f"{catalog}.{space.definition.database}": space.database_file
        for space in spaces
        if getattr(space, "database_file", None) is not None
    }


class StatementService:
    """Statements on the emulated warehouse(s) ``warehouse_ids`` (read at each request: it may grow),
    over the DuckDB files of ``schemas`` (``catalog.schema`` -> file). ``may_read(identity,
    "catalog.schema.table")`` says who may read what."""

    def __init__(
        self,
        authenticate: Callable[[str | None], Identity],
        schemas: Mapping[str, Path],
        *,
        warehouse_ids: Collection[str],
        may_read: Callable[[Identity, str], bool] | None = None,
        chunk_rows: int = 4096,
        max_statements: int = 10_000,
        workers: int = 4,
    ) -> None:
        if chunk_rows < 1 or max_statements < 1 or workers < 1:
            raise ValueError("chunk_rows, max_statements and workers must be at least 1")
        self.authenticate = authenticate
        """The caller named by an ``Authorization`` value; raises ApiError 401."""
        self.warehouse_ids = warehouse_ids
        self.may_read = may_read or (lambda who, table: True)
        self.chunk_rows, self.max_statements = chunk_rows, max_statements
        self.latency_s = 0.0
        """Seconds a statement stays PENDING before it runs (a starting warehouse; tests of time limits)."""
        self._paths = {k.lower(): Path(v) for k, v in schemas.items()}
        self._schemas: dict[str, tuple[Path, frozenset[str]]] | None = None
        self._connections: dict[Path, duckdb.DuckDBPyConnection] = {}
        self._records: OrderedDict[str, StatementRecord] = OrderedDict()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="genie-server-warehouse")

    # --- the API ---------------------------------------------------------------------------------

    async def execute(self, who: Identity, body: Any) -> dict[str, Any]:
        """Execute a statement; its JSON once it ended or ``wait_timeout`` passed."""
        request = _ExecuteRequest.of(body)
        if request.warehouse_id not in self.warehouse_ids:
            raise ApiError(
                404, "RESOURCE_DOES_NOT_EXIST", f"Warehouse {request.warehouse_id} does not exist."
            )
        record = self._add(StatementRecord(str(uuid.uuid4()), who.user, request.statement))
        try:
            translated = to_duckdb(
                request.statement,
                catalog=request.catalog,
                schema=request.schema,
                schemas=self._known_schemas(),
                may_read=lambda table: self.may_read(who, table),
            )
        except StatementFailure as failure:
            record.error, record.state = (failure.error_code, failure.message), "FAILED"
            return self.statement_json(record)
        record.duckdb_sql = translated.sql
        record.task = asyncio.get_running_loop().create_task(self._run(record, translated, request.row_limit))
        if request.wait_s > 0:
            try:
                await asyncio.wait_for(asyncio.shield(record.task), request.wait_s)
            except TimeoutError:
                if request.on_wait_timeout == "CANCEL":
                    await self._cancel(record)
        return self.statement_json(record)

    def get(self, who: Identity, statement_id: str) -> dict[str, Any]:
        return self.statement_json(self._record(who, statement_id))

    def chunk(self, who: Identity, statement_id: str, index: int) -> dict[str, Any]:
        record = self._record(who, statement_id)
        if record.state != "SUCCEEDED":
            raise ApiError(
                400, "INVALID_PARAMETER_VALUE", f"Statement {statement_id} has no result ({record.state})."
            )
        if not 0 <= index < self._chunk_count(record):
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Statement {statement_id} has no chunk {index}.")
        return self._chunk_json(record, index)

    async def cancel(self, who: Identity, statement_id: str) -> None:
        await self._cancel(self._record(who, statement_id))

    def holds(self, statement_id: str) -> bool:
        """Whether the statement is one of this service's (whoever ran it)."""
        with self._lock:
            return statement_id in self._records

    # --- for tests and benchmarks ----------------------------------------------------------------

    def records(self) -> list[StatementRecord]:
        """Every statement held, oldest first."""
        with self._lock:
            return list(self._records.values())

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        for connection in self._connections.values():
            with contextlib.suppress(Exception):
                connection.close()

    # --- running a statement ---------------------------------------------------------------------

    async def _run(
        self, record: StatementRecord, translated: TranslatedStatement, row_limit: int | None
    ) -> None:
        try:
            if self.latency_s > 0:
                await asyncio.sleep(self.latency_s)
        except asyncio.CancelledError:
            record.state = "CANCELED"
            return
        with record.lock:
            if record.cancel_requested:
                record.state = "CANCELED"
                return
            record.state = "RUNNING"
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._pool, self._query, record, translated, row_limit)

    def _query(self, record: StatementRecord, translated: TranslatedStatement, row_limit: int | None) -> None:
        import duckdb

        try:
            with record.lock:
                if record.cancel_requested:
                    record.state = "CANCELED"
                    return
                record.cursor = cursor = self._connection(translated.database).cursor()
            cursor.execute(translated.sql)
            description = cursor.description or []
            rows = cursor.fetchmany(row_limit + 1) if row_limit is not None else cursor.fetchall()
        except duckdb.InterruptException:
            record.state = "CANCELED"
            return
        except duckdb.Error as error:
            record.error = ("BAD_REQUEST", f"[INTERNAL_ERROR] {error}")
            record.state = "CANCELED" if record.cancel_requested else "FAILED"
            return
        finally:
            with record.lock:
                if record.cursor is not None:
                    with contextlib.suppress(duckdb.Error):
                        record.cursor.close()
                    record.cursor = None
        record.columns = [(str(d[0]), column_type_of(str(d[1]))) for d in description]
        record.truncated = row_limit is not None and len(rows) > row_limit
        record.rows = [tuple(r) for r in (rows[:row_limit] if row_limit is not None else rows)]
        record.state = "SUCCEEDED"

    async def _cancel(self, record: StatementRecord) -> None:
        """Cancel a statement that has not ended: a PENDING one at once, a RUNNING one's query interrupted."""
        import duckdb

        with record.lock:
            if record.finished:
                return
            record.cancel_requested = True
            if record.cursor is not None:
                with contextlib.suppress(duckdb.Error):
                    record.cursor.interrupt()
        task = record.task
        if task is not None and record.state == "PENDING":
            task.cancel()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), 5)
        if not record.finished:
            record.state = "CANCELED"

    def _connection(self, path: Path) -> duckdb.DuckDBPyConnection:
        """One connection per file, configured as the local engine's (DuckDB shares one database per
        file in a process, with one configuration): read-only, no file, network or extension access."""
        import duckdb

        from ..spaces.local.executor import _READ_ONLY_CONFIG

        with self._lock:
            connection = self._connections.get(path)
            if connection is None:
                connection = duckdb.connect(str(path), read_only=True, config=dict(_READ_ONLY_CONFIG))
                self._connections[path] = connection
            return connection

    def _known_schemas(self) -> dict[str, tuple[Path, frozenset[str]]]:
        """Each ``catalog.schema``'s file and tables, read once."""
        if self._schemas is None:
            found = {}
            for key, path in self._paths.items():
                cursor = self._connection(path).cursor()
                try:
                    names = cursor.execute("SELECT table_name FROM duckdb_tables()").fetchall()
                finally:
                    cursor.close()
                found[key] = (path, frozenset(str(n[0]).lower() for n in names))
            self._schemas = found
        return self._schemas

    # --- records and JSON ------------------------------------------------------------------------

    def _add(self, record: StatementRecord) -> StatementRecord:
        with self._lock:
            self._records[record.statement_id] = record
            while len(self._records) > self.max_statements:
                self._records.popitem(last=False)
        return record

    def _record(self, who: Identity, statement_id: str) -> StatementRecord:
        with self._lock:
            record = self._records.get(statement_id)
        if record is None or record.user != who.user:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Statement {statement_id} does not exist.")
        return record

    def _chunk_count(self, record: StatementRecord) -> int:
        return max(1, -(-len(record.rows) // self.chunk_rows))

    def statement_json(self, record: StatementRecord) -> dict[str, Any]:
        status: dict[str, Any] = {"state": record.state}
        if record.state == "FAILED" and record.error is not None:
            status["error"] = {"error_code": record.error[0], "message": record.error[1]}
        body: dict[str, Any] = {"statement_id": record.statement_id, "status": status}
        if record.state == "SUCCEEDED":
            columns = [_column_json(i, name, t) for i, (name, t) in enumerate(record.columns)]
            count = self._chunk_count(record)
            chunks = [
                {"chunk_index": i, "row_offset": i * self.chunk_rows, "row_count": self._rows_in(record, i)}
                for i in range(count)
            ]
            body["manifest"] = {
                "format": "JSON_ARRAY",
                "schema": {"column_count": len(columns), "columns": columns},
                "total_chunk_count": count,
                "chunks": chunks,
                "total_row_count": len(record.rows),
                "truncated": record.truncated,
            }
            body["result"] = self._chunk_json(record, 0)
        return body

    def _rows_in(self, record: StatementRecord, index: int) -> int:
        return len(record.rows[index * self.chunk_rows : (index + 1) * self.chunk_rows])

    def _chunk_json(self, record: StatementRecord, index: int) -> dict[str, Any]:
        offset = index * self.chunk_rows
        rows = record.rows[offset : offset + self.chunk_rows]
        chunk: dict[str, Any] = {"chunk_index": index, "row_offset": offset, "row_count": len(rows)}
        if rows:  # an empty result has no data_array
            chunk["data_array"] = render_rows(rows, [t.type_name for _, t in record.columns])
        if index + 1 < self._chunk_count(record):
            chunk["next_chunk_index"] = index + 1
            chunk["next_chunk_internal_link"] = (
                f"{STATEMENTS_PATH}/{record.statement_id}/result/chunks/{index + 1}"
            )
        return chunk


def _column_json(position: int, name: str, t: ColumnType) -> dict[str, Any]:
    column: dict[str, Any] = {
        "name": name,
        "position": position,
        "type_name": t.type_name,
        "type_text": t.type_text,
    }
    if t.precision is not None:
        column |= {"type_precision": t.precision, "type_scale": t.scale}
    return column


@dataclass(frozen=True)
class _ExecuteRequest:
    """An execute request's body, checked as the API checks it (HTTP 400 for a bad field)."""

    statement: str
    warehouse_id: str
    catalog: str | None
    schema: str | None
    row_limit: int | None
    wait_s: int
    on_wait_timeout: str

    @classmethod
    def of(cls, body: Any) -> _ExecuteRequest:
        def bad(message: str) -> ApiError:
            return ApiError(400, "INVALID_PARAMETER_VALUE", message)

        if not isinstance(body, dict):
            raise ApiError(400, "MALFORMED_REQUEST", "The request body must be a JSON object.")
        statement, warehouse_id = body.get("statement"), body.get("warehouse_id")
        if not isinstance(statement, str) or not statement.strip():
            raise bad("statement must be a non-empty string.")
        if not isinstance(warehouse_id, str) or not warehouse_id:
            raise bad("warehouse_id is required.")
        catalog, schema = body.get("catalog"), body.get("schema")
        if not isinstance(catalog, str | None) or not isinstance(schema, str | None):
            raise bad("catalog and schema must be strings.")
        disposition, fmt = body.get("disposition", "INLINE"), body.get("format", "JSON_ARRAY")
        if disposition not in _DISPOSITIONS or fmt not in _FORMATS:
            raise bad(f"disposition must be one of {_DISPOSITIONS}; format one of {_FORMATS}.")
        if disposition == "INLINE" and fmt != "JSON_ARRAY":
            raise bad("INLINE disposition supports JSON_ARRAY format only.")
        if disposition != "INLINE" or body.get("parameters"):
            raise bad("genie-server's SQL warehouse answers INLINE results of statements without parameters.")
        wait = _WAIT.fullmatch(str(body.get("wait_timeout", "10s")))
        wait_s = int(wait.group(1)) if wait else -1
        if not (wait_s == 0 or 5 <= wait_s <= 50):
            raise bad("wait_timeout must be 0s or between 5s and 50s.")
        on_wait = body.get("on_wait_timeout", "CONTINUE")
        if on_wait not in ("CONTINUE", "CANCEL"):
            raise bad("on_wait_timeout must be CONTINUE or CANCEL.")
        row_limit = body.get("row_limit")
        if row_limit is not None and (
            not isinstance(row_limit, int) or isinstance(row_limit, bool) or row_limit < 1
        ):
            raise bad("row_limit must be a positive integer.")
        return cls(statement, warehouse_id, catalog, schema, row_limit, wait_s, on_wait)
