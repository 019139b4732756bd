"""Read-only execution of guarded SELECTs against a local DuckDB file.

Safety has two independent layers:

1. :func:`~genie_agent.spaces.local.sql_guard.check_select` (sqlglot) plus DuckDB's own parser
   accept only one read-only query over the space's tables;
2. the database connection itself is opened ``read_only`` with external access disabled, extension
   auto-loading off and the configuration locked, so even SQL that slipped past layer 1 cannot
   write, read files, attach databases, install extensions or re-enable any of that.

With ``guard_cache_dir``, a text the guard accepted before with the same tables is not parsed by sqlglot
again (:mod:`~genie_agent.spaces.local.guard_cache`); DuckDB's parser and layer 2 still see every query.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from genie_agent.errors import BackendError, BackendTimeoutError, ConfigError, UnsafeRequestError
from genie_agent.spaces.local.guard_cache import AcceptedSql
from genie_agent.spaces.local.watchdog import call_later

if TYPE_CHECKING:
    import duckdb

__all__ = ["QueryResult", "ReadOnlyExecutor"]

# Applied at open time; lock_configuration makes every later SET/RESET on these fail.
_READ_ONLY_CONFIG: dict[str, Any] = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}


def check_select(sql: str, allowed_tables: Collection[str]) -> str:
    """The SQL guard, :func:`~genie_agent.spaces.local.sql_guard.check_select`, imported on first use
    (sqlglot costs about 0.1 s to import)."""
    from genie_agent.spaces.local.sql_guard import check_select as guard

    return guard(sql, allowed_tables)


@dataclass(frozen=True)
class QueryResult:
    """The outcome of one query.

    Values are DuckDB's Python values, unconverted (``Decimal``, ``datetime.date``, ``list``, ...).
    """

    columns: tuple[str, ...]
    #: DuckDB type names, e.g. ``'DECIMAL(15,2)'``, ``'BIGINT'``, ``'DATE'``, ``'VARCHAR'``.
    column_types: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    #: Rows returned; never more than the executor's ``row_limit``.
    row_count: int
    #: True when the query produced more rows than ``row_limit``.
    truncated: bool
    elapsed_ms: float


class ReadOnlyExecutor:
    """Runs guarded SELECTs on a DuckDB file opened read-only.

    The file is opened on first use, once per executor; each query runs on its own cursor, so
    several threads may call :meth:`execute` at once. Other processes may open the same file
    read-only at the same time.

    Within one process DuckDB shares a database instance per file, so do not open the same file
    elsewhere in the process with a different configuration (e.g. read-write) while an executor
    holds it.
    """

    def __init__(
        self,
        database_path: Path,
        *,
        row_limit: int = 1000,
        timeout_s: float = 30.0,
        guard_cache_dir: Path | None = None,
    ) -> None:
        """Prepare an executor; nothing is opened until the first query. With ``guard_cache_dir``, the
        SQL texts the guard accepted are remembered there (:mod:`.guard_cache`).

        Raises:
            ConfigError: ``row_limit`` is below 1 or ``timeout_s`` is not positive.
        """
        if row_limit < 1:
            raise ConfigError(
                f"row_limit must be at least 1; got {row_limit}", hint="Set a positive row limit."
            )
        if not timeout_s > 0:
            raise ConfigError(
                f"timeout_s must be positive; got {timeout_s}",
                hint="Set a query time limit in seconds, e.g. 30.",
            )
        self.database_path = Path(database_path)
        self.row_limit = row_limit
        self.timeout_s = timeout_s
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._accepted = AcceptedSql(guard_cache_dir) if guard_cache_dir is not None else None

    def execute(self, sql: str, allowed_tables: Collection[str]) -> QueryResult:
        """Check ``sql`` with the SQL guard, then run it and return at most ``row_limit`` rows.

        Raises:
            UnsafeRequestError: the SQL is not a single read-only query over ``allowed_tables``.
            BackendTimeoutError: the query ran longer than ``timeout_s``.
            BackendError: DuckDB refused or failed the query (its message is kept).
            ConfigError: the database file is missing or not a DuckDB database.
        """
        if self._accepted is not None:
            checked = self._accepted.check(sql, allowed_tables, check_select)
        else:
            checked = check_select(sql, allowed_tables)
        connection = self._connect()
        self._check_with_duckdb_parser(connection, checked)
        return self._run(connection, checked)

    def _execute_unchecked(self, sql: str) -> QueryResult:
        """Run ``sql`` WITHOUT the SQL guard. For defence-in-depth tests only.

        Tests use this to prove that the database connection on its own refuses writes, file
        access, ATTACH, INSTALL and configuration changes. Production code must call
        :meth:`execute`.
        """
        return self._run(self._connect(), sql)

    def close(self) -> None:
        """Close the database connection. Queries after this raise BackendError."""
        with self._lock:
            self._closed = True
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        connection = self._connection
        if connection is not None:
            return connection
        with self._lock:
            if self._closed:
                raise BackendError(
                    "This query executor has been closed", hint="Create a new ReadOnlyExecutor."
                )
            if self._connection is None:
                self._connection = self._open()
            return self._connection

    def _open(self) -> duckdb.DuckDBPyConnection:
        import duckdb

        path = self.database_path
        if not path.is_file():
            raise ConfigError(
                f"The database file {path} does not exist",
                hint="Create it first (the TPC-H example is built by ensure_tpch_database) "
                "or correct the space's database path.",
            )
        try:
            return duckdb.connect(str(path), read_only=True, config=dict(_READ_ONLY_CONFIG))
        except duckdb.IOException as error:
            if "lock" in str(error).lower():
                raise BackendError(
                    f"The database file {path} is locked by another process: {error}",
                    hint="Another program has it open for writing; close it or wait until it finishes.",
                    retryable=True,
                ) from None
            raise ConfigError(
                f"The file {path} could not be opened as a DuckDB database: {error}",
                hint="Point the space at a valid DuckDB file, or delete it so it is regenerated.",
            ) from None
        except duckdb.ConnectionException as error:
            # DuckDB keeps one database instance per file per process; it must have one config.
            raise BackendError(
                f"The database file {path} is already open in this process with other settings: {error}",
                hint="Close other connections to this file (e.g. a read-write one) before querying it.",
            ) from None
        except duckdb.Error as error:
            raise BackendError(
                f"Could not open the database file {path}: {error}",
                hint="Check that the file is a DuckDB database written by DuckDB 1.5.",
            ) from None

    @staticmethod
    def _check_with_duckdb_parser(connection: duckdb.DuckDBPyConnection, sql: str) -> None:
        """Have DuckDB's own parser confirm a single SELECT.

        sqlglot and DuckDB could disagree about where a statement ends, and DuckDB's ``execute``
        runs every statement it is given, so the count that matters is DuckDB's.
        """
        import duckdb

        try:
            statements = connection.extract_statements(sql)
        except duckdb.Error as error:
            raise UnsafeRequestError(
                f"DuckDB could not parse the SQL: {error}",
                hint="Write a single valid DuckDB SELECT statement.",
            ) from None
        kinds = [statement.type.name for statement in statements]
        if kinds != ["SELECT"]:
            raise UnsafeRequestError(
                f"Only a single SELECT is allowed; DuckDB sees {', '.join(kinds) or 'no statement'}",
                hint="Ask a question that only reads data; the local engine runs one SELECT at a time.",
            )

    def _run(self, connection: duckdb.DuckDBPyConnection, sql: str) -> QueryResult:
        import duckdb

        cursor = connection.cursor()
        timed_out = threading.Event()

        def interrupt() -> None:
            timed_out.set()
            # The query may have finished and its cursor closed just as the timer fired.
            with contextlib.suppress(duckdb.Error):
                cursor.interrupt()

        timer = call_later(self.timeout_s, interrupt)
        started = time.perf_counter()
        try:
            cursor.execute(sql)
            description = cursor.description or []
            rows = cursor.fetchmany(self.row_limit + 1) if description else []
        except duckdb.Error as error:
            if timed_out.is_set() or isinstance(error, duckdb.InterruptException):
                raise BackendTimeoutError(
                    f"Query exceeded the {self.timeout_s:g} s time limit",
                    hint="Ask a narrower question (fewer rows, a shorter period, fewer joins) "
                    "or raise the space's query time limit.",
                ) from None
            raise BackendError(str(error), hint=_hint_for(error)) from None
        finally:
            timer.cancel()
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            with contextlib.suppress(duckdb.Error):
                cursor.close()
        truncated = len(rows) > self.row_limit
        kept = tuple(tuple(row) for row in rows[: self.row_limit])
        return QueryResult(
            columns=tuple(str(column[0]) for column in description),
            column_types=tuple(str(column[1]) for column in description),
            rows=kept,
            row_count=len(kept),
            truncated=truncated,
            elapsed_ms=elapsed_ms,
        )


def _hint_for(error: Exception) -> str:
    import duckdb

    if isinstance(error, duckdb.PermissionException):
        return "The local database is read-only and has no file, network or extension access, by design."
    if isinstance(error, duckdb.InvalidInputException) and "read-only" in str(error):
        return "The local database is read-only; ask questions that only read data."
    if isinstance(error, duckdb.ProgrammingError):
        return "Check the SQL against the space's tables and columns."
    if isinstance(error, duckdb.IOException):
        return "The database file could not be read; check it, or delete it so it is regenerated."
    return "The local database failed to run the query; try again or rephrase the question."
