"""The Genie space management calls of genie-server: list, get (with ``include_serialized_space``),
create, update (with ``etag``) and trash, over the server's spaces, so ``genie-agent spaces`` and any
client of ``w.genie.create_space`` run here end to end.

A created space is answered by a local space built from it (:mod:`.space_builder`) and can be asked
like any other at once. Behaviour follows the REST reference and Databricks' own CLI test server
(databricks/cli, ``libs/testserver/genie_spaces.go``): a create body needs ``warehouse_id`` and
``serialized_space``; ``parent_path`` defaults to the caller's home folder, without its
``/Workspace`` prefix; the etag is a counter bumped by each update that changes something and is
returned by GET only with ``include_serialized_space=true``; an update whose etag is not the space's
current one is refused with 409 (ABORTED), one without an etag applies unconditionally; fields an
update leaves out keep their values.

Who may do what (the server's model of space permissions): a caller who may use a space (their
``users`` entry has no ``spaces`` list, or lists it) can see and ask it; reading a definition,
creating, updating and trashing need CAN EDIT, which a caller without a ``spaces`` list has on every
space and a restricted caller on none. SQL warehouses: the server has :data:`LOCAL_WAREHOUSE_ID` (and
those given to it); a space on another one is refused, as a workspace refuses a warehouse the caller
cannot use.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..identity import Identity
from .errors import ApiError
from .messages import GenieService
from .payloads import space_json
from .space_builder import LocalTables
from .space_payload import check_create, check_update

__all__ = ["LOCAL_WAREHOUSE_ID", "SpaceAdmin", "SpaceRecord", "space_admin_routes"]

LOCAL_WAREHOUSE_ID = "0123456789abcdef"
"""The SQL warehouse genie-server has for created spaces (``spaces create --warehouse-id``)."""

_SPACES = "/api/2.0/genie/spaces"


@dataclass
class SpaceRecord:
    """A space as the management API shows it."""

    space_id: str
    title: str
    description: str
    warehouse_id: str
    parent_path: str
    serialized_space: str
    etag: int = 1

    def json(self, *, definition: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "space_id": self.space_id,
            "title": self.title,
            "description": self.description,
            "warehouse_id": self.warehouse_id,
            "parent_path": self.parent_path,
        }
        if definition:
            body |= {"serialized_space": self.serialized_space, "etag": str(self.etag)}
        return body


def _parent_path(value: str | None, who: Identity) -> str:
    path = value or f"/Users/{who.user}"
    return path.removeprefix("/Workspace") if path.startswith("/Workspace/") else path


class SpaceAdmin:
    """The management state: a record per space, next to the message service's spaces (which answer
    questions); both change together."""

    def __init__(self, service: GenieService, local: LocalTables, warehouses: Iterable[str] = ()) -> None:
        self.s = service
        self.local = local
        self.records: dict[str, SpaceRecord] = {}
        for space_id, space in service.spaces.items():
            shown = space_json(space_id, space.info)
            serialized = self.local.serialized(space) or json.dumps({"version": 2})
            self.records[space_id] = SpaceRecord(
                space_id, shown["title"], shown["description"], shown["warehouse_id"], "/Shared", serialized
            )
        self.warehouses = {LOCAL_WAREHOUSE_ID, *warehouses} | {r.warehouse_id for r in self.records.values()}

    def _record(self, space_id: str, who: Identity, *, edit: bool = False) -> SpaceRecord:
        record = self.records.get(space_id)
        if record is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Genie space {space_id} does not exist.")
        if not who.may_use(space_id):
            raise ApiError(
                403, "PERMISSION_DENIED", f"User {who.user} does not have access to Genie space {space_id}."
            )
        if edit:
            self._editor(who, f"Genie space {space_id}")
        return record

    @staticmethod
    def _editor(who: Identity, what: str) -> None:
        if who.spaces is not None:
            raise ApiError(403, "PERMISSION_DENIED", f"User {who.user} does not have CAN EDIT on {what}.")

    def _warehouse(self, warehouse_id: str, who: Identity) -> str:
        if warehouse_id not in self.warehouses:
            raise ApiError(
                403,
                "PERMISSION_DENIED",
                f"User {who.user} cannot use SQL warehouse {warehouse_id}: it does not exist or they lack "
                "CAN USE on it.",
            )
        return warehouse_id

    def visible(self, who: Identity) -> list[SpaceRecord]:
        return [r for k, r in self.records.items() if who.may_use(k)]

    def get(self, space_id: str, who: Identity, *, definition: bool) -> SpaceRecord:
        return self._record(space_id, who, edit=definition)

    def create(self, body: object, who: Identity) -> SpaceRecord:
        parsed, f = check_create(body)
        self._editor(who, "new Genie spaces")
        warehouse = self._warehouse(f["warehouse_id"] or "", who)
        space_id = secrets.token_hex(16)
        title, description = f["title"] or "New Space", f["description"] or ""
        local = self.local.build(space_id, title, description, parsed)
        record = SpaceRecord(
            space_id, title, description, warehouse, _parent_path(f["parent_path"], who), json.dumps(parsed)
        )
        self.records[space_id] = record
        self.s.spaces[space_id] = local
        return record

    def update(self, space_id: str, body: object, who: Identity) -> SpaceRecord:
        record = self._record(space_id, who, edit=True)
        parsed, f = check_update(body)
        if f["etag"] and f["etag"] != str(record.etag):
            raise ApiError(
                409,
                "ABORTED",
                f"Genie space {space_id} was modified since etag {f['etag']} was read (it is now at etag "
                f"{record.etag}): read it again and reapply the change.",
            )
        warehouse = self._warehouse(f["warehouse_id"], who) if f["warehouse_id"] else record.warehouse_id
        title, description = f["title"] or record.title, f["description"] or record.description
        serialized = json.dumps(parsed) if parsed is not None else record.serialized_space
        parent = _parent_path(f["parent_path"], who) if f["parent_path"] else record.parent_path
        changed = (title, description, warehouse, serialized, parent) != (
            record.title,
            record.description,
            record.warehouse_id,
            record.serialized_space,
            record.parent_path,
        )
        if parsed is not None or title != record.title or description != record.description:
            definition = parsed if parsed is not None else json.loads(record.serialized_space)
            self.s.spaces[space_id] = self.local.build(space_id, title, description, definition)
        record.title, record.description, record.warehouse_id = title, description, warehouse
        record.serialized_space, record.parent_path = serialized, parent
        if changed:
            record.etag += 1
        return record

    def trash(self, space_id: str, who: Identity) -> None:
        self._record(space_id, who, edit=True)
        del self.records[space_id]
        self.s.spaces.pop(space_id, None)


async def _body(request: Request) -> object:
    try:
        return await request.json()
    except ValueError:
        raise ApiError(400, "MALFORMED_REQUEST", "The request body is not valid JSON.") from None


class _SpaceRoutes:
    def __init__(self, admin: SpaceAdmin) -> None:
        self.admin = admin

    def _who(self, request: Request) -> Identity:
        return self.admin.s.authenticate(request.headers.get("authorization"))

    async def list_spaces(self, request: Request) -> JSONResponse:
        records = self.admin.visible(self._who(request))
        try:
            size = max(1, int(request.query_params.get("page_size") or 100))
            start = max(0, int(request.query_params.get("page_token") or 0))
        except ValueError:
            raise ApiError(
                400, "INVALID_PARAMETER_VALUE", "page_size and page_token must be integers."
            ) from None
        body: dict[str, object] = {
            "spaces": [r.json(definition=False) for r in records[start : start + size]]
        }
        if start + size < len(records):
            body["next_page_token"] = str(start + size)
        return JSONResponse(body)

    async def get_space(self, request: Request) -> JSONResponse:
        definition = request.query_params.get("include_serialized_space", "").lower() == "true"
        record = self.admin.get(request.path_params["space_id"], self._who(request), definition=definition)
        return JSONResponse(record.json(definition=definition))

    async def create_space(self, request: Request) -> JSONResponse:
        who = self._who(request)
        return JSONResponse(self.admin.create(await _body(request), who).json(definition=True))

    async def update_space(self, request: Request) -> JSONResponse:
        who = self._who(request)
        record = self.admin.update(request.path_params["space_id"], await _body(request), who)
        return JSONResponse(record.json(definition=True))

    async def trash_space(self, request: Request) -> JSONResponse:
        self.admin.trash(request.path_params["space_id"], self._who(request))
        return JSONResponse({})


def space_admin_routes(admin: SpaceAdmin) -> list[Route]:
    """``GET``/``POST`` ``/api/2.0/genie/spaces`` and ``GET``/``PATCH``/``DELETE`` ``.../{space_id}``."""
    r = _SpaceRoutes(admin)
    return [
        Route(_SPACES, r.list_spaces, methods=["GET"]),
        Route(_SPACES, r.create_space, methods=["POST"]),
        Route(_SPACES + "/{space_id}", r.get_space, methods=["GET"]),
        Route(_SPACES + "/{space_id}", r.update_space, methods=["PATCH"]),
        Route(_SPACES + "/{space_id}", r.trash_space, methods=["DELETE"]),
    ]
