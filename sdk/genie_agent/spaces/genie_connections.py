"""The HTTP connections every Genie question on an event loop shares: one pool per loop (connections
belong to the loop that opened them), made on first use.

The pool is :data:`LANES` ``httpx.AsyncClient`` s of one connection each, behind a gate each: a
request takes the first lane that is free (light traffic stays on the first, warm, connections) or
waits its turn at the next lane. Not one client of :data:`MAX_CONNECTIONS` connections: httpcore's
pool spends CPU on every request in proportion to its connections (an expiry check of each), to its
connections times the requests queued in it, and hands one idle connection to every queued request
at once (all but one then try again). Measured on 2 busy cores, 1,000 trivial requests at once: one
pool of 256 connections, about 30 ms of CPU each; one pool gated to 64, 1.5 to 4.7 ms; 16 lanes of
4, about 1 ms. 1,000 questions at once to the emulator (2 s answers): 16 lanes of 4 took 7.9 to
10.7 s and 4.6 to 5.0 s of CPU, 64 lanes of 1 took 6.2 to 7.2 s and 3.9 to 4.8 s.
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

LANES = 64
CONNECTIONS_PER_LANE = 1
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
        """The first lane that is free, else the next in turn."""
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
