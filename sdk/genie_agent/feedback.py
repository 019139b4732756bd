"""Feedback on a turn: a thumbs up or down with an optional comment, from the user who asked it.

Sent as ``custom_inputs`` ``{"feedback": {"turn_id": "tr-...", "rating": "up" | "down", "comment": "..."}}``
on a Responses request, answered without a turn (like a memory action), or in process with
:func:`record_feedback`. The ``turn_id`` is the one the turn's result carries.

Where it goes:

- the turn's MLflow trace, as a human assessment named :data:`FEEDBACK_NAME` (``True`` for up,
  ``False`` for down; the comment as its rationale; source ``HUMAN`` with the user's name). Rating a
  turn again replaces the rating: the earlier assessment is overridden (``mlflow.override_feedback``:
  MLflow keeps it, marked not valid), so a trace has one valid rating per user;
- for each part of the answer a Databricks Genie space gave, Genie itself: the rating of that
  message (``send-message-feedback``). The comment stays in MLflow.

Who may rate: the user the turn's trace is tagged with, named as every turn names its caller (the
caller's credentials; never a field of the request where any credentials exist). Rating needs a
trace: a turn answered with tracing off, another user's turn and an unknown id are refused, each
with a typed error saying what to do.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from .errors import BackendError, GenieAgentError, PermissionDeniedError, UserInputError

if TYPE_CHECKING:
    from .agent import Agent
    from .identity import Identity

__all__ = [
    "FEEDBACK_NAME",
    "MAX_COMMENT_CHARS",
    "FeedbackAction",
    "FeedbackResult",
    "GenieMessageRef",
    "Rating",
    "TurnNotTracedError",
    "UnknownTurnError",
    "UserRating",
    "genie_messages",
    "record_feedback",
    "user_ratings",
]

FEEDBACK_NAME = "user_feedback"
"""The name of the assessment a user's rating is on the turn's trace."""
MAX_COMMENT_CHARS = 2000
SETTLE_S = 5.0
"""How long a rating waits for the turn's trace to be written whole."""
_FINALIZED = "mlflow.trace.infoFinalized"
TRACE_USER = "mlflow.trace.user"
"""The trace metadata key ``mlflow.update_current_trace(user=...)`` writes (the turn's user)."""

Rating = Literal["up", "down"]
_UNTRACED_ID = re.compile(r"[0-9a-f]{32}")
"""A turn answered without tracing has a bare uuid4 hex id; MLflow's trace ids are ``tr-<hex>``."""
_SEND_HINT = 'Send {"feedback": {"turn_id": "<the turn_id of an answer>", "rating": "up" or "down", "comment": "..."}}.'
_TRACING_HINT = (
    "Turn tracing on (GENIE_AGENT_TRACING=on, or `tracing: on` in the config file; `serve` and the "
    "served model trace by default), then rate a turn answered after that."
)


class UnknownTurnError(UserInputError):
    """No traced turn has this id."""


class TurnNotTracedError(UserInputError):
    """The turn was answered with tracing off (or tracing is off here), so it has no trace to rate."""


@dataclass(frozen=True)
class FeedbackAction:
    """A rating of one turn: ``up`` or ``down``, with an optional comment."""

    turn_id: str
    rating: Rating
    comment: str | None = None

    @property
    def positive(self) -> bool:
        return self.rating == "up"

    def to_custom_inputs(self) -> dict[str, Any]:
        """What a client sends in ``custom_inputs``."""
        body: dict[str, Any] = {"turn_id": self.turn_id, "rating": self.rating}
        if self.comment:
            body["comment"] = self.comment
        return {"feedback": body}

    @classmethod
    def from_custom_inputs(cls, custom: Mapping[str, Any]) -> FeedbackAction | None:
        """The rating in a request's custom_inputs, or None. Raises :class:`UserInputError` when malformed."""
        body = custom.get("feedback")
        if body is None:
            return None
        if not isinstance(body, Mapping):
            raise UserInputError("custom_inputs.feedback must be an object.", _SEND_HINT)
        turn_id, rating, comment = body.get("turn_id"), body.get("rating"), body.get("comment")
        if not isinstance(turn_id, str) or not turn_id.strip() or len(turn_id) > 200:
            raise UserInputError("custom_inputs.feedback.turn_id must be a turn's id.", _SEND_HINT)
        if rating not in get_args(Rating):
            raise UserInputError(
                f"custom_inputs.feedback.rating must be 'up' or 'down', not {rating!r}.", _SEND_HINT
            )
        if comment is not None and not isinstance(comment, str):
            raise UserInputError("custom_inputs.feedback.comment must be a string.", _SEND_HINT)
        if comment is not None and len(comment) > MAX_COMMENT_CHARS:
            raise UserInputError(
                f"The comment is {len(comment):,} characters long; the limit is {MAX_COMMENT_CHARS:,}.",
                "Say it in fewer words.",
            )
        return cls(turn_id.strip(), cast(Rating, rating), (comment or "").strip() or None)


