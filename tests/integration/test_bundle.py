"""databricks.yml: the Databricks CLI is not here, so check what it would run against the click application."""

from __future__ import annotations

import re
from pathlib import Path

import click
import yaml

from genie_agent.config import Settings
from genie_agent_cli.main import cli

BUNDLE = Path(__file__).resolve().parents[2] / "databricks.yml"


def _bundle() -> dict:
    return yaml.safe_load(BUNDLE.read_text())


def _tasks() -> list[dict]:
    return [t for job in _bundle()["resources"]["jobs"].values() for t in job["tasks"]]


def test_bundle_parses_with_variables_targets_and_both_jobs():
    bundle = _bundle()
    assert {"catalog", "schema", "model", "lakebase_instance", "genie_space_id", "warehouse_id"} <= set(
        bundle["variables"]
    )
    assert set(bundle["targets"]) == {"dev", "prod"}
    jobs = bundle["resources"]["jobs"]
    assert [t["task_key"] for t in jobs["setup_memory"]["tasks"]] == ["setup_memory"]
    assert [t["task_key"] for t in jobs["release"]["tasks"]] == ["log", "evaluate", "deploy"]
    assert [d["task_key"] for d in jobs["release"]["tasks"][2]["depends_on"]] == ["evaluate"]


def test_every_variable_used_is_declared():
    text = BUNDLE.read_text()
    used = set(re.findall(r"\$\{var\.([a-z_]+)\}", text))
    assert used and used <= set(_bundle()["variables"])


def test_every_task_runs_an_existing_command_with_existing_options():
    for task in _tasks():
        wheel = task["python_wheel_task"]
        assert (wheel["package_name"], wheel["entry_point"]) == ("genie_agent", "genie-agent")
        args = [str(a) for a in wheel["parameters"]]
        command = cli.commands.get(args[0])
        assert isinstance(command, click.Command), f"{task['task_key']}: no command {args[0]!r}"
        options = {
            o for p in command.params if isinstance(p, click.Option) for o in (*p.opts, *p.secondary_opts)
        }
        for arg in args[1:]:
            if arg.startswith("--"):
                assert arg in options, f"{task['task_key']}: {args[0]} has no option {arg}"
        command.make_context(args[0], args[1:])  # raises unless every value parses


def test_the_entry_point_is_the_distributions_console_script():
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "genie-agent"]
    assert script.value == "genie_agent_cli.main:cli"


def test_cluster_environment_names_only_real_settings():
    env = _bundle()["resources"]["jobs"]["setup_memory"]["job_clusters"][0]["new_cluster"]["spark_env_vars"]
    fields = {f"GENIE_AGENT_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= fields, set(env) - fields
