"""A draft evaluation set from the turns users rated down: ``genie-agent evaluate --from-feedback``.

Each turn rated down in the window becomes a case: its question (after the earlier questions of its
thread, as a ``followup`` case, when their traces are in the window too) and the spaces the agent
asked. Comments above it say who rated it down and why, what the agent answered and the SQL it ran.
The cases have no truth: a person checks ``spaces`` and adds ``expected_sql`` (or
``expected_facts``) before the set gates anything. The file loads as an evaluation set as written
(:func:`~genie_agent.evaluation.dataset.load_eval_set`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..errors import UserInputError
from .feedback_report import RatedTurn, rated_turn

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["DraftCase", "FeedbackDraft", "draft_from_feedback"]

_ANSWER_CHARS = 300


@dataclass(frozen=True)
class DraftCase:
    """A turn rated down, and the earlier turns of its thread that are in the window (oldest first)."""

    turn: RatedTurn
    earlier: tuple[RatedTurn, ...] = ()

    @property
    def case_id(self) -> str:
        return "feedback-" + self.turn.trace_id.removeprefix("tr-")[:16]

    @property
    def kind(self) -> str:
        if self.earlier:
            return "followup"
        return "cross" if len(self.turn.domains) > 1 else "single"

    def case(self) -> dict[str, Any]:
        """The case as the evaluation set has it."""
        case: dict[str, Any] = {"id": self.case_id, "kind": self.kind}
        if self.earlier:
            case["turns"] = [
                {"question": t.question, "spaces": list(t.domains)} for t in (*self.earlier, self.turn)
            ]
        else:
            case["question"] = self.turn.question
            case["spaces"] = list(self.turn.domains)
        return case

    def comments(self) -> list[str]:
        """What a person needs to complete the case: the ratings, the answer, its SQL, what is missing."""
        turn, lines = self.turn, []
        for rating in turn.negative:
            said = f': "{_one_line(rating.comment)}"' if rating.comment else " (no comment)"
            lines.append(f"thumbs-down by {rating.user}{said}")
        lines.append(f"trace {turn.trace_id}, {_at(turn.at_ms)}")
        answer = _one_line(turn.text)
        if len(answer) > _ANSWER_CHARS:
            answer = answer[: _ANSWER_CHARS - 1] + "…"
        lines.append(f"the agent answered ({turn.status}): {answer or '(no text)'}")
        for domain, sql in turn.sql.items():
            lines.append(f"its SQL ({domain}): " + (_one_line(sql) if sql else "(none)"))
        if not turn.domains:
            lines.append("the agent asked no space: name the spaces that should answer, or set kind:")
            lines.append("out_of_scope (or unsafe) with `spaces: []` if declining was right")
        missing = turn.earlier_turns - len(self.earlier)
        if missing > 0:
            lines.append(
                f"its thread had {turn.earlier_turns} earlier turn(s), {missing} not in the window: "
                "add them as `turns` (kind: followup)"
            )
        lines.append("TODO: check `spaces`, add expected_sql per space (or expected_facts)")
        return lines


@dataclass(frozen=True)
class FeedbackDraft:
    """The draft set: its cases and where their traces came from."""

    cases: tuple[DraftCase, ...]
    experiment: str
    since: str

    def render(self) -> str:
        """The set as YAML, each case under its comments."""
        written = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        out = [
            "# Draft evaluation set: the turns users rated down (genie-agent evaluate --from-feedback),",
            f"# experiment {self.experiment}, turns since {self.since}, written {written}.",
            "# These cases have no truth yet. For each: check `spaces` (what the agent asked), add",
            "# `expected_sql` for each space (or `expected_facts`), delete the TODO, then run",
            "#   genie-agent evaluate --set <this file>",
            "cases:",
        ]
        for draft in self.cases:
            out.append("")
            out += [f"  # {line}" for line in draft.comments()]
            body = yaml.safe_dump([draft.case()], sort_keys=False, allow_unicode=True, width=100)
            out += [f"  {line}" for line in body.splitlines()]
        return "\n".join(out) + "\n"

    def write(self, path: Path) -> None:
        """Write the set to ``path``; a file already there is refused (it may hold a person's work)."""
        if path.exists():
            raise UserInputError(
                f"{path} already exists.", "Pass another --out, or move the file away first."
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.render())


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _at(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds")


def drafts(turns: Sequence[RatedTurn]) -> tuple[DraftCase, ...]:
    """A case per turn rated down, oldest first, with the earlier turns of its thread by its user."""
    threads: dict[tuple[str, str], list[RatedTurn]] = defaultdict(list)
    for turn in turns:
        if turn.session:
            threads[(turn.user, turn.session)].append(turn)
    cases = []
    for turn in sorted(turns, key=lambda t: t.at_ms):
        if not turn.negative:
            continue
        thread = threads.get((turn.user, turn.session), [])
        earlier = sorted((t for t in thread if t.at_ms < turn.at_ms), key=lambda t: t.at_ms)
        cases.append(DraftCase(turn, tuple(earlier[-turn.earlier_turns :] if turn.earlier_turns else ())))
    return tuple(cases)


def draft_from_feedback(settings: Settings, *, since: dt.datetime, limit: int = 1000) -> FeedbackDraft:
    """The draft set from the configured experiment's turns since ``since`` (at most ``limit`` traces,
    newest first)."""
    import mlflow

    from .runner import configure_mlflow

    experiment_id = configure_mlflow(settings)
    traces = mlflow.search_traces(
        locations=[experiment_id],
        filter_string=f"trace.timestamp_ms >= {int(since.timestamp() * 1000)}",
        max_results=limit,
        order_by=["timestamp_ms DESC"],
        return_type="list",
        flush=True,
    )
    turns = [t for t in map(rated_turn, traces) if t is not None]
    return FeedbackDraft(drafts(turns), settings.mlflow_experiment, since.isoformat(timespec="seconds"))
