"""Memory actions through a client: list what the agent remembers about the caller, forget it.

A memory action is a Responses request whose ``custom_inputs`` carry ``memory_action``
(:func:`memory_request`); the agent answers it without running a turn, on the authenticated caller's
own memories, in the closing event's ``custom_outputs`` (:mod:`genie_agent.memory.actions`). The
in-process client runs the same action directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .errors import MemoryActionError, error_from
from .reader import message_text

__all__ = [
    "MemoryActionName",
    "MemoryAnswer",
    "MemoryEntry",
    "MemoryOutcome",
    "memory_answer",
    "memory_outcome",
    "memory_request",
]

MemoryActionName = Literal["list", "forget", "forget_all"]
MemoryAnswer = tuple[str, Mapping[str, Any] | None]
"""What a target answered a memory action: its message and its ``custom_outputs`` (None: none came)."""


@dataclass(frozen=True)
class MemoryEntry:
    """One thing the agent remembers about the caller: ``kind`` ``preference`` or ``note``."""

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


def memory_request(action: MemoryActionName, memory_id: str | None = None) -> dict[str, Any]:
    """The Responses request of a memory action."""
    custom: dict[str, Any] = {"memory_action": action}
    if memory_id is not None:
        custom["memory_id"] = memory_id
    return {"input": [], "custom_inputs": custom}


def memory_answer(events: Iterable[Any]) -> MemoryAnswer:
    """The message and ``custom_outputs`` of a memory action's Responses stream."""
    outputs: Mapping[str, Any] | None = None
    text = ""
    for event in events:
        if not isinstance(event, Mapping) or event.get("type") != "response.output_item.done":
            continue
        custom = event.get("custom_outputs")
        if isinstance(custom, Mapping):
            outputs = custom
            item = event.get("item")
            text = message_text(item) if isinstance(item, Mapping) else ""
    return text, outputs


def memory_outcome(answer: MemoryAnswer, label: str) -> MemoryOutcome:
    """The outcome ``label`` (the target) answered. Raises :class:`MemoryActionError` when it is not one."""
    text, outputs = answer
    if outputs is None:
        raise MemoryActionError(
            f"{label} sent no answer to the memory request.",
            "Try again; if it happens again, check the server's log.",
        )
    if outputs.get("status") == "error":
        error = outputs.get("error")
        if isinstance(error, Mapping):
            message, hint = str(error.get("message") or text), str(error.get("hint") or "")
            raise error_from(str(error.get("type") or ""), message, hint) or MemoryActionError(message, hint)
        raise MemoryActionError(text or str(outputs.get("memory_status") or "The memory action failed."))
    if "memory_action" not in outputs:  # an agent that ran a turn instead: it has no memory actions
        raise MemoryActionError(
            f"{label} does not offer memory actions.",
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
