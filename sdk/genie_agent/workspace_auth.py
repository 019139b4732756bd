"""Workspace credentials for Model Serving endpoints called through the ``openai`` client.

A Databricks serving endpoint (base URL ``https://HOST/serving-endpoints``) configured without a key
is called with databricks-sdk's unified auth: whatever ``WorkspaceClient()`` would use (a profile,
``DATABRICKS_HOST`` with ``DATABRICKS_TOKEN`` or a service principal's ``DATABRICKS_CLIENT_ID``/
``_SECRET``, ``databricks auth login``, the credentials Model Serving and Databricks Apps provide).

Which workspace: the one unified auth is configured for (``DATABRICKS_HOST``, the profile's host, the
serving container's host). When none is, the endpoint's own host (the base URL's scheme and netloc).
Either way the credentials must be for the endpoint's host: when the configured workspace is another
host, nothing is sent (a workspace's token never goes to a different server).

:class:`WorkspaceAuth` is an ``httpx.Auth``: on every request it asks the SDK's ``Config`` for fresh
headers (``Config.authenticate()`` refreshes OAuth tokens as they expire), so no token is kept here.
Every failure is a :class:`~genie_agent.errors.BackendError` with a hint, like a 401 from the endpoint.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from .errors import BackendError

if TYPE_CHECKING:
    from databricks.sdk.core import Config
    from databricks.sdk.credentials_provider import CredentialsStrategy

__all__ = ["WorkspaceAuth", "is_serving_endpoints_url", "workspace_auth_for"]

_SERVING_PATH = "/serving-endpoints"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_serving_endpoints_url(base_url: str | None) -> bool:
    """Whether ``base_url`` is a workspace's Model Serving API root (``https://HOST/serving-endpoints``)."""
    return bool(base_url) and urlsplit(str(base_url)).path.rstrip("/").endswith(_SERVING_PATH)


def workspace_auth_for(base_url: str, api_key: str | None, *, key_setting: str) -> WorkspaceAuth | None:
    """Workspace auth for an endpoint with no key whose base URL is a serving-endpoints root; else None
    (a configured key is sent as it is; other endpoints get no workspace credentials)."""
    if api_key or not is_serving_endpoints_url(base_url):
        return None
    return WorkspaceAuth(base_url, key_setting=key_setting)


def _origin(url: str) -> str:
    """``scheme://host[:port]``, lower case, without the scheme's default port."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    scheme = parts.scheme.lower()
    port = f":{parts.port}" if parts.port and parts.port != _DEFAULT_PORTS.get(scheme) else ""
    return f"{scheme}://{(parts.hostname or '').lower()}{port}"


class WorkspaceAuth(httpx.Auth):
    """Sets each request's headers from a databricks-sdk ``Config`` for the endpoint's workspace.

    The ``Config`` is built on the first request (never at construction) and kept: it holds the OAuth
    token and refreshes it. ``credentials_strategy`` replaces unified auth's default chain (for a
    custom provider). ``key_setting`` names the setting that avoids workspace auth, for the hints.
    """

    def __init__(
        self,
        base_url: str,
        *,
        key_setting: str = "the endpoint's API key",
        credentials_strategy: CredentialsStrategy | None = None,
    ) -> None:
        self.host = _origin(base_url)
        self._key_setting = key_setting
        self._strategy = credentials_strategy
        self._config: Config | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"WorkspaceAuth(host={self.host!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        config = self.config()
        try:
            headers = config.authenticate()
        except Exception as exc:  # a token refresh failed: any provider's error, one typed error
            raise BackendError(
                f"Could not get workspace credentials ({config.auth_type}) for {self.host}: {exc}",
                "Check the workspace credentials (`databricks auth login` again, or a valid "
                f"DATABRICKS_TOKEN / service principal secret), or set {self._key_setting}.",
                retryable=True,
            ) from exc
        request.headers.update(headers)
        yield request

    def config(self) -> Config:
        """The SDK configuration (built once); :class:`BackendError` when no credentials fit."""
        with self._lock:
            if self._config is None:
                self._config = self._resolve()
            return self._config

    def _resolve(self) -> Config:
        try:
            from databricks.sdk.core import Config
        except ImportError:
            raise BackendError(
                f"The endpoint at {self.host} has no key and databricks-sdk, which would authenticate "
                "with the workspace's credentials, is not installed.",
                f"pip install 'genie-agent[databricks]', or set {self._key_setting}.",
            ) from None
        extra: dict[str, Any] = {"credentials_strategy": self._strategy} if self._strategy else {}
        try:
            config = Config(**extra)
            if not config.host:  # only a custom strategy gets here without a host
                raise ValueError("no workspace host is configured")
        except ValueError:
            # Nothing names a workspace (or its credentials failed): try the endpoint's own host.
            try:
                config = Config(host=self.host, **extra)
            except ValueError as exc:
                raise BackendError(
                    f"The endpoint at {self.host} has no key, and no Databricks credentials are "
                    f"configured for that workspace: {exc}",
                    f"Set {self._key_setting}, or set DATABRICKS_HOST={self.host} with DATABRICKS_TOKEN "
                    "(or a service principal's DATABRICKS_CLIENT_ID/DATABRICKS_CLIENT_SECRET), or "
                    "run `databricks auth login`.",
                ) from None
        if _origin(str(config.host)) != self.host:
            raise BackendError(
                f"The endpoint at {self.host} has no key, and the configured Databricks credentials "
                f"are for another workspace ({_origin(str(config.host))}): they are not sent to it.",
                f"Set {self._key_setting}, or point DATABRICKS_HOST (or the profile) at {self.host}, "
                "or the endpoint's base URL at the configured workspace.",
            )
        return config
