"""User memories in Postgres: LangGraph's ``PostgresStore`` over the pool, recalled by full text
search or, with pgvector, by meaning."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from ..items import memory_item
from ..store import MemoryItem, MemoryStore
from .pgvector import ann_index, check_dims, embed_missing, require_pgvector
from .pool import PooledTables, setup_lock
from .sql import ANN_SEARCH, ANN_SETTINGS, ANN_WORDS, EXACT_SEARCH, KEYWORD_SEARCH, TERMS_INDEX, VECTOR_COUNT

if TYPE_CHECKING:
    from langgraph.store.base import BaseStore
    from psycopg_pool import ConnectionPool

    from ..health import Health

__all__ = ["PostgresMemoryStore"]


class PostgresMemoryStore(PooledTables, MemoryStore):
    """Memories in Postgres (LangGraph's ``PostgresStore``) through a connection pool, with full text
    recall over an expression GIN index on the items' terms.

    ``index`` (a LangGraph ``PostgresIndexConfig``: dims, embed, fields; see :func:`pgvector_index`)
    turns on pgvector semantic recall of notes instead, keeping the notes at least ``min_score``
    similar to the question. It needs the ``vector`` extension. A user's notes are ranked exactly
    while there are at most ``exact_max`` of them; beyond that (with pgvector 0.8 or later) through an
    HNSW index with an iterative scan, which filters by user as it goes, plus the notes sharing a word
    with the question, re-ranked exactly.
    """

    setup_what = "set up memories"

    def __init__(
        self,
        pool: ConnectionPool[Any],
        health: Health,
        *,
        index: Mapping[str, Any] | None = None,
        min_score: float = 0.0,
        exact_max: int = 2000,
    ) -> None:
        super().__init__(health)
        self.pool = pool
        self._index = index
        self.min_score = min_score
        self.exact_max = exact_max
        self._ready = False
        self._ann = False  # the HNSW index exists and pgvector has iterative scans (set by setup)

    @contextmanager
    def store(self) -> Iterator[BaseStore]:
        from langgraph.store.postgres import PostgresStore

        with self.pool.connection() as conn:
            yield PostgresStore(conn, index=cast(Any, self._index))

    def _setup_now(self) -> None:
        from langgraph.store.postgres import PostgresStore

        with setup_lock(self.pool) as conn:
            if self._index:
                require_pgvector(conn)
            store = PostgresStore(conn, index=cast(Any, self._index))
            store.setup()
            conn.execute(TERMS_INDEX)
            if self._index:
                check_dims(conn, self._index["dims"])
                embed_missing(conn, store)
                self._ann = ann_index(conn)
        self._ready = True

    def search_notes(
        self, store: BaseStore, namespace: tuple[str, ...], question: str, terms: Sequence[str], limit: int
    ) -> list[MemoryItem]:
        if not self._index:
            return super().search_notes(store, namespace, question, terms, limit)
        if not question.strip():
            return []
        from psycopg.rows import dict_row

        # The store's own search(query=) matches the namespace with `prefix = .. OR prefix LIKE ..`,
        # which scans every user's vectors; these read one user's through store_vectors' primary key.
        vector = "[" + ",".join(repr(float(x)) for x in self._index["embed"]([question])[0]) + "]"
        prefix = ".".join(namespace)
        params = {
            "vector": vector,
            "prefix": prefix,
            "limit": limit,
            "terms": " | ".join(f"{t}:*" for t in terms),
        }
        conn = cast(Any, store).conn
        rows: list[dict[str, Any]] = []
        with conn.cursor(row_factory=dict_row) as cur:
            if self._ann and self._exceeds(cur, prefix, self.exact_max):
                with conn.transaction():
                    cur.execute(ANN_SETTINGS)
                    sql = ANN_SEARCH.format(words=ANN_WORDS if terms else "")
                    rows = cur.execute(sql, params).fetchall()
            if len(rows) < limit:  # a small user, or the index scan gave up before finding enough
                rows = cur.execute(EXACT_SEARCH, params).fetchall()
        return [_item(namespace, r) for r in rows if float(r["score"]) >= self.min_score]

    @staticmethod
    def _exceeds(cur: Any, prefix: str, count: int) -> bool:
        """Whether the namespace has more than ``count`` vectors (reads at most count + 1 index entries)."""
        return int(cur.execute(VECTOR_COUNT, (prefix, count + 1)).fetchone()["n"]) > count

    def keyword_search(
        self, store: BaseStore, namespace: tuple[str, ...], terms: Sequence[str], limit: int
    ) -> list[MemoryItem]:
        from psycopg.rows import dict_row

        conn = cast(Any, store).conn
        query = " | ".join(f"{t}:*" for t in terms)
        with conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(KEYWORD_SEARCH, (query, ".".join(namespace), limit)).fetchall()
        return [_item(namespace, r) for r in rows]


def _item(namespace: tuple[str, ...], row: Mapping[str, Any]) -> MemoryItem:
    return memory_item(
        namespace, row["key"], row["value"], row["created_at"], row["updated_at"], float(row["score"])
    )
