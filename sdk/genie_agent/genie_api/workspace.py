"""The workspace database service Lakebase clients call, answered by ``genie-server`` over a local
PostgreSQL.

``databricks_langchain.CheckpointSaver`` and ``DatabricksStore`` (through databricks-ai-bridge's
``LakebasePool``) look up the database instance (``GET /api/2.0/database/instances/{name}``, for its
``read_write_dns``), ask who is calling (``GET /api/2.0/preview/scim/v2/Me``, the Postgres user name)
and mint a database credential (``POST /api/2.0/database/credentials``, the Postgres password, minted
again when their cache of it expires). Paths and JSON are databricks-sdk's ``DatabaseAPI``; callers
authenticate with the same bearer tokens as the Genie API.

Each configured instance name points at a host: the pool always connects on port 5432 with
``sslmode=require`` to the database ``databricks_postgres``, so that server needs TLS, that database
and a login role per caller (``.ci/run`` sets up the local one). Postgres does not check the minted
token (the local server trusts loopback); the server records each credential it minted, with its
expiry, so tests see when clients refresh. :class:`DatabaseFaults` fails credential minting the way a
workspace does when the caller lost access or the instance is down.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..identity import Identity
from .errors import ApiError

__all__ = ["LAKEBASE_PORT", "DatabaseFaults", "IssuedCredential", "WorkspaceDatabases", "parse_instance"]

# databricks-ai-bridge's LakebasePool connects on this port whatever the instance says.
LAKEBASE_PORT = 5432


def parse_instance(value: str) -> tuple[str, str]:
    """``"memory=127.0.0.1"`` or ``"memory=127.0.0.1:5432"`` -> ``("memory", "127.0.0.1")``; raises ValueError."""
    name, sep, address = value.partition("=")
    host, _, port = address.strip().partition(":")
    if not sep or not name.strip() or not host:
        raise ValueError(f"{value!r}: expected NAME=HOST[:5432], e.g. memory=127.0.0.1")
    if port and port != str(LAKEBASE_PORT):
        raise ValueError(
            f"{value!r}: Lakebase clients (databricks-ai-bridge) always connect on port {LAKEBASE_PORT}; "
            "point the instance at a PostgreSQL listening there."
        )
    return name.strip(), host


@dataclass(frozen=True)
class IssuedCredential:
    """A database credential the server minted: for whom, for which instances, until when."""

    user: str
    instance_names: tuple[str, ...]
    token: str
    expires_at: datetime


class DatabaseFaults:
    """Scripted failures of credential minting (tests): ``fail_credentials`` until ``clear``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failure: tuple[int, str, str] | None = None

    def fail_credentials(
        self,
        status: int = 403,
        error_code: str = "PERMISSION_DENIED",
        message: str = "The caller may not generate credentials for this database instance.",
    ) -> None:
        """Answer every credential request with this error until :meth:`clear`. Avoid 429/503:
        databricks-sdk retries those for minutes."""
        with self._lock:
            self._failure = (status, error_code, message)

    def clear(self) -> None:
        with self._lock:
            self._failure = None

    def credential_failure(self) -> tuple[int, str, str] | None:
        with self._lock:
            return self._failure


class WorkspaceDatabases:
    """Lakebase database instances by name (each a host), and the credentials minted for them."""

    def __init__(self, instances: Mapping[str, str], *, token_ttl_s: float = 3600.0) -> None:
        if token_ttl_s <= 0:
            raise ValueError("token_ttl_s must be positive")
        self.instances = dict(instances)
        self.token_ttl_s = token_ttl_s
        self.faults = DatabaseFaults()
        self._lock = threading.Lock()
        self._issued: list[IssuedCredential] = []

    @property
    def issued(self) -> list[IssuedCredential]:
        """Every credential minted so far, oldest first."""
        with self._lock:
            return list(self._issued)

    def instance_json(self, name: str) -> dict[str, Any]:
        """The instance as ``DatabaseAPI`` describes it; raises ApiError 404 for an unknown name."""
        if name not in self.instances:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Database instance '{name}' does not exist.")
        host = self.instances[name]
        return {
            "name": name,
            "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.lakebase.local")),
            "state": "AVAILABLE",
            "capacity": "CU_1",
            "effective_capacity": "CU_1",
            "pg_version": "PG_VERSION_15",
            "node_count": 1,
            "effective_node_count": 1,
            "stopped": False,
            "effective_stopped": False,
            "read_write_dns": host,
            "creator": "genie-server",
        }

    def mint(self, who: Identity, instance_names: list[str]) -> IssuedCredential:
        """A credential for ``who`` on these instances; raises ApiError as the workspace would."""
        unknown = [n for n in instance_names if n not in self.instances]
        if not instance_names or unknown:
            raise ApiError(
                404 if unknown else 400,
                "RESOURCE_DOES_NOT_EXIST" if unknown else "INVALID_PARAMETER_VALUE",
                f"Database instance '{unknown[0]}' does not exist."
                if unknown
                else "instance_names must name at least one database instance.",
            )
        failure = self.faults.credential_failure()
        if failure is not None:
            raise ApiError(*failure)
        expires = datetime.now(UTC) + timedelta(seconds=self.token_ttl_s)
        cred = IssuedCredential(who.user, tuple(instance_names), secrets.token_urlsafe(32), expires)
        with self._lock:
            self._issued.append(cred)
        return cred
