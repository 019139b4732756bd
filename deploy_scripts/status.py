"""A live status line on stderr while a turn runs: routing, each space running / answered / failed."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, assert_never

from genie_agent.turn import (
    Clarification,
    RouteDecided,
    SpaceAnswered,
    SpaceFailed,
    SpaceProgress,
    SpaceQueryStarted,
    TextDelta,
    TurnDone,
    TurnEvent,
    TurnResult,
    VisualizationReady,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status

__all__ = ["StatusLine"]


class StatusLine:
    """Shows what the turn is doing (routing, each space running / answered / failed) on stderr."""

    def __init__(self, *, enabled: bool) -> None:
        self._console: Console | None = None  # on a terminal only
        if enabled:  # rich costs ~25 ms to import: not under --json
            from rich.console import Console

            console = Console(stderr=True)
            self._console = console if console.is_terminal else None
        self._status: Status | None = None
        self._running: dict[str, str] = {}

    def __enter__(self) -> StatusLine:
        if self._console is not None:
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
        if self._console is not None:
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
            case SpaceProgress(domain, message):
                self._running[domain] = message
                self._show(
                    "Querying "
                    + ", ".join(f"{d} ({m})" if m != "running" else d for d, m in self._running.items())
                    + "…"
                )
            case SpaceFailed(domain, error, _, _):
                self._running.pop(domain, None)
                self._log(f"[yellow]{domain} failed: {error}[/yellow]")
            case TextDelta() | VisualizationReady() | Clarification():
                pass
            case TurnDone(result):
                return result
            case _:
                assert_never(event)
        return None
