"""``genie-agent chat --web``: the same chat in a browser, served by textual-serve.

Each browser tab gets a process of its own running ``genie-agent chat`` on the same target
(:func:`chat_command`); textual-serve carries its screen and keys over a websocket. textual-serve has
no authentication, so :class:`Gate` stands in front of every route (the page, ``/ws``, ``/static``,
``/download``):

- without a token the server listens on loopback only (:func:`check_exposure`) and answers only
  requests that name a loopback host, so a web page that rebinds its own name to 127.0.0.1 gets nothing;
- with a token, a request presents it as ``?token=`` (the first load: the answer sets an HttpOnly,
  SameSite=Strict cookie and sends the browser on to the address without it), as that cookie, or as
  ``Authorization: Bearer``; anything else is refused with 401;
- either way the websocket opens only from a page of this server (its ``Origin`` names this host),
  so another site open in the same browser cannot drive the chat.

Imported by the ``chat`` command only for ``--web`` (it imports aiohttp and textual-serve).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import shlex
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import web
from textual_serve.server import Server

from genie_agent.errors import ConfigError

__all__ = [
    "DEFAULT_PORT",
    "MIN_TOKEN_CHARS",
    "ChatWebServer",
    "Gate",
    "chat_command",
    "check_exposure",
    "is_loopback",
    "page_url",
    "serve",
]

DEFAULT_PORT = 8088
MIN_TOKEN_CHARS = 16
_WILDCARDS = {"", "0.0.0.0", "::"}
_TOKEN_HINT = "e.g. GENIE_AGENT_CHAT_WEB_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe())')"

# textual-serve's page loads its font from Google; the same font ships in its static files.
_GOOGLE_FONT = re.compile(r"<link[^>]*fonts\.googleapis\.com[^>]*>")
_LOCAL_FONT = """<style>
      @font-face {
        font-family: "Roboto Mono";
        src: url("{{ config.static.url }}fonts/RobotoMono-VariableFont_wght.ttf") format("truetype");
        font-weight: 100 700;
      }
    </style>
    <link rel="preload" as="font" crossorigin
      href="{{ config.static.url }}fonts/RobotoMono-VariableFont_wght.ttf" />"""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is this machine's loopback interface only."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.lower() == "localhost"


def check_exposure(host: str, token: str | None) -> None:
    """Refuse to serve where someone else could reach the chat without a token (ConfigError, exit 2)."""
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(
            f"The chat's web token is {len(token)} characters long; it needs at least {MIN_TOKEN_CHARS}.",
            f"Use a long random token, {_TOKEN_HINT}.",
        )
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"Refusing to serve the chat on {host} without a token: anyone who can reach it would use "
            "your data and your credentials.",
            f"Set a token (--web-token, or the setting chat_web_token: {_TOKEN_HINT}), "
            "or serve on 127.0.0.1.",
        )


def chat_command(chat_args: Sequence[str]) -> str:
    """The shell command textual-serve runs for each browser tab: ``genie-agent chat`` with these
    arguments, on this interpreter (so the same installation and environment)."""
    return shlex.join([sys.executable, "-m", "genie_agent_cli", "chat", *chat_args])


def page_url(host: str, port: int, token: str | None) -> str:
    """The address to open: the host as a browser can reach it, with the token on first load."""
    name = socket.gethostname() if host in _WILDCARDS else host
    if ":" in name:
        name = f"[{name}]"
    query = f"?{urlencode({'token': token})}" if token else ""
    return f"http://{name}:{port}/{query}"


@dataclass(frozen=True)
class Gate:
    """Who may reach the server: see the module's docstring. ``cookie`` is the cookie holding the
    token (named after the port: cookies are shared by every port of a host)."""

    token: str | None
    cookie: str

    def _presented(self, value: str | None) -> bool:
        return (
            self.token is not None
            and value is not None
            and hmac.compare_digest(value.encode(), self.token.encode())
        )

    def _bearer(self, request: web.Request) -> str | None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None

    def check(self, request: web.Request) -> web.StreamResponse | None:
        """The response that refuses or redirects ``request``, or None to let it through."""
        if self.token is None:
            if not is_loopback(request.url.host or ""):
                return web.Response(
                    status=403,
                    text=f"This chat answers only on loopback addresses, not {request.host!r}: open it as "
                    f"http://127.0.0.1:{request.url.port}/, or start it with a token (--web-token).\n",
                )
        elif self._presented(request.query.get("token")):
            if request.path == "/" and request.method == "GET":
                query = {k: v for k, v in request.query.items() if k != "token"}
                redirect = web.Response(
                    status=302, headers={"Location": "/" + (f"?{urlencode(query)}" if query else "")}
                )
                redirect.set_cookie(
                    self.cookie,
                    self.token,
                    httponly=True,
                    samesite="Strict",
                    secure=request.secure,
                    path="/",
                )
                return redirect
        elif not (
            self._presented(request.cookies.get(self.cookie)) or self._presented(self._bearer(request))
        ):
            return web.Response(
                status=401,
                headers={"WWW-Authenticate": "Bearer"},
                text="This chat needs its token: open the address `genie-agent chat --web` printed "
                "(it ends in ?token=...), or send Authorization: Bearer <token>.\n",
            )
        origin = request.headers.get("Origin")
        if (
            request.path == "/ws"
            and origin is not None
            and urlsplit(origin).netloc.lower() != request.host.lower()
        ):
            return web.Response(status=403, text=f"The chat's websocket does not open from {origin}.\n")
        return None

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        return self.check(request) or await handler(request)


class ChatWebServer(Server):
    """textual-serve's server behind a :class:`Gate`, its page addressed by the host the browser used."""

    def __init__(self, command: str, *, host: str, port: int, token: str | None) -> None:
        super().__init__(command, host=host, port=port, title="genie-agent chat")
        self.gate = Gate(token, f"genie_agent_chat_{port}")
        self.url = page_url(host, port, token)

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self.gate.middleware)
        aiohttp_jinja2.get_env(app).loader = jinja2.FunctionLoader(self._page_source)
        return app

    def _page_source(self, name: str) -> str:
        """textual-serve's page, its font from this server: the page loads nothing from elsewhere."""
        return _GOOGLE_FONT.sub(_LOCAL_FONT, (self.templates_path / name).read_text())

    def initialize_logging(self) -> None:
        super().initialize_logging()
        # aiohttp's access log would print each first load's ?token=
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

    async def on_startup(self, app: web.Application) -> None:
        self.console.print(
            f"genie-agent chat in a browser: {self.url}  (Ctrl+C to stop)", highlight=False, soft_wrap=True
        )

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        # textual-serve addresses the websocket and static files by the listening host, which a
        # browser cannot reach when that is 0.0.0.0; the host the browser named it can.
        origin = f"{request.scheme}://{request.host}"
        ws_scheme = "wss" if request.scheme == "https" else "ws"
        try:
            font_size = int(request.query.get("fontsize", "16"))
        except ValueError:
            font_size = 16
        return {
            "font_size": font_size,
            "app_websocket_url": f"{ws_scheme}://{request.host}/ws",
            "config": {"static": {"url": f"{origin}/static/"}},
            "application": {"name": self.title},
        }


def serve(chat_args: Sequence[str], *, host: str, port: int, token: str | None) -> None:
    """Serve ``genie-agent chat <chat_args>`` to browsers until Ctrl+C or SIGTERM."""
    check_exposure(host, token)
    ChatWebServer(chat_command(chat_args), host=host, port=port, token=token).serve()
