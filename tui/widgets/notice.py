"""A line in the conversation that is not an answer: an error with what to do, a warning, a note."""

from __future__ import annotations

from typing import Literal

from rich.text import Text
from textual.widgets import Static

__all__ = ["Notice"]

_ICONS = {"error": "✗", "warning": "!", "info": "·"}


class Notice(Static):
    """``message`` and, on the next line, ``hint`` (what to do)."""

    def __init__(
        self, message: str, hint: str = "", *, kind: Literal["error", "warning", "info"] = "info"
    ) -> None:
        text = Text()
        text.append(f"{_ICONS[kind]} ", style="bold")
        text.append(message)
        if hint:
            text.append("\n  ")
            text.append(hint, style="italic")
        super().__init__(text, classes=f"notice {kind}")
        self.kind = kind
        self.message = message
        self.hint = hint
