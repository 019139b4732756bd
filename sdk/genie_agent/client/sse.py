"""Server-sent events (what ``genie-agent serve`` and Model Serving stream) -> JSON objects.

A stream ends at ``data: [DONE]``. A data line that is not a JSON object becomes
``{"type": UNREADABLE_EVENT, "data": ...}`` rather than an exception: one bad event must not end an answer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

__all__ = ["UNREADABLE_EVENT", "SseDecoder", "sse_events", "sse_lines"]

UNREADABLE_EVENT = "genie_agent.client.unreadable"
"""The ``type`` given to a stream data line that is not a JSON object."""


def _parse(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {"type": UNREADABLE_EVENT, "data": raw[:200]}
    if not isinstance(value, dict):
        return {"type": UNREADABLE_EVENT, "data": raw[:200]}
    return value


class SseDecoder:
    """Fed one line at a time; says which event a line completes. ``done`` once ``[DONE]`` came."""

    def __init__(self) -> None:
        self._data: list[str] = []
        self.done = False

    def line(self, line: str) -> dict[str, Any] | None:
        """The event this line completes (a blank line after data lines), else None."""
        if line.startswith("data:"):
            self._data.append(line[5:].removeprefix(" "))
            return None
        if line.strip() or not self._data:
            return None  # event:, id:, retry:, comments; or a blank line with nothing pending
        return self.end()

    def end(self) -> dict[str, Any] | None:
        """The event pending when the stream ends without a blank line, else None."""
        if not self._data or self.done:
            return None
        raw = "\n".join(self._data)
        self._data.clear()
        if raw.strip() == "[DONE]":
            self.done = True
            return None
        return _parse(raw)


def sse_lines(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The events of a stream's lines, up to ``[DONE]``."""
    decoder = SseDecoder()
    for line in lines:
        event = decoder.line(line)
        if decoder.done:
            return
        if event is not None:
            yield event
    event = decoder.end()
    if event is not None:
        yield event


async def sse_events(lines: AsyncIterator[str]) -> AsyncIterator[dict[str, Any]]:
    """The events of a stream's lines, up to ``[DONE]`` (the async :func:`sse_lines`)."""
    decoder = SseDecoder()
    async for line in lines:
        event = decoder.line(line)
        if decoder.done:
            return
        if event is not None:
            yield event
    event = decoder.end()
    if event is not None:
        yield event
