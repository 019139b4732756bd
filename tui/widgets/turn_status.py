"""The live status line of one turn: route and reason -> each space (running / rows / failed) -> answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static

from ..stream import RouteInfo

__all__ = ["TurnStatus"]

Phase = Literal["connecting", "routing", "querying", "writing", "done", "failed", "cancelled"]
_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


@dataclass
class _Space:
    status: Literal["running", "completed", "no_answer", "failed"]
    started: float
    ended: float | None = None
    rows: int = 0
    progress: str = ""


class TurnStatus(Static):
    """Re-renders a few times a second while the turn runs, so long Genie turns show progress."""

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__("", classes="turn-status")
        self._clock = clock
        self.started = clock()
        self.ended: float | None = None
        self.phase: Phase = "connecting"
        self.route: RouteInfo | None = None
        self.spaces: dict[str, _Space] = {}
        self.note = ""
        self._timer: Timer | None = None
        self._shown: Text | None = None

    def on_mount(self) -> None:
        self._timer = self.set_interval(0.25, self._tick)
        self._tick()

    def _tick(self) -> None:
        text = self.render_status()
        if text != self._shown:  # an unchanged line costs no layout
            self._shown = text
            self.update(text)

    def _stop(self, phase: Phase) -> None:
        self.phase = phase
        self.ended = self._clock()
        for space in self.spaces.values():
            if space.status == "running":
                space.ended = self.ended
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._tick()

    # --- what the turn view tells it ---------------------------------------------------------------
    def routing(self) -> None:
        if self.phase == "connecting":
            self.phase = "routing"
            self._tick()

    def set_route(self, route: RouteInfo) -> None:
        self.route = route
        if self.phase in ("connecting", "routing"):
            self.phase = "querying" if route.domains else "writing"
        self._tick()

    def space_started(self, space: str) -> None:
        self.spaces[space] = _Space("running", self._clock())
        self.phase = "querying"
        self._tick()

    def space_progress(self, space: str, message: str) -> None:
        """A wait the space reported (Genie's capacity queue): shown beside its timer."""
        self.spaces.setdefault(space, _Space("running", self._clock())).progress = message
        self._tick()

    def space_finished(
        self, space: str, status: Literal["completed", "no_answer", "failed"], rows: int
    ) -> None:
        entry = self.spaces.setdefault(space, _Space("running", self._clock()))
        entry.status, entry.rows, entry.ended = status, rows, self._clock()
        if all(s.status != "running" for s in self.spaces.values()):
            self.phase = "writing"
        self._tick()

    def writing(self) -> None:
        if self.phase in ("connecting", "routing", "querying"):
            self.phase = "writing"
            self._tick()

    def done(self, note: str = "") -> None:
        self.note = note
        self._stop("done")

    def failed(self) -> None:
        self._stop("failed")

    def cancelled(self) -> None:
        self._stop("cancelled")

    # --- rendering ---------------------------------------------------------------------------------
    def _elapsed(self, since: float, until: float | None = None) -> str:
        seconds = (until if until is not None else self._clock()) - since
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"

    def render_status(self) -> Text:
        now = self._clock()
        spin = _SPINNER[int(now * 8) % len(_SPINNER)]
        text = Text(no_wrap=False)
        if self.route is not None:
            where = ", ".join(self.route.domains) or "no space"
            confidence = f", {self.route.confidence:.0%}" if self.route.confidence is not None else ""
            kind = f" ({self.route.kind}{confidence})" if self.route.kind else ""
            text.append("route → ", style="dim")
            text.append(where, style="bold")
            text.append(f"{kind}", style="dim")
            if self.route.reason:
                text.append(f" · {self.route.reason}", style="dim italic")
            text.append("\n")
        for i, (name, space) in enumerate(self.spaces.items()):
            if i:
                text.append("  ")
            text.append(name, style="bold")
            if space.status == "running":
                text.append(f" {spin} running {self._elapsed(space.started)}", style="cyan")
                if space.progress:
                    text.append(f" · {space.progress}", style="dim italic")
            elif space.status == "completed":
                rows = f"{space.rows:,} row" + ("" if space.rows == 1 else "s")
                text.append(f" ✓ {rows}", style="green")
            elif space.status == "no_answer":
                text.append(" – no answer", style="yellow")
            else:
                text.append(" ✗ failed", style="red")
        if self.spaces:
            text.append("  ")
        phase = self.phase
        if phase == "connecting":
            text.append(f"{spin} connecting… {self._elapsed(self.started)}", style="cyan")
        elif phase == "routing":
            text.append(f"{spin} routing the question… {self._elapsed(self.started)}", style="cyan")
        elif phase == "querying":
            text.append(f"{self._elapsed(self.started)}", style="dim")
        elif phase == "writing":
            text.append(f"{spin} writing the answer… {self._elapsed(self.started)}", style="cyan")
        elif phase == "done":
            text.append(f"done in {self._elapsed(self.started, self.ended)}", style="dim")
            if self.note:
                text.append(f" · {self.note}", style="dim")
        elif phase == "failed":
            text.append(f"failed after {self._elapsed(self.started, self.ended)}", style="red")
        else:
            text.append(f"cancelled after {self._elapsed(self.started, self.ended)}", style="yellow")
        return text
