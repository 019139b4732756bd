"""Long-term memory actions through any target: list, forget one, forget all.

The actions are the SDK client's (:meth:`genie_agent.client.Client.memory_action`): a Responses request
whose ``custom_inputs`` carry ``memory_action``, answered in the closing event's ``custom_outputs``
on the embedded agent, ``genie-agent serve`` and a serving endpoint alike. What is the chat's here:
how long ago a memory was learned (:func:`when`).

Failures raise :class:`MemoryActionError` (a :class:`TargetError`), the target's own
:class:`TargetError` (unreachable, refused, a 400 from an endpoint without memory actions), or the
SDK error the agent reported.
"""

from __future__ import annotations

import datetime as dt

from genie_agent.client.errors import MemoryActionError
from genie_agent.client.memory import MemoryActionName, MemoryEntry, MemoryOutcome, memory_request

from .targets import ChatTarget

__all__ = [
    "MemoryActionError",
    "MemoryActionName",
    "MemoryEntry",
    "MemoryOutcome",
    "memory_action",
    "memory_request",
    "when",
]


async def memory_action(
    target: ChatTarget, action: MemoryActionName, memory_id: str | None = None
) -> MemoryOutcome:
    """Run a memory action on ``target``. Raises :class:`TargetError` (or :class:`MemoryActionError`)."""
    return await target.client.amemory_action(action, memory_id)


def when(entry: MemoryEntry, now: dt.datetime | None = None) -> str:
    """When the memory was last learned: "just now", "5 min ago", "3 h ago", else its date."""
    stamp = entry.updated_at or entry.created_at
    try:
        moment = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return stamp[:16]
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return moment.astimezone().strftime("%Y-%m-%d")
