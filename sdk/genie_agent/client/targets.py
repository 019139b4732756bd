"""``connect``: the client of a target named by one string, so a script runs unchanged against each."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..errors import UserInputError
from .base import Client

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["TARGET_ENV", "TOKEN_ENV", "connect"]

TARGET_ENV = "GENIE_AGENT_TARGET"
"""The target ``connect()`` uses when given none."""
TOKEN_ENV = "GENIE_AGENT_TOKEN"
"""The bearer token for a URL target when ``connect`` is given none."""


def connect(
    target: str | None = None,
    *,
    token: str | None = None,
    serving_endpoint: str | None = None,
    settings: Settings | None = None,
    user: str = "local",
) -> Client:
    """A client for ``target``:

    * ``None``: ``$GENIE_AGENT_TARGET`` if set, else ``"local"``;
    * ``"local"``: the agent in this process (:class:`~.local.LocalClient`), built from ``settings``
      (default ``load_settings()``), asking as ``user``;
    * ``"http://HOST:PORT"``: ``genie-agent serve`` (:class:`~.http.HttpClient`), with ``token`` or
      ``$GENIE_AGENT_TOKEN``;
    * ``"endpoint:NAME"``, or ``serving_endpoint="NAME"``: a Databricks serving endpoint
      (:class:`~.serving.ServingClient`, databricks-sdk unified auth).

    Nothing is contacted yet: the first question (or ``client.connect()``) does. Raises
    :class:`~genie_agent.errors.UserInputError` for a target it cannot read.
    """
    if serving_endpoint is not None:
        target = f"endpoint:{serving_endpoint}"
    elif target is None:
        target = os.environ.get(TARGET_ENV) or "local"
    target = target.strip()
    if target in ("local", "embedded"):
        from .local import LocalClient

        return LocalClient(settings=settings, user=user)
    if target.startswith(("http://", "https://")):
        from .http import HttpClient

        return HttpClient(target, token=token or os.environ.get(TOKEN_ENV) or None)
    name = target.removeprefix("endpoint:").strip()
    if target.startswith("endpoint:") and name:
        from .serving import ServingClient

        return ServingClient(name)
    raise UserInputError(
        f"{target!r} is not a target.",
        "Give 'local' (the agent in this process), a URL of `genie-agent serve` (http://HOST:PORT) "
        "or 'endpoint:NAME' (a Databricks serving endpoint).",
    )
