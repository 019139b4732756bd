"""What the client raises: the SDK's typed errors, each with a message and what to do (``hint``).

A target that cannot be reached or refuses the request raises a :class:`TargetError`; an error the
agent itself reported (an empty question, a space the caller may not query) is raised as the class
the agent raised, whichever target answered, so a script catches the same error in-process and
over HTTP::

    BackendError
     ├── TargetError                  the target could not answer (message + hint)
     │    ├── TargetUnreachableError  nothing answers at its address, or it stopped answering
     │    ├── TargetAuthError         it refused the credentials (HTTP 401/403), or there are none
     │    ├── TargetRequestError      it answered another error status (``status``)
     │    └── MemoryActionError       it answered a memory action without the action's outcome
     └── SpaceFailedError             ``ask``: no space answered, each one asked failed

Never a raw ``httpx`` or ``databricks-sdk`` exception: they are the ``__cause__`` of these.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import BackendError, GenieAgentError

if TYPE_CHECKING:
    from ..contract import TurnResult

__all__ = [
    "MemoryActionError",
    "SpaceFailedError",
    "TargetAuthError",
    "TargetError",
    "TargetRequestError",
    "TargetUnreachableError",
    "error_from",
]


class TargetError(BackendError):
    """The target (the agent in-process, a ``genie-agent serve`` URL, a serving endpoint) could not answer."""


class TargetUnreachableError(TargetError):
    """Nothing answers at the target's address (connection refused, DNS, timeout), or it stopped answering."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message, hint, retryable=True)


class TargetAuthError(TargetError):
    """The target refused the credentials (``status`` 401 or 403), or there are none to send (``status`` None)."""

    def __init__(self, message: str, hint: str = "", *, status: int | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


class TargetRequestError(TargetError):
    """The target answered with another error status (``status``: 404, 429, 5xx, a 4xx without a reason)."""

    def __init__(self, message: str, hint: str = "", *, status: int) -> None:
        super().__init__(message, hint)
        self.status = status


class MemoryActionError(TargetError):
    """The target answered a memory action, but not with its outcome (an agent without memory actions),
    or with the action's error (the memory store failed)."""


class SpaceFailedError(BackendError):
    """No space answered the question: each one asked failed (the turn's ``status`` is ``error``).

    ``domains`` are the spaces that failed; ``result`` is the turn result (its ``text`` says what failed,
    ``results`` each space's error).
    """

    def __init__(
        self,
        message: str,
        hint: str = "",
        *,
        retryable: bool = False,
        domains: Sequence[str] = (),
        result: TurnResult | None = None,
    ) -> None:
        super().__init__(message, hint, retryable=retryable)
        self.domains = tuple(domains)
        self.result = result


def _subclasses(cls: type[GenieAgentError]) -> dict[str, type[GenieAgentError]]:
    found = {cls.__name__: cls}
    for sub in cls.__subclasses__():
        found.update(_subclasses(sub))
    return found


def error_from(type_name: str, message: str, hint: str = "") -> GenieAgentError | None:
    """The SDK error the agent reported (its class name, message and hint), or None when this process
    knows no error of that name that takes a message and a hint alone."""
    cls = _subclasses(GenieAgentError).get(type_name)
    if cls is None:
        return None
    try:
        inspect.signature(cls).bind(message, hint)
    except TypeError:  # one that needs more (a status): not rebuilt from a name
        return None
    return cls(message, hint)
