"""The TPC-H example database behind the embedded default space.

The data is generated once with DuckDB's ``dbgen`` from the ``tpch`` extension. DuckDB's extension
server is not assumed to be reachable: the extension binary comes from the
``duckdb-extension-tpch`` wheel (pinned to the DuckDB version) and is loaded from its file path.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from genie_agent.errors import BackendError, ConfigError

from .build import find_extension, generate_once

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

__all__ = ["TPCH_TABLES", "ensure_tpch_database"]

#: The eight tables of the TPC-H schema.
TPCH_TABLES: tuple[str, ...] = (
    "customer",
    "lineitem",
    "nation",
    "orders",
    "part",
    "partsupp",
    "region",
    "supplier",
)

_EXTENSION_PACKAGE = "duckdb_extension_tpch"
_MAX_SCALE_FACTOR = 100.0


def ensure_tpch_database(path: Path, scale_factor: float = 0.1, *, progress: bool = True) -> Path:
    """Return ``path``, generating the TPC-H database there first if it does not exist.

    Generation writes to a temporary file next to ``path`` and renames it into place only when
    complete, so an interrupted run never leaves a partial database at ``path``. A lock file
    (``<path>.lock``) makes concurrent callers generate once: the others wait, then reuse it.
    Leftover temporary files from crashed runs are removed.

    Args:
        path: Where the DuckDB file lives. Parent directories are created.
        scale_factor: TPC-H scale factor, ``0 < scale_factor <= 100``. SF 0.1 is ~600k line
            items (~30 MB, a few seconds); SF 1 is ~6M (~260 MB, ~20 s on two cores).
        progress: Show progress on stderr (stdout is left untouched).

    Raises:
        ConfigError: invalid scale factor, the tpch extension wheel is missing, or the
            directory is not writable.
        BackendError: DuckDB failed while generating the data.
    """
    path = Path(path)
    _validate_scale_factor(scale_factor)
    if path.exists():
        return path

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"Cannot create the directory {path.parent} for the TPC-H database: {error}",
            hint="Choose a writable location for genie-agent's data (e.g. set GENIE_AGENT_HOME).",
        ) from None

    return generate_once(
        path,
        lambda temp_path: _generate_into(temp_path, scale_factor, progress=progress),
        on_wait=lambda: _status(f"Waiting for another process to finish generating {path.name}", progress),
    )


def _validate_scale_factor(scale_factor: float) -> None:
    valid = (
        isinstance(scale_factor, int | float)
        and not isinstance(scale_factor, bool)
        and math.isfinite(scale_factor)
        and 0 < scale_factor <= _MAX_SCALE_FACTOR
    )
    if not valid:
        raise ConfigError(
            f"The TPC-H scale factor must be a number in (0, {_MAX_SCALE_FACTOR:g}]; got {scale_factor!r}",
            hint="Use e.g. 0.1 (about 600k line items) or 1 (about 6 million).",
        )


def _find_tpch_extension(package: str = _EXTENSION_PACKAGE) -> Path:
    """Locate ``tpch.duckdb_extension`` inside the installed ``duckdb-extension-tpch`` wheel."""
    return find_extension(package, "tpch", title="TPC-H", wheel="duckdb-extension-tpch")


def _generate_into(database: Path, scale_factor: float, *, progress: bool) -> None:
    """Generate the TPC-H tables into a new DuckDB file at ``database`` and close it."""
    import duckdb

    extension = _find_tpch_extension()
    started = time.monotonic()
    # One dbgen call reports no progress of its own; generating in `children` steps would give a
    # real percentage but costs ~35-50% more time (measured at SF 0.1 and 1), so a phase label with
    # elapsed time is shown instead.
    with _phases(progress) as show:
        connection = duckdb.connect(
            str(database),
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
        )
        try:
            show("Loading the TPC-H extension")
            try:
                connection.execute(f"LOAD '{_sql_string(str(extension))}'")
            except duckdb.Error as error:
                raise ConfigError(
                    f"The TPC-H extension at {extension} could not be loaded: {error}",
                    hint=f"Reinstall it: pip install --force-reinstall duckdb-extension-tpch=={duckdb.__version__}",
                ) from None
            try:
                show(f"Generating TPC-H data at scale factor {scale_factor:g}")
                connection.execute(f"CALL dbgen(sf={float(scale_factor)!r})")
                show("Analyzing and compacting")
                connection.execute("ANALYZE")
                connection.execute("CHECKPOINT")
            except duckdb.Error as error:
                raise BackendError(
                    f"Generating the TPC-H database failed: {error}",
                    hint=f"Check free disk space in {database.parent} and try again.",
                ) from None
        finally:
            connection.close()
    if progress:
        size_mb = database.stat().st_size / 1e6
        _stderr_console().print(
            f"[green]✓[/] TPC-H database ready (scale factor {scale_factor:g}, {size_mb:.0f} MB) "
            f"in {time.monotonic() - started:.1f} s"
        )


def _sql_string(value: str) -> str:
    return value.replace("'", "''")


def _stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True)


@contextlib.contextmanager
def _status(message: str, enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    with _stderr_console().status(message):
        yield


class _PhaseDisplay:
    """A spinner on stderr with the current phase and the elapsed time."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._task: TaskID | None = None

    def __call__(self, description: str) -> None:
        if self._progress is None:
            return
        if self._task is None:
            self._task = self._progress.add_task(description, total=None)
        else:
            self._progress.update(self._task, description=description)


@contextlib.contextmanager
def _phases(enabled: bool) -> Iterator[_PhaseDisplay]:
    if not enabled:
        yield _PhaseDisplay(None)
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=_stderr_console(),
        transient=True,
    ) as progress:
        yield _PhaseDisplay(progress)
