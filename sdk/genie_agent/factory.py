"""One factory that builds the agent from settings; the CLI, the TUI and tests all use it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .agent import Agent, AgentLimits
from .config import Settings
from .errors import ConfigError
from .memory.backends import open_memory
from .spaces.base import GenieSpace
from .spaces.catalog import Catalog, DatabaseSpec, load_catalog
from .synthesis import DeterministicSynthesizer, Synthesizer
from .tracing import MlflowTracer, make_tracer
from .understanding.llm_extraction import LlmMemoryExtractor
from .understanding.vocabulary import SpaceVocabulary

if TYPE_CHECKING:
    from .capacity import QuestionLimiter
    from .spaces.discovery import SpaceDiscovery

__all__ = [
    "MEMORY_EXTRACTION_TIMEOUT_S",
    "database_path",
    "make_agent",
    "make_memory_extractor",
    "make_synthesizer",
]

MEMORY_EXTRACTION_TIMEOUT_S = 10.0
"""At most this long (or ``llm_timeout_s``, when shorter) for the LLM to find memories in a statement."""


def database_path(settings: Settings, name: str, spec: DatabaseSpec, *, progress: bool = True) -> Path:
    """The DuckDB file behind a catalog database, generating example data on first use."""
    if spec.path is not None:
        if not spec.path.exists():
            raise ConfigError(f"Database {name!r}: {spec.path} does not exist.", "Fix `path` in the catalog.")
        return spec.path
    from .data.tpch import ensure_tpch_database

    sf = settings.tpch_scale_factor
    path = settings.home / "data" / f"tpch-sf{sf:g}.duckdb"
    return ensure_tpch_database(path, sf, progress=progress)


def make_agent(settings: Settings, *, catalog: Catalog | None = None, progress: bool = True) -> Agent:
    """Build the agent: local Genie spaces over DuckDB (the default), Databricks Genie spaces
    (``genie_backend: databricks``) or the local spaces on a SQL warehouse (``warehouse``); threads
    and memories per ``memory_backend``."""
    if settings.genie_backend == "databricks":
        from .spaces.databricks import databricks_spaces

        genie = databricks_spaces(
            settings.genie_spaces,
            timeout_s=settings.genie_poll_timeout_s,
            row_limit=settings.row_limit,
            discovery_refresh_s=settings.genie_discovery_refresh_s,
        )
        discovery = next((s.discovery for s in genie.values()), None)  # one, shared by the spaces
        return _assemble(settings, dict(genie), source="genie", discovery=discovery)
    from .spaces.local.conversations import ConversationStore
    from .spaces.local.engine import LocalGenieSpace
    from .spaces.local.executor import ReadOnlyExecutor

    catalog = catalog or load_catalog(settings.catalog, cache_dir=settings.home / "cache")
    if settings.genie_backend == "warehouse":
        from .spaces.warehouse import warehouse_spaces

        return _assemble(settings, dict(warehouse_spaces(settings, catalog)), source="warehouse")
    conversations = ConversationStore(settings.home / "genie_conversations.sqlite")
    executors: dict[str, ReadOnlyExecutor] = {}
    spaces: dict[str, GenieSpace] = {}
    for space in catalog.spaces:
        if space.database not in executors:
            path = database_path(
                settings, space.database, catalog.databases[space.database], progress=progress
            )
            executors[space.database] = ReadOnlyExecutor(
                path,
                row_limit=settings.row_limit,
                timeout_s=settings.query_timeout_s,
                guard_cache_dir=settings.home / "cache",
            )
        spaces[space.id] = LocalGenieSpace(
            space,
            executors[space.database],
            conversations,
            use_verified_queries=settings.verified_queries,
            cache_dir=settings.home / "cache",
        )
    return _assemble(settings, spaces)


def _assemble(
    settings: Settings,
    spaces: dict[str, GenieSpace],
    *,
    source: str = "local",
    discovery: SpaceDiscovery | None = None,
) -> Agent:
    limits = AgentLimits(
        settings.max_question_chars, settings.space_timeout_s, settings.data_rows, settings.capacity_wait_s
    )
    tracer = make_tracer(settings.tracing, settings.tracking_uri(), settings.mlflow_experiment)
    if isinstance(tracer, MlflowTracer):
        tracer.configure()  # now, before any span is in flight
    memory = open_memory(settings)  # threads and user memories, per memory_backend
    return Agent(
        spaces,
        memory.threads,
        vocabulary=SpaceVocabulary.from_spaces(spaces),  # one, for the router and the preference extractor
        memories=memory.memories,
        limits=limits,
        source=source,
        # With traces going to MLflow, the prompt comes from its registry so a trace names its version.
        synthesizer=make_synthesizer(settings, registry=isinstance(tracer, MlflowTracer)),
        tracer=tracer,
        memory_llm=make_memory_extractor(settings, registry=isinstance(tracer, MlflowTracer)),
        limiter=make_question_limiter(settings) if source == "genie" else None,
        discovery=discovery,
    )


def make_question_limiter(settings: Settings) -> QuestionLimiter | None:
    """The workspace's question limiter (``genie_questions_per_minute``), shared through the memory
    store's Postgres when that is configured, else this process's own; None when unset."""
    from .capacity import make_limiter

    shared = settings.memory_postgres_url if settings.memory_backend == "postgres" else None
    return make_limiter(settings.genie_questions_per_minute, shared, schema=settings.memory_postgres_schema)


def make_synthesizer(settings: Settings, *, registry: bool = False) -> Synthesizer:
    """Deterministic unless an OpenAI-compatible LLM endpoint is configured."""
    if not settings.llm_base_url:
        return DeterministicSynthesizer()
    from .llm import OpenAICompatibleChat
    from .synthesis_llm import LlmSynthesizer

    chat = OpenAICompatibleChat.from_settings(settings)
    assert chat is not None
    from .prompts import registry_prefix

    return LlmSynthesizer(
        chat,
        registry=registry,
        tracking_uri=settings.tracking_uri(),
        prompt_prefix=registry_prefix(settings),
    )


def make_memory_extractor(settings: Settings, *, registry: bool = False) -> LlmMemoryExtractor | None:
    """An LLM extractor of memories (beside the deterministic one) when an LLM endpoint is configured."""
    if not settings.llm_base_url:
        return None
    from .llm import OpenAICompatibleChat

    chat = OpenAICompatibleChat.from_settings(settings)
    assert chat is not None
    chat.timeout_s = min(chat.timeout_s, MEMORY_EXTRACTION_TIMEOUT_S)
    from .prompts import registry_prefix

    return LlmMemoryExtractor(
        chat,
        registry=registry,
        tracking_uri=settings.tracking_uri(),
        prompt_prefix=registry_prefix(settings),
    )
