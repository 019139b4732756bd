"""Lakebase memory: databricks-langchain's ``CheckpointSaver`` and ``DatabricksStore`` over one pool.

Both classes open a databricks-ai-bridge ``LakebasePool``: it looks the instance up
(``w.database.get_database_instance`` -> ``read_write_dns``), takes the Postgres user from
``w.current_user.me()``, and connects with ``sslmode=require`` to ``databricks_postgres`` on port
5432 with a password minted by ``w.database.generate_database_credential``, minted again when its
cache (``lakebase_token_cache_s``) runs out. ``w`` is one explicit ``WorkspaceClient`` with the
process's own credentials (the app or service principal): memory is keyed by user but not opened
on behalf of each user.

They are opened lazily, once per process and instance (:func:`open_lakebase` shares them between
agents; opening per request would exhaust the instance's connections), and an instance that cannot
be reached or a credential that cannot be minted is a memory failure the turns report, retried after
``memory_retry_s`` like any other, never a startup error. The saver's pool is the only pool: the
``DatabricksStore`` borrows it too. Threads use LangGraph's ``PostgresSaver`` over one pooled
connection per call rather than the ``CheckpointSaver`` object itself, whose lock would serialize
every thread of the process (see :class:`~.postgres.PostgresThreadStore`).
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import BackendError, ConfigError
from .postgres import PostgresMemoryStore
from .store import MemoryItem

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient
    from langgraph.store.base import BaseStore
    from psycopg import Connection

    from ..config import Settings
    from .health import Health

__all__ = [
    "LakebaseMemory",
    "LakebaseMemoryStore",
    "LakebaseOptions",
    "LakebaseUnavailableError",
    "check_installed",
    "open_lakebase",
]

_HINT = (
    "Check that the Lakebase instance exists and is running, and that this process's Databricks identity "
    "(DATABRICKS_HOST with a token or service principal) may use it; memory comes back by itself."
)


class LakebaseUnavailableError(BackendError):
    """The Lakebase instance could not be looked up, or no database credential could be minted.

    A backend failure, but not a :class:`~.errors.MemoryUnavailableError`: the memory's health guard
    turns it into one (naming the call) and counts it, so turns skip memory for ``memory_retry_s``."""

    def __init__(self, message: str, hint: str = _HINT) -> None:
        super().__init__(message, hint, retryable=True)


def check_installed() -> None:
    """Raise :class:`ConfigError` unless databricks-langchain's memory classes can be used."""
    try:
        import databricks_ai_bridge.lakebase  # noqa: F401 - raises without psycopg and its pool
        import databricks_langchain  # noqa: F401
        import langgraph.checkpoint.postgres
        import langgraph.store.postgres  # noqa: F401
    except ImportError as exc:
        missing = str(exc).splitlines()[0]
    else:
        return
    raise ConfigError(
        f"memory_backend=lakebase needs databricks-langchain with its memory extra ({missing}).",
        "pip install 'genie-agent[databricks]' 'databricks-langchain[memory]', or set "
        "GENIE_AGENT_MEMORY_BACKEND=sqlite (or postgres with GENIE_AGENT_MEMORY_POSTGRES_URL).",
    )


