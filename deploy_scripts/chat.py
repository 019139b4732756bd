"""``genie-agent chat``: hands over to the terminal chat (genie_agent_tui), or serves it to a browser
(``--web``: genie_agent_tui.web)."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

import click

from .cli_base import pass_settings

if TYPE_CHECKING:
    from genie_agent.config import Settings
    from genie_agent_tui.targets import TargetSpec

__all__ = ["chat"]

_LOOPBACK = "127.0.0.1"


@click.command()
@click.option("--url", help="Talk to a `genie-agent serve` endpoint, e.g. http://127.0.0.1:8000.")
@click.option("--token", help="Bearer token for --url, when the server has users.")
@click.option(
    "--endpoint",
    help="Talk to a Databricks Model Serving endpoint (credentials: databricks-sdk unified auth).",
)
@click.option("--user", default="local", show_default=True, help="Local user on the embedded default.")
@click.option("--web", is_flag=True, help="Serve the chat to a browser (each tab its own chat) instead.")
@click.option(
    "--host", help=f"--web: address to listen on [default: {_LOOPBACK}]; beyond loopback only with a token."
)
@click.option("--port", type=click.IntRange(1, 65535), help="--web: port to listen on [default: 8088].")
@click.option(
    "--web-token",
    help="--web: token the browser must present (default: the setting chat_web_token; at least 16 characters).",
)
@pass_settings
def chat(
    settings: Settings,
    url: str | None,
    token: str | None,
    endpoint: str | None,
    user: str,
    web: bool,
    host: str | None,
    port: int | None,
    web_token: str | None,
) -> None:
    """Open the terminal chat: on the embedded default, or on --url / --endpoint; --web: in a browser."""
    from genie_agent_tui.targets import ChatTarget, InProcessTarget, TargetError, TargetSpec, target_for

    if url and endpoint:
        raise click.UsageError("Give --url or --endpoint, not both.")
    if token and not url:
        raise click.UsageError("--token goes with --url.")
    if not web and (host or port or web_token):
        raise click.UsageError("--host, --port and --web-token go with --web.")
    if url:
        spec = TargetSpec("url", url.rstrip("/"), token=token)
    elif endpoint:
        spec = TargetSpec("endpoint", endpoint)
    else:
        spec = TargetSpec("embedded", user=user)
    if web:
        _serve_web(settings, spec, host or _LOOPBACK, port, web_token)
        return
    target: ChatTarget
    if spec.kind == "embedded":
        from genie_agent.factory import make_agent
        from genie_agent.identity import local_identity
        from genie_agent_tui.tracing import with_chat_tracing

        # before the app: a first run generates the example data, with progress on the terminal
        agent = make_agent(settings)
        # traced (so answers can be rated), MLflow set up off the UI thread once the app connects
        target = InProcessTarget(
            lambda: with_chat_tracing(agent, settings),
            identity=local_identity(user, settings.users),
            spec=spec,
        )
    else:
        try:
            target = target_for(spec, settings)
        except TargetError as exc:
            raise click.UsageError(f"{exc.message} {exc.hint}") from exc
    known = [TargetSpec("embedded", user=user)]
    if spec not in known:
        known.append(spec)
    from genie_agent_tui.app import GenieChatApp

    app = GenieChatApp(
        target,
        home=settings.home,
        make_target=lambda s: target_for(s, settings),
        known_targets=known,
    )
    app.run()


def _serve_web(
    settings: Settings, spec: TargetSpec, host: str, port: int | None, web_token: str | None
) -> None:
    """Serve ``genie-agent chat`` on ``spec`` to browsers: each tab runs it in a process of its own."""
    from genie_agent.errors import ConfigError
    from genie_agent_tui.targets import TargetError, target_for
    from genie_agent_tui.web import DEFAULT_PORT, check_exposure, serve

    token = web_token or (settings.chat_web_token.get_secret_value() if settings.chat_web_token else None)
    check_exposure(host, token)
    if spec.kind == "embedded":
        _prepare_example_data(settings)  # here, with progress: a tab's chat has no terminal to show it on
        args = ["--user", spec.user]
    else:
        try:
            target_for(spec, settings)
        except TargetError as exc:
            raise click.UsageError(f"{exc.message} {exc.hint}") from exc
        args = ["--url", spec.address] if spec.kind == "url" else ["--endpoint", spec.address]
        if spec.token:
            args += ["--token", spec.token]
    port = port or DEFAULT_PORT
    try:
        serve(args, host=host, port=port, token=token)
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise
        raise ConfigError(
            f"Cannot listen on {host}:{port}: {exc.strerror or exc}.",
            "Pick another port with --port (or stop what is using it).",
        ) from exc


def _prepare_example_data(settings: Settings) -> None:
    """Check the catalog and generate the embedded example data if it is missing."""
    if settings.genie_backend != "local":
        return
    from genie_agent.factory import database_path
    from genie_agent.spaces.catalog import load_catalog

    catalog = load_catalog(settings.catalog, cache_dir=settings.home / "cache")
    for name, spec in catalog.databases.items():
        database_path(settings, name, spec)
