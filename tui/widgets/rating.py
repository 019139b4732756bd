"""An answer's rating: thumbs up or down with an optional comment, as the chat shows it under the answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from .notice import Notice

__all__ = ["FeedbackBar", "Rating", "TurnRating"]

Rating = Literal["up", "down"]


@dataclass(frozen=True)
class TurnRating:
    """A rating the target recorded: ``text`` is what it said about it."""

    rating: Rating
    comment: str | None = None
    text: str = ""


def _thumb(rating: Rating) -> str:
    return "▲ rated up" if rating == "up" else "▼ rated down"


class FeedbackBar(Vertical):
    """Hidden until the answer is rated; then the rating (pending, recorded) and any error with what to do."""

    def __init__(self) -> None:
        super().__init__(classes="turn-feedback")
        self.display = False

    def compose(self) -> ComposeResult:
        yield Static("", classes="rating-line")

    @property
    def line(self) -> Static:
        return self.query_one(".rating-line", Static)

    async def _clear_errors(self) -> None:
        await self.query(Notice).remove()

    async def pending(self, rating: Rating) -> None:
        await self._clear_errors()
        self.display = True
        self.line.display = True
        self.line.update(Text(f"{_thumb(rating)}: sending…", style="dim"))

    async def recorded(self, rating: TurnRating) -> None:
        await self._clear_errors()
        self.display = True
        self.line.display = True
        self.line.update(self.rating_text(rating))

    @staticmethod
    def rating_text(rating: TurnRating) -> Text:
        text = Text()
        text.append(_thumb(rating.rating), style="bold green" if rating.rating == "up" else "bold yellow")
        if rating.comment:
            text.append(f" · “{rating.comment}”")
        if rating.text:
            text.append(f" · {rating.text}", style="dim")
        if not rating.comment:
            text.append(" · c adds a comment", style="dim")
        return text

    async def failed(self, message: str, hint: str, *, previous: TurnRating | None) -> None:
        """The rating did not go through: the earlier rating (if any) stands, the error says what to do."""
        await self._clear_errors()
        self.display = True
        if previous is not None:
            self.line.update(self.rating_text(previous))
        self.line.display = previous is not None
        await self.mount(Notice(message, hint, kind="error"))
