"""Keybindings and slash commands."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

__all__ = ["HELP_TEXT", "HelpScreen"]

HELP_TEXT = """\
# genie-agent chat

Ask questions about your data in plain language. Each answer streams in, with the route the
question took, each Genie space it asked, a chart and a table of every result, and the SQL.

| key | does |
|---|---|
| Enter | ask the question |
| ↑ / ↓ | previous / next question asked |
| Esc | cancel the answer in flight |
| Ctrl+N | new chat (a fresh thread) |
| Ctrl+O | sessions: reopen an earlier chat |
| Ctrl+S | show / hide the SQL of every result |
| Ctrl+Y | copy the SQL of the current result |
| Ctrl+R | export the current result to CSV |
| F2 | memories: what the agent remembers about you (d forgets one, a forgets all) |
| Ctrl+T | pick the target (embedded, URL, serving endpoint) |
| Tab / Shift+Tab | move between the question box, tables and SQL panels |
| PgUp / PgDn | scroll the conversation |
| Ctrl+P | command palette (all of the above, and the theme) |
| F1 | this help |
| Ctrl+Q | quit |

The *current result* is the one whose table has the focus, else the last one shown.

Slash commands: `/new`, `/sessions`, `/memories`, `/sql`, `/copy`, `/export`, `/target`, `/theme`, `/help`, `/quit`.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(HELP_TEXT)
