"""Earlier chats: pick one to reopen it (its turns, and its thread for the next question)."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ..sessions import SessionSummary

__all__ = ["SessionsScreen"]


class SessionsScreen(ModalScreen[str | None]):
    """Dismisses with the chosen session's id, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Close")]

    def __init__(self, sessions: list[SessionSummary], *, current: str | None) -> None:
        super().__init__()
        self.sessions = sessions
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="sessions-body", classes="modal-body"):
            yield Static("Sessions — Enter reopens, Esc closes", classes="modal-title")
            if not self.sessions:
                yield Static("No saved sessions yet: ask a question first.", classes="dim")
            options = []
            for s in self.sessions:
                when = dt.datetime.fromtimestamp(s.updated).strftime("%Y-%m-%d %H:%M")
                label = Text()
                label.append(f"{when}  ", style="dim")
                label.append(s.title[:60], style="bold" if s.id == self.current else "")
                label.append(f"  {s.turns} turn{'s' if s.turns != 1 else ''} · {s.target}", style="dim")
                options.append(Option(label, id=s.id))
            yield OptionList(*options, id="session-list")

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
