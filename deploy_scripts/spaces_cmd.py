"""``genie-agent spaces``: the local catalog's spaces as Genie spaces on the workspace (create),
what the caller may do with the configured ones (list), a space to a file and back (export,
import), and a local space as metric views (``export --metric-view``, :mod:`.metric_view_cmd`).
Thin over :mod:`genie_agent.workspace_spaces`; the workspace is databricks-sdk's unified auth.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click import ParameterSource

from .cli_base import json_option, pass_settings
from .metric_view_cmd import DEFAULT_OUT_DIR, view_target_options, write_metric_views

if TYPE_CHECKING:
    from genie_agent.config import Settings
    from genie_agent.workspace_spaces import SpaceOutcome

__all__ = ["spaces"]


def _config_path(settings: Settings) -> Path:
    from genie_agent.config import config_file_path

    return config_file_path() or settings.home / "config.yaml"


def _outcome_line(o: SpaceOutcome, warehouse_id: str) -> str:
    line = f"{o.action:<9} {o.domain:<12} {o.space.title:<14} {o.space.space_id}"
    if o.action == "replaced" and o.previous_etag and o.previous_etag == o.space.etag:
        line += f"  (already as the local space: unchanged, etag {o.space.etag})"
    elif o.action == "replaced":
        line += f"  (etag {o.previous_etag or '?'} -> {o.space.etag or '?'})"
    elif o.action == "reused":
        line += "  (a space of this title exists: left as it is; --replace updates it)"
        if o.space.warehouse_id and o.space.warehouse_id != warehouse_id:
            line += f"; it runs on warehouse {o.space.warehouse_id}"
    return line


@click.group("spaces")
def spaces() -> None:
    """Genie spaces on the workspace: create the local spaces there, list, export, import."""


@spaces.command("create")
@click.option("--warehouse-id", required=True, help="The SQL warehouse the spaces run on (you need CAN USE).")
@click.option(
    "--catalog",
    "uc_catalog",
    default="samples",
    show_default=True,
    help="Unity Catalog catalog of the tables.",
)
@click.option(
    "--schema", "uc_schema", default="tpch", show_default=True, help="Schema of the tables in that catalog."
)
@click.option("--parent-path", help="Workspace folder the spaces go in (default: your home folder).")
@click.option(
    "--replace", is_flag=True, help="Update spaces of the same title (else they are reused as they are)."
)
@pass_settings
def create(
    settings: Settings,
    warehouse_id: str,
    uc_catalog: str,
    uc_schema: str,
    parent_path: str | None,
    replace: bool,
) -> None:
    """Create the local catalog's spaces as Genie spaces (tables as CATALOG.SCHEMA.<table>) and write
    their ids into the configuration file's genie_spaces. Safe to repeat."""
    from genie_agent.spaces.catalog import load_catalog
    from genie_agent.workspace_spaces import connect, plan_spaces, provision, write_genie_spaces

    catalog = load_catalog(settings.catalog)
    plans = plan_spaces(catalog.spaces, catalog=uc_catalog, schema=uc_schema)
    api = connect()
    click.echo(
        f"workspace {api.host}: {len(plans)} space(s) on {uc_catalog}.{uc_schema}, warehouse {warehouse_id}"
    )
    known = {d: c.space_id for d, c in settings.genie_spaces.items()}
    done: list[SpaceOutcome] = []
    path = _config_path(settings)
    try:
        for outcome in provision(
            api, plans, warehouse_id, parent_path=parent_path, replace=replace, known_ids=known
        ):
            done.append(outcome)
            click.echo(_outcome_line(outcome, warehouse_id))
    finally:
        if done:  # what was done is kept even when a later space failed
            write_genie_spaces(path, {o.domain: o.config_entry() for o in done})
            click.echo(f"wrote genie_spaces ({', '.join(o.domain for o in done)}) to {path}")
    if settings.genie_backend != "databricks":
        click.echo(
            "Ask them with genie_backend: databricks in that file, or GENIE_AGENT_GENIE_BACKEND=databricks, e.g. "
            f'GENIE_AGENT_GENIE_BACKEND=databricks genie-agent ask "{plans[0].sample_questions[0] if plans and plans[0].sample_questions else "..."}"'
        )


