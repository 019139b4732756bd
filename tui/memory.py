"""Long-term memory actions through any target: list, forget one, forget all.

A memory action is an ordinary Responses request whose ``custom_inputs`` carry ``memory_action``
(``{"input": [], "custom_inputs": {"memory_action": "list"}}``); the answer is read from the
closing event's ``custom_outputs`` (see ``genie_agent.memory.actions``). It goes through
:meth:`ChatTarget.stream`, so it works on the embedded agent, ``genie-agent serve`` and a serving
endpoint alike.

Failures raise :class:`MemoryActionError` (a :class:`TargetError`), or the target's own
:class:`TargetError` (unreachable, refused, a 400 from an endpoint without memory actions).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .targets import ChatTarget, RequestBody, TargetError

__all__ = [
    "MemoryActionError",
    "MemoryActionName",
    "MemoryEntry",
    "MemoryOutcome",
    "memory_action",
    "memory_request",
    "when",
]

MemoryActionName = Literal["list", "forget", "forget_all"]


class MemoryActionError(TargetError):
    """The target answered, but not with a memory action's outcome (or with its error)."""


@dataclass(frozen=True)
class MemoryEntry:
    """One thing the agent remembers about the user."""

    id: str
    kind: str
    text: str
    created_at: str = ""
    updated_at: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MemoryEntry | None:
        memory_id = data.get("id")
        if not isinstance(memory_id, str) or not memory_id:
            return None
        return cls(
            memory_id,
            str(data.get("kind") or "note"),
            str(data.get("text") or ""),
            str(data.get("created_at") or ""),
            str(data.get("updated_at") or ""),
        )


@dataclass(frozen=True)
class MemoryOutcome:
    """What a memory action answered: its message, the memories (``list``), how many were forgotten."""

    action: str
    text: str
    memory_status: str
    memories: tuple[MemoryEntry, ...] = ()
    forgotten: int = 0
    raw: Mapping[str, Any] | None = None

    @property
    def disabled(self) -> bool:
        """Long-term memory is off on the target."""
        return self.memory_status == "disabled"


def memory_request(action: MemoryActionName, memory_id: str | None = None) -> RequestBody:
    """The request body of a memory action."""
    custom: dict[str, Any] = {"memory_action": action}
    if memory_id is not None:
        custom["memory_id"] = memory_id
    return {"input": [], "custom_inputs": custom}


def _message_text(event: Mapping[str, Any]) -> str:
    item = event.get("item")
    if not isinstance(item, Mapping):
        return ""
    content = item.get("content")
    if not isinstance(content, list):
        return ""
    return "".join(str(p.get("text") or "") for p in content if isinstance(p, Mapping))


async def memory_action(
    target: ChatTarget, action: MemoryActionName, memory_id: str | None = None
) -> MemoryOutcome:
    """Run a memory action on ``target``. Raises :class:`TargetError` (or :class:`MemoryActionError`)."""
    outputs: Mapping[str, Any] | None = None
    text = ""
    async for event in target.stream(memory_request(action, memory_id)):
        if event.get("type") != "response.output_item.done":
            continue
        custom = event.get("custom_outputs")
        if isinstance(custom, Mapping):
            outputs = custom
            text = _message_text(event)
    if outputs is None:
        raise MemoryActionError(
            f"{target.label} sent no answer to the memory request.",
            "Try again; if it happens again, check the server's log.",
        )
    if outputs.get("status") == "error":
        error = outputs.get("error")
        if isinstance(error, Mapping):
            raise MemoryActionError(str(error.get("message") or text), str(error.get("hint") or ""))
        raise MemoryActionError(text or str(outputs.get("memory_status") or "The memory action failed."))
    if "memory_action" not in outputs:  # an agent that ran a turn instead: it has no memory actions
        raise MemoryActionError(
            f"{target.label} does not offer memory actions.",
            "Upgrade the agent it serves to a version with long-term memory actions.",
        )
    memories = outputs.get("memories")
    entries = (
        tuple(
            entry
            for entry in (MemoryEntry.from_dict(m) for m in memories if isinstance(m, Mapping))
            if entry is not None
        )
        if isinstance(memories, list)
        else ()
    )
    forgotten = outputs.get("forgotten")
    return MemoryOutcome(
        str(outputs.get("memory_action")),
        text,
        str(outputs.get("memory_status") or "ok"),
        entries,
        forgotten if isinstance(forgotten, int) else 0,
        outputs,
    )


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
