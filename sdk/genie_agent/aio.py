"""The one event loop turns run on, its two bounded pools, and the bridges to it.

Every turn of a process runs on one asyncio loop in a daemon thread of its own (:func:`core`): the
fan-out's questions to remote spaces are awaited there (no thread waits for Genie), the question
limiter and the async HTTP clients live there, and work that must block runs in one of two bounded
pools: ``io`` (memory stores, an LLM's stream) and ``cpu`` (the local engine's queries, sized to the
machine). A caller on another thread reads a turn through :func:`iterate_sync` (the synchronous
SDK); a caller on another event loop (``serve``, the chat, a notebook) through :func:`aiterate`.
Either way the turn sees a copy of the caller's context (identity, the active trace span).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from queue import SimpleQueue
from typing import Any, TypeVar

__all__ = ["CPU_WORKERS", "IO_WORKERS", "CoreLoop", "aiterate", "blocking", "core", "iterate_sync"]

T = TypeVar("T")

IO_WORKERS = 16
"""Blocking memory-store calls (and LLM stream reads) in flight at once across all turns."""
CPU_WORKERS = max(2, min(8, os.cpu_count() or 2))
"""Local engine queries at once: DuckDB releases the GIL while it works, so one per core."""

MAX_DEFER_S = 0.2
"""Longest heavy work waits for new turns to be routed."""

_ITEM, _ERROR, _DONE = 0, 1, 2


class CoreLoop:
    """The loop thread and the pools. One per process (:func:`core`); never closed: it is a daemon."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._routing = 0  # turns begun whose route has not gone out yet (touched on the loop only)
        self._routed = asyncio.Event()
        self._routed.set()
        self.io = ThreadPoolExecutor(IO_WORKERS, thread_name_prefix="genie-io")
        self.cpu = ThreadPoolExecutor(CPU_WORKERS, thread_name_prefix="genie-cpu")
        started = threading.Event()
        self.thread = threading.Thread(
            target=self._run, args=(started,), name="genie-agent-loop", daemon=True
        )
        self.thread.start()
        started.wait()

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(started.set)
        self.loop.run_forever()

    def on_loop(self) -> bool:
        return threading.current_thread() is self.thread

    # --- first event first -------------------------------------------------------------------------
    # Under load, a new turn's route goes out before earlier turns' heavy work (engine queries,
    # synthesis) is handed to the pools: that work waits while turns are being routed, at most
    # MAX_DEFER_S (a steady stream of new turns must not starve the ones begun).
    def routing(self) -> None:
        """A turn began (on the loop)."""
        self._routing += 1
        self._routed.clear()

    def routed(self) -> None:
        """Its route went out, or it ended before one did (on the loop)."""
        self._routing -= 1
        if self._routing == 0:
            self._routed.set()

    async def heavy(self) -> None:
        """Wait (briefly) until the turns being routed have routed: before heavy work is handed out."""
        if self._routing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._routed.wait(), MAX_DEFER_S)

    async def run_io(self, ctx: contextvars.Context, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the io pool, inside ``ctx`` (which nothing else may be running in)."""
        return await self.loop.run_in_executor(self.io, ctx.run, fn, *args)

    async def run_cpu(self, ctx: contextvars.Context, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the cpu pool, inside ``ctx``."""
        return await self.loop.run_in_executor(self.cpu, ctx.run, fn, *args)


async def blocking(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in the core's io pool from any event loop, in a copy of this context."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(core().io, contextvars.copy_context().run, fn, *args)


_core: CoreLoop | None = None
_core_lock = threading.Lock()


def core() -> CoreLoop:
    """The process's core loop, started on first use."""
    global _core
    if _core is None:
        with _core_lock:
            if _core is None:
                _core = CoreLoop()
    return _core


async def _pump(make: Callable[[], AsyncIterator[T]], put: Callable[[int, Any], None]) -> None:
    agen = make()
    try:
        async for item in agen:
            put(_ITEM, item)
    except BaseException as exc:  # handed to the reader, which raises it
        put(_ERROR, exc)
        if isinstance(exc, asyncio.CancelledError):
            raise
        return
    finally:
        await agen.aclose()  # type: ignore[attr-defined]
    put(_DONE, None)


def iterate_sync(make: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
    """Read ``make()`` (run on the core loop) from this thread, item by item, as they come.

    Closing the iterator early cancels the async iterator (its ``finally`` blocks run) before it
    returns. Not callable on the core loop itself: there, iterate ``make()`` directly.
    """
    loop = core()
    if loop.on_loop():
        raise RuntimeError("iterate_sync() on the core loop would wait for itself; use the async API.")
    items: SimpleQueue[tuple[int, Any]] = SimpleQueue()
    # run_coroutine_threadsafe starts the task in a copy of this thread's context.
    future = asyncio.run_coroutine_threadsafe(_pump(make, lambda k, v: items.put((k, v))), loop.loop)
    try:
        while True:
            kind, value = items.get()
            if kind == _ITEM:
                yield value
            elif kind == _ERROR:
                raise value
            else:
                return
    finally:
        if not future.done():
            future.cancel()
            with contextlib.suppress(
                Exception, concurrent.futures.CancelledError
            ):  # it unwinds; nothing to read
                future.result(timeout=30)


async def aiterate(make: Callable[[], AsyncIterator[T]]) -> AsyncIterator[T]:
    """Read ``make()`` from this event loop while it runs on the core loop (directly when this is it).

    The consumer stopping early (a client gone) cancels it there.
    """
    loop = core()
    if loop.on_loop():
        async for item in make():
            yield item
        return
    here = asyncio.get_running_loop()
    items: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()

    def put(kind: int, value: Any) -> None:
        with contextlib.suppress(RuntimeError):  # this loop is closed: nobody reads any more
            here.call_soon_threadsafe(items.put_nowait, (kind, value))

    future = asyncio.run_coroutine_threadsafe(_pump(make, put), loop.loop)
    try:
        while True:
            kind, value = await items.get()
            if kind == _ITEM:
                yield value
            elif kind == _ERROR:
                raise value
            else:
                return
    finally:
        future.cancel()  # its task unwinds there (locks released, spans closed); nothing waits here
