"""The embedded default backend: threads and user memories in one SQLite file, safe across processes.

Threads use LangGraph's ``SqliteSaver`` tables (:mod:`.threads`), memories its ``SqliteStore`` tables
plus an FTS5 table for recall (:mod:`.memories`; with an embedder, note vectors in a side table, kept in
this process by :mod:`.vectors`). A turn reads and writes their rows without importing LangGraph
(:mod:`.checkpoint_rows`, :mod:`.store_rows`) once LangGraph has set the file up (:mod:`.setup_marks`).
Each store keeps one connection per process (SQLite has one writer at a time anyway) in WAL mode
(:mod:`.connection`); :mod:`.sql` holds the statements beyond LangGraph's.
"""

from __future__ import annotations

from .connection import connect_sqlite, sqlite_setup_lock
from .memories import SqliteMemoryStore
from .threads import SqliteThreadStore

__all__ = ["SqliteMemoryStore", "SqliteThreadStore", "connect_sqlite", "sqlite_setup_lock"]
