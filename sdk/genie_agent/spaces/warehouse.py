"""The warehouse backend (``genie_backend: warehouse``): the local engine's semantic models, their
questions turned into SQL here, the SQL run on a Databricks SQL warehouse.

No Genie space and no Genie quota: a question is parsed and planned as on the embedded engine
(:class:`~.local.engine.LocalGenieSpace`: the same vocabulary, follow-ups, verified queries, row
filters and declines), its SQL checked by the same guard and transpiled to Databricks SQL over
``warehouse_catalog.warehouse_schema`` (:mod:`.warehouse_sql`), then executed through the Statement
Execution API (:mod:`.warehouse_statement`) with the row limit and the query time limit (the
statement is cancelled when it is spent), its result typed from the manifest. The data stays on the
warehouse, at any scale.

Identity is the Genie backend's: a question runs with the caller's own client when their identity
carries one (on-behalf-of credentials, :func:`~.databricks.default_client_factory`), else the
process's. The values the router and parser know (each indexed dimension's distinct values) are read
once as the process's own identity and kept a day in ``$GENIE_AGENT_HOME/cache``.

:meth:`WarehouseGenieSpace.aask` waits on the event loop over the Genie backend's pooled HTTP
connections (:mod:`.warehouse_http`); :meth:`~WarehouseGenieSpace.ask` blocks on databricks-sdk.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ConfigError, GenieAgentError, UserInputError
from ..identity import Identity
from .base import SpaceAnswer
from .local.chat_history import ask_with_history, user_questions
from .local.engine import LocalGenieSpace, PlannedQuery
from .warehouse_sql import WarehouseTarget, databricks_sql
from .warehouse_statement import Statement, adrive, drive

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

    from ..config import Settings
    from .catalog import Catalog
    from .databricks import ClientFactory
    from .local.conversations import ConversationStore
    from .local.executor import QueryResult
    from .semantic_model import SpaceDefinition

__all__ = ["VALUES_CACHE_S", "WarehouseGenieSpace", "WarehouseRunner", "warehouse_spaces"]

T = TypeVar("T")

VALUES_CACHE_S = 86_400
"""How long the dimension values read from the warehouse are reused (by this and later processes)."""


class WarehouseRunner:
    """Runs a space's SQL on the SQL warehouse: guarded and transpiled (:func:`databricks_sql`),
    then executed as the caller. ``title`` names the space in errors."""

    def __init__(
        self, title: str, target: WarehouseTarget, client: ClientFactory, *, row_limit: int, timeout_s: float
    ) -> None:
        self.title = title
        self.target = target
        self._client = client
        self.row_limit = row_limit
        self.timeout_s = timeout_s

    def translate(self, sql: str, tables: Collection[str]) -> str:
        """``sql`` in Databricks SQL over the warehouse's tables; raises UnsafeRequestError (the guard)."""
        return databricks_sql(sql, tables, self.target)

    def execute(self, sql: str, allowed_tables: Collection[str]) -> QueryResult:
        """The engine's own queries (the values it indexes), as the process's identity."""
        return self.run(self.translate(sql, allowed_tables), None)

    def run(self, sql: str, identity: Identity | None) -> QueryResult:
        """Databricks ``sql`` on the warehouse as ``identity``, blocking (databricks-sdk)."""
        from .warehouse_client import BlockingStatementCall

        client = self.client(identity)
        statement = self._statement(sql)
        return drive(statement, BlockingStatementCall(client, identity, statement))

    async def arun(self, sql: str, identity: Identity | None) -> QueryResult:
        """:meth:`run` awaited over pooled HTTP connections: no thread waits for the warehouse."""
        config = self.client(identity).config
        from .warehouse_http import AsyncStatementCall

        statement = self._statement(sql)
        return await adrive(statement, AsyncStatementCall(config, identity, statement))

    def client(self, identity: Identity | None) -> WorkspaceClient:
        """The caller's workspace client; ConfigError without databricks-sdk or credentials."""
        try:
            return self._client(identity)
        except ImportError:
            raise ConfigError(
                "databricks-sdk is not installed: the warehouse backend needs it.",
                "pip install 'genie-agent[databricks]', or set GENIE_AGENT_GENIE_BACKEND=local.",
            ) from None
        except ValueError as exc:  # databricks-sdk's unified auth found no usable credentials
            raise ConfigError(
                f"Databricks authentication is not configured: {exc}",
                "Set DATABRICKS_HOST and DATABRICKS_TOKEN, or DATABRICKS_CONFIG_PROFILE for a profile in "
                "~/.databrickscfg, or run `databricks auth login` (OAuth).",
            ) from None

    def close(self) -> None:
        """Nothing of its own: its HTTP connections are the event loop's, its clients the factory's."""

    def _statement(self, sql: str) -> Statement:
        return Statement(self.title, sql, self.target, self.row_limit, self.timeout_s)


