"""A thread's user messages so far, as one digest: how a conversation sent whole (the AI Playground,
OpenAI-style clients: every message in ``input``, no thread id) finds the thread it continues.

Each saved turn records the digest of its thread's questions up to and including its own, chained
from the turn before (``digest(q1..qn) = sha256(digest(q1..qn-1) + normalized qn)``), in the
checkpoint's metadata under :data:`HISTORY_KEY`, beside the thread's owner (``user``). A request's
earlier user messages digest the same way; the store looks the digest up for the asking user only.
Only user messages count: nothing an assistant message says is part of it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

__all__ = ["EMPTY_HISTORY", "HISTORY_KEY", "history_digest", "next_digest", "normalize_message"]

HISTORY_KEY = "genie_history"
"""The checkpoint metadata key holding the digest of the thread's questions up to that turn."""
EMPTY_HISTORY = ""
"""The digest of a thread with no turn: where every chain starts."""

_SPACE = re.compile(r"\s+")


def normalize_message(text: str) -> str:
    """A user message as compared: Unicode-normalized (NFKC), case-folded, whitespace collapsed."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def next_digest(before: str, message: str) -> str:
    """The digest of the messages of ``before`` followed by ``message``."""
    data = f"{before}\x1f{normalize_message(message)}".encode()
    return hashlib.sha256(data).hexdigest()


def history_digest(messages: Iterable[str], start: str = EMPTY_HISTORY) -> str:
    """The digest of ``messages`` in order (of none: :data:`EMPTY_HISTORY`)."""
    digest = start
    for message in messages:
        digest = next_digest(digest, message)
    return digest
