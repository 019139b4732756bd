"""The chat's actions on results: show the SQL, copy it, export a result to CSV.

The *current result* is the one whose table (or SQL, or search) has the focus, else the last one shown.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.app import App
from textual.reactive import reactive

from .export import export_csv
from .widgets.chat_log import ChatLog
from .widgets.result_view import ResultView

__all__ = ["ResultActions"]


class ResultActions(App[None]):
    """Part of :class:`~.app.GenieChatApp`: its result keys (Ctrl+S, Ctrl+Y, Ctrl+R)."""

    show_sql: reactive[bool] = reactive(False, init=False)
    export_dir: Path
    last_export: Path | None = None

    @property
    def chat_log(self) -> ChatLog:
        return self.screen_stack[0].query_one(ChatLog)

    def watch_show_sql(self, show: bool) -> None:
        for turn in self.chat_log.turns:
            turn.set_sql_visible(show)

    def action_toggle_sql(self) -> None:
        """Show or hide the SQL of every result."""
        self.show_sql = not self.show_sql
        current = self.current_result()
        if current is not None:
            self.call_after_refresh(current.scroll_visible, animate=False)

    def current_result(self) -> ResultView | None:
        """The result whose table (or SQL) has the focus, else the last one shown."""
        node = self.screen_stack[0].focused
        while node is not None:
            if isinstance(node, ResultView):
                return node
            node = node.parent  # type: ignore[assignment]
        views = list(self.chat_log.query(ResultView))
        return views[-1] if views else None

    def action_copy_sql(self) -> None:
        """Copy the SQL of the current result to the clipboard."""
        view = self.current_result()
        if view is None or not view.result.sql:
            self.notify("There is no SQL to copy yet.", severity="warning")
            return
        self.copy_to_clipboard(view.result.sql)
        self.notify(f"Copied the SQL of {view.result.domain} to the clipboard.")

    async def action_export(self) -> None:
        """Export the current result, all of its rows the turn returned, to a CSV file."""
        view = self.current_result()
        if view is None:
            self.notify("There is no result to export yet.", severity="warning")
            return
        if not view.final:
            self.notify(
                f"{view.result.domain} has sent its first rows; the rest come with the answer. "
                "Export it when the answer is done.",
                severity="warning",
            )
            return
        result = view.result
        try:
            path = await asyncio.to_thread(export_csv, result, self.export_dir)
        except OSError as exc:
            self.notify(f"Export failed: {exc}", severity="error")
            return
        self.last_export = path
        cut = (
            f" (the query returned {result.row_count:,}; the space sent these)"
            if len(result.rows) < result.row_count
            else ""
        )
        self.notify(f"Exported {len(result.rows):,} rows of {result.domain} to {path}{cut}")
