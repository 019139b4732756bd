"""What deploying the agent to a workspace creates, computed from settings: the :class:`DeploymentPlan`.

``genie-agent log`` and ``genie-agent deploy`` (and their ``--dry-run``) print and execute this one
plan, so what a dry run shows is what happens. The plan names the Unity Catalog model, the
resources the served agent reaches (each Genie space and its SQL warehouse, or the warehouse
backend's warehouse, the LLM and embedding endpoints, the Lakebase instance) or, with
on-behalf-of-user auth, the auth policy, the environment the served agent reads its settings from (secrets as ``{{secrets/<scope>/<key>}}``
references, never values), the serving endpoint and the Databricks App. ``missing`` says what is
not configured and what to set. Nothing here imports mlflow or touches the network until
:meth:`DeploymentPlan.log_model_auth` builds mlflow's resource objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import SecretStr

from .config import DEFAULT_OBO_SCOPES
from .prompts import registry_prefix

if TYPE_CHECKING:
    from .config import Settings

__all__ = [
    "SERVED_HOME",
    "USER_API_SCOPES",
    "DeploymentPlan",
    "ResourceSpec",
    "SecretRef",
    "plan_deployment",
    "serving_deploy_kwargs",
]

ResourceKind = Literal["genie_space", "sql_warehouse", "serving_endpoint", "lakebase"]

USER_API_SCOPES = DEFAULT_OBO_SCOPES
"""The default of the ``obo_scopes`` setting: what the calling user's token may do in the served agent
with on-behalf-of-user auth: ask Genie spaces (which run SQL on the space's warehouse as that user),
read a large result's later chunks (Statement Execution API) and call serving endpoints."""
_GENIE_SCOPES = frozenset({"dashboards.genie", "genie", "all-apis"})
_STATEMENT_SCOPES = frozenset({"sql.statement-execution", "sql", "all-apis"})

SERVED_HOME = "/tmp/genie-agent"
"""``GENIE_AGENT_HOME`` of the served agent: a writable directory in the serving container."""

_APP_PORT = 8000  # Databricks Apps route traffic to port 8000 (DATABRICKS_APP_PORT's default)
_MAX_ENDPOINT_NAME = 63  # databricks-agents' limit on endpoint names
_UC_NAME = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")

# Settings the served agent does not read: where and how to deploy, local files, evaluation, and
# the `users` of local `serve` (their tokens must never leave this machine).
_NOT_SERVED = frozenset(
    {
        "home",
        "catalog",
        "tpch_scale_factor",
        "mlflow_tracking_uri",
        "eval_set",
        "eval_workers",
        "eval_thresholds",
        "judge_model",
        "judge_base_url",
        "judge_api_key",
        "users",
        "auth",
        "obo_scopes",
        "chat_web_token",
        "uc_catalog",
        "uc_schema",
        "uc_model",
        "prompt_registry_prefix",
        "serving_endpoint",
        "scale_to_zero",
        "app_name",
        "secret_scope",
    }
)


@dataclass(frozen=True)
class ResourceSpec:
    """One workspace resource the served agent reaches. ``as_user``: reached with the caller's
    credentials (on-behalf-of-user), else with the endpoint's own (declared, automatic auth)."""

    kind: ResourceKind
    name: str
    why: str
    as_user: bool = False

    def to_mlflow(self) -> Any:
        from mlflow.models.resources import (
            DatabricksGenieSpace,
            DatabricksLakebase,
            DatabricksServingEndpoint,
            DatabricksSQLWarehouse,
        )

        cls = {
            "genie_space": DatabricksGenieSpace,
            "sql_warehouse": DatabricksSQLWarehouse,
            "serving_endpoint": DatabricksServingEndpoint,
            "lakebase": DatabricksLakebase,
        }[self.kind]
        return cls(self.name)


@dataclass(frozen=True)
class SecretRef:
    """A setting whose value the served agent reads from a Databricks secret."""

    setting: str
    scope: str
    key: str

    @property
    def env(self) -> str:
        return f"GENIE_AGENT_{self.setting.upper()}"

    @property
    def reference(self) -> str:
        return "{{secrets/" + f"{self.scope}/{self.key}" + "}}"


@dataclass(frozen=True)
class DeploymentPlan:
    """Everything ``log`` and ``deploy`` create or change, from settings alone."""

    model_name: str
    registry: Literal["unity-catalog", "local"]
    prompt_prefix: str
    prompts: tuple[str, ...]
    on_behalf_of_user: bool
    resources: tuple[ResourceSpec, ...]
    api_scopes: tuple[str, ...]
    environment: dict[str, str]
    secrets: tuple[SecretRef, ...]
    endpoint_name: str
    scale_to_zero: bool
    app_name: str
    missing: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    _app_env: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def registry_uri(self) -> str | None:
        """Where the model is registered: ``databricks-uc``, or None for the tracking store's own registry."""
        return "databricks-uc" if self.registry == "unity-catalog" else None

    @property
    def system_resources(self) -> tuple[ResourceSpec, ...]:
        return tuple(r for r in self.resources if not r.as_user)

    def log_model_auth(self) -> dict[str, Any]:
        """``resources=`` or ``auth_policy=`` for ``mlflow.pyfunc.log_model`` (it refuses both at once)."""
        system = [r.to_mlflow() for r in self.system_resources]
        if not self.on_behalf_of_user:
            return {"resources": system}
        from mlflow.models.auth_policy import AuthPolicy, SystemAuthPolicy, UserAuthPolicy

        return {
            "auth_policy": AuthPolicy(
                user_auth_policy=UserAuthPolicy(api_scopes=list(self.api_scopes)),
                system_auth_policy=SystemAuthPolicy(resources=system),
            )
        }

    def app_yaml(self) -> str:
        """``app.yaml`` of the Databricks App: the agent server (``genie-agent serve``) and its settings.

        Secrets come from app resources named by their key (``valueFrom``), added to the app as
        secret resources; the rest are plain values.
        """
        import yaml

        env: list[dict[str, str]] = [{"name": k, "value": v} for k, v in self._app_env.items()]
        env += [{"name": s.env, "valueFrom": s.key} for s in self.secrets]
        command = ["genie-agent", "serve", "--host", "0.0.0.0", "--port", str(_APP_PORT)]
        return yaml.safe_dump({"command": command, "env": env}, sort_keys=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "registry": self.registry,
            "prompts": [f"{self.prompt_prefix}{p}" for p in self.prompts],
            "on_behalf_of_user": self.on_behalf_of_user,
            "resources": [
                {"type": r.kind, "name": r.name, "why": r.why, "as_user": r.as_user} for r in self.resources
            ],
            "api_scopes": list(self.api_scopes),
            "environment": dict(self.environment),
            "secrets": [{"scope": s.scope, "key": s.key, "setting": s.setting} for s in self.secrets],
            "serving": {"endpoint_name": self.endpoint_name, "scale_to_zero": self.scale_to_zero},
            "app": {"name": self.app_name, "app_yaml": self.app_yaml()},
            "missing": list(self.missing),
            "notes": list(self.notes),
        }


def serving_deploy_kwargs(plan: DeploymentPlan, version: int) -> dict[str, Any]:
    """The arguments of ``databricks.agents.deploy`` for ``version`` of the plan's model."""
    return {
        "model_name": plan.model_name,
        "model_version": version,
        "scale_to_zero": plan.scale_to_zero,
        "environment_vars": dict(plan.environment),
        "endpoint_name": plan.endpoint_name,
    }


def _default_endpoint_name(model_name: str) -> str:
    # databricks-agents' own default (agents.deploy with endpoint_name=None), so a dry run names it.
    prefix = "agents_"
    name = model_name[: _MAX_ENDPOINT_NAME - len(prefix)].replace(".", "-").rstrip("_-")
    return prefix + name


def _is_databricks_endpoint(base_url: str | None) -> bool:
    return bool(base_url) and "/serving-endpoints" in str(base_url)


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float | Path):
        return str(value)
    from pydantic import BaseModel

    def plain(v: Any) -> Any:
        if isinstance(v, BaseModel):
            return v.model_dump(mode="json", exclude_defaults=True)
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [plain(x) for x in v]
        return v

    return json.dumps(plain(value), sort_keys=True)


