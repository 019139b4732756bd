"""Memory actions a user runs on their own memories: list, forget one, forget all.

The same actions back the SDK (:func:`run_memory_action`), the CLI (``genie-agent memory``) and the
endpoint (a request whose ``custom_inputs`` carry ``memory_action`` is answered in
``custom_outputs`` without running a turn), so the TUI can do it against any target.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

from ..errors import UserInputError
from .errors import MemoryUnavailableError
from .store import MemoryStore

__all__ = ["MemoryAction", "MemoryActionName", "MemoryActionResult", "run_memory_action"]

MemoryActionName = Literal["list", "forget", "forget_all"]


@dataclass(frozen=True)
class MemoryAction:
    """``list``, ``forget`` (with ``memory_id``) or ``forget_all``."""

    action: MemoryActionName
    memory_id: str | None = None

    @classmethod
    def from_custom_inputs(cls, custom: Mapping[str, Any]) -> MemoryAction | None:
        """The action in a request's custom_inputs, or None. Raises :class:`UserInputError` when malformed."""
        name = custom.get("memory_action")
        if name is None:
            return None
        if name not in get_args(MemoryActionName):
            raise UserInputError(
                f"custom_inputs.memory_action must be one of {', '.join(get_args(MemoryActionName))}, not {name!r}.",
                'Send {"memory_action": "list"}, {"memory_action": "forget", "memory_id": "..."} '
                'or {"memory_action": "forget_all"}.',
            )
        memory_id = custom.get("memory_id")
        if name == "forget" and (not isinstance(memory_id, str) or not memory_id):
            raise UserInputError(
                "custom_inputs.memory_id is required with memory_action=forget.",
                'Send the id of a memory from {"memory_action": "list"}.',
            )
        return cls(cast(MemoryActionName, name), memory_id if name == "forget" else None)


@dataclass(frozen=True)
class MemoryActionResult:
    """What to tell the user (``text``) and the custom_outputs."""

    text: str
    outputs: dict[str, Any]


def run_memory_action(store: MemoryStore | None, user: str, action: MemoryAction) -> MemoryActionResult:
    """Run ``action`` on ``user``'s memories. Never raises for a memory failure: ``status`` says it."""
    base: dict[str, Any] = {"memory_action": action.action, "user": user}
    if store is None:
        return MemoryActionResult(
            "Long-term memory is off, so there is nothing to list or forget.",
            {**base, "status": "ok", "memory_status": "disabled", "memories": []},
        )
    outputs: dict[str, Any]
    try:
        if action.action == "list":
            items = store.list(user)
            lines = [f"- `{m.id}` ({m.kind}): {m.text}" for m in items]
            text = f"{len(items)} memories:\n" + "\n".join(lines) if items else "You have no memories."
            outputs = {"memories": [m.to_dict() for m in items]}
        elif action.action == "forget":
            assert action.memory_id is not None
            found = store.forget(user, action.memory_id)
            text = f"Forgotten: {action.memory_id}." if found else f"There is no memory {action.memory_id!r}."
            outputs = {"memory_id": action.memory_id, "forgotten": 1 if found else 0}
        else:
            count = store.forget_all(user)
            text = f"Forgotten: all {count} memories." if count else "You had no memories."
            outputs = {"forgotten": count}
    except MemoryUnavailableError as exc:
        return MemoryActionResult(
            f"{exc.message} {exc.hint}",
            {**base, "status": "error", "memory_status": f"failed: {exc.message}"},
        )
    return MemoryActionResult(text, {**base, "status": "ok", "memory_status": "ok", **outputs})
