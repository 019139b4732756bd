"""Genie spaces on a workspace, made from the local catalog's spaces: serialize a local space
definition (:mod:`.serialized`, table names rewritten by :mod:`.sql_names`), create, reuse or update
spaces by title (:mod:`.provision`), what the caller may do with each (:mod:`.access`), export and
import (:mod:`.transfer`), and the ``genie_spaces`` mapping written into the configuration file
(:mod:`.config_file`). The calls are databricks-sdk's (:mod:`.api`); nothing here knows the command line.
"""

from __future__ import annotations

from .access import SpaceAccess, check_access
from .api import RemoteSpace, SpaceApiError, WorkspaceSpaces, connect
from .config_file import write_genie_spaces
from .provision import SpaceOutcome, SpacePlan, plan_spaces, provision
from .serialized import SerializedSpace, serialize_definition
from .transfer import export_space, import_space, read_space_file, write_space_file

__all__ = [
    "RemoteSpace",
    "SerializedSpace",
    "SpaceAccess",
    "SpaceApiError",
    "SpaceOutcome",
    "SpacePlan",
    "WorkspaceSpaces",
    "check_access",
    "connect",
    "export_space",
    "import_space",
    "plan_spaces",
    "provision",
    "read_space_file",
    "serialize_definition",
    "write_genie_spaces",
    "write_space_file",
]