def _served_settings(settings: Settings, scope: str) -> tuple[dict[str, str], list[SecretRef]]:
    """Every setting the served agent reads that differs from its default, as environment values."""
    env: dict[str, str] = {}
    secrets: list[SecretRef] = []
    for name, info in type(settings).model_fields.items():
        if name in _NOT_SERVED:
            continue
        value = getattr(settings, name)
        if value is None or value == info.get_default(call_default_factory=True):
            continue
        if isinstance(value, SecretStr):
            secrets.append(SecretRef(name, scope, name.replace("_", "-")))
            continue
        env[f"GENIE_AGENT_{name.upper()}"] = _env_value(value)
    return env, secrets


def _resources(settings: Settings, obo: bool) -> list[ResourceSpec]:
    found: list[ResourceSpec] = []
    seen: set[tuple[str, str]] = set()

    def add(spec: ResourceSpec) -> None:
        if (spec.kind, spec.name) not in seen:
            seen.add((spec.kind, spec.name))
            found.append(spec)

    if settings.genie_backend == "databricks":
        for domain, space in settings.genie_spaces.items():
            add(ResourceSpec("genie_space", space.space_id, f"Genie space of domain {domain!r}", obo))
            if space.warehouse_id:
                add(ResourceSpec("sql_warehouse", space.warehouse_id, f"SQL warehouse of {domain!r}", obo))
    if settings.genie_backend == "warehouse" and settings.warehouse_id:
        why = "SQL warehouse the spaces' statements run on (genie_backend warehouse)"
        add(ResourceSpec("sql_warehouse", settings.warehouse_id, why, obo))
    if settings.llm_model and _is_databricks_endpoint(settings.llm_base_url):
        add(
            ResourceSpec(
                "serving_endpoint", settings.llm_model, "LLM endpoint (synthesis, memory extraction)"
            )
        )
    embedding_url = settings.memory_embedding_base_url or settings.llm_base_url
    if (
        settings.memory_embeddings == "endpoint"
        and settings.memory_embedding_model
        and _is_databricks_endpoint(embedding_url)
    ):
        add(
            ResourceSpec(
                "serving_endpoint", settings.memory_embedding_model, "embedding endpoint (memory recall)"
            )
        )
    if settings.memory_backend == "lakebase" and settings.lakebase_instance:
        add(ResourceSpec("lakebase", settings.lakebase_instance, "Lakebase instance (threads and memories)"))
    return found


