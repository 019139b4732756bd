"""``genie-agent deploy``: pass the evaluation gate, then deploy a registered model version.

``--target serving`` calls ``databricks.agents.deploy`` (Model Serving, on-behalf-of-user when the
model was logged with an auth policy). ``--target apps`` writes a Databricks App (``app.yaml``
running ``genie-agent serve``, ``requirements.txt`` and the genie-agent wheel) into a build directory
and prints the ``databricks`` CLI steps that upload and deploy it. The gate comes first: a version
whose latest evaluation is missing or failed is refused before anything reaches the workspace.
"""

from __future__ import annotations

import importlib
import json
import logging
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .cli_base import json_option, pass_settings

if TYPE_CHECKING:
    from genie_agent.config import Settings
    from genie_agent.deployment import DeploymentPlan

__all__ = ["deploy", "render_plan", "write_app"]


def render_plan(plan: DeploymentPlan, *, target: str | None, version: int | None = None) -> None:
    """The plan as text: what ``log`` registers and what ``deploy`` creates or changes."""
    echo = click.echo
    where = "Unity Catalog" if plan.registry == "unity-catalog" else "the local model registry"
    echo(f"model       {plan.model_name}  (registered in {where})")
    echo(f"prompts     {', '.join(plan.prompt_prefix + p for p in plan.prompts)}")
    auth = (
        "on behalf of the calling user (auth_policy)"
        if plan.on_behalf_of_user
        else "the endpoint's own identity (resources)"
    )
    echo(f"auth        {auth}")
    echo("resources")
    for r in plan.resources:
        how = "as the user" if r.as_user else "declared"
        echo(f"  {r.kind:<17} {r.name:<36} {how:<12} {r.why}")
    if not plan.resources:
        echo("  (none)")
    if plan.on_behalf_of_user:
        echo(f"user scopes {', '.join(plan.api_scopes)}")
    if plan.secrets:
        echo("secrets     (create them first: databricks secrets put-secret <scope> <key>)")
        for s in plan.secrets:
            echo(f"  {s.scope}/{s.key:<28} value of {s.setting}")
    if target in (None, "serving"):
        which = f"version {version}" if version is not None else "the latest registered version"
        echo(
            f"serving     endpoint {plan.endpoint_name} <- {plan.model_name} {which}, scale_to_zero={plan.scale_to_zero}"
        )
        echo("environment")
        for key, value in plan.environment.items():
            echo(f"  {key}={value}")
    if target in (None, "apps"):
        echo(f"app         {plan.app_name}  (app.yaml below)")
        for line in plan.app_yaml().splitlines():
            echo(f"  | {line}")
    for note in plan.notes:
        click.secho(f"note: {note}", fg="yellow")
    if plan.missing:
        click.secho("missing:", fg="yellow")
        for item in plan.missing:
            click.secho(f"  - {item}", fg="yellow")


def _version_of(plan: DeploymentPlan, alias: str | None) -> int:
    """The version ``alias`` points at, else the latest registered version."""
    from mlflow import MlflowClient

    from genie_agent.errors import UserInputError

    client = MlflowClient(registry_uri=plan.registry_uri)
    if alias:
        try:
            return int(client.get_model_version_by_alias(plan.model_name, alias).version)
        except Exception as exc:
            raise UserInputError(
                f"Alias {alias!r} of {plan.model_name} could not be read: {exc}",
                f"Run `genie-agent log --alias {alias}` first, or pass --version.",
            ) from None
    versions = [int(v.version) for v in client.search_model_versions(f"name='{plan.model_name}'")]
    if not versions:
        raise UserInputError(
            f"No version of {plan.model_name} is registered.", "Run `genie-agent log` first."
        )
    return max(versions)


_SDIST = "import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])"


