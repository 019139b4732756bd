"""Terminal rendering for ``genie-agent ask``: a live status line on stderr, the answer on stdout."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, assert_never

from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

from genie_agent.formatting import format_value, is_number
from genie_agent.turn import (
    RouteDecided,
    SpaceAnswered,
    SpaceFailed,
    SpaceQueryStarted,
    TextDelta,
    TurnDone,
    TurnEvent,
    TurnResult,
)

if TYPE_CHECKING:
    from rich.status import Status

__all__ = ["StatusLine", "render_result"]


class StatusLine:
    """Shows what the turn is doing (routing, each space running / answered / failed) on stderr."""

    def __init__(self, *, enabled: bool) -> None:
        self._console = Console(stderr=True)
        self._enabled = enabled and self._console.is_terminal
        self._status: Status | None = None
        self._running: dict[str, str] = {}

    def __enter__(self) -> StatusLine:
        if self._enabled:
            self._status = self._console.status("Routing the question…")
            self._status.start()
        return self

    def __exit__(
        self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]
    ) -> None:
        if self._status is not None:
            self._status.stop()

    def _show(self, message: str) -> None:
        if self._status is not None:
            self._status.update(message)

    def _log(self, message: str) -> None:
        if self._enabled:
            self._console.print(message, highlight=False)

    def update(self, event: TurnEvent) -> TurnResult | None:
        match event:
            case RouteDecided(decision):
                where = ", ".join(decision.domains) or "no space"
                self._log(f"[dim]route → {where} ({decision.confidence:.0%}): {decision.reason}[/dim]")
            case SpaceQueryStarted(domain, _):
                self._running[domain] = "running"
                self._show("Querying " + ", ".join(self._running) + "…")
            case SpaceAnswered(domain, answer):
                self._running.pop(domain, None)
                self._log(
                    f"[dim]{domain}: {answer.row_count} rows[/dim]"
                    if answer.status == "completed"
                    else f"[dim]{domain}: no answer[/dim]"
                )
                self._show(
                    "Querying " + ", ".join(self._running) + "…" if self._running else "Writing the answer…"
                )
            case SpaceFailed(domain, error, _, _):
                self._running.pop(domain, None)
                self._log(f"[yellow]{domain} failed: {error}[/yellow]")
            case TextDelta():
                pass
            case TurnDone(result):
                return result
            case _:
                assert_never(event)
        return None


def render_result(result: TurnResult, console: Console | None = None) -> None:
    """The answer as Markdown, then each result as a table, then how to continue the thread."""
    console = console or Console()
    console.print(Markdown(result.text))
    for table in result.results:
        if table.error is not None or not table.columns:
            continue
        view = Table(title=f"{table.domain}: {table.text}", title_justify="left", show_lines=False)
        numeric = [
            bool(table.rows) and all(is_number(r[i]) or r[i] is None for r in table.rows)
            for i in range(len(table.columns))
        ]
        for name, is_num in zip(table.columns, numeric, strict=True):
            view.add_column(name, justify="right" if is_num else "left")
        for row in table.rows[:50]:
            view.add_row(*(format_value(v) for v in row))
        if table.row_count > 50:
            view.caption = f"first 50 of {table.row_count} rows" + (" (truncated)" if table.truncated else "")
        console.print(view)
        if table.sql:
            console.print(f"[dim]{table.sql}[/dim]", highlight=False)
    if result.suggested_questions and result.status in ("clarify", "out_of_scope", "refused"):
        console.print("You could ask:")
        for q in result.suggested_questions:
            console.print(f"  • {q}", highlight=False)
    if not result.grounding["ok"]:
        console.print(
            f"[yellow]Unsupported numbers: {', '.join(result.grounding['unsupported_numbers'])}[/yellow]"
        )
    console.print(
        f"[dim]thread {result.thread_id} — continue with --thread-id {result.thread_id}[/dim]",
        highlight=False,
    )
