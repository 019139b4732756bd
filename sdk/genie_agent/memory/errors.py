"""Memory errors: whose fault, and what to do (their place in the tree is drawn in
:mod:`genie_agent.errors`)::

    UserInputError
     └── ThreadNotAvailableError   the thread belongs to another user
    BackendError
     ├── MemoryUnavailableError    the memory store failed or is unreachable (retryable)
     └── LakebaseUnavailableError  no Lakebase instance or credential (retryable; memory.lakebase)

A turn never fails because memory did: the agent answers and says in ``memory_status`` what failed.
Only :class:`ThreadNotAvailableError` stops a turn (continuing someone else's thread is refused).
"""

from __future__ import annotations

from ..errors import BackendError, UserInputError

__all__ = ["MemoryUnavailableError", "ThreadNotAvailableError"]


class ThreadNotAvailableError(UserInputError):
    """The thread exists and belongs to another user: it may be neither read nor continued."""

    def __init__(self, thread_id: str, user: str) -> None:
        super().__init__(
            f"Thread {thread_id!r} is not available to user {user!r}.",
            "Omit --thread-id to start a new thread, or use one of your own.",
        )


class MemoryUnavailableError(BackendError):
    """The memory backend failed (unreachable, timed out, refused). Trying again later may work."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(
            message,
            hint or "The answer is not affected; memory comes back by itself when its store does.",
            retryable=True,
        )