def _missing(settings: Settings) -> tuple[list[str], list[str]]:
    missing: list[str] = []
    notes: list[str] = []
    if not (settings.uc_catalog and settings.uc_schema):
        missing.append(
            "uc_catalog, uc_schema: no Unity Catalog schema, so the model is registered in the local "
            "registry only. Set GENIE_AGENT_UC_CATALOG and GENIE_AGENT_UC_SCHEMA (you need USE CATALOG, "
            "USE SCHEMA and CREATE MODEL there)."
        )
    for part, value in (
        ("uc_catalog", settings.uc_catalog),
        ("uc_schema", settings.uc_schema),
        ("uc_model", settings.uc_model),
    ):
        if value and not set(value) <= _UC_NAME:
            missing.append(f"{part}: {value!r} is not a Unity Catalog name (letters, digits, underscores).")
    if settings.genie_backend == "databricks" and settings.genie_spaces:
        for domain, space in settings.genie_spaces.items():
            if not space.warehouse_id:
                missing.append(
                    f"genie_spaces.{domain}.warehouse_id: the space's SQL warehouse is not declared; set "
                    "it (from the space's settings) so the endpoint may use the warehouse."
                )
    elif settings.genie_backend != "warehouse":  # the warehouse backend's warehouse_id is a required setting
        missing.append(
            "genie_spaces: the served agent would answer from the embedded TPC-H example. Set "
            "genie_backend: databricks and map each domain to its Genie space (genie_spaces: "
            "{sales: {space_id: ..., warehouse_id: ...}})."
        )
    obo = settings.auth in ("auto", "model-serving")
    if obo and settings.genie_backend == "databricks" and not _GENIE_SCOPES & set(settings.obo_scopes):
        notes.append(
            f"obo_scopes ({', '.join(settings.obo_scopes) or 'none'}) names no Genie scope: the calling "
            "user's token cannot ask Genie in the served agent. Add dashboards.genie."
        )
    if obo and settings.genie_backend == "warehouse" and not _STATEMENT_SCOPES & set(settings.obo_scopes):
        notes.append(
            f"obo_scopes ({', '.join(settings.obo_scopes) or 'none'}) names no Statement Execution scope: "
            "the calling user's token cannot run the spaces' statements on the warehouse in the served "
            "agent. Add sql.statement-execution."
        )
    if settings.memory_backend == "sqlite":
        notes.append(
            "memory_backend is sqlite: the served agent keeps threads and memories on its container's "
            "disk, lost on every restart. Set memory_backend: lakebase with lakebase_instance."
        )
    if not settings.mlflow_experiment.startswith("/"):
        notes.append(
            f"mlflow_experiment is {settings.mlflow_experiment!r}: the served agent traces to the "
            "workspace, where an experiment is a workspace path and this name is refused at start-up. "
            "Set mlflow_experiment: /Shared/genie-agent (or /Users/<you>/genie-agent)."
        )
    if settings.llm_api_key is not None and _is_databricks_endpoint(settings.llm_base_url):
        notes.append(
            "llm_api_key is set for a Databricks endpoint: it is passed as a secret reference; the "
            "declared serving_endpoint resource would also let the endpoint authenticate on its own."
        )
    return missing, notes


