"""The Genie space management calls (list, get, create, update, trash) through databricks-sdk's
API client, with errors that name the space, the call and what to do.

The calls go through ``WorkspaceClient.api_client.do`` rather than ``w.genie.*``: the pinned
databricks-sdk (0.94) has no ``etag`` on ``GenieSpace`` nor on ``update_space``, and an update
without it would overwrite a change made since the space was read. The paths and bodies are those
of ``GenieAPI.create_space``/``get_space``/``list_spaces``/``update_space``/``trash_space``, plus
``etag`` and ``parent_path`` as the REST reference has them (docs.databricks.com/api/genie/v1).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import BackendError, ConfigError

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

__all__ = ["SPACES_PATH", "RemoteSpace", "SpaceApiError", "WorkspaceSpaces", "connect"]

SPACES_PATH = "/api/2.0/genie/spaces"
_RETRY_TIMEOUT_S = 20
"""How long databricks-sdk retries one call (a workspace that does not answer, 429s)."""


@dataclass(frozen=True)
class RemoteSpace:
    """A Genie space as the workspace describes it; ``serialized_space`` and ``etag`` only when read
    with its definition (``include_serialized_space``, which needs CAN EDIT)."""

    space_id: str
    title: str
    description: str = ""
    warehouse_id: str | None = None
    parent_path: str | None = None
    serialized_space: str | None = None
    etag: str | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> RemoteSpace:
        return cls(
            space_id=str(body["space_id"]),
            title=str(body.get("title") or ""),
            description=str(body.get("description") or ""),
            warehouse_id=body.get("warehouse_id"),
            parent_path=body.get("parent_path"),
            serialized_space=body.get("serialized_space"),
            etag=body.get("etag"),
        )


class SpaceApiError(BackendError):
    """A Genie space call the workspace refused or did not answer: ``space`` (its title or id),
    ``call`` (method and path), ``kind`` (databricks-sdk's error class, e.g. ``PermissionDenied``) and
    what to do."""

    def __init__(self, space: str, call: str, reason: str, hint: str, *, kind: str = "") -> None:
        super().__init__(f"Genie space {space!r}: {call} failed: {reason}", hint)
        self.space, self.call, self.kind = space, call, kind


def _hint(kind: str, text: str, call: str, warehouse_id: str | None) -> str:
    lowered = text.lower()
    if kind == "Unauthenticated":
        return "Check DATABRICKS_HOST and your credentials (DATABRICKS_TOKEN, a profile or `databricks auth login`)."
    if (
        kind in ("NotImplemented", "FeatureDisabled")
        or "not enabled" in lowered
        or "ENDPOINT_NOT_FOUND" in text
    ):
        return (
            "Genie is not available in this workspace: an admin enables it (Previews / partner-powered AI "
            "features, and the Databricks SQL entitlement for you)."
        )
    if "warehouse" in lowered:
        return (
            f"Use a SQL warehouse you have CAN USE on (CAN MANAGE to change it) — a pro or serverless one: "
            f"check --warehouse-id {warehouse_id or 'ID'} under SQL Warehouses, or ask its owner for access."
        )
    if "table" in lowered or "select" in lowered:
        return (
            "Each table must exist in Unity Catalog and you need SELECT on it (USE CATALOG, USE SCHEMA on "
            "its parents): check --catalog and --schema, or ask the data owner for access."
        )
    if kind == "ResourceConflict":
        return "The space changed since it was read: run the command again to apply your change on top."
    if kind == "PermissionDenied":
        if call.startswith("POST"):
            return "Creating a space needs the Databricks SQL entitlement and CAN USE on the warehouse."
        return "You need CAN EDIT on the space (CAN MANAGE to trash it): ask its owner, or use --replace only on your own spaces."
    if kind in ("NotFound", "ResourceDoesNotExist"):
        return "The space does not exist (or was trashed): check the id, or run `genie-agent spaces create` again."
    if kind in ("BadRequest", "InvalidParameterValue"):
        return "The workspace refused the space's definition: see its message above."
    return "Try again; if it keeps failing, check the workspace's status."


class WorkspaceSpaces:
    """Genie space management on one workspace, through a databricks-sdk ``WorkspaceClient``."""

    def __init__(self, client: WorkspaceClient) -> None:
        self.client = client

    @property
    def host(self) -> str:
        return str(self.client.config.host)

    def _do(
        self,
        method: str,
        path: str,
        space: str,
        *,
        body: dict[str, Any] | None = None,
        query: dict[str, Any] | None = None,
        warehouse_id: str | None = None,
    ) -> dict[str, Any]:
        from databricks.sdk.errors import DatabricksError

        call = f"{method} {path}"
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            out = self.client.api_client.do(method, path, query=query, body=body, headers=headers)
        except DatabricksError as exc:
            kind = type(exc).__name__
            # The SDK appends its configuration to some messages ("... Config: host=..., Env: ...").
            text = re.split(r"\.? Config: ", str(exc), maxsplit=1)[0] or kind
            if exc.error_code:
                text = f"{exc.error_code}: {text}"
            raise SpaceApiError(space, call, text, _hint(kind, text, call, warehouse_id), kind=kind) from None
        except OSError as exc:  # requests' ConnectionError is one, after the SDK's own retries
            raise SpaceApiError(
                space,
                call,
                f"{self.host} did not answer ({type(exc).__name__})",
                "Check DATABRICKS_HOST and your network.",
                kind="Unreachable",
            ) from None
        return out if isinstance(out, dict) else {}

    def list(self) -> Iterator[RemoteSpace]:
        """Every space the caller can see, page by page (no definitions)."""
        token: str | None = None
        while True:
            query: dict[str, Any] = {"page_size": 100}
            if token:
                query["page_token"] = token
            page = self._do("GET", SPACES_PATH, "(all)", query=query)
            for body in page.get("spaces") or []:
                yield RemoteSpace.from_json(body)
            token = page.get("next_page_token")
            if not token:
                return

    def get(self, space_id: str, *, definition: bool = False, name: str | None = None) -> RemoteSpace:
        """A space; with ``definition`` its serialized form and etag too (needs CAN EDIT)."""
        query = {"include_serialized_space": "true"} if definition else None
        return RemoteSpace.from_json(
            self._do("GET", f"{SPACES_PATH}/{space_id}", name or space_id, query=query)
        )

    def create(
        self,
        title: str,
        serialized_space: str,
        warehouse_id: str,
        *,
        description: str = "",
        parent_path: str | None = None,
    ) -> RemoteSpace:
        body: dict[str, Any] = {
            "title": title,
            "description": description,
            "warehouse_id": warehouse_id,
            "serialized_space": serialized_space,
        }
        if parent_path:
            body["parent_path"] = parent_path
        return RemoteSpace.from_json(
            self._do("POST", SPACES_PATH, title, body=body, warehouse_id=warehouse_id)
        )

    def update(
        self,
        space_id: str,
        *,
        etag: str | None,
        title: str,
        serialized_space: str,
        warehouse_id: str,
        description: str = "",
    ) -> RemoteSpace:
        """Replace the space's definition (a full replacement); refused when the space changed since
        ``etag`` was read."""
        body: dict[str, Any] = {
            "title": title,
            "description": description,
            "warehouse_id": warehouse_id,
            "serialized_space": serialized_space,
        }
        if etag:
            body["etag"] = etag
        out = self._do("PATCH", f"{SPACES_PATH}/{space_id}", title, body=body, warehouse_id=warehouse_id)
        return RemoteSpace.from_json(out)

    def trash(self, space_id: str, *, name: str | None = None) -> None:
        self._do("DELETE", f"{SPACES_PATH}/{space_id}", name or space_id)


def connect() -> WorkspaceSpaces:
    """The workspace of databricks-sdk's unified auth (``DATABRICKS_HOST`` with a token, a profile,
    OAuth). Raises ConfigError when databricks-sdk is missing or finds no credentials."""
    try:
        from databricks.sdk import WorkspaceClient
        from databricks.sdk.core import Config
    except ImportError:
        raise ConfigError(
            "databricks-sdk is not installed: creating Genie spaces needs it.",
            "pip install 'genie-agent[databricks]'.",
        ) from None
    try:
        return WorkspaceSpaces(WorkspaceClient(config=Config(retry_timeout_seconds=_RETRY_TIMEOUT_S)))
    except ValueError as exc:
        raise ConfigError(
            f"Databricks authentication is not configured: {exc}",
            "Set DATABRICKS_HOST and DATABRICKS_TOKEN, or DATABRICKS_CONFIG_PROFILE for a profile in "
            "~/.databrickscfg, or run `databricks auth login` (OAuth).",
        ) from None
