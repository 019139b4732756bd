"""The question box: Enter asks, up/down walk the prompt history; ``+`` / ``-`` in the empty box rate
the last answer."""

from __future__ import annotations

from typing import ClassVar

from textual import events, on
from textual.binding import Binding, BindingType
from textual.widgets import Input

from ..messages import PromptSubmitted, RateRequested
from ..sessions import PromptHistory

__all__ = ["PromptInput"]

ASK = "Ask a question about your data, or /help"
FOLLOW_UP = "Ask a follow-up, or + / - to rate the last answer"


class PromptInput(Input):
    """An input with history. Posts :class:`PromptSubmitted` and clears itself on Enter; ``+`` or ``-``
    typed into it empty posts :class:`RateRequested` for the last answer instead."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "history(-1)", "Previous question", show=False),
        Binding("down", "history(1)", "Next question", show=False),
    ]

    def __init__(self, history: PromptHistory, **kwargs: object) -> None:
        super().__init__(placeholder=ASK, **kwargs)  # type: ignore[arg-type]
        self.history = history
        self._position: int | None = None
        self._draft = ""

    def answered(self, answered: bool) -> None:
        """Whether there is an answer to rate: the placeholder says what + and - do then."""
        self.placeholder = FOLLOW_UP if answered else ASK

    async def _on_key(self, event: events.Key) -> None:
        if not self.value and event.character in ("+", "-"):
            event.stop()
            event.prevent_default()  # not typed: Input's own handler does not run
            self.post_message(RateRequested(None, "up" if event.character == "+" else "down"))

    def action_history(self, step: int) -> None:
        entries = self.history.entries
        if not entries:
            return
        if self._position is None:
            if step > 0:
                return
            self._draft = self.value
            position = len(entries) - 1
        else:
            position = self._position + step
        if position >= len(entries):
            self._position = None
            self.value = self._draft
        else:
            self._position = max(position, 0)
            self.value = entries[self._position]
        self.cursor_position = len(self.value)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            return
        self.history.add(text)
        self._position = None
        self._draft = ""
        self.value = ""
        self.post_message(PromptSubmitted(text))
