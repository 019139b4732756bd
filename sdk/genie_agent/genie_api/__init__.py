"""The Genie REST emulator: the Genie Conversation API (and the workspace calls Lakebase clients make)
over any :class:`~genie_agent.spaces.base.GenieSpace`, so the real databricks-sdk runs against the
local spaces.

- :mod:`.server` — the ASGI app (:class:`GenieApi`, :func:`build_genie_api`) and
  :func:`serve_in_background` for tests and benchmarks.
- :mod:`.routes` — the HTTP of conversations: paths, the bearer token, bodies in; JSON out.
- :mod:`.space_admin` — the spaces: list, get, create, update (etag), trash; :mod:`.space_payload`
  checks a space's definition as the workspace does, :mod:`.space_builder` builds the local space
  that answers a created one.
- :mod:`.messages` — the message service: conversations, messages and their statuses over time.
- :mod:`.payloads` — the JSON Genie answers with.
- :mod:`.faults` — scripted failures (FAILED, CANCELLED, expired results, a starting warehouse, 429),
  and a workspace's question limit (N a minute, then 429 with Retry-After).
- :mod:`.workspace` — Lakebase database instances and the credentials minted for them.
- :mod:`.statements` — a SQL warehouse's Statement Execution API over the local DuckDB files (the
  warehouse backend's); :mod:`.statement_sql` resolves ``samples.tpch.*`` and writes the SQL for DuckDB.
- :mod:`.errors` — :class:`ApiError`, answered as ``{"error_code", "message"}`` with its status.

``genie-agent genie-server`` (``genie_agent_cli.genie_server``) serves it on a port.
"""

from __future__ import annotations

from .errors import ApiError
from .faults import GenieFaults, MessageFault, QuestionLimit
from .messages import MessageTrace, ServiceStats
from .server import GenieApi, build_genie_api, serve_in_background
from .space_admin import LOCAL_WAREHOUSE_ID
from .workspace import DatabaseFaults, IssuedCredential, WorkspaceDatabases, parse_instance

__all__ = [
    "LOCAL_WAREHOUSE_ID",
    "ApiError",
    "DatabaseFaults",
    "GenieApi",
    "GenieFaults",
    "IssuedCredential",
    "MessageFault",
    "MessageTrace",
    "QuestionLimit",
    "ServiceStats",
    "WorkspaceDatabases",
    "build_genie_api",
    "parse_instance",
    "serve_in_background",
]
