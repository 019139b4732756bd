"""Export a Genie space to a file and create one from such a file: moving a space between
workspaces (or copying it within one).

The file is the space as ``GET /api/2.0/genie/spaces/{id}?include_serialized_space=true`` answers it,
with ``serialized_space`` decoded so that it reads and diffs as JSON::

    {"space_id": "...", "title": "Sales", "description": "...", "warehouse_id": "...",
     "serialized_space": {"version": 2, "config": {...}, "data_sources": {...}, "instructions": {...}}}

A bare serialized space (an object with ``version``) is accepted on import too; its title then comes
from the caller.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ConfigError, UserInputError
from .api import RemoteSpace, WorkspaceSpaces

__all__ = ["export_space", "import_space", "read_space_file", "write_space_file"]


def export_space(api: WorkspaceSpaces, space_id: str) -> dict[str, Any]:
    """The space with its definition (needs CAN EDIT on it), ready to write."""
    space = api.get(space_id, definition=True)
    if not space.serialized_space:
        raise UserInputError(
            f"Genie space {space.title or space_id!r} came back without its definition.",
            "Reading a space's definition needs CAN EDIT on it: ask its owner.",
        )
    return {
        "space_id": space.space_id,
        "title": space.title,
        "description": space.description,
        "warehouse_id": space.warehouse_id,
        "serialized_space": json.loads(space.serialized_space),
    }


def write_space_file(content: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n")


def read_space_file(path: Path) -> dict[str, Any]:
    """An exported space (or a bare serialized space) from ``path``; raises ConfigError saying what is wrong."""
    try:
        content = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"{path} does not exist.", "Give the file `genie-agent spaces export` wrote."
        ) from None
    except ValueError as exc:
        raise ConfigError(
            f"{path} is not JSON: {exc}", "Give the file `genie-agent spaces export` wrote."
        ) from None
    if isinstance(content, dict) and "version" in content:
        content = {"serialized_space": content}
    serialized = content.get("serialized_space") if isinstance(content, dict) else None
    if isinstance(serialized, str):
        try:
            serialized = json.loads(serialized)
        except ValueError:
            serialized = None
    if not isinstance(serialized, dict):
        raise ConfigError(
            f"{path} holds no serialized space (an object with `serialized_space`, or one with `version`).",
            "Give the file `genie-agent spaces export` wrote.",
        )
    return {**content, "serialized_space": serialized}


def import_space(
    api: WorkspaceSpaces,
    content: dict[str, Any],
    *,
    title: str | None = None,
    warehouse_id: str | None = None,
    parent_path: str | None = None,
) -> RemoteSpace:
    """Create a space from an exported one; ``title`` and ``warehouse_id`` override the file's.
    Refuses a title a space on the workspace already has (it would be ambiguous to ``spaces create``)."""
    name = title or content.get("title")
    warehouse = warehouse_id or content.get("warehouse_id")
    if not name:
        raise UserInputError("The file has no title.", "Pass --title for the new space.")
    if not warehouse:
        raise UserInputError("The file names no SQL warehouse.", "Pass --warehouse-id.")
    taken = [s.space_id for s in api.list() if s.title == name]
    if taken:
        raise UserInputError(
            f"A Genie space titled {name!r} already exists ({', '.join(taken)}).",
            "Pass --title to give the new space another title.",
        )
    return api.create(
        str(name),
        json.dumps(content["serialized_space"]),
        str(warehouse),
        description=str(content.get("description") or ""),
        parent_path=parent_path,
    )
