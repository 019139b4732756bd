"""What the agent says when it asks no space: a refusal, a question outside every space, or a measure
several spaces hold (which one?)."""

from __future__ import annotations

from collections.abc import Mapping

from .identity import Identity
from .spaces.base import GenieSpace
from .understanding.routing import RouteDecision

__all__ = ["decline", "suggestions", "which_space"]


def which_space(decision: RouteDecision, spaces: Mapping[str, GenieSpace]) -> str:
    titles = [spaces[d].info.title for d in decision.domains]
    return (
        f"Which do you mean? {decision.reason[:1].upper()}{decision.reason[1:]}, so I won't guess. "
        "Ask again naming one: " + " or ".join(f"'... in {t}'" for t in titles) + "."
    )


def decline(decision: RouteDecision, spaces: Mapping[str, GenieSpace], who: Identity) -> str:
    titles = ", ".join(spaces[d].info.title for d in decision.denied if d in spaces)
    if decision.kind == "refused" and decision.denied:
        return f"You don't have access to {titles}, which this question needs. Ask the operator for access."
    if decision.kind == "refused":
        return (
            f"I can't do that: {decision.reason}. I only read data; nothing was changed. "
            "Ask a question about the data instead."
        )
    topics = "\n".join(
        f"- **{s.info.title}**: {s.info.description}" for k, s in spaces.items() if who.may_use(k)
    )
    return f"That is outside what I can answer ({decision.reason}). I can answer questions about:\n\n{topics}"


def suggestions(spaces: Mapping[str, GenieSpace], who: Identity, usual: Mapping[str, int]) -> list[str]:
    """Sample questions of the spaces the user may ask, the spaces they ask most first."""
    frequent = {d: -n for d, n in usual.items()}
    return [
        q
        for k, s in sorted(spaces.items(), key=lambda kv: frequent.get(kv[0], 0))
        if who.may_use(k)
        for q in s.info.sample_questions[:2]
    ]
