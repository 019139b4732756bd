"""``genie-agent metric-view export SPACE``: a local space's semantic model as Unity Catalog metric views
(what ``genie-agent spaces export --metric-view SPACE`` runs too)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .cli_base import pass_settings

if TYPE_CHECKING:
    from genie_agent.config import Settings

__all__ = ["DEFAULT_OUT_DIR", "metric_view", "view_target_options", "write_metric_views"]

DEFAULT_OUT_DIR = Path("metric_views")


@click.group("metric-view")
def metric_view() -> None:
    """Unity Catalog metric views: the semantic model's exchange format."""


def view_target_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--catalog``, ``--schema`` and ``--view-schema``: where the exported views' tables are and
    where their CREATE statements put them (``metric-view export`` and ``spaces export --metric-view``)."""
    f = click.option(
        "--view-schema",
        metavar="CATALOG.SCHEMA",
        help="Where the CREATE statements put the views (default: beside the tables; `samples` is read-only).",
    )(f)
    f = click.option("--schema", default="tpch", show_default=True, help="Schema of the tables.")(f)
    return click.option(
        "--catalog", default="samples", show_default=True, help="Unity Catalog catalog of the tables."
    )(f)


@metric_view.command("export")
@click.argument("space")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_OUT_DIR,
    show_default=True,
    help="Directory to write the files to.",
)
@view_target_options
@pass_settings
def export_command(
    settings: Settings, space: str, out_dir: Path, catalog: str, schema: str, view_schema: str | None
) -> None:
    """Write SPACE (a space id of the catalog) as metric view YAML, one view per table its measures sit
    on, each with its CREATE VIEW statement, and a sidecar with what metric views cannot say
    (also `spaces export --metric-view SPACE`)."""
    write_metric_views(settings, space, out_dir, catalog=catalog, schema=schema, view_schema=view_schema)


def write_metric_views(
    settings: Settings, space: str, out_dir: Path, *, catalog: str, schema: str, view_schema: str | None
) -> None:
    """Export the catalog's ``space`` into ``out_dir`` and print the files written."""
    from genie_agent.errors import ConfigError, UnknownSpaceError
    from genie_agent.metric_views import export_space
    from genie_agent.metric_views.expressions import ExpressionError
    from genie_agent.spaces.catalog import load_catalog

    if view_schema is not None and (len(view_schema.split(".")) != 2 or not all(view_schema.split("."))):
        raise click.BadParameter(f"{view_schema!r} is not CATALOG.SCHEMA", param_hint="--view-schema")
    spaces = {s.id: s for s in load_catalog(settings.catalog).spaces}
    if space not in spaces:
        raise UnknownSpaceError(f"No space {space!r} in {settings.catalog}.", f"Spaces: {', '.join(spaces)}.")
    try:
        paths = export_space(spaces[space], out_dir, catalog=catalog, schema=schema, view_schema=view_schema)
    except ExpressionError as exc:
        raise ConfigError(
            f"Space {space!r} cannot be exported as metric views: {exc}",
            "The space itself is unchanged and still loads; simplify the expression named above to export it.",
        ) from None
    for path in paths:
        click.echo(path)
    sidecar = paths[-1]
    click.echo(
        f"Run each .sql on a SQL warehouse to create the views; list {sidecar.name} in a catalog's "
        "`spaces` to load the space from them.",
        err=True,
    )
