"""Rating answers: thumbs up or down, with an optional comment, through the target's SDK client.

Keys: ``+`` / ``-`` on a focused answer (or one of its tables), or in the empty question box for the
last answer; ``c`` comments on the rating (a comment goes with the rating again: the target keeps the
latest). Slash commands: ``/up [comment]``, ``/down [comment]``, ``/comment [text]``. The answer shows
its rating; an error from the target (the answer has no trace, an unknown turn, ...) shows under it with
what to do. Where a rating goes (the turn's MLflow trace, Genie) is the agent's: :mod:`genie_agent.feedback`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work

from genie_agent.errors import GenieAgentError
from genie_agent.feedback import TurnNotTracedError

from .messages import RateRequested
from .result_actions import ResultActions
from .screens.comment import CommentScreen
from .widgets.rating import Rating, TurnRating
from .widgets.turn_view import TurnView

if TYPE_CHECKING:
    from .sessions import Session, SessionStore
    from .targets import ChatTarget

__all__ = ["RATING_COMMANDS", "FeedbackActions"]

RATING_COMMANDS = ("/up", "/down", "/comment")


class FeedbackActions(ResultActions):
    """Part of :class:`~.app.GenieChatApp`: rating its answers."""

    target: ChatTarget
    session: Session
    store: SessionStore

    def last_answer(self) -> TurnView | None:
        """The newest turn that has an answer."""
        answered = [t for t in self.chat_log.turns if t.finished and t.outputs is not None]
        return answered[-1] if answered else None

    def rating_command(self, text: str) -> None:
        """``/up [comment]``, ``/down [comment]``, ``/comment [text]`` on the last answer."""
        command, _, rest = text.partition(" ")
        comment = rest.strip() or None
        if command.lower() == "/comment":
            turn = self.last_answer()
            if comment is not None and turn is not None and turn.rating is not None:
                self.post_message(RateRequested(turn, turn.rating.rating, comment))
            else:
                self.post_message(RateRequested(turn, None))
            return
        self.post_message(RateRequested(None, "up" if command.lower() == "/up" else "down", comment))

    @on(RateRequested)
    def _rate_requested(self, event: RateRequested) -> None:
        turn = event.turn or self.last_answer()
        if turn is None:
            self.notify("There is no answer to rate yet.", severity="warning")
            return
        if not turn.finished or turn.outputs is None:
            self.notify("Wait for the answer to finish, then rate it.", severity="warning")
            return
        if event.rating is not None:
            self.rate(turn, event.rating, event.comment)
            return
        current = turn.rating
        if current is None:
            self.notify("Rate the answer first (+ or -); then c adds a comment.", severity="warning")
            return

        def send(comment: str | None) -> None:
            if comment is not None:
                self.rate(turn, current.rating, comment)

        self.push_screen(CommentScreen(turn.question, current.rating, current.comment), send)

    @work(group="feedback", exit_on_error=False)
    async def rate(self, turn: TurnView, rating: Rating, comment: str | None = None) -> None:
        """Send the rating; the answer shows it, or the error with what to do."""
        previous = turn.rating
        turn_id = turn.turn_id
        if not turn_id:
            await turn.feedback.failed(
                "This answer carries no turn id, so it cannot be rated.",
                f"{self.target.label} answered without one: the agent it serves predates ratings.",
                previous=previous,
            )
            return
        await turn.feedback.pending(rating)
        try:
            outcome = await self.target.client.afeedback(turn_id, rating, comment)
        except GenieAgentError as exc:
            hint = exc.hint
            if isinstance(exc, TurnNotTracedError):
                hint = self.target.untraced_hint() or hint
            await turn.feedback.failed(exc.message, hint, previous=previous)
            return
        except Exception as exc:  # a bug must show up in the conversation, not end the app
            await turn.feedback.failed(
                f"Unexpected error while rating: {type(exc).__name__}: {exc}",
                "Try again; if it happens again, please report it.",
                previous=previous,
            )
            return
        turn.rating = TurnRating(rating, outcome.comment, outcome.text)
        await turn.feedback.recorded(turn.rating)
        if self.session.rate(turn_id, {"rating": rating, "comment": outcome.comment, "text": outcome.text}):
            try:
                self.store.save(self.session)
            except OSError as exc:
                self.notify(f"Could not save the session: {exc}", severity="warning")