@dataclass(frozen=True)
class FeedbackResult:
    """What to tell the user (``text``) and the custom_outputs."""

    text: str
    outputs: dict[str, Any]


@dataclass(frozen=True)
class GenieMessageRef:
    """A Genie message a turn's answer came from: the space's domain and the message's ids."""

    domain: str
    conversation_id: str
    message_id: str


@dataclass(frozen=True)
class UserRating:
    """A user's current rating on a trace, as MLflow holds it."""

    user: str
    positive: bool
    comment: str | None
    assessment_id: str
    created_ms: int | None = None


def genie_messages(trace: Any) -> list[GenieMessageRef]:
    """The Genie messages of a traced turn: each space's span (``genie.<domain>``) with its ids."""
    refs = []
    for span in trace.data.spans:
        if not span.name.startswith("genie.") or span.span_type != "TOOL":
            continue
        attributes = span.attributes or {}
        conversation_id, message_id = attributes.get("conversation_id"), attributes.get("message_id")
        if conversation_id and message_id:
            refs.append(GenieMessageRef(span.name.removeprefix("genie."), conversation_id, message_id))
    return refs


def user_ratings(trace: Any) -> Iterator[UserRating]:
    """The valid (not replaced) user ratings on a trace."""
    for a in trace.info.assessments or []:
        source = a.source
        if a.name != FEEDBACK_NAME or a.valid is False or source is None or source.source_type != "HUMAN":
            continue
        value = getattr(a, "value", None)
        if not isinstance(value, bool):
            continue
        yield UserRating(str(source.source_id), value, a.rationale, a.assessment_id, a.create_time_ms)


def record_feedback(agent: Agent, who: Identity, action: FeedbackAction) -> FeedbackResult:
    """Record ``who``'s rating of a turn on its trace and send it to Genie for each Genie message.

    Raises :class:`TurnNotTracedError` (tracing is off, or the turn was answered without it),
    :class:`UnknownTurnError`, :class:`~genie_agent.errors.PermissionDeniedError` (another user's
    turn), :class:`~genie_agent.errors.BackendError` (MLflow could not record it).
    """
    if not agent.traced:
        raise TurnNotTracedError(
            "Turns are not traced here, so they cannot be rated: a rating is kept on the turn's trace.",
            _TRACING_HINT,
        )
    configure = getattr(agent.tracer, "configure", None)
    if callable(configure):
        configure()
    trace = _turn_trace(action.turn_id)
    owner = trace.info.trace_metadata.get(TRACE_USER)
    if owner != who.user:
        raise PermissionDeniedError(
            f"Turn {action.turn_id} was asked by another user; you may rate only your own turns.",
            "Rate a turn from your own conversation (its turn_id is in the answer).",
        )
    assessment_id, replaced = _log(trace, who.user, action)
    sent = _send_to_genie(agent, trace, action, who)
    details = {
        "turn_id": action.turn_id,
        "rating": action.rating,
        "comment": action.comment,
        "user": who.user,
        "assessment_id": assessment_id,
        "replaced": replaced,
        "genie": sent,
    }
    return FeedbackResult(_said(action, replaced, sent), {"status": "ok", "feedback": details})


