"""The ``genie-agent`` command line: thin over the SDK. Errors become a message and an exit code
in one place (:class:`~.cli_base.GenieAgentGroup`).

Exit codes: 0 an answer was given (ok, partial, clarify, out_of_scope, refused); 1 an error;
2 bad input or configuration.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from .chat import chat
from .cli_base import EXIT_ERROR, GenieAgentGroup, json_option, pass_settings
from .deploy import deploy
from .evaluate import evaluate, monitor
from .genie_server import genie_server
from .log import log
from .memory import memory, setup_memory
from .metric_view_cmd import metric_view
from .process_exit import ONE_SHOT, close_agent, collector_off, exit_closed
from .spaces_cmd import spaces

if TYPE_CHECKING:
    from genie_agent.config import Settings


@click.group(cls=GenieAgentGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="genie-agent")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """genie-agent: ask your data questions in plain language, answered from Genie spaces."""
    if ctx.invoked_subcommand in ONE_SHOT:  # run with the collector off; end at once (process_exit.py)
        collector_off(ctx)


@cli.command()
@json_option("Print exactly one JSON object: the turn result.")
@click.option("--thread-id", help="Continue this conversation thread (printed after each answer).")
@click.option("--user", default="local", show_default=True, help="Local user the thread belongs to.")
@click.option(
    "--domain", "domains", multiple=True, help="Ask this space directly, skipping routing (repeatable)."
)
@click.option(
    "--csv",
    "csv_path",
    metavar="FILE",
    help="Also write the whole primary result table to FILE as CSV (a directory: one file per space).",
)
@click.argument("question")
@pass_settings
def ask(
    settings: Settings,
    as_json: bool,
    thread_id: str | None,
    user: str,
    domains: tuple[str, ...],
    csv_path: str | None,
    question: str,
) -> None:
    """Ask one QUESTION and print the answer with its result tables."""
    from genie_agent.factory import make_agent
    from genie_agent.identity import local_identity

    from .status import StatusLine

    agent = make_agent(settings)
    agent.validate_question(question)
    with StatusLine(enabled=not as_json) as status:
        result = None
        identity = local_identity(user, settings.users)
        stream = agent.stream(question, identity=identity, thread_id=thread_id, domains=domains or None)
        for event in stream:
            result = status.update(event) or result
    assert result is not None
    if as_json:
        click.echo(json.dumps(result.to_dict(), default=str))
    else:
        from .render import render_result  # rich's Markdown costs ~100 ms: only when rendering

        render_result(result)
    if csv_path is not None:
        _write_csv(result, csv_path)
    code = EXIT_ERROR if result.status == "error" else 0
    if close_agent(agent) and not agent.traced:  # a tracer exports its spans at exit
        exit_closed(code, command="ask")
    sys.exit(code)


def _write_csv(result: Any, target: str) -> None:
    from .csv_export import write_csv

    written = write_csv(result, target)
    if not written:
        click.echo(f"No result table to write to {target}.", err=True)
    for path, rows, truncated in written:
        cut = " (the result was cut off: raise row_limit for more)" if truncated else ""
        click.echo(f"Wrote {rows} rows to {path}{cut}.", err=True)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on."
)
@pass_settings
def serve(settings: Settings, host: str, port: int) -> None:
    """Serve the agent over HTTP: /responses and /invocations (Responses API, SSE when "stream": true)."""
    from .serve import check_bind_address, run

    check_bind_address(host, settings, workspace_auth=True)
    auth = f"bearer tokens for {len(settings.users)} user(s)" if settings.users else "none (one local user)"
    if settings.auth_mode() != "token":
        auth = f"{settings.auth_mode()} (the workspace names each caller)"
    click.echo(f"genie-agent serving on http://{host}:{port}  (auth: {auth})", err=True)
    run(settings, host, port)


@cli.command("config")
@json_option("Print the effective settings as JSON.")
@pass_settings
def config_command(settings: Settings, as_json: bool) -> None:
    """Print the effective settings and every problem with them, with what to fix."""
    from genie_agent.config import Settings, config_file_path
    from genie_agent.spaces.catalog import load_catalog

    catalog = load_catalog(settings.catalog)
    values: dict[str, Any] = {name: getattr(settings, name) for name in Settings.model_fields}
    spaces = [{"id": s.id, "title": s.title, "database": s.database} for s in catalog.spaces]
    if as_json:
        click.echo(
            json.dumps(
                {"config_file": str(config_file_path() or ""), "settings": values, "spaces": spaces},
                default=str,
            )
        )
        return
    click.echo(f"config file: {config_file_path() or '(none: defaults and environment)'}")
    for name, field in Settings.model_fields.items():
        click.echo(f"  {name:<20} = {values[name]!s:<40} GENIE_AGENT_{name.upper()}")
        if field.description:
            click.secho(f"  {'':<20}   {field.description}", dim=True)
    click.echo("spaces:")
    for s in spaces:
        click.echo(f"  {s['id']:<12} {s['title']} (database: {s['database']})")
    click.secho("configuration OK", fg="green")


cli.add_command(chat)
cli.add_command(genie_server)
cli.add_command(evaluate)
cli.add_command(monitor)
cli.add_command(memory)
cli.add_command(setup_memory)
cli.add_command(log)
cli.add_command(deploy)
cli.add_command(metric_view)
cli.add_command(spaces)


def main() -> None:  # pragma: no cover
    cli()
