"""The chat's actions on results: show the SQL, copy it, export a result to CSV, save Genie's own
chart image of it.

The *current result* is the one whose table (or SQL, or search) has the focus, else the last one shown.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App
from textual.reactive import reactive

from genie_agent.errors import GenieAgentError
from genie_agent.spaces.genie_visualization import VisualizationUnavailableError

from .export import export_csv, save_image
from .widgets.chat_log import ChatLog
from .widgets.result_view import ResultView

if TYPE_CHECKING:
    from .targets import ChatTarget

__all__ = ["ResultActions"]


class ResultActions(App[None]):
    """Part of :class:`~.app.GenieChatApp`: its result keys (Ctrl+S, Ctrl+Y, Ctrl+R, Ctrl+G)."""

    show_sql: reactive[bool] = reactive(False, init=False)
    target: ChatTarget
    export_dir: Path
    last_export: Path | None = None
    last_image: Path | None = None

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

    async def action_genie_chart(self) -> None:
        """Save the chart Genie drew of the current result, as Genie rendered it (a PNG), beside the
        CSV exports; or say why there is none."""
        view = self.current_result()
        if view is None:
            self.notify("There is no result yet.", severity="warning")
            return
        result = view.result
        if result.genie_visualization is None:
            self.notify(
                f"Genie drew no chart of {result.domain}: the chart here is drawn from its rows.",
                severity="warning",
            )
            return
        try:
            png = await self.target.client.agenie_image(result)
            path = await asyncio.to_thread(save_image, png, result.domain, self.export_dir)
        except VisualizationUnavailableError as exc:
            self.notify(f"{exc.message} {exc.hint}", severity="warning", timeout=8)
            return
        except GenieAgentError as exc:
            self.notify(f"{exc.message} {exc.hint}", severity="error", timeout=8)
            return
        except OSError as exc:
            self.notify(f"Saving Genie's chart failed: {exc}", severity="error")
            return
        self.last_image = path
        title = result.genie_visualization.title or result.domain
        self.notify(f"Saved Genie's chart “{title}” to {path}")