def _wheel(directory: Path) -> Path | None:
    """Build the genie-agent wheel into ``directory`` from the source tree, if this is one.

    The wheel is built from an sdist of the tree (as ``python -m build`` does), so it holds what
    setup.py and MANIFEST.in name and nothing a previous build left in the tree's build/ directory.
    """
    import genie_agent

    root = Path(genie_agent.__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        return None
    with tempfile.TemporaryDirectory(prefix="genie-agent-sdist-") as staging:
        _build([sys.executable, "-c", _SDIST, staging], cwd=root)
        (sdist,) = Path(staging).glob("genie_agent-*.tar.gz")
        pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        _build([*pip, "-w", str(directory), str(sdist)], cwd=root)
    return max(directory.glob("genie_agent-*.whl"), key=lambda p: p.stat().st_mtime)


def _build(cmd: list[str], *, cwd: Path) -> None:
    from genie_agent.errors import BackendError

    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackendError(
            f"Building the genie-agent wheel failed: {done.stderr.strip()[-800:]}",
            f"Run `{' '.join(cmd)}` in {cwd} to see why (setuptools and wheel must be installed).",
        )


def write_app(plan: DeploymentPlan, directory: Path, *, build_wheel: bool = True) -> list[Path]:
    """Write the Databricks App source into ``directory``: app.yaml, requirements.txt, the wheel."""
    from importlib import metadata

    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("genie_agent-*.whl"):
        old.unlink()
    app_yaml = directory / "app.yaml"
    app_yaml.write_text(plan.app_yaml())
    wheel = _wheel(directory) if build_wheel else None
    requirement = (
        f"./{wheel.name}[databricks,postgres]"
        if wheel
        else f"genie-agent[databricks,postgres]=={metadata.version('genie-agent')}"
    )
    requirements = directory / "requirements.txt"
    requirements.write_text(requirement + "\n")
    return [app_yaml, requirements, *([wheel] if wheel else [])]


def _app_steps(plan: DeploymentPlan, directory: Path) -> list[str]:
    source = f"/Workspace/Users/<you>/apps/{plan.app_name}"
    steps = [f"databricks apps create {plan.app_name}   # first time only"]
    steps += [
        f"databricks sync {directory} {source}",
        f"databricks apps deploy {plan.app_name} --source-code-path {source}",
    ]
    return steps


@click.command("deploy")
@click.option(
    "--target",
    type=click.Choice(["serving", "apps"]),
    default="serving",
    show_default=True,
    help="Model Serving (databricks.agents.deploy) or a Databricks App (app.yaml + the agent server).",
)
@click.option(
    "--version",
    "version",
    type=click.IntRange(1),
    help="Model version to deploy. Default: the latest registered.",
)
@click.option(
    "--alias",
    help="Deploy the version this alias points at (set by `log --alias`); its evaluation may name the "
    "version or the alias.",
)
@click.option(
    "--dry-run", is_flag=True, help="Print exactly what would be created or changed; change nothing."
)
@click.option(
    "--skip-gate", is_flag=True, help="Deploy even if the version's evaluation is missing or failed (loud)."
)
@click.option(
    "--build-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where --target apps writes the app source. Default: $GENIE_AGENT_HOME/build/app.",
)
@json_option("Print one JSON object.")
@pass_settings
def deploy(
    settings: Settings,
    target: str,
    version: int | None,
    alias: str | None,
    dry_run: bool,
    skip_gate: bool,
    build_dir: Path | None,
    as_json: bool,
) -> None:
    """Deploy a registered version of the agent after its evaluation gate passes."""
    from genie_agent.deployment import plan_deployment
    from genie_agent.errors import UserInputError

    plan = plan_deployment(settings)
    if dry_run:
        _dry_run(settings, plan, target, version, as_json)
        return
    if version is not None and alias:
        raise UserInputError("--version and --alias name the version twice.", "Pass one of them.")
    report = _deploy(settings, plan, target, version, alias, skip_gate, build_dir)
    if as_json:
        click.echo(json.dumps(report, default=str))


def _gate_target(plan: DeploymentPlan, version: int | None) -> str:
    return f"models:/{plan.model_name}/{version if version is not None else '<latest>'}"


def _dry_run(
    settings: Settings, plan: DeploymentPlan, target: str, version: int | None, as_json: bool
) -> None:
    from genie_agent.evaluation import latest_outcome

    gate_target = _gate_target(plan, version)
    outcome = latest_outcome(gate_target, settings.home) if version is not None else None
    gate = (
        "unknown until the version is known (pass --version)"
        if version is None
        else "never evaluated: deploy would refuse"
        if outcome is None
        else f"{'passed' if outcome.passed else 'FAILED: deploy would refuse'} (run {outcome.run_id})"
    )
    if as_json:
        data = {
            "dry_run": True,
            "target": target,
            "version": version,
            "gate": {"target": gate_target, "status": gate},
        }
        click.echo(json.dumps({**data, "plan": plan.to_dict()}))
        return
    click.secho(f"Dry run: deploy --target {target}; nothing is created or changed.", bold=True)
    click.echo(f"gate        {gate_target}: {gate}")
    render_plan(plan, target=target, version=version)


def _deploy(
    settings: Settings,
    plan: DeploymentPlan,
    target: str,
    version: int | None,
    alias: str | None,
    skip_gate: bool,
    build_dir: Path | None,
) -> dict[str, Any]:
    from genie_agent.errors import ConfigError
    from genie_agent.evaluation import check_gate, configure_mlflow, latest_outcome

    # Model Serving serves the registered model from Unity Catalog; an App runs the wheel, so the
    # local registry only keys its evaluation gate.
    if target == "serving" and plan.registry != "unity-catalog":
        raise ConfigError(
            f"{plan.model_name} is not a Unity Catalog model: Model Serving cannot serve it.",
            "Set GENIE_AGENT_UC_CATALOG and GENIE_AGENT_UC_SCHEMA, run `genie-agent log`, evaluate it, "
            "then deploy (`genie-agent deploy --dry-run` lists what is missing); or deploy a Databricks "
            "App (--target apps), which needs no Unity Catalog model.",
        )
    if version is None:
        configure_mlflow(settings)
        version = _version_of(plan, alias)
    gate_target = _gate_target(plan, version)
    if alias and latest_outcome(gate_target, settings.home) is None:
        gate_target = f"models:/{plan.model_name}@{alias}"  # evaluated by alias, e.g. in the release job
    with _quiet("genie_agent.evaluation"):  # the SDK logs a skipped gate; here it is said once, in red
        decision = check_gate(gate_target, settings.home, skip_gate=skip_gate)
    if decision.skipped:
        click.secho(decision.message, fg="red", bold=True, err=True)
    else:
        click.echo(decision.message, err=True)
    if target == "apps":
        return _write_app_source(plan, version, build_dir or settings.home / "build" / "app")
    return _deploy_serving(settings, plan, version)


def _write_app_source(plan: DeploymentPlan, version: int, directory: Path) -> dict[str, Any]:
    files = write_app(plan, directory)
    steps = _app_steps(plan, directory)
    click.echo(f"Wrote the app source to {directory}: {', '.join(f.name for f in files)}", err=True)
    click.echo("Upload and deploy it with the Databricks CLI:", err=True)
    for step in steps:
        click.echo(f"  {step}", err=True)
    return {"target": "apps", "version": version, "directory": str(directory), "steps": steps}


def _deploy_serving(settings: Settings, plan: DeploymentPlan, version: int) -> dict[str, Any]:
    """``databricks.agents.deploy`` of ``version`` to the plan's Model Serving endpoint."""
    import mlflow

    from genie_agent.deployment import serving_deploy_kwargs
    from genie_agent.errors import BackendError, ConfigError
    from genie_agent.evaluation import configure_mlflow

    kwargs = serving_deploy_kwargs(plan, version)
    try:
        agents = importlib.import_module("databricks.agents")
    except ImportError:
        raise ConfigError(
            "databricks-agents is not installed.",
            "Install the workspace extra: pip install 'genie-agent[databricks]'.",
        ) from None
    configure_mlflow(settings)  # agents.deploy tags the endpoint with the active experiment for traces
    mlflow.set_registry_uri("databricks-uc")
    click.echo(
        f"Deploying {plan.model_name} version {version} to endpoint {plan.endpoint_name} ...", err=True
    )
    try:
        deployment = agents.deploy(**kwargs)
    except Exception as exc:  # databricks-agents and databricks-sdk raise their own types
        raise BackendError(
            f"databricks.agents.deploy failed: {type(exc).__name__}: {exc}",
            "Check DATABRICKS_HOST and your credentials, that the version exists, and that you may "
            "manage serving endpoints (`genie-agent deploy --dry-run` shows the plan).",
        ) from exc
    endpoint = getattr(deployment, "endpoint_name", plan.endpoint_name)
    click.echo(f"Deployed: endpoint {endpoint} (it takes several minutes to become ready).", err=True)
    return {"target": "serving", "version": version, "endpoint_name": endpoint, "deploy_kwargs": kwargs}


@contextmanager
def _quiet(logger: str) -> Iterator[None]:
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)
