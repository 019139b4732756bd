"""Create the local catalog's spaces on a workspace as Genie spaces, idempotently.

A space whose title a Genie space already has is reused as it is; with ``replace`` it is updated
(a full replacement of its definition, conditional on the etag read just before). Nothing else on
the workspace is touched: no space is trashed, and one whose title matches is changed only with
``replace``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ..errors import ConfigError
from ..spaces.semantic_model import SpaceDefinition
from .api import RemoteSpace, WorkspaceSpaces
from .serialized import serialize_definition

__all__ = ["SpaceOutcome", "SpacePlan", "plan_spaces", "provision"]

Action = Literal["created", "reused", "replaced"]


@dataclass(frozen=True)
class SpacePlan:
    """A local space as it will be sent: its domain (the space's id in the catalog), title,
    description, sample questions and serialized form."""

    domain: str
    title: str
    description: str
    sample_questions: tuple[str, ...]
    serialized_space: str


@dataclass(frozen=True)
class SpaceOutcome:
    """What happened to one space on the workspace."""

    domain: str
    action: Action
    space: RemoteSpace
    sample_questions: tuple[str, ...]
    previous_etag: str | None = None

    def config_entry(self) -> dict[str, object]:
        """The space's ``genie_spaces`` entry (``GenieSpaceConfig``'s fields)."""
        entry: dict[str, object] = {"space_id": self.space.space_id, "title": self.space.title}
        entry["description"] = self.space.description
        entry["sample_questions"] = list(self.sample_questions)
        if self.space.warehouse_id:
            entry["warehouse_id"] = self.space.warehouse_id
        return entry


def plan_spaces(spaces: Sequence[SpaceDefinition], *, catalog: str, schema: str) -> list[SpacePlan]:
    """What each space sends: its tables named ``catalog.schema.<table>``."""
    return [
        SpacePlan(
            s.id,
            s.title,
            s.description,
            s.sample_questions,
            json.dumps(serialize_definition(s, catalog=catalog, schema=schema)),
        )
        for s in spaces
    ]


def _existing(plan: SpacePlan, remote: Sequence[RemoteSpace], known_id: str | None) -> RemoteSpace | None:
    same = [s for s in remote if s.title == plan.title]
    if len(same) <= 1:
        return same[0] if same else None
    chosen = [s for s in same if s.space_id == known_id]
    if chosen:
        return chosen[0]
    ids = ", ".join(s.space_id for s in same)
    raise ConfigError(
        f"{len(same)} Genie spaces are titled {plan.title!r} ({ids}): which one is the {plan.domain} space?",
        f"Set genie_spaces.{plan.domain}.space_id in the configuration to the one to use, or trash the others.",
    )


def provision(
    api: WorkspaceSpaces,
    plans: Sequence[SpacePlan],
    warehouse_id: str,
    *,
    parent_path: str | None = None,
    replace: bool = False,
    known_ids: Mapping[str, str] | None = None,
) -> Iterator[SpaceOutcome]:
    """Create, reuse or (``replace``) update each planned space, yielding each outcome as it is done
    (so a caller keeps what was done when a later space fails). ``known_ids`` (domain -> space id,
    from the configuration) picks among spaces that share a title. Raises SpaceApiError naming the
    space and the call."""
    remote = list(api.list())
    for plan in plans:
        found = _existing(plan, remote, (known_ids or {}).get(plan.domain))
        if found is None:
            created = api.create(
                plan.title,
                plan.serialized_space,
                warehouse_id,
                description=plan.description,
                parent_path=parent_path,
            )
            remote.append(created)
            yield SpaceOutcome(plan.domain, "created", created, plan.sample_questions)
        elif not replace:
            yield SpaceOutcome(plan.domain, "reused", found, plan.sample_questions)
        else:
            current = api.get(found.space_id, definition=True, name=plan.title)
            updated = api.update(
                found.space_id,
                etag=current.etag,
                title=plan.title,
                serialized_space=plan.serialized_space,
                warehouse_id=warehouse_id,
                description=plan.description,
            )
            yield SpaceOutcome(plan.domain, "replaced", updated, plan.sample_questions, current.etag)
