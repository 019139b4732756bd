"""Feedback through a client: a thumbs up or down, with an optional comment, on a turn the caller asked.

A rating is a Responses request whose ``custom_inputs`` carry ``feedback`` (:func:`feedback_request`);
the agent answers it without running a turn, in the closing event's ``custom_outputs``
(:mod:`genie_agent.feedback`), as it answers a memory action. The in-process client records it
directly. The request is checked here first, so a bad rating is the same
:class:`~genie_agent.errors.UserInputError` on every target and never leaves the process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..feedback import FeedbackAction, Rating
from .errors import TargetError, error_from
from .memory import MemoryAnswer

__all__ = ["FeedbackOutcome", "feedback_action", "feedback_outcome", "feedback_request"]


@dataclass(frozen=True)
class FeedbackOutcome:
    """What a rating answered: the message for the user (``text``), whether it ``replaced`` the caller's
    earlier rating of the turn, the MLflow ``assessment_id``, and ``genie``: ``sent`` or ``failed: ...``
    for each Genie space the answer came from (empty for local spaces)."""

    turn_id: str
    rating: Rating
    text: str
    comment: str | None = None
    user: str = ""
    replaced: bool = False
    assessment_id: str = ""
    genie: Mapping[str, str] = field(default_factory=dict)
    raw: Mapping[str, Any] | None = None


def feedback_action(turn_id: str, rating: str, comment: str | None = None) -> FeedbackAction:
    """The rating, checked as the agent checks it. Raises :class:`~genie_agent.errors.UserInputError`."""
    body: dict[str, Any] = {"turn_id": turn_id, "rating": rating}
    if comment is not None:
        body["comment"] = comment
    action = FeedbackAction.from_custom_inputs({"feedback": body})
    assert action is not None  # a feedback body was given
    return action


def feedback_request(action: FeedbackAction) -> dict[str, Any]:
    """The Responses request of a rating."""
    return {"input": [], "custom_inputs": action.to_custom_inputs()}


def feedback_outcome(answer: MemoryAnswer, action: FeedbackAction, label: str) -> FeedbackOutcome:
    """The outcome ``label`` (the target) answered. Raises the error the agent reported
    (:class:`~genie_agent.feedback.UnknownTurnError`, :class:`~genie_agent.feedback.TurnNotTracedError`,
    :class:`~genie_agent.errors.PermissionDeniedError`, ...) or :class:`~.errors.TargetError`."""
    text, outputs = answer
    if outputs is None:
        raise TargetError(
            f"{label} sent no answer to the rating.",
            "Try again; if it happens again, check the server's log.",
        )
    if outputs.get("status") == "error":
        error = outputs.get("error")
        error = error if isinstance(error, Mapping) else {}
        message, hint = (
            str(error.get("message") or text or "The rating failed."),
            str(error.get("hint") or ""),
        )
        raise error_from(str(error.get("type") or ""), message, hint) or TargetError(
            f"{label} could not record the rating: {message}", hint or "Try again."
        )
    details = outputs.get("feedback")
    if not isinstance(details, Mapping):  # an agent without feedback: it answered something else
        raise TargetError(
            f"{label} does not take ratings.", "Upgrade the agent it serves to a version with feedback."
        )
    genie = details.get("genie")
    return FeedbackOutcome(
        turn_id=str(details.get("turn_id") or action.turn_id),
        rating=action.rating,
        text=text,
        comment=action.comment,
        user=str(details.get("user") or ""),
        replaced=details.get("replaced") is True,
        assessment_id=str(details.get("assessment_id") or ""),
        genie={str(k): str(v) for k, v in genie.items()} if isinstance(genie, Mapping) else {},
        raw=outputs,
    )
