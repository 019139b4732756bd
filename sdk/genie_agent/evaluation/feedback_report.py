"""What users said of their turns: each traced turn with its current ratings, and feedback per space.

A turn's trace holds what was asked and answered (the ``genie_agent.turn`` span and its children:
the route, each space's query, the thread it continued) and the users' ratings
(:mod:`genie_agent.feedback`: the valid ``user_feedback`` assessments). :func:`rated_turn` reads one
trace as a :class:`RatedTurn`; ``genie-agent monitor`` reports :func:`feedback_by_space` and
``genie-agent evaluate --from-feedback`` drafts cases from the negatively rated turns
(:mod:`.feedback_set`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..feedback import UserRating, user_ratings
from .predict import EVAL_SPAN

__all__ = ["NO_SPACE", "NegativeComment", "RatedTurn", "SpaceFeedback", "feedback_by_space", "rated_turn"]

TURN_SPAN = "genie_agent.turn"
NO_SPACE = "(no space)"
"""Where a turn that asked no space (declined, out of scope, a clarification) is counted."""
LATEST_COMMENTS = 5
SESSION = "mlflow.trace.session"


@dataclass(frozen=True)
class RatedTurn:
    """A production turn as its trace has it, with its users' current ratings (possibly none)."""

    trace_id: str
    at_ms: int
    user: str
    session: str
    question: str
    status: str
    text: str
    domains: tuple[str, ...]
    sql: dict[str, str | None]
    earlier_turns: int
    """Turns the thread had before this one (the ``memory.load_thread`` span), 0 when unknown."""
    ratings: tuple[UserRating, ...]

    @property
    def negative(self) -> tuple[UserRating, ...]:
        return tuple(r for r in self.ratings if not r.positive)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def rated_turn(trace: Any) -> RatedTurn | None:
    """The turn a production trace records, or None (an evaluation case's trace, or no turn span)."""
    spans = list(trace.data.spans)
    root = next((s for s in spans if s.parent_id is None), None)
    turn = next((s for s in spans if s.name == TURN_SPAN), None)
    if root is None or root.name == EVAL_SPAN or turn is None:
        return None
    children = {s.name: s for s in spans if s.parent_id == turn.span_id}
    route = children.get("route")
    domains = _mapping(route.outputs if route is not None else None).get("domains")
    domains = domains or (turn.attributes or {}).get("domains") or []
    loaded = children.get("memory.load_thread")
    earlier = _mapping(loaded.outputs if loaded is not None else None).get("turns")
    info = trace.info
    inputs, outputs = _mapping(turn.inputs), _mapping(turn.outputs)
    return RatedTurn(
        trace_id=info.trace_id,
        at_ms=int(info.request_time or 0),
        user=str(info.trace_metadata.get("mlflow.trace.user") or inputs.get("user") or ""),
        session=str(info.trace_metadata.get(SESSION) or ""),
        question=str(inputs.get("question") or ""),
        status=str(outputs.get("status") or "unknown"),
        text=str(outputs.get("text") or ""),
        domains=tuple(str(d) for d in domains),
        sql={str(d): _sql(children.get(f"genie.{d}")) for d in domains},
        earlier_turns=earlier if isinstance(earlier, int) else 0,
        ratings=tuple(user_ratings(trace)),
    )


def _sql(span: Any) -> str | None:
    sql = _mapping(span.outputs if span is not None else None).get("sql")
    return str(sql) if sql else None


@dataclass(frozen=True)
class NegativeComment:
    """A thumbs-down with a comment: where, by whom, on what question."""

    trace_id: str
    at: str
    user: str
    question: str
    comment: str


@dataclass(frozen=True)
class SpaceFeedback:
    """Ratings of the turns that asked a space (a cross-domain turn counts for each of its spaces)."""

    space: str
    turns: int
    rated: int
    up: int
    down: int
    positive_rate: float | None
    """Thumbs-up over rated turns' ratings; None when none was rated."""
    latest_negative: tuple[NegativeComment, ...] = ()
    """The newest thumbs-down comments, newest first (at most five)."""

    @property
    def rating_rate(self) -> float:
        """Rated turns over turns: how often users rate."""
        return self.rated / self.turns if self.turns else 0.0


def _at(ms: int | None) -> str:
    return dt.datetime.fromtimestamp((ms or 0) / 1000, dt.UTC).isoformat(timespec="seconds")


def feedback_by_space(turns: Iterable[RatedTurn]) -> tuple[SpaceFeedback, ...]:
    """Per space: turns, rated turns, ups and downs (one per user and turn), the positive rate, and the
    latest negative comments."""
    by_space: dict[str, list[RatedTurn]] = {}
    for turn in turns:
        for space in turn.domains or (NO_SPACE,):
            by_space.setdefault(space, []).append(turn)
    report = []
    for space in sorted(by_space):
        asked = by_space[space]
        ratings = [r for t in asked for r in t.ratings]
        up = sum(r.positive for r in ratings)
        negative = sorted(
            ((r.created_ms or t.at_ms, t, r) for t in asked for r in t.negative if r.comment),
            key=lambda x: x[0],
            reverse=True,
        )
        comments = [
            NegativeComment(t.trace_id, _at(ms), r.user, t.question, r.comment or "") for ms, t, r in negative
        ]
        report.append(
            SpaceFeedback(
                space=space,
                turns=len(asked),
                rated=sum(bool(t.ratings) for t in asked),
                up=up,
                down=len(ratings) - up,
                positive_rate=round(up / len(ratings), 4) if ratings else None,
                latest_negative=tuple(comments[:LATEST_COMMENTS]),
            )
        )
    return tuple(report)
