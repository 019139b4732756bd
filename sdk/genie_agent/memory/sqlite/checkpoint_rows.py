"""LangGraph ``SqliteSaver``'s rows, read and written here without importing LangGraph (its
checkpoint package loads ``langchain_core``: about 0.2 s of a one-question process).

:class:`SqliteCheckpoints` sends ``SqliteSaver``'s own statements and writes the same bytes: the
checkpoint as msgpack with ``JsonPlusSerializer``'s options, the metadata as JSON. A checkpoint
holding anything msgpack cannot carry natively (which LangGraph's serializer encodes its own way),
one stored in another format, or one with pending writes goes through the real ``SqliteSaver``, as
do the calls a turn does not make (``list``, ``delete_thread``, ``setup``).
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.base import Checkpoint, CheckpointMetadata, CheckpointTuple
    from langgraph.checkpoint.sqlite import SqliteSaver

__all__ = ["CheckpointRow", "SqliteCheckpoints"]

# SqliteSaver's statements (langgraph-checkpoint-sqlite).
_LATEST = (
    "SELECT thread_id, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata FROM checkpoints "
    "WHERE thread_id = ? AND checkpoint_ns = ? ORDER BY checkpoint_id DESC LIMIT 1"
)
_BY_ID = (
    "SELECT thread_id, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata FROM checkpoints "
    "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?"
)
_HAS_WRITES = "SELECT 1 FROM writes WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ? LIMIT 1"
_PUT = (
    "INSERT OR REPLACE INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, "
    "type, checkpoint, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
# get_checkpoint_metadata's: configurable keys never copied into the metadata.
_EXCLUDED_METADATA_KEYS = frozenset(
    {
        "thread_id",
        "checkpoint_id",
        "checkpoint_ns",
        "checkpoint_map",
        "langgraph_step",
        "langgraph_node",
        "langgraph_triggers",
        "langgraph_path",
        "langgraph_checkpoint_ns",
    }
)


class CheckpointRow(NamedTuple):
    """LangGraph's ``CheckpointTuple``, field for field."""

    config: RunnableConfig
    checkpoint: Checkpoint
    metadata: CheckpointMetadata
    parent_config: RunnableConfig | None = None
    pending_writes: list[Any] | None = None


class SqliteCheckpoints:
    """The ``BaseCheckpointSaver`` calls a turn makes (``get_tuple``, ``put``, ``get_next_version``) on
    ``conn``'s checkpoint tables, which must be set up; ``langgraph`` makes the real ``SqliteSaver``
    on the same connection for everything else. The caller serializes use of the connection."""

    def __init__(self, conn: sqlite3.Connection, langgraph: Callable[[], SqliteSaver]) -> None:
        self.conn = conn
        self._langgraph = langgraph

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | CheckpointRow | None:
        configurable = config["configurable"]
        thread_id, ns = str(configurable["thread_id"]), configurable.get("checkpoint_ns", "")
        checkpoint_id = configurable.get("checkpoint_id")
        if checkpoint_id:
            row = self.conn.execute(_BY_ID, (thread_id, ns, checkpoint_id)).fetchone()
        else:
            row = self.conn.execute(_LATEST, (thread_id, ns)).fetchone()
        if row is None:
            return None
        thread_id, checkpoint_id, parent_id, type_, blob, metadata = row
        checkpoint = _unpack(type_, blob)
        if checkpoint is None or self.conn.execute(_HAS_WRITES, (thread_id, ns, checkpoint_id)).fetchone():
            return self._langgraph().get_tuple(config)
        return CheckpointRow(
            config if configurable.get("checkpoint_id") else _config(thread_id, ns, checkpoint_id),
            checkpoint,
            json.loads(metadata) if metadata is not None else {},
            _config(thread_id, ns, parent_id) if parent_id else None,
            [],
        )

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: dict[str, Any],
    ) -> RunnableConfig:
        configurable = config["configurable"]
        blob = _pack(checkpoint)
        if blob is None:
            return self._langgraph().put(config, checkpoint, metadata, new_versions)
        thread_id, ns = configurable["thread_id"], configurable["checkpoint_ns"]
        encoded = json.dumps(_metadata(config, metadata), ensure_ascii=False).encode("utf-8", "ignore")
        self.conn.execute(
            _PUT,
            (
                str(thread_id),
                ns,
                checkpoint["id"],
                configurable.get("checkpoint_id"),
                "msgpack",
                blob,
                encoded,
            ),
        )
        self.conn.commit()  # as SqliteSaver's cursor does after a write
        return _config(thread_id, ns, checkpoint["id"])

    @staticmethod
    def get_next_version(current: str | int | None, channel: None) -> str:
        """SqliteSaver's: the next integer, then a random fraction."""
        if current is None:
            current_v = 0
        elif isinstance(current, int):
            current_v = current
        else:
            current_v = int(current.split(".")[0])
        return f"{current_v + 1:032}.{random.random():016}"

    def list(self, config: RunnableConfig | None, **kwargs: Any) -> Iterator[CheckpointTuple]:
        return self._langgraph().list(config, **kwargs)

    def delete_thread(self, thread_id: str) -> None:
        self._langgraph().delete_thread(thread_id)


def _config(thread_id: str, ns: str, checkpoint_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}}


def _metadata(config: RunnableConfig, metadata: CheckpointMetadata) -> dict[str, Any]:
    """LangGraph's ``get_checkpoint_metadata``: NULs removed, plain config values copied in."""
    out = {k: v.replace("\u0000", "") if isinstance(v, str) else v for k, v in metadata.items()}
    for source in (config.get("metadata"), config.get("configurable")):
        for key, v in (source or {}).items():
            if key in out or key in _EXCLUDED_METADATA_KEYS or key.startswith("__"):
                continue
            if isinstance(v, str):
                out[key] = v.replace("\u0000", "")
            elif isinstance(v, (int, bool, float)):
                out[key] = v
    return out


def _options() -> int:
    import ormsgpack

    return (
        ormsgpack.OPT_NON_STR_KEYS
        | ormsgpack.OPT_PASSTHROUGH_DATACLASS
        | ormsgpack.OPT_PASSTHROUGH_DATETIME
        | ormsgpack.OPT_PASSTHROUGH_ENUM
        | ormsgpack.OPT_PASSTHROUGH_UUID
        | ormsgpack.OPT_REPLACE_SURROGATES
    )


def _pack(checkpoint: Checkpoint) -> bytes | None:
    """JsonPlusSerializer's msgpack bytes of ``checkpoint``; None when it holds anything msgpack does
    not carry natively: JsonPlusSerializer's own encoding (its ``default``) handles that."""
    import ormsgpack

    try:
        return ormsgpack.packb(checkpoint, option=_options())
    except TypeError:  # ormsgpack.MsgpackEncodeError
        return None


def _unpack(type_: str | None, blob: bytes) -> Any:
    """The checkpoint of a msgpack row without extension types; None for anything else."""
    if type_ != "msgpack":
        return None
    import ormsgpack

    try:
        return ormsgpack.unpackb(blob, option=ormsgpack.OPT_NON_STR_KEYS)
    except ValueError:  # an extension type: JsonPlusSerializer's ext_hook decodes it
        return None
