"""``genie-agent genie-server``: the local spaces under the Genie Conversation API, and the local agent
as a Model Serving endpoint, on one port.

Clients written for a workspace run here unchanged: ``WorkspaceClient(host="http://127.0.0.1:8080",
token=...)`` with ``w.genie.*`` (and so the Databricks Genie backend), and anything that posts to
``/serving-endpoints/<name>/invocations`` (plain HTTP with a token, ``mlflow.deployments``, the chat
client's endpoint target): the same body as ``/invocations``, SSE with ``"stream": true``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

import click

from .cli_base import pass_settings

if TYPE_CHECKING:
    from genie_agent.config import Settings
    from genie_agent.genie_api import GenieApi

__all__ = ["build_server_app", "genie_server", "parse_lakebase_instances", "parse_latencies"]

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]
_ENDPOINT = re.compile(r"/serving-endpoints/([^/]+)/invocations")


class _Routes:
    """Serving-endpoint invocations go to the agent gate as ``/invocations``; the rest is the Genie API."""

    def __init__(self, genie: GenieApi, serving: ASGIApp, endpoint_name: str) -> None:
        self.genie, self.serving, self.endpoint_name = genie, serving, endpoint_name

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.serving(scope, receive, send)
            return
        path = scope.get("path", "")
        m = _ENDPOINT.fullmatch(path)
        if m is not None and scope["type"] == "http":
            if m.group(1) != self.endpoint_name:
                message = f"Endpoint with name '{m.group(1)}' does not exist (this server has '{self.endpoint_name}')."
                await _json(send, 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": message})
            elif scope["method"] != "POST":
                await _json(send, 405, {"error_code": "BAD_REQUEST", "message": "Use POST for invocations."})
            else:
                await self.serving(
                    {**scope, "path": "/invocations", "raw_path": b"/invocations"}, receive, send
                )
            return
        if path == "/health":
            await self.serving(scope, receive, send)
            return
        await self.genie(scope, receive, send)


async def _json(send: Any, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def parse_latencies(values: tuple[str, ...]) -> dict[str, float]:
    """``("sales=20", "*=5")`` -> ``{"sales": 20.0, "*": 5.0}``; raises ``click.BadParameter``."""
    out: dict[str, float] = {}
    for value in values:
        space, sep, seconds = value.partition("=")
        try:
            number = float(seconds)
        except ValueError:
            number = -1.0
        if not sep or not space.strip() or not 0 <= number <= 3600:
            raise click.BadParameter(
                f"{value!r}: expected SPACE=SECONDS with 0 <= SECONDS <= 3600, e.g. sales=20",
                param_hint="--latency",
            )
        out[space.strip()] = number
    return out


def parse_lakebase_instances(values: tuple[str, ...]) -> dict[str, str]:
    """``("memory=127.0.0.1",)`` -> ``{"memory": "127.0.0.1"}``; raises ``click.BadParameter``."""
    from genie_agent.genie_api import parse_instance

    out: dict[str, str] = {}
    for value in values:
        try:
            name, pg_host = parse_instance(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--lakebase-instance") from None
        out[name] = pg_host
    return out


def build_server_app(
    settings: Settings,
    *,
    latency_s: Mapping[str, float] | None = None,
    endpoint_name: str = "genie-agent",
    lakebase_instances: Mapping[str, str] | None = None,
    questions_per_minute: int | None = None,
    bare: bool = False,
) -> tuple[ASGIApp, GenieApi]:
    """The combined app and its Genie API part, over the local spaces whatever ``genie_backend`` says.
    ``lakebase_instances`` (name -> PostgreSQL host) are answered to Lakebase memory clients;
    ``questions_per_minute`` limits the questions of the whole server (HTTP 429 beyond it); ``bare``
    lists no space until one is created (the local spaces' tables are there to create them on)."""
    from genie_agent.errors import ConfigError
    from genie_agent.factory import make_agent
    from genie_agent.genie_api import build_genie_api
    from genie_agent.identity import TokenIdentityProvider
    from genie_agent_model.agent import GenieResponsesAgent

    from .serve import build_app

    local = settings.model_copy(update={"genie_backend": "local"})
    agent = make_agent(local, progress=False)
    unknown = sorted(set(latency_s or {}) - set(agent.spaces) - {"*"})
    if unknown:
        raise ConfigError(
            f"--latency names unknown space(s): {', '.join(unknown)}.",
            f"Spaces here: {', '.join(agent.spaces)} (or * for all).",
        )
    genie = build_genie_api(
        agent.spaces,
        TokenIdentityProvider(settings.users),
        latency_s=latency_s,
        lakebase_instances=lakebase_instances,
        questions_per_minute=questions_per_minute,
        bare=bare,
    )
    serving = build_app(local, GenieResponsesAgent(agent))
    return _Routes(genie, serving, endpoint_name), genie


@click.command("genie-server")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on."
)
@click.option(
    "--latency",
    "latencies",
    multiple=True,
    metavar="SPACE=SECONDS",
    help="Artificial latency of a space's answers, `*` for every space (repeatable).",
)
@click.option(
    "--endpoint-name",
    default="genie-agent",
    show_default=True,
    help="Serving endpoint answered at /serving-endpoints/<name>/invocations.",
)
@click.option(
    "--lakebase-instance",
    "lakebase",
    multiple=True,
    metavar="NAME=HOST",
    help="A Lakebase database instance whose clients connect to the PostgreSQL on HOST:5432 "
    "(TLS, database databricks_postgres; repeatable).",
)
@click.option(
    "--questions-per-minute",
    type=click.IntRange(min=1),
    metavar="N",
    help="A workspace's Genie rate limit: at most N questions (start-conversation, create-message) "
    "in any minute across all spaces and users; more get HTTP 429 with Retry-After.",
)
@click.option(
    "--bare",
    is_flag=True,
    help="A workspace with no Genie space yet: only the local tables (samples.tpch.*), to create spaces on.",
)
@pass_settings
def genie_server(
    settings: Settings,
    host: str,
    port: int,
    latencies: tuple[str, ...],
    endpoint_name: str,
    lakebase: tuple[str, ...],
    questions_per_minute: int | None,
    bare: bool,
) -> None:
    """Serve the local spaces under the Genie Conversation API (/api/2.0/genie/...) and the agent as a
    Model Serving endpoint, for databricks-sdk and serving clients."""
    from .serve import check_bind_address

    latency = parse_latencies(latencies)
    instances = parse_lakebase_instances(lakebase)
    check_bind_address(host, settings)
    app, _ = build_server_app(
        settings,
        latency_s=latency,
        endpoint_name=endpoint_name,
        lakebase_instances=instances,
        questions_per_minute=questions_per_minute,
        bare=bare,
    )
    import uvicorn

    from genie_agent.genie_api import LOCAL_WAREHOUSE_ID

    auth = (
        f"bearer tokens for {len(settings.users)} user(s)" if settings.users else "any token (one local user)"
    )
    url = f"http://{host}:{port}"
    click.echo(f"genie-server on {url}  (auth: {auth})", err=True)
    click.echo(f"  Genie API:        {url}/api/2.0/genie/spaces", err=True)
    spaces = "none yet (--bare)" if bare else "the local spaces"
    click.echo(
        f"  Genie spaces:     {spaces}; SQL warehouse {LOCAL_WAREHOUSE_ID} to create them on", err=True
    )
    click.echo(f"  serving endpoint: {url}/serving-endpoints/{endpoint_name}/invocations", err=True)
    if latency:
        click.echo(f"  latency (s):      {', '.join(f'{k}={v:g}' for k, v in latency.items())}", err=True)
    if questions_per_minute is not None:
        click.echo(f"  question limit:   {questions_per_minute} a minute (then HTTP 429)", err=True)
    for name, pg_host in instances.items():
        click.echo(f"  Lakebase:         {name} -> {pg_host}:5432 ({url}/api/2.0/database)", err=True)
    # A workspace keeps idle connections open for a while; uvicorn's 5 s would close some just as a
    # client polling every few seconds reuses them (httpx then fails the request).
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_keep_alive=75)
