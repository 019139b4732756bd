"""pgvector for recall by meaning: the index configuration LangGraph's store takes, and what setup
checks and makes beyond LangGraph's tables (the extension, the vectors' dimensions, the notes saved
without a vector, the HNSW index)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ...errors import ConfigError
from .pool import scalar
from .sql import ANN_INDEX, ANN_INDEX_NAME, ANN_INDEX_VALID, NOTES_WITHOUT_VECTORS, VECTOR_DIMS

if TYPE_CHECKING:
    from langgraph.store.base import BaseStore
    from psycopg import Connection

    from ..embeddings import Embedder

__all__ = ["ann_index", "check_dims", "embed_missing", "pgvector_index", "require_pgvector"]


def pgvector_index(embedder: Embedder) -> dict[str, Any]:
    """The LangGraph ``PostgresIndexConfig`` for ``embedder``: the notes' text, cosine similarity.

    LangGraph makes no ANN index ("flat"): :class:`~.memories.PostgresMemoryStore` makes its own HNSW
    index (pgvector 0.8 or later) and uses it only for users with many notes; the others are ranked exactly.
    """
    return {
        "dims": embedder.dims,
        "embed": embedder.embed_documents,
        "fields": ["text"],
        "distance_type": "cosine",
        "ann_index_config": {"kind": "flat"},
    }


def require_pgvector(conn: Connection[Any]) -> None:
    """Install the ``vector`` extension unless it is there; a :class:`ConfigError` saying who can when we may not."""
    row = conn.execute("SELECT count(*) AS n FROM pg_available_extensions WHERE name = 'vector'").fetchone()
    if not scalar(row):
        raise ConfigError(
            "memory_embeddings needs the pgvector extension, which this Postgres server does not have.",
            "Install pgvector on the server (Lakebase and most managed Postgres have it), or set "
            "GENIE_AGENT_MEMORY_EMBEDDINGS=off for keyword recall.",
        )
    if scalar(conn.execute("SELECT count(*) AS n FROM pg_extension WHERE extname = 'vector'").fetchone()):
        return
    import psycopg

    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except psycopg.errors.InsufficientPrivilege:
        database = scalar(conn.execute("SELECT current_database() AS d").fetchone())
        role = scalar(conn.execute("SELECT current_user AS u").fetchone())
        raise ConfigError(
            f"The pgvector extension is not installed in database {database!r}, and role {role!r} "
            "may not install it.",
            f"Ask an administrator to run `CREATE EXTENSION vector;` in {database!r} (on Lakebase, as "
            "the instance's owner), then run `genie-agent setup-memory` again; or set "
            "GENIE_AGENT_MEMORY_EMBEDDINGS=off for keyword recall.",
        ) from None


def check_dims(conn: Connection[Any], dims: int) -> None:
    """Raise :class:`ConfigError` when the stored vectors are not ``dims``-dimensional."""
    row = conn.execute(VECTOR_DIMS).fetchone()
    have = scalar(row) if row is not None else None
    if have is not None and int(have) != int(dims):
        raise ConfigError(
            f"The store_vectors table holds {have}-dimensional vectors; the embedding model makes {dims}.",
            "Go back to the model the notes were embedded with, or drop the tables store_vectors and "
            "vector_migrations and run `genie-agent setup-memory` to embed every note again.",
        )


def embed_missing(conn: Connection[Any], store: BaseStore) -> None:
    """Embed notes saved while embeddings were off (or by a process without them)."""
    from langgraph.store.base import PutOp

    seen: set[tuple[str, str]] = set()
    while True:
        rows = conn.execute(NOTES_WITHOUT_VECTORS).fetchall()
        keys = {(r["prefix"], r["key"]) for r in rows}
        if not rows or keys <= seen:  # done, or these cannot be embedded (no progress)
            return
        seen |= keys
        store.batch([PutOp(tuple(r["prefix"].split(".")), r["key"], r["value"]) for r in rows])


def ann_index(conn: Connection[Any]) -> bool:
    """Create the HNSW index when pgvector has iterative scans (0.8); whether it can be used.

    CONCURRENTLY: notes are saved while it is built. A build that was interrupted leaves an
    invalid index, which ``IF NOT EXISTS`` would keep forever: it is dropped and built again.
    """
    row = conn.execute("SELECT extversion AS v FROM pg_extension WHERE extname = 'vector'").fetchone()
    version = tuple(int(p) for p in re.findall(r"\d+", str(scalar(row))))[:2] if row else ()
    if version < (0, 8):
        return False
    valid = conn.execute(ANN_INDEX_VALID).fetchone()
    if valid is not None and not scalar(valid):
        conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {ANN_INDEX_NAME}")
    conn.execute(ANN_INDEX)
    return True
