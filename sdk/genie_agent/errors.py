"""The error tree of genie-agent.

Every error carries a message (what happened) and a hint (what the user can do about it).
Raise these; translate them only at the edges (CLI exit code + stderr, TUI notification,
an error item in the served agent's output)::

    GenieAgentError
     ├── ConfigError            settings or a space definition is invalid            (user's fault)
     ├── UserInputError         the question or request is malformed/unknown          (user's fault)
     │    └── UnknownSpaceError a domain/space name that is not configured
     ├── UnsafeRequestError     SQL that writes, escapes the space, or a change request
     └── BackendError           a data source failed                                  (runtime)
          └── BackendTimeoutError  it did not answer within its time limit
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "BackendError",
    "BackendTimeoutError",
    "ConfigError",
    "GenieAgentError",
    "UnknownSpaceError",
    "UnsafeRequestError",
    "UserInputError",
]


class GenieAgentError(Exception):
    """Base of every error genie-agent raises on purpose."""

    #: The ``genie-agent`` command line's exit code for this error: 1 a failure, 2 bad input or configuration.
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(GenieAgentError):
    """The configuration or a space definition is invalid. ``problems`` lists each one."""

    exit_code: ClassVar[int] = 2

    def __init__(self, message: str, hint: str = "", problems: list[str] | None = None) -> None:
        super().__init__(message, hint)
        self.problems = problems or []


class UserInputError(GenieAgentError):
    """The request itself is bad: empty, too large, or names something that does not exist."""

    exit_code: ClassVar[int] = 2


class UnknownSpaceError(UserInputError):
    """A domain or space that is not configured."""


class UnsafeRequestError(GenieAgentError):
    """The request would write data, leave the space's tables, or reach outside the database."""

    exit_code: ClassVar[int] = 2


class BackendError(GenieAgentError):
    """A data source (Genie space, database) failed. ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, hint: str = "", *, retryable: bool = False) -> None:
        super().__init__(message, hint)
        self.retryable = retryable


class BackendTimeoutError(BackendError):
    """A data source did not answer within its time limit."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message, hint, retryable=True)
