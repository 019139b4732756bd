"""The SQL a space ran: collapsed by default, one key (or Enter on its title) away."""

from __future__ import annotations

from pygments.lexers.sql import SqlLexer
from rich.syntax import Syntax
from textual.widgets import Collapsible, Static

__all__ = ["SqlPanel"]

_LEXER = SqlLexer()


class SqlPanel(Collapsible):
    """A collapsible SQL listing; ``sql`` is what "copy SQL" copies."""

    def __init__(self, sql: str, *, space: str, collapsed: bool = True) -> None:
        super().__init__(
            Static(_syntax(sql), classes="sql-text"),
            title=f"SQL · {space}",
            collapsed=collapsed,
            classes="sql-panel",
        )
        self.sql = sql

    def set_sql(self, sql: str) -> None:
        self.sql = sql
        self.query_one(".sql-text", Static).update(_syntax(sql))


def _syntax(sql: str) -> Syntax:
    # A lexer instance: by name, pygments searches its plugins on every render (~70 ms).
    return Syntax(sql, _LEXER, theme="ansi_dark", background_color="default", word_wrap=True)
