"""Pick what the chat talks to: the embedded agent, a URL, or a Databricks serving endpoint."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from ..targets import TargetSpec

__all__ = ["TargetScreen", "spec_from_text"]


def spec_from_text(text: str, *, user: str = "local") -> TargetSpec | None:
    """``embedded``, an ``http(s)://`` URL, or a serving endpoint's name."""
    text = text.strip()
    if not text:
        return None
    if text.lower() in ("embedded", "local", "in-process"):
        return TargetSpec("embedded", user=user)
    if text.startswith(("http://", "https://")):
        return TargetSpec("url", text.rstrip("/"))
    return TargetSpec("endpoint", text.removeprefix("endpoint ").strip())


class TargetScreen(ModalScreen[TargetSpec | None]):
    """Dismisses with the chosen :class:`TargetSpec`, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Close")]

    def __init__(self, known: list[TargetSpec], *, current: TargetSpec) -> None:
        super().__init__()
        self.known = known
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="target-body", classes="modal-body"):
            yield Static("Target — pick one, or type a URL or a serving endpoint name", classes="modal-title")
            options = []
            for i, spec in enumerate(self.known):
                label = Text(spec.label, style="bold" if spec == self.current else "")
                label.append(f"  ({spec.kind})", style="dim")
                options.append(Option(label, id=str(i)))
            yield OptionList(*options, id="target-list")
            yield Input(placeholder="http://127.0.0.1:8000 or an endpoint name", id="target-input")

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.known[int(event.option.id or 0)])

    @on(Input.Submitted)
    def _typed(self, event: Input.Submitted) -> None:
        event.stop()
        spec = spec_from_text(event.value, user=self.current.user)
        if spec is not None:
            if spec.kind == "url" and spec.address == self.current.address.rstrip("/") and self.current.token:
                spec = TargetSpec("url", spec.address, token=self.current.token)
            self.dismiss(spec)