def _turn_trace(turn_id: str) -> Any:
    """The turn's trace, once written whole: a turn rated right after its answer may still be on its
    way to the store (the store may hold its spans before the trace's own metadata, its user)."""
    import mlflow

    deadline = time.monotonic() + SETTLE_S
    trace = _read_trace(turn_id)
    while trace is not None and not _settled(trace) and time.monotonic() < deadline:
        mlflow.flush_trace_async_logging()
        time.sleep(0.05)
        trace = _read_trace(turn_id)
    if trace is not None and trace.info.trace_metadata.get(TRACE_USER):
        return trace
    if _UNTRACED_ID.fullmatch(turn_id):
        raise TurnNotTracedError(
            f"Turn {turn_id} was not traced, so it cannot be rated: a rating is kept on the turn's trace.",
            _TRACING_HINT,
        )
    raise UnknownTurnError(
        f"There is no traced turn {turn_id}.",
        "Rate a turn by the turn_id its answer carries, on the deployment that answered it.",
    )


def _settled(trace: Any) -> bool:
    """Written whole: tagged with its user, or finalized by a store that says so (``mlflow.trace.infoFinalized``)."""
    from mlflow.entities import TraceState

    info = trace.info
    if info.state == TraceState.IN_PROGRESS:
        return False
    return bool(info.trace_metadata.get(TRACE_USER)) or info.trace_metadata.get(_FINALIZED) == "true"


def _read_trace(turn_id: str) -> Any:
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.get_trace(turn_id, silent=True, flush=True)
    except MlflowException as exc:
        raise BackendError(
            f"MLflow at {mlflow.get_tracking_uri()} could not be read: {exc.message}",
            "Check the tracking store (GENIE_AGENT_MLFLOW_TRACKING_URI) and rate the turn again.",
            retryable=True,
        ) from None


def _log(trace: Any, user: str, action: FeedbackAction) -> tuple[str, bool]:
    """Log the rating on the trace, overriding the user's earlier one; its assessment id, and whether
    it replaced one."""
    import mlflow
    from mlflow.entities import AssessmentSource, AssessmentSourceType
    from mlflow.exceptions import MlflowException

    trace_id = trace.info.trace_id
    source = AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id=user)
    earlier = next((r for r in user_ratings(trace) if r.user == user), None)
    try:
        if earlier is not None:
            logged = mlflow.override_feedback(
                trace_id=trace_id,
                assessment_id=earlier.assessment_id,
                value=action.positive,
                rationale=action.comment,
                source=source,
            )
        else:
            logged = mlflow.log_feedback(
                trace_id=trace_id,
                name=FEEDBACK_NAME,
                value=action.positive,
                rationale=action.comment,
                source=source,
            )
    except MlflowException as exc:
        raise BackendError(
            f"MLflow at {mlflow.get_tracking_uri()} could not record the rating: {exc.message}",
            "Check the tracking store and rate the turn again.",
            retryable=True,
        ) from None
    return str(logged.assessment_id), earlier is not None


def _send_to_genie(agent: Agent, trace: Any, action: FeedbackAction, who: Identity) -> dict[str, str]:
    """The rating to each Genie message of the turn whose space takes ratings: ``sent`` or
    ``failed: <why>`` by domain. A failure here does not undo the rating in MLflow."""
    outcome: dict[str, str] = {}
    for ref in genie_messages(trace):
        send = getattr(agent.spaces.get(ref.domain), "send_feedback", None)
        if send is None:  # a local space: there is no Genie message to rate
            continue
        try:
            send(ref.conversation_id, ref.message_id, action.rating, identity=who)
            outcome[ref.domain] = "sent"
        except GenieAgentError as exc:
            outcome[ref.domain] = f"failed: {exc.message}"
    return outcome


def _said(action: FeedbackAction, replaced: bool, sent: Mapping[str, str]) -> str:
    thumb = "thumbs-up" if action.positive else "thumbs-down"
    text = f"Thanks: your {thumb} is recorded" + (", replacing your earlier rating" if replaced else "")
    text += " (with your comment)." if action.comment else "."
    ok = [d for d, s in sent.items() if s == "sent"]
    failed = [f"{d} ({s.removeprefix('failed: ')})" for d, s in sent.items() if s != "sent"]
    if ok:
        text += f" Genie has it too for {', '.join(ok)}."
    if failed:
        text += f" It could not be sent to Genie for {', '.join(failed)}; it is kept in MLflow."
    return text
