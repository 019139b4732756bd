"""A comment on an answer's rating: one line, sent with the rating (it replaces the earlier one)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from genie_agent.feedback import MAX_COMMENT_CHARS

from ..widgets.rating import Rating

__all__ = ["CommentScreen"]


class CommentScreen(ModalScreen[str | None]):
    """Dismisses with the comment, or None (Esc, or nothing written)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Close")]

    def __init__(self, question: str, rating: Rating, comment: str | None = None) -> None:
        super().__init__()
        self.question = question
        self.rating = rating
        self.comment = comment

    def compose(self) -> ComposeResult:
        with Vertical(id="comment-body", classes="modal-body"):
            title = Text("Comment on your ", style="bold")
            title.append("▲ thumbs-up" if self.rating == "up" else "▼ thumbs-down", style="bold")
            title.append(" — Enter sends, Esc closes", style="dim")
            yield Static(title, classes="modal-title")
            yield Static(Text(f"› {self.question}", style="dim"), classes="comment-question")
            yield Input(
                self.comment or "",
                placeholder="What was right or wrong about this answer?",
                max_length=MAX_COMMENT_CHARS,
                id="comment-input",
            )

    @on(Input.Submitted)
    def _sent(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)
