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
| Ctrl+G | save Genie's own chart of the current result (a PNG Genie rendered), beside the CSV exports |
| F2 | memories: what the agent remembers about you (d forgets one, a forgets all) |
| Ctrl+T | pick the target (embedded, URL, serving endpoint) |
| + / - | rate the answer: thumbs up / down (the focused answer, or the last one from the empty question box) |
| c | a comment on the answer's rating (on a focused answer) |
| Tab / Shift+Tab | move between the question box, answers, tables and SQL panels |
| PgUp / PgDn | scroll the conversation; on a focused table, a page of rows |
| s / / | on a focused table: sort by the cursor's column (again: descending, then as returned) / search its rows |
| Ctrl+P | command palette (all of the above, and the theme) |
| F1 | this help |
| Ctrl+Q | quit |

The *current result* is the one whose table has the focus, else the last one shown. Each space's
result shows as soon as the space replies, with its first rows; the rest come with the answer.
A rating goes on the answer's trace (and to Genie, for Genie spaces); rating again replaces it.
A chart titled by Genie is one Genie also drew (Databricks Genie spaces); Ctrl+G saves Genie's image.

Slash commands: `/new`, `/sessions`, `/memories`, `/sql`, `/copy`, `/export`, `/chart`, `/target`, `/theme`, `/help`, `/quit`,
`/up [comment]`, `/down [comment]`, `/comment [text]` (the last answer).
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(HELP_TEXT)
