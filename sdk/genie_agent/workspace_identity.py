"""Identity on a Databricks workspace: the caller is whoever their own credentials name.

Two :class:`~genie_agent.identity.IdentityProvider` implementations, one per place the agent runs:

- :class:`ModelServingIdentityProvider`: in Model Serving, each request builds
  ``WorkspaceClient(credentials_strategy=ModelServingUserCredentials())``, which carries the invoking
  user's down-scoped token (databricks-ai-bridge finds it where the scoring server puts it for the
  request). It must be built inside the request: at load time there is no invoker. Outside Model
  Serving the same strategy falls back to databricks-sdk's default auth: the process's own identity.
- :class:`AppsIdentityProvider`: behind Databricks Apps, the app's proxy forwards the signed-in
  user's token as ``x-forwarded-access-token``; the client is built with that token.

Either way the user name is the workspace's answer to ``current_user.me()`` with those credentials,
never a header or body field a client could set, and the client itself rides on the
:class:`~genie_agent.identity.Identity` so that Databricks Genie spaces ask as the caller.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import BackendError, ConfigError
from .identity import (
    AuthenticationError,
    Identity,
    IdentityProvider,
    TokenIdentityProvider,
    UserConfig,
    local_identity,
)

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

    from .config import Settings

__all__ = [
    "APPS_TOKEN_HEADER",
    "IDENTITY_CACHE_SIZE",
    "IDENTITY_TTL_S",
    "AppsIdentityProvider",
    "ModelServingIdentityProvider",
    "make_identity_provider",
]

APPS_TOKEN_HEADER = "x-forwarded-access-token"

# Only the user name is cached, never the client or token: every Genie call still presents the token,
# so a revoked token fails there even while its name is remembered.
IDENTITY_TTL_S = 300.0
IDENTITY_CACHE_SIZE = 1024


class _NameCache:
    """User names by credential digest: bounded (least recently used out first) and expiring."""

    def __init__(self, ttl_s: float, max_entries: int) -> None:
        self._ttl_s = ttl_s
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[1] <= time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: str, name: str) -> None:
        with self._lock:
            self._entries[key] = (name, time.monotonic() + self._ttl_s)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)


class _WorkspaceIdentities:
    """A per-request client from ``_client(headers)``, named by ``current_user.me()`` (cached)."""

    def __init__(
        self,
        users: Mapping[str, UserConfig] | None = None,
        *,
        retry_timeout_s: float = 60.0,
        ttl_s: float = IDENTITY_TTL_S,
        max_entries: int = IDENTITY_CACHE_SIZE,
    ) -> None:
        self._users = dict(users or {})
        self._retry_timeout_s = max(1, int(retry_timeout_s))
        self._names = _NameCache(ttl_s, max_entries)

    def identify(self, headers: Mapping[str, str]) -> Identity:
        client = self._client(headers)
        key = _credentials_digest(client)
        name = self._names.get(key)
        if name is None:
            name = self._current_user(client)
            self._names.put(key, name)
        # Limits configured for this user name in `users` (spaces, row filters) apply here too.
        return dataclasses.replace(
            local_identity(name, self._users), authenticated=True, workspace_client=client
        )

    def _client(self, headers: Mapping[str, str]) -> WorkspaceClient:
        raise NotImplementedError

    def _current_user(self, client: WorkspaceClient) -> str:
        import requests
        from databricks.sdk import errors

        try:
            me = client.current_user.me()
        except (errors.Unauthenticated, errors.PermissionDenied) as exc:
            raise AuthenticationError(
                f"The workspace did not accept the caller's credentials ({type(exc).__name__}).",
                "Sign in again (the token may have expired); the workspace user needs access to it.",
            ) from None
        except (errors.DatabricksError, requests.RequestException, TimeoutError) as exc:
            raise BackendError(
                f"Could not ask the workspace who the caller is ({client.config.host}): {exc}",
                "Check the workspace's status and DATABRICKS_HOST, then ask again.",
                retryable=True,
            ) from None
        if not me.user_name:
            raise AuthenticationError(
                "The workspace named no user for the caller's credentials.",
                "Call with a user's (or service principal's) own credentials.",
            )
        return me.user_name


def _credentials_digest(client: WorkspaceClient) -> str:
    """SHA-256 of the client's auth headers: a cache key that is not the token."""
    headers = client.config.authenticate()
    text = "\n".join(f"{k.lower()}: {v}" for k, v in sorted(headers.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def _pinned_to_request(strategy: Any) -> Any:
    """``strategy`` with the headers it gives on the request's thread kept for the request's other
    threads. The Genie questions run on worker threads, and the serving runtime's lookup of the
    invoker's token may be tied to the thread that received the request: there it would find none
    (databricks-ai-bridge then sends ``Bearer None``). Where a thread finds the token, it is used."""
    from databricks.sdk.credentials_provider import CredentialsStrategy

    class PinnedToRequest(CredentialsStrategy):
        def auth_type(self) -> str:
            return str(strategy.auth_type())

        def __call__(self, cfg: Any) -> Any:
            provider = strategy(cfg)
            pinned = dict(provider())  # now, on the request's thread

            def headers() -> dict[str, str]:
                try:
                    fresh = dict(provider())
                except Exception:  # no token on this thread
                    return dict(pinned)
                auth = fresh.get("Authorization", "")
                return fresh if auth and not auth.endswith(" None") else dict(pinned)

            return headers

    return PinnedToRequest()


class ModelServingIdentityProvider(_WorkspaceIdentities):
    """On-behalf-of-user credentials in Model Serving (headers are not used: the runtime holds the token)."""

    def _client(self, headers: Mapping[str, str]) -> WorkspaceClient:
        from databricks.sdk import WorkspaceClient
        from databricks.sdk.core import Config
        from databricks_ai_bridge import ModelServingUserCredentials

        try:
            config = Config(
                credentials_strategy=_pinned_to_request(ModelServingUserCredentials()),
                retry_timeout_seconds=self._retry_timeout_s,
            )
        except ValueError:  # databricks-ai-bridge has logged why, at WARNING
            raise AuthenticationError(
                "Model Serving gave no credentials of the calling user.",
                "Log the model with an auth_policy whose user scopes include the Genie and SQL APIs "
                "(`genie-agent log`), and enable on-behalf-of-user authorization in the workspace.",
            ) from None
        return WorkspaceClient(config=config)


class AppsIdentityProvider(_WorkspaceIdentities):
    """The user token Databricks Apps forwards (``x-forwarded-access-token``) for the workspace in
    ``DATABRICKS_HOST``."""

    def __init__(
        self,
        users: Mapping[str, UserConfig] | None = None,
        *,
        host: str | None = None,
        retry_timeout_s: float = 60.0,
        ttl_s: float = IDENTITY_TTL_S,
        max_entries: int = IDENTITY_CACHE_SIZE,
    ) -> None:
        super().__init__(users, retry_timeout_s=retry_timeout_s, ttl_s=ttl_s, max_entries=max_entries)
        self._host = host

    def _client(self, headers: Mapping[str, str]) -> WorkspaceClient:
        token = (headers.get(APPS_TOKEN_HEADER) or "").strip()
        if not token:
            raise AuthenticationError(
                "No user token was forwarded with the request.",
                "Call the agent through the Databricks App's URL, with user authorization enabled on the "
                "app (its scopes must include the Genie and SQL APIs).",
            )
        from databricks.sdk import WorkspaceClient
        from databricks.sdk.core import Config

        try:
            # auth_type pat: the app's own service principal (DATABRICKS_CLIENT_ID/SECRET in the
            # environment) must not be chosen instead of the user's token.
            config = Config(
                host=self._host, token=token, auth_type="pat", retry_timeout_seconds=self._retry_timeout_s
            )
        except ValueError as exc:
            raise ConfigError(
                f"Cannot build a workspace client for the forwarded user: {_redact(str(exc), token)}",
                "Set DATABRICKS_HOST to the workspace URL (Databricks Apps sets it).",
            ) from None
        return WorkspaceClient(config=config)


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def make_identity_provider(settings: Settings) -> IdentityProvider:
    """Who the caller of a served request is, per ``auth`` (``auto`` resolved where the process runs)."""
    mode = settings.auth_mode()
    if mode == "token":
        return TokenIdentityProvider(settings.users)
    retry = min(60.0, settings.genie_poll_timeout_s)
    if mode == "apps":
        return AppsIdentityProvider(settings.users, retry_timeout_s=retry)
    return ModelServingIdentityProvider(settings.users, retry_timeout_s=retry)
