"""Messages the chat's widgets and workers post (tests assert on them through ``message_hook``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

from .stream import TurnOutputs

if TYPE_CHECKING:
    from .widgets.rating import Rating
    from .widgets.turn_view import TurnView

__all__ = ["PromptSubmitted", "RateRequested", "TurnCancelled", "TurnCompleted", "TurnFailed"]


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


class RateRequested(Message):
    """Rate an answer: ``turn`` (None: the last answer) ``rating`` up or down with ``comment``; ``rating``
    None asks for a comment on the rating the answer has."""

    def __init__(self, turn: TurnView | None, rating: Rating | None, comment: str | None = None) -> None:
        super().__init__()
        self.turn = turn
        self.rating = rating
        self.comment = comment
