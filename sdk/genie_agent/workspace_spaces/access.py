"""What the caller may do with each configured Genie space: read from the workspace, never assumed.

``GET .../spaces/{id}`` answers when the caller may see the space at all; with
``include_serialized_space=true`` only when they may edit it (CAN EDIT, per the REST reference). A
space either call refuses is reported with the workspace's reason, never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..spaces.databricks import GenieSpaceConfig
from .api import SpaceApiError, WorkspaceSpaces

__all__ = ["SpaceAccess", "check_access"]


@dataclass(frozen=True)
class SpaceAccess:
    """One configured space as the caller reaches it."""

    domain: str
    space_id: str
    reachable: bool
    title: str | None = None
    can_edit: bool = False
    error: str | None = None
    """Why the space could not be read (``reachable`` false), or why its definition could not."""

    @property
    def may(self) -> str:
        if not self.reachable:
            return "cannot read it"
        return "ask it, read and edit its definition" if self.can_edit else "ask it (not read its definition)"


def check_access(api: WorkspaceSpaces, spaces: Mapping[str, GenieSpaceConfig]) -> list[SpaceAccess]:
    """Each configured space: reachable, its title, and whether its definition may be read."""
    out: list[SpaceAccess] = []
    for domain, config in spaces.items():
        try:
            space = api.get(config.space_id, name=config.title or domain)
        except SpaceApiError as exc:
            if exc.kind == "Unreachable":  # the workspace, not the space: the others fail alike
                raise
            out.append(SpaceAccess(domain, config.space_id, False, config.title, error=exc.message))
            continue
        try:
            api.get(config.space_id, definition=True, name=space.title)
        except SpaceApiError as exc:
            out.append(SpaceAccess(domain, config.space_id, True, space.title, False, exc.message))
            continue
        out.append(SpaceAccess(domain, config.space_id, True, space.title, True))
    return out