def plan_deployment(settings: Settings) -> DeploymentPlan:
    """The plan for ``settings``. Always returns one; what is not configured is in ``missing``."""
    from .prompts import prompt_names

    uc = bool(settings.uc_catalog and settings.uc_schema)
    model_name = (
        f"{settings.uc_catalog}.{settings.uc_schema}.{settings.uc_model}" if uc else settings.uc_model
    )
    obo = settings.auth in ("auto", "model-serving")
    env, secrets = _served_settings(settings, settings.secret_scope)
    env["GENIE_AGENT_HOME"] = SERVED_HOME
    env["GENIE_AGENT_MLFLOW_TRACKING_URI"] = "databricks"
    prefix = registry_prefix(settings)
    env["GENIE_AGENT_PROMPT_REGISTRY_PREFIX"] = prefix
    serving_env = {**env, "GENIE_AGENT_AUTH": "model-serving" if obo else "token"}
    serving_env.update({s.env: s.reference for s in secrets})
    app_env = {**env, "GENIE_AGENT_AUTH": "apps"}
    missing, notes = _missing(settings)
    return DeploymentPlan(
        model_name=model_name,
        registry="unity-catalog" if uc else "local",
        prompt_prefix=prefix,
        prompts=tuple(prompt_names()),
        on_behalf_of_user=obo,
        resources=tuple(_resources(settings, obo)),
        api_scopes=tuple(settings.obo_scopes) if obo else (),
        environment=dict(sorted(serving_env.items())),
        secrets=tuple(secrets),
        endpoint_name=settings.serving_endpoint or _default_endpoint_name(model_name),
        scale_to_zero=settings.scale_to_zero,
        app_name=settings.app_name,
        missing=tuple(missing),
        notes=tuple(notes),
        _app_env=dict(sorted(app_env.items())),
    )
