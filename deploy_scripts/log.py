"""``genie-agent log``: log the served agent as an MLflow model, register it and its prompts.

Models-from-code: ``agent_model/agent.py`` is the model; the SDK travels inside it as ``code_paths``
(``genie_agent`` and ``genie_agent_examples``, which MLflow puts first on ``sys.path`` when the model
loads) and its dependencies as pinned ``pip_requirements``. Resources or the auth policy, the
registered name and the prompt names come from :func:`genie_agent.deployment.plan_deployment`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .cli_base import json_option, pass_settings

if TYPE_CHECKING:
    from genie_agent.config import Settings
    from genie_agent.deployment import DeploymentPlan

__all__ = ["log", "log_agent", "pip_requirements"]

_SHIPPED_PACKAGES = ("genie_agent", "genie_agent_examples")
_SERVED_EXTRAS = frozenset({"databricks", "postgres"})


def pip_requirements() -> list[str]:
    """genie-agent's dependencies (base + databricks and postgres extras), pinned to what is installed here."""
    from packaging.requirements import Requirement

    out: dict[str, str] = {}
    for line in metadata.requires("genie-agent") or []:
        req = Requirement(line)
        if req.name == "genie-agent":
            continue
        if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in _SERVED_EXTRAS):
            continue
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        try:
            pinned = f"{req.name}{extras}=={metadata.version(req.name)}"
        except metadata.PackageNotFoundError:
            pinned = f"{req.name}{extras}{req.specifier}"
        out.setdefault(req.name.lower(), pinned)
    return sorted(out.values())


def _stage_code(directory: Path) -> list[str]:
    """Copy the shipped packages under ``directory`` by their import names; return the code paths."""
    paths = []
    for package in _SHIPPED_PACKAGES:
        source = Path(str(resources.files(package)))
        target = directory / package
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        paths.append(str(target))
    return paths


def log_agent(
    settings: Settings, plan: DeploymentPlan, *, register: bool, alias: str | None = None
) -> dict[str, Any]:
    """Log (and register) the agent and register its prompts; return what was created."""
    import mlflow

    from genie_agent.evaluation import configure_mlflow
    from genie_agent.prompts import register_prompts

    configure_mlflow(settings)
    if plan.registry_uri:
        mlflow.set_registry_uri(plan.registry_uri)
    agent_file = Path(str(resources.files("genie_agent_model") / "agent.py"))
    with tempfile.TemporaryDirectory(prefix="genie-agent-log-") as staging:
        code_paths = _stage_code(Path(staging))
        with mlflow.start_run(run_name="genie-agent log") as run:
            info = mlflow.pyfunc.log_model(
                name="agent",
                python_model=str(agent_file),
                code_paths=code_paths,
                pip_requirements=pip_requirements(),
                registered_model_name=plan.model_name if register else None,
                **plan.log_model_auth(),
            )
    prompts = register_prompts(prefix=plan.prompt_prefix)
    version = info.registered_model_version
    if alias and version is not None:
        mlflow.MlflowClient(registry_uri=plan.registry_uri).set_registered_model_alias(
            plan.model_name, alias, str(version)
        )
    return {
        "model_uri": info.model_uri,
        "run_id": run.info.run_id,
        "registered_model": plan.model_name if register else None,
        "version": int(version) if version is not None else None,
        "registered_model_uri": f"models:/{plan.model_name}/{version}" if version is not None else None,
        "alias": alias if version is not None else None,
        "prompts": {f"{plan.prompt_prefix}{name}": p.version for name, p in prompts.items()},
    }


@click.command("log")
@click.option("--dry-run", is_flag=True, help="Print what would be logged and registered; change nothing.")
@click.option(
    "--register/--no-register",
    default=True,
    show_default=True,
    help="Register the logged model (Unity Catalog when uc_catalog/uc_schema are set, else the local registry).",
)
@click.option(
    "--alias",
    help="Also point this alias of the registered model at the new version (e.g. candidate), for "
    "`evaluate --model-uri models:/<name>@<alias>` and `deploy --alias <alias>`.",
)
@json_option("Print one JSON object.")
@pass_settings
def log(settings: Settings, dry_run: bool, register: bool, alias: str | None, as_json: bool) -> None:
    """Log the agent as an MLflow model with its resources, register it and its prompts."""
    from genie_agent.deployment import plan_deployment
    from genie_agent.errors import BackendError, GenieAgentError

    from .deploy import render_plan

    plan = plan_deployment(settings)
    if dry_run:
        if as_json:
            click.echo(json.dumps({"dry_run": True, "plan": plan.to_dict()}))
        else:
            render_plan(plan, target=None)
        return
    try:
        created = log_agent(settings, plan, register=register, alias=alias)
    except GenieAgentError:
        raise
    except Exception as exc:  # mlflow and the registry raise their own types
        raise BackendError(
            f"Logging the model failed: {type(exc).__name__}: {exc}",
            "Check the MLflow tracking URI and, for Unity Catalog, that you have USE CATALOG, USE "
            "SCHEMA and CREATE MODEL on the schema (`genie-agent log --dry-run` shows the plan).",
        ) from exc
    if as_json:
        click.echo(json.dumps(created))
        return
    click.echo(f"logged   {created['model_uri']}  (run {created['run_id']})")
    if created["registered_model_uri"]:
        click.echo(f"registered {created['registered_model_uri']}")
    for name, version in created["prompts"].items():
        click.echo(f"prompt   {name} version {version}")
    if created["version"] is not None:
        click.echo(
            f"next: genie-agent evaluate --model-uri {created['registered_model_uri']}  then  "
            f"genie-agent deploy --version {created['version']}",
            err=True,
        )
