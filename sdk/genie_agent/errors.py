"""The error tree of genie-agent: every error it raises on purpose, split by whose fault it is.

Every error carries a message (what happened) and a hint (what the user can do about it).
Raise these; translate them only at the edges (CLI exit code + stderr, TUI notification,
an error item in the served agent's output)::

    GenieAgentError
     ├── UserInputError                  the user's side: the question, the request, who asks
     │    ├── UnknownSpaceError          a domain/space name that is not configured
     │    ├── UnsafeRequestError         SQL that writes or leaves the space, a request to change data
     │    ├── AuthenticationError        no valid credentials (HTTP 401)
     │    ├── PermissionDeniedError      valid credentials, but not for this space (HTTP 403)
     │    ├── ThreadNotAvailableError    [memory.errors] the thread belongs to another user
     │    ├── UnknownTurnError           [feedback] a rating for a turn no trace has
     │    ├── TurnNotTracedError         [feedback] a rating for a turn answered without tracing
     │    ├── PlanError                  [spaces.local.sqlgen] the space's model cannot answer it as asked
     │    └── EvaluationGateError        [evaluation.outcome] deploy refused: no passing evaluation
     ├── ConfigError                     settings or a space definition is invalid (``problems``)
     └── BackendError                    a data source or service failed (``retryable``)
          ├── BackendTimeoutError        it did not answer within its time limit (retryable)
          ├── RateLimitedError           the workspace refused a question for its rate limit; not sent
          ├── SpaceApiError              [workspace_spaces.api] a space create/read/update call failed
          ├── MemoryUnavailableError     [memory.errors] the memory store failed or is down (retryable)
          ├── LakebaseUnavailableError   [memory.lakebase] no instance or no credential (retryable)
          ├── VisualizationUnavailableError  [spaces.genie_visualization] no image of Genie's chart (``reason``)
          ├── TargetError                [client.errors] the client's target could not answer
          │    ├── TargetUnreachableError  nothing answers at its address
          │    ├── TargetAuthError         it refused the credentials (HTTP 401/403)
          │    ├── TargetRequestError      it answered another error status (``status``)
          │    └── MemoryActionError       no memory action's outcome
          └── SpaceFailedError           [client.errors] ``ask``: no space answered, each one failed

A class in [brackets] lives beside the code that raises it (a memory, Lakebase, evaluation or client
error); this module holds the roots and the SDK-wide errors. The SDK imports nothing of the TUI (the
chat re-exports the client's errors).

Who asks is the user's side: a missing token or a space the caller may not see is fixed by the
caller, not by waiting for a backend. The client's :class:`TargetError` is a backend failure as a
client sees it (the target is the remote agent it talks to), refused credentials included: the TUI
handles every target failure as one.

Exit codes (``exit_code``, read by the CLI): 2 for a :class:`UserInputError` or a :class:`ConfigError`,
except :class:`AuthenticationError`, :class:`PermissionDeniedError` and ``EvaluationGateError``
(refusals, not malformed input: 1); 1 for the rest.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AuthenticationError",
    "BackendError",
    "BackendTimeoutError",
    "ConfigError",
    "GenieAgentError",
    "PermissionDeniedError",
    "RateLimitedError",
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


class UserInputError(GenieAgentError):
    """The user's side: the request is empty, too large, unsafe, names something that does not exist,
    or comes from someone who may not make it."""

    exit_code: ClassVar[int] = 2


class UnknownSpaceError(UserInputError):
    """A domain or space that is not configured."""


class UnsafeRequestError(UserInputError):
    """The request would write data, leave the space's tables, or reach outside the database."""


class AuthenticationError(UserInputError):
    """No valid credentials (HTTP 401)."""

    exit_code: ClassVar[int] = 1


class PermissionDeniedError(UserInputError):
    """Valid credentials, but not for this space (HTTP 403)."""

    exit_code: ClassVar[int] = 1


class ConfigError(GenieAgentError):
    """The configuration or a space definition is invalid. ``problems`` lists each one."""

    exit_code: ClassVar[int] = 2

    def __init__(self, message: str, hint: str = "", problems: list[str] | None = None) -> None:
        super().__init__(message, hint)
        self.problems = problems or []


class BackendError(GenieAgentError):
    """A data source or service (Genie space, database, memory store, LLM endpoint, the chat's target)
    failed. ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, hint: str = "", *, retryable: bool = False) -> None:
        super().__init__(message, hint)
        self.retryable = retryable


class BackendTimeoutError(BackendError):
    """A data source did not answer within its time limit."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message, hint, retryable=True)


class RateLimitedError(BackendError):
    """The workspace refused a question for its rate limit (HTTP 429) before it was sent: nothing was
    asked, so it may be sent again. ``retry_after_s``: what the workspace said to wait (None: not said)."""

    def __init__(self, message: str, hint: str = "", *, retry_after_s: float | None = None) -> None:
        super().__init__(message, hint, retryable=True)
        self.retry_after_s = retry_after_s
