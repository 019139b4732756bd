"""One turn of the conversation: the question, its live status, each space's result as it lands, the
answer as it streams below them, and the answer's rating.

A space's table (and its chart) is shown when the space replies, with the rows its reply carried; when
the turn is done the same views take the whole results and the turn's visualization hint, and the parts
joined (a cross-domain answer's combined table) are added after them.

Nothing is shown twice (:mod:`..repeats`): a chart drawing the points a chart above already draws (the
combined table charted by one space's measure) is left out, its table kept; and the answer's Markdown
tables are held back while it streams and left out when a view shows their rows (the combined table the
answer writes out), the text around them kept. ``text`` is the answer as the target sent it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, assert_never

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

from ..charts import ChartSpec
from ..messages import RateRequested
from ..repeats import TableRowsHeld, chart_points, without_shown_tables
from ..stream import (
    ResultData,
    RouteInfo,
    SpaceFinished,
    SpaceProgress,
    SpaceStarted,
    StreamFailed,
    TextArrived,
    TurnFinished,
    TurnOutputs,
    TurnUpdate,
    Unreadable,
)
from .notice import Notice
from .rating import FeedbackBar, Rating, TurnRating
from .result_view import ResultView, hint_for
from .turn_status import TurnStatus

__all__ = ["TurnView"]


class TurnView(Vertical, can_focus=True):
    """Applies a turn's updates as they arrive. ``outputs`` holds the turn result once it is in.

    Focused (Tab), or with one of its tables focused: ``+`` / ``-`` rate the answer, ``c`` comments."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("plus", "rate('up')", "Good answer"),
        Binding("minus", "rate('down')", "Bad answer"),
        Binding("c", "comment", "Comment"),
    ]

    def __init__(
        self,
        question: str,
        *,
        clock: Callable[[], float],
        show_sql: bool = False,
        restored: tuple[str, TurnOutputs] | None = None,
        rating: TurnRating | None = None,
    ) -> None:
        super().__init__(classes="turn")
        self.question = question
        self.show_sql = show_sql
        self.status = TurnStatus(clock)
        self.answer = Markdown("", classes="answer")
        self.outputs: TurnOutputs | None = restored[1] if restored else None
        self._restored = restored is not None
        self._stream: MarkdownStream | None = None
        self._text: list[str] = [restored[0]] if restored else []
        self._held = TableRowsHeld()
        self._failures: dict[str, SpaceFinished] = {}
        self._views: dict[str, ResultView] = {}
        """The result shown for each space (and ``combined``), in the order they landed."""
        self.unreadable = 0
        self.finished = self._restored
        self.rating = rating
        self.feedback = FeedbackBar()

    def compose(self) -> ComposeResult:
        question = Text()
        question.append("› ", style="bold")
        question.append(self.question)
        yield Static(question, classes="question")
        if not self._restored:
            yield self.status
        yield Vertical(classes="turn-results")
        yield self.answer
        yield Vertical(classes="turn-extras")
        yield self.feedback

    async def on_mount(self) -> None:
        if self._restored and self.outputs is not None:
            self.set_class(self.outputs.status == "error", "error")
            await self._show_outputs(self.outputs)
        if self.rating is not None:
            await self.feedback.recorded(self.rating)

    @property
    def turn_id(self) -> str | None:
        """The id the turn result carries (its trace id where the target traces turns)."""
        return self.outputs.result.turn_id if self.outputs is not None else None

    def action_rate(self, rating: Rating) -> None:
        self.post_message(RateRequested(self, rating))

    def action_comment(self) -> None:
        self.post_message(RateRequested(self, None))

    @property
    def text(self) -> str:
        return "".join(self._text)

    @property
    def result_views(self) -> list[ResultView]:
        return list(self.query(ResultView))

    async def _land(self, result: ResultData, hint: Mapping[str, Any] | None, *, final: bool = False) -> None:
        """Show a result (``final``: the whole of it), or give the view already showing its space the
        whole of it."""
        view = self._views.get(result.domain)
        if view is not None:
            await view.update_result(result, hint)
            return
        view = ResultView(result, hint, show_sql=self.show_sql)
        view.final = final
        self._views[result.domain] = view
        await self.query_one(".turn-results", Vertical).mount(view)

    async def _add(self, *widgets: Static | Vertical) -> None:
        await self.query_one(".turn-extras", Vertical).mount_all(widgets)

    async def apply(self, update: TurnUpdate) -> None:
        match update:
            case RouteInfo():
                self.status.set_route(update)
            case SpaceStarted(space, _):
                self.status.space_started(space)
            case SpaceProgress():
                self.status.space_progress(update.domain, update.message)
            case SpaceFinished(space, status, rows, _, _, result):
                self.status.space_finished(space, status, rows)
                if status == "failed":
                    self._failures[space] = update
                elif result is not None and result.has_table:
                    await self._land(result, hint_for(result, self.question))
            case TextArrived(delta):
                self.status.writing()
                self._text.append(delta)
                shown = self._held.take(delta)
                if shown:
                    if self._stream is None:
                        self._stream = Markdown.get_stream(self.answer)
                    await self._stream.write(shown)
            case TurnFinished():
                await self.finish(update)
            case StreamFailed(message):
                await self._add(
                    Notice(f"The server reported an error: {message}", "Try again.", kind="error")
                )
            case Unreadable():
                self.unreadable += 1
            case _:
                assert_never(update)

    async def _stop_stream(self) -> None:
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None

    async def finish(self, finished: TurnFinished) -> None:
        """Show the final text (if the deltas missed any), the results, failures and suggestions."""
        await self._stop_stream()
        outputs = finished.outputs
        self.outputs = outputs
        if finished.text and finished.text != self.text:
            self._text = [finished.text]
        self.set_class(outputs.status == "error", "error")
        note = {"partial": "partial answer", "clarify": "needs clarification", "error": "error"}.get(
            outputs.status, ""
        )
        self.status.done(note)
        for space, failure in self._failures.items():
            await self._add(Notice(f"The {space} space failed: {failure.error}", failure.hint, kind="error"))
        if self.unreadable:
            await self._add(
                Notice(
                    f"{self.unreadable} stream event(s) could not be read and were skipped.",
                    "The answer may be incomplete; check the server's version.",
                    kind="warning",
                )
            )
        await self._show_outputs(outputs)
        self.finished = True

    async def _show_outputs(self, outputs: TurnOutputs) -> None:
        if outputs.status == "error" and outputs.error_message and not self.text and not self._restored:
            await self._add(Notice(outputs.error_message, outputs.error_hint, kind="error"))
        primary = outputs.primary
        tables = [result for result in outputs.tables if result.has_table]
        charted: list[frozenset[Any]] = []
        for result in tables:
            hint = outputs.visualization_hint if result is primary else hint_for(result, self.question)
            points = chart_points(ChartSpec.from_hint(hint), result.columns, result.rows) if hint else None
            if hint is not None and points is not None and points in charted:
                hint = {**hint, "type": "table"}  # the same chart as one above: the table alone
            elif points is not None:
                charted.append(points)
            await self._land(result, hint, final=True)
        kept = {result.domain for result in tables}
        for domain in [d for d in self._views if d not in kept]:  # a reply the turn result does not keep
            await self._views.pop(domain).remove()
        await self._show_answer()
        if outputs.suggested_questions:
            await self._add(
                Notice("You could ask: " + " · ".join(outputs.suggested_questions[:4]), kind="info")
            )

    async def _show_answer(self) -> None:
        """The whole answer, without the tables a result view shows (the tables held back come in)."""
        await self._stop_stream()
        source = without_shown_tables(self.text, (view.result for view in self._views.values()))
        if source != self.answer.source:
            await self.answer.update(source)

    async def fail(self, message: str, hint: str) -> None:
        await self._show_answer()
        self.status.failed()
        self.finished = True
        await self._add(Notice(message, hint, kind="error"))

    async def cancel(self) -> None:
        await self._show_answer()
        self.status.cancelled()
        self.finished = True
        await self._add(Notice("Cancelled.", "Ask again, or rephrase the question.", kind="warning"))

    def set_sql_visible(self, visible: bool) -> None:
        self.show_sql = visible
        for view in self.result_views:
            view.set_sql_visible(visible)
