"""``genie-agent chat``: hands over to the terminal chat (genie_agent_tui)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from .cli_base import pass_settings

if TYPE_CHECKING:
    from genie_agent.config import Settings

__all__ = ["chat"]


@click.command()
@click.option("--url", help="Talk to a `genie-agent serve` endpoint, e.g. http://127.0.0.1:8000.")
@click.option("--token", help="Bearer token for --url, when the server has users.")
@click.option(
    "--endpoint",
    help="Talk to a Databricks Model Serving endpoint (credentials: databricks-sdk unified auth).",
)
@click.option("--user", default="local", show_default=True, help="Local user on the embedded default.")
@pass_settings
def chat(settings: Settings, url: str | None, token: str | None, endpoint: str | None, user: str) -> None:
    """Open the terminal chat: on the embedded default, or on --url / --endpoint."""
    from genie_agent_tui.app import GenieChatApp
    from genie_agent_tui.targets import ChatTarget, InProcessTarget, TargetError, TargetSpec, target_for

    if url and endpoint:
        raise click.UsageError("Give --url or --endpoint, not both.")
    if token and not url:
        raise click.UsageError("--token goes with --url.")
    if url:
        spec = TargetSpec("url", url.rstrip("/"), token=token)
    elif endpoint:
        spec = TargetSpec("endpoint", endpoint)
    else:
        spec = TargetSpec("embedded", user=user)
    target: ChatTarget
    if spec.kind == "embedded":
        from genie_agent.factory import make_agent
        from genie_agent.identity import local_identity

        # before the app: a first run generates the example data, with progress on the terminal
        agent = make_agent(settings)
        target = InProcessTarget(lambda: agent, identity=local_identity(user, settings.users), spec=spec)
    else:
        try:
            target = target_for(spec, settings)
        except TargetError as exc:
            raise click.UsageError(f"{exc.message} {exc.hint}") from exc
    known = [TargetSpec("embedded", user=user)]
    if spec not in known:
        known.append(spec)
    app = GenieChatApp(
        target,
        home=settings.home,
        make_target=lambda s: target_for(s, settings),
        known_targets=known,
    )
    app.run()
