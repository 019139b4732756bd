"""Messages the chat's widgets and workers post (tests assert on them through ``message_hook``)."""

from __future__ import annotations

from textual.message import Message

from .stream import TurnOutputs

__all__ = ["PromptSubmitted", "TurnCancelled", "TurnCompleted", "TurnFailed"]


class PromptSubmitted(Message):
    """The user pressed Enter on a non-empty prompt (a question or a /command)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class TurnCompleted(Message):
    """A turn's stream ended with the turn result."""

    def __init__(self, question: str, text: str, outputs: TurnOutputs) -> None:
        super().__init__()
        self.question = question
        self.text = text
        self.outputs = outputs


class TurnFailed(Message):
    """A turn could not be answered: the target was unreachable, refused, or the stream broke."""

    def __init__(self, question: str, message: str, hint: str) -> None:
        super().__init__()
        self.question = question
        self.message = message
        self.hint = hint


class TurnCancelled(Message):
    """The user cancelled the turn in flight (Esc)."""

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question
