"""The conversation: a scrolling column of turns, with a welcome while it is empty."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from .turn_view import TurnView

__all__ = ["SAMPLE_QUESTIONS", "ChatLog"]

SAMPLE_QUESTIONS = (
    "Top 5 nations by revenue in 1996",
    "Revenue by month in 1995",
    "What was revenue by region in 1995, and how many suppliers does each region have?",
)


def _welcome(target: str) -> Text:
    text = Text()
    text.append("Ask your data questions in plain language.\n", style="bold")
    text.append("Talking to ", style="dim")
    text.append(target, style="bold")
    text.append(
        ". Each answer shows the route, every space asked, a chart, the table and the SQL.\n\n", style="dim"
    )
    text.append("Try:\n", style="dim")
    for q in SAMPLE_QUESTIONS:
        text.append(f"  • {q}\n")
    text.append("\nEnter asks · ↑ history · Esc cancels · Ctrl+P commands · F1 help", style="dim")
    return text


class ChatLog(VerticalScroll):
    """Stays scrolled to the newest turn while it streams, until the user scrolls up."""

    def __init__(self, target: str) -> None:
        super().__init__(id="chat-log")
        self.target = target

    def compose(self) -> ComposeResult:
        yield Static(_welcome(self.target), id="welcome")

    def set_target(self, target: str) -> None:
        self.target = target
        self.query_one("#welcome", Static).update(_welcome(target))

    @property
    def turns(self) -> list[TurnView]:
        return list(self.query(TurnView))

    async def add_turn(self, turn: TurnView) -> None:
        self.query_one("#welcome").display = False
        await self.mount(turn)
        self.anchor()

    async def clear(self) -> None:
        await self.query(TurnView).remove()
        self.query_one("#welcome").display = True
        self.scroll_home(animate=False)
