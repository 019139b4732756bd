"""A thread's turns as LangGraph checkpoints: each turn is one checkpoint of its thread
(``thread_id``; ``checkpoint_ns`` ``""``) whose parent is the turn before, its structured channels
stored as JSON text; what the next turn needs is read back from the latest one. Its metadata holds
the owner (``user``) and the digest of the thread's questions so far (:mod:`.digests`)."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from .digests import EMPTY_HISTORY, HISTORY_KEY, next_digest
from .thread_records import ThreadHead, ThreadState, TurnRecord

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.base import Checkpoint, CheckpointMetadata, CheckpointTuple

__all__ = [
    "STATE_CHANNELS",
    "channel_values",
    "checkpoint_turn_id",
    "next_turn",
    "thread_config",
    "thread_state",
]

_CHECKPOINT_FORMAT = 4  # LangGraph's current format: no pending-sends migration on read
_JSON_CHANNELS = ("turn", "genie_conversation_ids", "last_domains", "last_members")
STATE_CHANNELS = ("genie_conversation_ids", "last_domains", "last_members")
"""What the next turn needs: the last turn itself (its answer and results) is not decoded for that."""


def channel_values(latest: CheckpointTuple | None, decode: Sequence[str] = _JSON_CHANNELS) -> dict[str, Any]:
    """A checkpoint's channel values, those in ``decode`` decoded."""
    if latest is None:
        return {}
    values = dict(latest.checkpoint["channel_values"])
    for k in decode:
        if isinstance(values.get(k), str):
            values[k] = json.loads(values[k])
    return values


def _encoded(values: Mapping[str, Any]) -> dict[str, Any]:
    # Structured values go in as JSON text: savers keep strings inline in the checkpoint row
    # (PostgresSaver writes other values to a blob table and joins every blob of the thread on
    # load), so a turn is one row and loading a long thread stays as fast as a short one.
    return {k: _JSON.encode(v) if k in _JSON_CHANNELS else v for k, v in values.items()}


_JSON = json.JSONEncoder(default=str)  # json.dumps(v, default=str) without a new encoder per value


def checkpoint_turn_id(latest: CheckpointTuple) -> str | None:
    """The id of the checkpoint's turn: from its metadata, else from the turn itself."""
    found = (latest.metadata or {}).get("turn_id")
    if found is None:
        found = (channel_values(latest, ("turn",)).get("turn") or {}).get("turn_id")
    return cast("str | None", found)


def thread_config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}


def thread_state(
    thread_id: str, user: str, latest: CheckpointTuple | None, values: Mapping[str, Any]
) -> ThreadState:
    """The thread as it ends at ``latest`` (None: no turn yet), from its ``values`` (:data:`STATE_CHANNELS` decoded)."""
    return ThreadState(
        thread_id,
        user,
        tuple(values.get("last_domains") or ()),
        dict(values.get("genie_conversation_ids") or {}),
        int(values.get("seq") or 0),
        ThreadHead(latest.checkpoint["id"], dict(latest.checkpoint["channel_versions"]))
        if latest is not None
        else ThreadHead(None),
        dict(values.get("last_members") or {}),
        _history(latest),
    )


def _history(latest: CheckpointTuple | None) -> str | None:
    """The digest of the thread's questions up to ``latest``; None when it was saved without one."""
    if latest is None:
        return EMPTY_HISTORY
    found = (latest.metadata or {}).get(HISTORY_KEY)
    return found if isinstance(found, str) else None


def _next_id(after: str | None, seq: int) -> str:
    """A checkpoint id greater than ``after``: savers order a thread's checkpoints by id."""
    for _ in range(10_000):
        new = _uuid6(seq)
        if after is None or new > after:
            return new
    raise RuntimeError("the clock went backwards: no checkpoint id after the latest")  # pragma: no cover


_last_v6_timestamp = 0


def _uuid6(clock_seq: int) -> str:
    """LangGraph's ``uuid6(clock_seq=...)`` as text (``langgraph.checkpoint.base.id``, which cannot be
    imported without ``langchain_core``): the time first, so ids sort by time; a random node."""
    global _last_v6_timestamp
    # 100-ns intervals since the UUID epoch (1582-10-15), never the same twice in this process.
    timestamp = max(time.time_ns() // 100 + 0x01B21DD213814000, _last_v6_timestamp + 1)
    _last_v6_timestamp = timestamp
    value = ((timestamp >> 12) & 0xFFFFFFFFFFFF) << 80 | (timestamp & 0x0FFF) << 64
    value |= (clock_seq & 0x3FFF) << 48 | random.getrandbits(48)
    value = (value & ~(0xC000 << 48)) | 0x8000 << 48  # the RFC 4122 variant
    value = (value & ~(0xF000 << 64)) | 6 << 76  # version 6
    return str(uuid.UUID(int=value))


def next_turn(
    state: ThreadState, turn: TurnRecord, next_version: Callable[[Any, None], Any]
) -> tuple[RunnableConfig, Checkpoint, CheckpointMetadata]:
    """The checkpoint of ``turn`` after ``state`` (whose ``head`` must be set), its parent config and
    metadata: what ``BaseCheckpointSaver.put`` takes. ``next_version``: the saver's ``get_next_version``."""
    assert state.head is not None
    seq = state.turns + 1
    new_values: dict[str, Any] = {
        "owner": state.user,
        "seq": seq,
        "turn": turn.to_dict(),
        "genie_conversation_ids": {**state.genie_conversation_ids, **turn.genie_conversation_ids},
        "last_domains": list(turn.domains) or list(state.last_domains),
        "last_members": turn.members or state.last_members,
    }
    versions = state.head.versions
    new_versions = {k: next_version(versions.get(k), None) for k in new_values}
    checkpoint: Checkpoint = {
        "v": _CHECKPOINT_FORMAT,
        "id": _next_id(state.head.checkpoint_id, seq),
        "ts": datetime.now(UTC).isoformat(),
        "channel_values": _encoded(new_values),
        "channel_versions": new_versions,
        "versions_seen": {},
        "updated_channels": list(new_values),
    }
    parent = thread_config(state.thread_id)
    if state.head.checkpoint_id is not None:
        parent["configurable"]["checkpoint_id"] = state.head.checkpoint_id
    metadata = {"source": "input", "step": seq, "user": state.user, "turn_id": turn.turn_id}
    if state.history is not None:  # the thread's questions so far, this one included (digests.py)
        metadata[HISTORY_KEY] = next_digest(state.history, turn.question)
    return parent, checkpoint, cast("CheckpointMetadata", metadata)