class WarehouseGenieSpace(LocalGenieSpace):
    """A :class:`~genie_agent.spaces.base.GenieSpace` whose questions the local engine answers with
    SQL run on a SQL warehouse. An answer's ``sql`` is the Databricks SQL that ran."""

    cpu_bound = False
    """Its questions wait on the warehouse: the fan-out awaits :meth:`aask`."""

    def __init__(
        self,
        definition: SpaceDefinition,
        runner: WarehouseRunner,
        conversations: ConversationStore,
        *,
        use_verified_queries: bool = True,
        cache_dir: Path | None = None,
    ) -> None:
        super().__init__(
            definition, runner, conversations, use_verified_queries=use_verified_queries, cache_dir=cache_dir
        )
        self.runner = runner

    def ask(
        self, question: str, conversation_id: str | None = None, *, identity: Identity | None = None
    ) -> SpaceAnswer:
        history = user_questions(question)  # databricks-langchain GenieAgent's chat-history message
        if history is not None:
            return ask_with_history(self, history, identity=identity)
        planned = self._planned(question, conversation_id, identity)
        if isinstance(planned, SpaceAnswer):
            return planned
        return self.answered(planned, self.runner.run(planned.sql, identity))

    async def aask(
        self, question: str, conversation_id: str | None = None, *, identity: Identity | None = None
    ) -> SpaceAnswer:
        """:meth:`ask` without a thread waiting on the warehouse: planning and recording the answer
        (CPU work and the conversation store) run in the core's cpu pool, the statement is awaited.
        Raises as :meth:`ask`."""
        history = user_questions(question)
        if history is not None:
            return await self._aask_with_history(history, identity)
        planned = await _in_pool(self._planned, question, conversation_id, identity)
        if isinstance(planned, SpaceAnswer):
            return planned
        result = await self.runner.arun(planned.sql, identity)
        return await _in_pool(self.answered, planned, result)

    def _planned(
        self, question: str, conversation_id: str | None, identity: Identity | None
    ) -> PlannedQuery | SpaceAnswer:
        """The engine's plan with its SQL in Databricks SQL, or the space's answer without a query."""
        planned = self.plan(question, conversation_id, identity=identity)
        if isinstance(planned, SpaceAnswer):
            return planned
        sql = self.runner.translate(planned.sql, self.definition.physical_tables)
        return dataclasses.replace(planned, sql=sql)

    async def _aask_with_history(self, questions: Sequence[str], identity: Identity | None) -> SpaceAnswer:
        """As :func:`~.local.chat_history.ask_with_history`, awaited."""
        if not questions:
            raise UserInputError(
                "The chat history has no question from the user.", "Ask a question about the data."
            )
        conversation_id: str | None = None
        for question in questions[:-1]:
            try:
                conversation_id = (
                    await self.aask(question, conversation_id, identity=identity)
                ).conversation_id
            except GenieAgentError:
                continue
        return await self.aask(questions[-1], conversation_id, identity=identity)

    def _data_version(self) -> list[object] | None:
        """The warehouse's values are kept :data:`VALUES_CACHE_S`: the workspace, the warehouse's
        catalog and schema, and the period they were read in name them."""
        host = self.runner.client(None).config.host
        target = self.runner.target
        return [str(host), target.catalog, target.schema, int(time.time() // VALUES_CACHE_S)]


async def _in_pool(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in the core's cpu pool (the local engine's), from any event loop."""
    from ..aio import core

    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        core().cpu, contextvars.copy_context().run, functools.partial(fn, *args)
    )


def warehouse_spaces(
    settings: Settings, catalog: Catalog, *, client: ClientFactory | None = None
) -> dict[str, WarehouseGenieSpace]:
    """The catalog's spaces on the SQL warehouse of ``settings``, by id, sharing one client factory
    and one conversation store."""
    from .databricks import UNREACHABLE_RETRY_S, default_client_factory
    from .local.conversations import ConversationStore

    if not settings.warehouse_id:
        raise ConfigError(
            "genie_backend is warehouse but no warehouse_id is set.",
            "Set GENIE_AGENT_WAREHOUSE_ID to the SQL warehouse's id (its Connection details).",
        )
    target = WarehouseTarget(settings.warehouse_id, settings.warehouse_catalog, settings.warehouse_schema)
    factory = client or default_client_factory(
        retry_timeout_s=min(UNREACHABLE_RETRY_S, settings.query_timeout_s)
    )
    conversations = ConversationStore(settings.home / "genie_conversations.sqlite")
    return {
        space.id: WarehouseGenieSpace(
            space,
            WarehouseRunner(
                space.title, target, factory, row_limit=settings.row_limit, timeout_s=settings.query_timeout_s
            ),
            conversations,
            use_verified_queries=settings.verified_queries,
            cache_dir=settings.home / "cache",
        )
        for space in catalog.spaces
    }
