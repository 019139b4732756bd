"""Helpers for memory tests: the shared PostgreSQL (a schema of our own per run) and a TCP proxy.

The PostgreSQL server on 127.0.0.1:5432 is shared with other tests and never stopped: each run
creates a schema ``genie_test_<random>`` and drops it afterwards; failures are staged by cutting a
proxy in front of it. ``GENIE_TEST_POSTGRES_URL`` points elsewhere; without a reachable
server the Postgres tests skip, unless ``GENIE_TEST_REQUIRE_POSTGRES=1`` (``.ci/run`` sets
it), when they fail.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

POSTGRES_URL = os.environ.get("GENIE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_or_skip() -> str:
    """The test server's URL; skips (or fails in CI) when it is not reachable."""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        message = f"PostgreSQL is not reachable at {POSTGRES_URL} ({exc}); `.ci/run` starts it"
        if os.environ.get("GENIE_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return POSTGRES_URL


@contextlib.contextmanager
def fresh_schema() -> Iterator[str]:
    """A schema name no one else uses; dropped (with every table in it) at the end."""
    import psycopg

    url = postgres_or_skip()
    name = f"genie_test_{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


class TcpProxy:
    """Forwards a local port to PostgreSQL. ``cut()`` drops every connection and refuses new ones
    (Postgres unreachable, as after a network failure); ``restore()`` lets them through again."""

    def __init__(self, target_url: str) -> None:
        parts = urlsplit(target_url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = with_port(target_url, self.port)
        self._up = True
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="test-proxy").start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            with self._lock:
                self._sockets -= {src, dst}

    def cut(self) -> None:
        self._up = False
        with self._lock:
            sockets = list(self._sockets)
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        self._up = True

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()


def append_turns(settings: dict[str, object], jobs: list[tuple[str, str, str]]) -> int:
    """Run in a child process: open the memory backend and save one turn per (user, thread_id, question)."""
    from genie_agent.config import load_settings
    from genie_agent.memory import TurnRecord, open_memory

    backend = open_memory(load_settings(**settings))
    assert backend.threads is not None
    try:
        for user, thread_id, question in jobs:
            state = backend.threads.load(thread_id, user)
            backend.threads.append(state, TurnRecord(question, "ok", "answer", ("sales",), {}, {}))
    finally:
        backend.close()
    return len(jobs)