@dataclass(frozen=True)
class LakebaseOptions:
    instance: str
    schema: str | None = None
    min_size: int = 1
    max_size: int = 10
    timeout_s: float = 3.0
    token_cache_s: int = 900

    @classmethod
    def from_settings(cls, settings: Settings) -> LakebaseOptions:
        assert settings.lakebase_instance  # Settings.problems() checks it
        return cls(
            settings.lakebase_instance,
            settings.memory_postgres_schema,
            settings.memory_pool_min_size,
            settings.memory_pool_max_size,
            settings.memory_timeout_s,
            settings.lakebase_token_cache_s,
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _cause(exc: BaseException) -> str:
    """``exc``'s first line, and what caused it (the workspace's own error) when it wraps one."""
    cause = exc.__cause__
    return f"{_first_line(exc)} ({_first_line(cause)})" if cause is not None else _first_line(exc)


def _no_sync_commit(conn: Connection[Any]) -> None:
    conn.execute("SET synchronous_commit = off")  # as make_pool: a save does not wait for an fsync


_OPEN: dict[LakebaseOptions, LakebaseMemory] = {}  # by open_lakebase, while someone holds them
_OPEN_LOCK = threading.Lock()


class LakebaseMemory:
    """The ``CheckpointSaver`` and ``DatabricksStore`` of one instance and their one connection pool,
    opened on first use; duck-types the pool that :class:`~.postgres.PostgresThreadStore` borrows from."""

    def __init__(
        self, options: LakebaseOptions, workspace_client: Callable[[], WorkspaceClient] | None = None
    ) -> None:
        self.options = options
        self._client = workspace_client or self._default_client
        self._lock = threading.Lock()
        self._saver: Any = None
        self._store: Any = None
        self._w: WorkspaceClient | None = None
        self.users = 0  # holders from open_lakebase

    def _default_client(self) -> WorkspaceClient:
        from databricks.sdk import WorkspaceClient
        from databricks.sdk.core import Config

        # Bounded, so a workspace that does not answer costs a turn seconds, not the SDK's minutes.
        wait = max(5, int(self.options.timeout_s))
        return WorkspaceClient(config=Config(retry_timeout_seconds=wait, http_timeout_seconds=wait))

    def _open(self) -> tuple[Any, Any]:
        with self._lock:
            if self._saver is not None:
                return self._saver, self._store
            from databricks_langchain import CheckpointSaver, DatabricksStore

            o = self.options
            try:
                w = self._w or self._client()
            except ValueError as exc:  # databricks-sdk found no host or credentials
                raise LakebaseUnavailableError(
                    f"No Databricks workspace client for Lakebase: {_first_line(exc)}",
                    "Set DATABRICKS_HOST and DATABRICKS_TOKEN (or a service principal's "
                    "DATABRICKS_CLIENT_ID/SECRET) for the process.",
                ) from exc
            self._w = w
            common: dict[str, Any] = {"instance_name": o.instance, "workspace_client": w, "schema": o.schema}
            try:
                saver = CheckpointSaver(
                    **common,
                    token_cache_duration_seconds=o.token_cache_s,
                    min_size=o.min_size,
                    max_size=o.max_size,
                    timeout=o.timeout_s,
                    # As make_pool: after an outage the pool gives up reconnecting soon, so the next
                    # call after memory_retry_s tries again at once.
                    reconnect_timeout=max(o.timeout_s, 1.0),
                    name=f"genie-agent-lakebase-{o.instance}",
                    configure=_no_sync_commit,
                )
            except (ValueError, ConnectionError) as exc:  # lookup of the instance or of the user failed
                raise LakebaseUnavailableError(f"Lakebase instance '{o.instance}': {_cause(exc)}") from exc
            try:
                # No index here: each LakebaseMemoryStore gives its own view of this store the
                # embedder of its settings (see LakebaseMemoryStore.store). Its own pool opens empty
                # (min_size 0, no credential) and is swapped for the saver's.
                store = DatabricksStore(**common, min_size=0, max_size=1, timeout=o.timeout_s)
            except (ValueError, ConnectionError) as exc:
                saver._lakebase.close()
                raise LakebaseUnavailableError(f"Lakebase instance '{o.instance}': {_cause(exc)}") from exc
            store._lakebase.close()
            store._lakebase = saver._lakebase
            self._saver, self._store = saver, store
            return saver, store

    @property
    def pool(self) -> Any:
        """The psycopg pool (opens the instance on first use)."""
        return self._open()[0].conn

    @property
    def store(self) -> Any:
        """The ``DatabricksStore`` (opens the instance on first use)."""
        return self._open()[1]

    @contextmanager
    def connection(self) -> Iterator[Connection[Any]]:
        """A pooled connection; a pool timeout caused by credential minting says so."""
        from psycopg_pool import PoolTimeout

        pool = self.pool
        try:
            with pool.connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise self._diagnose(exc) from exc

    def _diagnose(self, exc: BaseException) -> BaseException:
        """Why no connection came: the pool only logs its connection errors, so mint a credential
        the way it does and report that failure instead of a bare timeout."""
        if self._w is None:
            return exc
        try:
            self._w.database.generate_database_credential(
                request_id=str(uuid.uuid4()), instance_names=[self.options.instance]
            )
        except Exception as error:  # whatever the workspace answered is the reason
            return LakebaseUnavailableError(
                f"Lakebase instance '{self.options.instance}': no connection within "
                f"{self.options.timeout_s:g} s; generating its database credential fails: {_first_line(error)}"
            )
        return exc

    def check(self) -> None:
        self.pool.check()

    def close(self) -> None:
        with _OPEN_LOCK:
            self.users = max(0, self.users - 1)
            if self.users:
                return
            if _OPEN.get(self.options) is self:
                del _OPEN[self.options]
        with self._lock:
            saver, self._saver, self._store = self._saver, None, None
        if saver is not None:
            saver._lakebase.close()


class LakebaseMemoryStore(PostgresMemoryStore):
    """User memories through ``DatabricksStore`` (its batches borrow the shared pool), with the same
    tables, full text index, keyword recall and, given ``index`` (:func:`~.postgres.pgvector_index`),
    pgvector recall by meaning as :class:`~.postgres.PostgresMemoryStore`."""

    def __init__(
        self,
        lakebase: LakebaseMemory,
        health: Health,
        *,
        index: Mapping[str, Any] | None = None,
        min_score: float = 0.0,
    ) -> None:
        super().__init__(lakebase, health, index=index, min_score=min_score)  # type: ignore[arg-type]  # duck-typed pool
        self.lakebase = lakebase

    @contextmanager
    def store(self) -> Iterator[BaseStore]:
        store = self.lakebase.store
        if self._index:
            # DatabricksStore would build {dims, embed, fields} from a DatabricksEmbeddings; ours also
            # sets cosine distance and no LangGraph ANN index, as setup made the tables. A shallow
            # copy: agents of the process share the instance's store (and pool), not its embedder.
            store = copy.copy(store)
            store.index_config = dict(self._index)
        yield store

    def search_notes(
        self, store: BaseStore, namespace: tuple[str, ...], question: str, terms: Sequence[str], limit: int
    ) -> list[MemoryItem]:
        if not self._index:
            return super().search_notes(store, namespace, question, terms, limit)
        from langgraph.store.postgres import PostgresStore

        with self.lakebase.connection() as conn:  # our vector queries need a connection of their own
            return super().search_notes(PostgresStore(conn), namespace, question, terms, limit)

    def keyword_search(
        self, store: BaseStore, namespace: tuple[str, ...], terms: Sequence[str], limit: int
    ) -> list[MemoryItem]:
        from langgraph.store.postgres import PostgresStore

        with self.lakebase.connection() as conn:
            return super().keyword_search(PostgresStore(conn), namespace, terms, limit)


def open_lakebase(options: LakebaseOptions) -> LakebaseMemory:
    """This process's pool for ``options``: opened (lazily) by the first caller, shared by the rest;
    each caller closes it once, and the last close closes it."""
    with _OPEN_LOCK:
        pool = _OPEN.get(options)
        if pool is None:
            pool = _OPEN[options] = LakebaseMemory(options)
        pool.users += 1
    return pool
