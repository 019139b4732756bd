"""Who is asking, and what they may see.

In-process (``ask``, ``chat`` on the embedded default) the user is whoever runs the command and is
trusted. Across a network boundary identity comes from credentials only: ``serve`` maps bearer
tokens to configured users; Model Serving and Apps use on-behalf-of credentials
(:mod:`genie_agent.workspace_identity`), behind the same :class:`IdentityProvider`. A client-set
``user_id`` is honoured only when no authenticated identity exists.

Who asks is the user's side of the error tree: :class:`AuthenticationError` and
:class:`PermissionDeniedError` subclass :class:`~genie_agent.errors.UserInputError`; both live in
:mod:`genie_agent.errors` and are re-exported here.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from .errors import AuthenticationError, PermissionDeniedError

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

__all__ = [
    "LOCAL_USER",
    "AuthenticationError",
    "Identity",
    "IdentityProvider",
    "PermissionDeniedError",
    "TokenIdentityProvider",
    "UserConfig",
    "local_identity",
]

LOCAL_USER = "local"


class UserConfig(BaseModel):
    """A user of ``serve`` and what they may see. Give ``token`` or its ``token_sha256``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr | None = Field(default=None, description="Bearer token (prefer token_sha256 in files).")
    token_sha256: str | None = Field(default=None, description="SHA-256 hex digest of the bearer token.")
    spaces: tuple[str, ...] | None = Field(default=None, description="Spaces the user may query; unset: all.")
    row_filters: dict[str, dict[str, tuple[str, ...]]] = Field(
        default_factory=dict,
        description="Per space, dimension -> allowed values, e.g. {sales: {region: [EUROPE]}} (local engine).",
    )

    @model_validator(mode="after")
    def _valid(self) -> UserConfig:
        if self.token_sha256 is not None and (len(self.token_sha256) != 64 or not _is_hex(self.token_sha256)):
            raise ValueError("token_sha256 must be 64 hex characters (sha256sum of the token)")
        for space, dims in self.row_filters.items():
            for dim, values in dims.items():
                if not values:
                    raise ValueError(
                        f"row_filters.{space}.{dim} lists no values: give at least one allowed value"
                    )
        return self

    def digest(self) -> str | None:
        if self.token_sha256:
            return self.token_sha256.lower()
        if self.token is not None:
            return _sha256(self.token.get_secret_value())
        return None


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Identity:
    """The caller. ``spaces`` None means every space; ``row_filters`` narrow the local engine's rows.

    ``workspace_client`` is the caller's own client for this request (on-behalf-of credentials on a
    workspace): Databricks Genie spaces ask as the caller through it. It holds the caller's token,
    so it is kept out of ``repr`` and equality.
    """

    user: str
    authenticated: bool = False
    spaces: frozenset[str] | None = None
    row_filters: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    workspace_client: WorkspaceClient | None = field(default=None, repr=False, compare=False)

    def may_use(self, space_id: str) -> bool:
        return self.spaces is None or space_id in self.spaces

    def filters_for(self, space_id: str) -> Mapping[str, tuple[str, ...]]:
        return self.row_filters.get(space_id, {})


def _identity(name: str, config: UserConfig | None, *, authenticated: bool) -> Identity:
    if config is None:
        return Identity(name, authenticated)
    spaces = frozenset(config.spaces) if config.spaces is not None else None
    return Identity(name, authenticated, spaces, config.row_filters)


def local_identity(user: str, users: Mapping[str, UserConfig]) -> Identity:
    """The in-process user: trusted by name, with the limits configured for that name, if any."""
    return _identity(user, users.get(user), authenticated=False)


class IdentityProvider(Protocol):
    def identify(self, headers: Mapping[str, str]) -> Identity:
        """The caller of one request, from its headers (lower-case names); raises
        :class:`AuthenticationError`."""
        ...


class TokenIdentityProvider:
    """Bearer tokens mapped to configured users. With no users, everyone is the one local user."""

    def __init__(self, users: Mapping[str, UserConfig]) -> None:
        self._users = dict(users)
        self._by_digest = {c.digest(): name for name, c in users.items() if c.digest()}

    @property
    def requires_token(self) -> bool:
        return bool(self._users)

    def identify(self, headers: Mapping[str, str]) -> Identity:
        return self.authenticate(headers.get("authorization"))

    def authenticate(self, authorization: str | None) -> Identity:
        if not self._users:
            return Identity(LOCAL_USER, authenticated=True)
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError(
                "Authentication required.",
                "Send 'Authorization: Bearer <token>' with a token from the server's users.",
            )
        digest = _sha256(token.strip())
        for known, name in self._by_digest.items():
            if known is not None and hmac.compare_digest(known, digest):
                return _identity(name, self._users[name], authenticated=True)
        raise AuthenticationError(
            "The token is not valid.", "Check the token; ask the server's operator for one."
        )
