"""LangGraph ``SqliteStore``'s rows, read and written here without importing LangGraph (its store
package loads ``langchain_core``, and ``sqlite_vec`` loads numpy: about 0.2 s of a one-question
process).

The statements are those ``SqliteStore.batch`` sends for what a turn does (a search of a namespace
without filter or query, a get, puts without TTL or embedding index), and the values are the same
bytes (``orjson``). The caller holds the connection's lock; the tables must be set up.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple

from ..store import MemoryWrite

__all__ = ["StoredItem", "get_item", "put_items", "search_items", "transaction"]

_SEARCH = """
SELECT prefix, key, value, created_at, updated_at, expires_at, ttl_minutes, NULL as score
FROM store
WHERE (prefix = ? OR prefix GLOB ?)
ORDER BY updated_at DESC LIMIT ? OFFSET ?
"""
_GET = "SELECT key, value, created_at, updated_at, expires_at, ttl_minutes FROM store WHERE prefix = ? AND key IN (?)"


class StoredItem(NamedTuple):
    """An item as LangGraph's ``Item`` holds it."""

    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One transaction, as ``SqliteStore.batch`` runs its statements (rolled back on an error)."""
    conn.execute("BEGIN")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise
    conn.execute("COMMIT")


def search_items(
    conn: sqlite3.Connection, namespace: tuple[str, ...], limit: int, offset: int = 0
) -> list[StoredItem]:
    """The items of ``namespace`` and the namespaces under it, the most recently updated first."""
    path = ".".join(namespace)
    glob = path.replace("[", "[[]").replace("*", "[*]").replace("?", "[?]") + ".*"
    rows = conn.execute(_SEARCH, (path, glob, limit, offset)).fetchall()
    return [_item(tuple(r[0].split(".")), r[1], r[2], r[3], r[4]) for r in rows]


def get_item(conn: sqlite3.Connection, namespace: tuple[str, ...], key: str) -> StoredItem | None:
    row = conn.execute(_GET, (".".join(namespace), key)).fetchone()
    return _item(namespace, row[0], row[1], row[2], row[3]) if row is not None else None


def put_items(conn: sqlite3.Connection, writes: Sequence[MemoryWrite]) -> None:
    """Put ``writes`` (the last write of a key wins; ``value`` None deletes): deletes, then inserts."""
    import orjson

    last = {(w.namespace, w.key): w for w in writes}
    deletes: dict[str, list[str]] = {}
    inserts: list[Any] = []
    for w in last.values():
        if w.value is None:
            deletes.setdefault(".".join(w.namespace), []).append(w.key)
        else:
            inserts += [".".join(w.namespace), w.key, orjson.dumps(dict(w.value)), None, None]
    for prefix, keys in deletes.items():
        conn.execute(
            f"DELETE FROM store WHERE prefix = ? AND key IN ({','.join('?' * len(keys))})", (prefix, *keys)
        )
    if inserts:
        values = ",".join(["(?, ?, ?, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, ?, ?)"] * (len(inserts) // 5))
        conn.execute(
            "INSERT OR REPLACE INTO store (prefix, key, value, created_at, updated_at, expires_at, ttl_minutes) "
            f"VALUES {values}",
            inserts,
        )


def _item(namespace: tuple[str, ...], key: str, value: bytes | str, created: str, updated: str) -> StoredItem:
    import orjson

    return StoredItem(
        namespace, key, orjson.loads(value), datetime.fromisoformat(created), datetime.fromisoformat(updated)
    )
