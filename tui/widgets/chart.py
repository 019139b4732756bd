"""A result's chart, following its visualization hint: bars, a line, a share view or a KPI number."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Digits, Static

from ..charts import ChartSpec, kpi_value, render_chart

__all__ = ["Chart"]


class _Canvas(Widget):
    """Draws a non-KPI chart at the width it is given (redrawn on resize)."""

    DEFAULT_CSS = "_Canvas { height: auto; }"

    def __init__(self, spec: ChartSpec, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        super().__init__(classes="chart-canvas")
        self.spec = spec
        self.columns = columns
        self.rows = rows

    def render(self) -> Text:
        width = self.content_size.width or 60
        return render_chart(self.spec, self.columns, self.rows, width) or Text("")

    def get_content_height(self, container: Any, viewport: Any, width: int) -> int:
        text = render_chart(self.spec, self.columns, self.rows, width or 60)
        return len(text.wrap(self.app.console, max(width, 1))) if text is not None else 0


class Chart(Vertical):
    """``Chart.for_hint`` returns None when the hint asks for no chart (``table``)."""

    def __init__(self, spec: ChartSpec, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        super().__init__(classes=f"chart chart-{spec.type}")
        self.spec = spec
        self.columns = columns
        self.rows = rows

    @classmethod
    def for_hint(cls, spec: ChartSpec, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Chart | None:
        if spec.type == "kpi":
            return cls(spec, columns, rows) if kpi_value(spec, columns, rows) else None
        if spec.type in ("bar", "line", "pie") and rows:
            return cls(spec, columns, rows)
        return None

    def compose(self) -> ComposeResult:
        if self.spec.title and self.spec.type != "kpi":
            yield Static(Text(self.spec.title, style="bold"), classes="chart-title")
        if self.spec.type == "kpi":
            kpi = kpi_value(self.spec, self.columns, self.rows)
            assert kpi is not None
            label, value = kpi
            yield Digits(value, classes="kpi-value")
            yield Static(Text(label, style="bold"), classes="kpi-label")
        else:
            yield _Canvas(self.spec, self.columns, self.rows)
