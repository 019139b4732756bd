"""The HTTP connections every Genie question on an event loop shares: one pool per loop (connections
belong to the loop that opened them), made on first use.

The pool is :data:`LANES` ``httpx.AsyncClient`` s of :data:`CONNECTIONS_PER_LANE` connections each,
a request taking the first lane with a connection free (so light traffic stays on one warm lane) and
waiting at a lane's gate when all are busy. Not one client of :data:`MAX_CONNECTIONS`: httpcore's
pool spends CPU on every request in proportion to its connections (an expiry check of each) and to
its connections times the requests queued in it (on 2 cores: a burst of 1,000 requests on one pool
of 256 connections took about 30 ms of CPU each; gated to 64 on one pool, 1.5 to 4.7 ms; 16 lanes
of 4, about 1 ms).
"""

from __future__ import annotations

import asyncio
import functools
import os
import ssl
import threading
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

__all__ = [
    "CONNECTIONS_PER_LANE",
    "CONNECT_TIMEOUT_S",
    "KEEPALIVE_S",
    "LANES",
    "MAX_CONNECTIONS",
    "aclose_connections",
    "connection",
    "loop_clients",
]

LANES = 16
CONNECTIONS_PER_LANE = 4
MAX_CONNECTIONS = LANES * CONNECTIONS_PER_LANE
"""Requests open at once to the workspaces per event loop; more wait their turn. A thousand questions
in flight poll about once a second each or less: at a tenth of a second a request, a few dozen at a
time (a few hundred when they are all sent at once, queued here)."""
CONNECT_TIMEOUT_S = 5.0
KEEPALIVE_S = 4.0
"""An idle connection is dropped after this, before the server drops it (uvicorn after 5 s, load
balancers after a minute or more): a question sent on a connection the server is closing fails
unsent-or-not, and is not retried."""


@dataclass
class _Lane:
    client: httpx.AsyncClient
    gate: asyncio.Semaphore


@dataclass
class _LoopPool:
    loop: weakref.ref[asyncio.AbstractEventLoop]
    lanes: tuple[_Lane, ...]
    turn: int = field(default=0)

    def lane(self) -> _Lane:
        """The first lane with a connection free, else the next in turn."""
        free = next((lane for lane in self.lanes if not lane.gate.locked()), None)
        if free is not None:
            return free
        self.turn += 1
        return self.lanes[self.turn % len(self.lanes)]


_pools: dict[int, _LoopPool] = {}
_pools_lock = threading.Lock()


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every lane and loop (building one takes tens of milliseconds), trusting
    what databricks-sdk's requests would: ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``, else certifi's
    bundle (and ``SSL_CERT_FILE``/``SSL_CERT_DIR``, as httpx reads them)."""
    import httpx

    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        if os.path.isdir(bundle):
            return ssl.create_default_context(capath=bundle)
        return ssl.create_default_context(cafile=bundle)
    return httpx.create_ssl_context()


def _pool() -> _LoopPool:
    import httpx

    loop = asyncio.get_running_loop()
    with _pools_lock:
        pool = _pools.get(id(loop))
        if pool is not None and pool.loop() is loop:
            return pool
        for key, other in list(_pools.items()):
            was = other.loop()
            if was is None or was.is_closed():
                del _pools[key]
        limits = httpx.Limits(
            max_connections=CONNECTIONS_PER_LANE,
            max_keepalive_connections=CONNECTIONS_PER_LANE,
            keepalive_expiry=KEEPALIVE_S,
        )
        lanes = tuple(
            _Lane(
                httpx.AsyncClient(
                    limits=limits, timeout=httpx.Timeout(60.0, connect=CONNECT_TIMEOUT_S), verify=_tls()
                ),
                asyncio.Semaphore(CONNECTIONS_PER_LANE),
            )
            for _ in range(LANES)
        )
        pool = _pools[id(loop)] = _LoopPool(weakref.ref(loop), lanes)
        return pool


@asynccontextmanager
async def connection(deadline: float) -> AsyncIterator[httpx.AsyncClient]:
    """A client to make one request with, once it has a connection free for it. Raises
    ``TimeoutError`` when none came free before ``deadline`` (``time.monotonic()``)."""
    lane = _pool().lane()
    async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
        await lane.gate.acquire()
    try:
        yield lane.client
    finally:
        lane.gate.release()


def loop_clients() -> tuple[httpx.AsyncClient, ...]:
    """This event loop's clients (made on first use)."""
    return tuple(lane.client for lane in _pool().lanes)


async def aclose_connections() -> None:
    """Close this event loop's connections (at shutdown); the next request opens new ones."""
    with _pools_lock:
        pool = _pools.pop(id(asyncio.get_running_loop()), None)
    if pool is not None:
        await asyncio.gather(*(lane.client.aclose() for lane in pool.lanes))