@spaces.command("list")
@json_option("Print the spaces as one JSON object.")
@pass_settings
def list_spaces(settings: Settings, as_json: bool) -> None:
    """The configured Genie spaces: whether each is reachable, what you may do with it, and the routing
    vocabulary read from it (or why it routes by its configured keywords only)."""
    from genie_agent.workspace_spaces import check_access, connect

    if not settings.genie_spaces:
        if as_json:
            click.echo(json.dumps({"spaces": []}))
        else:
            click.echo(
                "No Genie spaces configured: genie-agent spaces create --warehouse-id ID creates them."
            )
        return
    from genie_agent.spaces.databricks import default_client_factory
    from genie_agent.spaces.discovery import SpaceDiscovery

    access = check_access(connect(), settings.genie_spaces)
    # What the agent's router would read of each space, with these credentials (the deployment's own
    # when run as it).
    found = SpaceDiscovery(settings.genie_spaces, default_client_factory(), refresh_s=0).read_all()
    keywords = {d: len(c.keywords) for d, c in settings.genie_spaces.items()}
    if as_json:
        rows = [
            {
                "domain": a.domain,
                "space_id": a.space_id,
                "reachable": a.reachable,
                "title": a.title,
                "can_edit": a.can_edit,
                "may": a.may,
                "error": a.error,
                "routing": {
                    "discovered_terms": len(found[a.domain].terms),
                    "definition_read": found[a.domain].definition,
                    "keywords": keywords[a.domain],
                    "status": found[a.domain].status(keywords[a.domain]),
                },
            }
            for a in access
        ]
        click.echo(json.dumps({"spaces": rows}))
        return
    for a in access:
        state = "reachable" if a.reachable else "UNREACHABLE"
        click.echo(f"{a.domain:<12} {a.space_id:<34} {state:<11} {a.title or '':<14} may: {a.may}")
        if a.error:
            click.secho(f"{'':<12} {a.error}", dim=a.reachable, fg=None if a.reachable else "red")
        routing = found[a.domain]
        click.secho(f"{'':<12} routing: {routing.status(keywords[a.domain])}", dim=routing.definition)


def _space_id(settings: Settings, value: str) -> str:
    configured = settings.genie_spaces.get(value)
    return configured.space_id if configured is not None else value


@spaces.command("export")
@click.argument("space", required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="File to write (default genie-space-<id>.json); with --metric-view, the directory (default metric_views).",
)
@click.option(
    "--metric-view",
    "metric_view_space",
    metavar="SPACE",
    help="Instead: write the local catalog's SPACE as metric views, as `metric-view export` does.",
)
@view_target_options
@pass_settings
def export(
    settings: Settings,
    space: str | None,
    output: Path | None,
    metric_view_space: str | None,
    catalog: str,
    schema: str,
    view_schema: str | None,
) -> None:
    """Write SPACE's definition (a space id, or a configured domain) to a file (default
    genie-space-<id>.json): title, description, warehouse and serialized space.

    With --metric-view SPACE (a space id of the local catalog, no SPACE argument): its semantic model
    as metric view YAML with each view's CREATE VIEW statement, and the sidecar (--catalog, --schema,
    --view-schema as for `metric-view export`)."""
    if metric_view_space is not None:
        if space is not None:
            raise click.UsageError(
                f"Give a Genie space to export from the workspace ({space!r}) or --metric-view "
                f"{metric_view_space} to export a local space as metric views, not both."
            )
        if output is not None and output.is_file():
            raise click.BadParameter(
                f"{str(output)!r} is a file; with --metric-view give the directory to write to.",
                param_hint="--output",
            )
        write_metric_views(
            settings,
            metric_view_space,
            output or DEFAULT_OUT_DIR,
            catalog=catalog,
            schema=schema,
            view_schema=view_schema,
        )
        return
    if space is None:
        raise click.UsageError(
            "Name the Genie space to export (a space id, or a configured domain), "
            "or give --metric-view SPACE to export a local space as metric views."
        )
    ctx = click.get_current_context()
    view_only = [
        f"--{name.replace('_', '-')}"
        for name in ("catalog", "schema", "view_schema")
        if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE
    ]
    if view_only:
        raise click.UsageError(f"{', '.join(view_only)} only apply with --metric-view SPACE.")
    if output is not None and output.is_dir():
        raise click.BadParameter(
            f"{str(output)!r} is a directory; give the file to write.", param_hint="--output"
        )
    from genie_agent.workspace_spaces import connect, export_space, write_space_file

    space_id = _space_id(settings, space)
    content = export_space(connect(), space_id)
    path = output or Path(f"genie-space-{space_id}.json")
    write_space_file(content, path)
    click.echo(f"wrote {content['title']!r} ({space_id}) to {path}")


@spaces.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--title", help="Title of the new space (default: the file's).")
@click.option("--warehouse-id", help="SQL warehouse of the new space (default: the file's).")
@click.option("--parent-path", help="Workspace folder the space goes in (default: your home folder).")
@pass_settings
def import_(
    settings: Settings, file: Path, title: str | None, warehouse_id: str | None, parent_path: str | None
) -> None:
    """Create a Genie space from FILE (written by `spaces export`, or a bare serialized space)."""
    from genie_agent.workspace_spaces import connect, import_space, read_space_file

    content = read_space_file(file)
    created = import_space(
        connect(), content, title=title, warehouse_id=warehouse_id, parent_path=parent_path
    )
    click.echo(f"created {created.title!r} ({created.space_id}) from {file}")
