"""``genie-agent memory list|forget`` and ``genie-agent setup-memory``: thin over the SDK's memory."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from .cli_base import EXIT_BAD_INPUT, EXIT_ERROR, json_option, pass_settings

if TYPE_CHECKING:
    from genie_agent.config import Settings

__all__ = ["memory", "setup_memory"]


def _run(
    settings: Settings, user: str, as_json: bool, action_name: str, memory_id: str | None = None
) -> None:
    from genie_agent.memory import MemoryAction, open_memory, run_memory_action

    backend = open_memory(settings)
    try:
        action = MemoryAction(action_name, memory_id)  # type: ignore[arg-type]
        result = run_memory_action(backend.memories, user, action)
    finally:
        backend.close()
    if as_json:
        click.echo(json.dumps(result.outputs, default=str))
    else:
        click.echo(result.text)
    if result.outputs.get("status") == "error":
        click.echo(result.outputs["memory_status"], err=True)
        sys.exit(EXIT_ERROR)
    if action_name == "forget" and not result.outputs.get("forgotten"):
        if not as_json:
            click.echo("Hint: `genie-agent memory list` shows the ids.", err=True)
        sys.exit(EXIT_BAD_INPUT)


@click.group()
def memory() -> None:
    """List or forget what genie-agent remembers about a user (preferences, notes, frequent spaces)."""


@memory.command("list")
@click.option("--user", default="local", show_default=True, help="Whose memories.")
@json_option("Print one JSON object.")
@pass_settings
def list_command(settings: Settings, user: str, as_json: bool) -> None:
    """List a user's memories with their ids."""
    _run(settings, user, as_json, "list")


@memory.command("forget")
@click.argument("memory_id", required=False)
@click.option("--all", "forget_all", is_flag=True, help="Forget every memory of the user.")
@click.option("--user", default="local", show_default=True, help="Whose memories.")
@json_option("Print one JSON object.")
@pass_settings
def forget_command(
    settings: Settings, memory_id: str | None, forget_all: bool, user: str, as_json: bool
) -> None:
    """Forget one memory (MEMORY_ID from `memory list`) or, with --all, every memory of the user."""
    if bool(memory_id) == forget_all:
        raise click.UsageError("Give a MEMORY_ID or --all (not both).")
    _run(settings, user, as_json, "forget_all" if forget_all else "forget", memory_id)


@click.command("setup-memory")
@pass_settings
def setup_memory(settings: Settings) -> None:
    """Create the memory tables and indexes for the configured backend (idempotent)."""
    from genie_agent.memory import open_memory

    backend = open_memory(settings)
    try:
        done = backend.setup()
    finally:
        backend.close()
    if not done:
        click.echo("Memory is off (GENIE_AGENT_MEMORY_BACKEND=off): nothing to set up.")
        return
    for part in done:
        click.echo(f"ready: {part}")
