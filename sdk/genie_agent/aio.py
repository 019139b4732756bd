"""A synchronous stream consumed from asyncio: the agent's turn runs in a thread of its own.

``serve`` (under MLflow's async agent server) and the terminal chat both stream turns this way.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

__all__ = ["iterate_in_thread"]

T = TypeVar("T")


async def iterate_in_thread(
    make: Callable[[], Iterator[T]], *, name: str = "genie-agent-turn"
) -> AsyncIterator[T]:
    """Run the generator ``make()`` in one thread of its own (spans opened in it close in it, and it
    sees a copy of this context) and yield its items here.

    When the consumer stops early (a client gone, a cancelled turn) the generator is closed after
    its next item; an exception in it is raised here.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    stop = threading.Event()

    def put(kind: str, value: Any) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
        except RuntimeError:  # the loop is closed: nobody is listening any more
            stop.set()

    def produce() -> None:
        gen = make()
        try:
            for item in gen:
                if stop.is_set():
                    break
                put("item", item)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put("error", exc)
            return
        finally:
            close = getattr(gen, "close", None)
            if close is not None:
                close()
        put("done", None)

    ctx = contextvars.copy_context()
    threading.Thread(target=ctx.run, args=(produce,), name=name, daemon=True).start()
    try:
        while True:
            kind, value = await queue.get()
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stop.set()
