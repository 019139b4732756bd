"""Generated data files and the DuckDB extensions that generate them.

A file is generated once: under a lock file (``<path>.lock``) so concurrent callers generate it
once, into a temporary file renamed into place only when complete, so an interrupted run never
leaves a partial file. An extension binary comes from the wheel that ships it (DuckDB's extension
server is not assumed to be reachable) and is loaded from its file path.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

from genie_agent.errors import ConfigError

__all__ = ["find_extension", "generate_once"]


def generate_once(
    path: Path,
    generate: Callable[[Path], None],
    *,
    on_wait: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
) -> Path:
    """Return ``path``, calling ``generate(temporary_path)`` first if it does not exist.

    ``on_wait`` is entered while another process holds the lock (to tell the user why we wait).
    Leftover temporary files of crashed runs are removed; ``path``'s directory must exist.
    """
    with _exclusive_lock(path.with_name(path.name + ".lock"), on_wait):
        if path.exists():
            return path  # another process generated it while we waited for the lock
        for leftover in path.parent.glob(f"{path.name}.tmp-*"):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()  # safe: we hold the lock
        temp_path = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        try:
            generate(temp_path)
            os.replace(temp_path, path)
        finally:
            for candidate in (temp_path, temp_path.with_name(temp_path.name + ".wal")):
                with contextlib.suppress(FileNotFoundError):
                    candidate.unlink()
    return path


@contextlib.contextmanager
def _exclusive_lock(lock_path: Path, on_wait: Callable[[], AbstractContextManager[object]]) -> Iterator[None]:
    # The lock file is left behind on purpose: unlinking it would let a waiting process lock a
    # deleted inode while a newcomer locks a fresh file, and both would generate.
    with open(lock_path, "a+b") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            with on_wait():
                fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def find_extension(package: str, name: str, *, title: str, wheel: str) -> Path:
    """``<name>.duckdb_extension`` inside the installed ``package`` of the wheel ``wheel`` (e.g.
    ``duckdb_extension_tpch`` of ``duckdb-extension-tpch``), laid out as
    ``<package>/extensions/v<duckdb version>/``; ``title`` names it in errors.

    Raises:
        ConfigError: the wheel is missing, or it ships no build for the installed DuckDB.
    """
    import duckdb

    version = duckdb.__version__
    install_hint = f"Install the matching extension wheel: pip install {wheel}=={version}"
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ConfigError(f"The DuckDB {title} extension is not installed", hint=install_hint)
    for location in locations:
        candidate = Path(location) / "extensions" / f"v{version}" / f"{name}.duckdb_extension"
        if candidate.is_file():
            return candidate
    found = sorted(
        p.parent.name for loc in locations for p in Path(loc).glob(f"extensions/*/{name}.duckdb_extension")
    )
    raise ConfigError(
        f"The installed {title} extension does not match DuckDB {version}"
        + (f" (found {', '.join(found)})" if found else ""),
        hint=install_hint,
    )
