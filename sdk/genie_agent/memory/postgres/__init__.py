"""The Postgres backend (any Postgres, and Lakebase): threads and user memories through one connection pool.

:mod:`.pool` holds the pool, the schema's setup lock and what both stores do alike (tables on first
use, a retry on a stale connection); :mod:`.threads` the thread store, :mod:`.memories` the memory
store, :mod:`.pgvector` recall by meaning's setup, :mod:`.sql` the statements they send.
"""

from __future__ import annotations

from .memories import PostgresMemoryStore
from .pgvector import pgvector_index
from .pool import SCHEMA_NAME, backend_errors, make_pool, retry_stale, setup_lock
from .threads import PostgresThreadStore

__all__ = [
    "SCHEMA_NAME",
    "PostgresMemoryStore",
    "PostgresThreadStore",
    "backend_errors",
    "make_pool",
    "pgvector_index",
    "retry_stale",
    "setup_lock",
]
