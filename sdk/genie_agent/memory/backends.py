"""Memory backends from settings: SQLite (default), any Postgres, Lakebase, or off.

A backend is opened once per process. Postgres and Lakebase share one connection pool between the
thread store and the memory store; Lakebase is Postgres behind ``databricks_langchain``'s pool
(token refresh included), so the same tables, queries and tests apply.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .embeddings import embedder_from_settings
from .health import Health
from .store import InMemoryMemoryStore, MemoryStore
from .threads import InMemoryThreadStore, ThreadStore

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["MemoryBackend", "in_memory", "open_memory"]


@dataclass
class MemoryBackend:
    """The memory of one process. ``threads`` None: memory is off; ``memories`` None: no long-term memory."""

    kind: str
    threads: ThreadStore | None
    memories: MemoryStore | None
    pool: Any = None

    def setup(self) -> list[str]:
        """Create every table and index (idempotent); what was set up."""
        done = []
        if self.threads is not None:
            self.threads.setup()
            done.append(f"threads ({self.kind})")
        if self.memories is not None:
            self.memories.setup()
            done.append(f"user memories ({self.kind})")
        return done

    def close(self) -> None:
        for part in (self.threads, self.memories):
            if part is not None:
                part.close()
        if self.pool is not None:
            self.pool.close()


def in_memory(*, long_term: bool = True) -> MemoryBackend:
    """Memory that lasts as long as the process: for tests and throwaway agents."""
    return MemoryBackend("in-memory", InMemoryThreadStore(), InMemoryMemoryStore() if long_term else None)


def open_memory(settings: Settings) -> MemoryBackend:
    """The configured backend. Raises :class:`ConfigError` when its packages are missing; an
    unreachable server is not an error here (turns report it in ``memory_status``)."""
    kind = settings.memory_backend
    if kind == "off":
        return MemoryBackend("off", None, None)
    if kind == "sqlite":
        from .sqlite import SqliteMemoryStore, SqliteThreadStore

        path = settings.home / "memory.sqlite"
        health = Health("SQLite", (sqlite3.Error, OSError), retry_s=settings.memory_retry_s)
        # Writers wait for SQLite's lock: a busy file is not a failure, so the wait is generous.
        busy = max(10.0, settings.memory_timeout_s)
        threads = SqliteThreadStore(path, health=health, timeout_s=busy)
        memories: MemoryStore | None
        memories = (
            SqliteMemoryStore(
                path,
                health=health,
                timeout_s=busy,
                embedder=embedder_from_settings(settings),
                min_score=settings.memory_embedding_min_score,
            )
            if settings.long_term_memory
            else None
        )
        return MemoryBackend("sqlite", threads, memories)
    if kind == "lakebase":
        return _lakebase_backend(settings)
    pool = _postgres_pool(settings)
    from .postgres import PostgresMemoryStore, PostgresThreadStore, backend_errors, pgvector_index

    health = Health("Postgres", backend_errors(), retry_s=settings.memory_retry_s)
    embedder = embedder_from_settings(settings)
    memories = (
        PostgresMemoryStore(
            pool,
            health,
            index=pgvector_index(embedder) if embedder is not None else None,
            min_score=settings.memory_embedding_min_score,
        )
        if settings.long_term_memory
        else None
    )
    return MemoryBackend(kind, PostgresThreadStore(pool, health), memories, pool)


def _postgres_pool(settings: Settings) -> Any:
    try:
        from .postgres import make_pool
    except ImportError as exc:  # pragma: no cover - the postgres extra is missing
        raise ConfigError(
            f"memory_backend=postgres needs psycopg and langgraph-checkpoint-postgres ({exc}).",
            "pip install 'genie-agent[postgres]'",
        ) from None
    assert settings.memory_postgres_url is not None  # Settings.problems() checks it
    return make_pool(
        settings.memory_postgres_url.get_secret_value(),
        schema=settings.memory_postgres_schema,
        min_size=settings.memory_pool_min_size,
        max_size=settings.memory_pool_max_size,
        timeout_s=settings.memory_timeout_s,
        # pgvector's `vector` type is usually installed in public, outside memory_postgres_schema.
        also_search=("public",) if settings.memory_embeddings != "off" else (),
    )


def _lakebase_backend(settings: Settings) -> MemoryBackend:
    """databricks-langchain's ``CheckpointSaver`` and ``DatabricksStore`` on one pool, opened once per
    process on first use (an unreachable instance is reported by the turns, not raised here)."""
    from .lakebase import (
        LakebaseMemoryStore,
        LakebaseOptions,
        LakebaseUnavailableError,
        check_installed,
        open_lakebase,
    )
    from .postgres import PostgresThreadStore, backend_errors, pgvector_index

    check_installed()
    embedder = embedder_from_settings(settings)  # before the pool: a ConfigError leaves nothing open

    lakebase = open_lakebase(LakebaseOptions.from_settings(settings))
    health = Health(
        "Lakebase", (*backend_errors(), LakebaseUnavailableError), retry_s=settings.memory_retry_s
    )
    memories = (
        LakebaseMemoryStore(
            lakebase,
            health,
            index=pgvector_index(embedder) if embedder is not None else None,
            min_score=settings.memory_embedding_min_score,
        )
        if settings.long_term_memory
        else None
    )
    threads = PostgresThreadStore(lakebase, health)  # type: ignore[arg-type]  # duck-typed pool
    return MemoryBackend("lakebase", threads, memories, lakebase)
