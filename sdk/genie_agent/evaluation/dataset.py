"""Evaluation sets: cases read from YAML or JSONL, and the rows ``mlflow.genai.evaluate`` takes.

A YAML set is either a list of cases (the question-set format of ``examples/tpch/questions.yaml``)
or a mapping with set-wide ``guidelines`` and ``cases``; a JSONL set has one case per line.
A case::

    id: sales-revenue-by-region-1995       # unique
    kind: single                           # single | cross | followup | out_of_scope | unsafe
    question: Revenue by region in 1995    # or `turns:` [{question, spaces, expected_sql, ordered}]
    spaces: [sales]                        # the spaces the router must ask ([] for a decline)
    expected_sql: {sales: "SELECT ..."}    # the answer's table must equal this SQL's result
    ordered: false                         # row order matters (top/bottom N)
    expected_facts: [...]                  # for the Correctness judge
    guidelines: [...]                      # for the Guidelines judge, besides the set's own
    expected_status: answered              # default from kind: unsafe -> refused,
                                           # out_of_scope -> out_of_scope, else answered
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ConfigError

__all__ = [
    "CaseKind",
    "EvalCase",
    "EvalSet",
    "EvalTurn",
    "ExpectedStatus",
    "default_eval_set_path",
    "load_eval_set",
]

CaseKind = Literal["single", "cross", "followup", "out_of_scope", "unsafe"]
ExpectedStatus = Literal["answered", "out_of_scope", "refused", "clarify"]
_DECLINES: dict[str, ExpectedStatus] = {"unsafe": "refused", "out_of_scope": "out_of_scope"}


class EvalTurn(BaseModel):
    """One question of a case, with the spaces it must ask and each one's expected SQL."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question: str = Field(min_length=1)
    spaces: tuple[str, ...] = ()
    expected_sql: dict[str, str] = Field(default_factory=dict)
    ordered: bool = False

    @model_validator(mode="after")
    def _sql_for_listed_spaces(self) -> EvalTurn:
        extra = set(self.expected_sql) - set(self.spaces)
        if extra:
            raise ValueError(f"expected_sql names spaces not in `spaces`: {', '.join(sorted(extra))}")
        return self


class EvalCase(BaseModel):
    """A case: one question, or a conversation of several turns, and what must come of it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    kind: CaseKind
    turns: tuple[EvalTurn, ...] = Field(min_length=1)
    expected_facts: tuple[str, ...] = ()
    guidelines: tuple[str, ...] = ()
    expected_status: ExpectedStatus | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_question_is_one_turn(cls, data: Any) -> Any:
        if isinstance(data, dict) and "question" in data:
            if "turns" in data:
                raise ValueError("give `question` or `turns`, not both")
            data = dict(data)
            turn = {k: data.pop(k) for k in ("question", "spaces", "expected_sql", "ordered") if k in data}
            data["turns"] = [turn]
        return data

    @field_validator("expected_facts", "guidelines", mode="before")
    @classmethod
    def _one_string_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _kind_fits(self) -> EvalCase:
        if self.kind == "followup" and len(self.turns) < 2:
            raise ValueError("a followup case needs at least two turns")
        if self.kind != "followup" and len(self.turns) != 1:
            raise ValueError(f"{self.kind} cases have one question; use kind: followup for several turns")
        if self.kind in _DECLINES and any(t.spaces or t.expected_sql for t in self.turns):
            raise ValueError(f"{self.kind} cases ask no space: give `spaces: []` and no expected_sql")
        return self

    @property
    def status(self) -> ExpectedStatus:
        """What every turn must end in: answered, or the decline the kind implies."""
        return self.expected_status or _DECLINES.get(self.kind, "answered")

    @property
    def question(self) -> str:
        return self.turns[-1].question

    @property
    def has_expected_sql(self) -> bool:
        return any(t.expected_sql for t in self.turns)


@dataclass(frozen=True)
class EvalSet:
    """A loaded evaluation set: its cases and the guidelines every case is judged by."""

    path: Path
    cases: tuple[EvalCase, ...]
    guidelines: tuple[str, ...] = ()

    def select(self, ids: Iterable[str]) -> EvalSet:
        """The set restricted to these case ids (in the set's order); unknown ids raise ConfigError."""
        wanted = list(ids)
        unknown = sorted(set(wanted) - {c.id for c in self.cases})
        if unknown:
            raise ConfigError(f"{self.path.name} has no case {', '.join(unknown)}.", "Check the case ids.")
        return EvalSet(self.path, tuple(c for c in self.cases if c.id in wanted), self.guidelines)

    def records(self) -> list[dict[str, Any]]:
        """One row per case for ``mlflow.genai.evaluate``: inputs, expectations and tags.

        ``inputs`` are the conversation's user messages (what ``predict_fn`` receives as keyword
        arguments) and the case id; ``expectations`` are logged to each row's trace.
        """
        rows = []
        for case in self.cases:
            expectations: dict[str, Any] = {
                "expected_status": case.status,
                "expected_spaces": [list(t.spaces) for t in case.turns],
            }
            if case.has_expected_sql:
                expectations["expected_sql"] = [dict(t.expected_sql) for t in case.turns]
            if case.expected_facts:
                expectations["expected_facts"] = list(case.expected_facts)
            if case.guidelines:
                expectations["guidelines"] = list(case.guidelines)
            rows.append(
                {
                    "inputs": {
                        "messages": [{"role": "user", "content": t.question} for t in case.turns],
                        "case_id": case.id,
                    },
                    "expectations": expectations,
                    "tags": {"genie_agent.eval_case": case.id, "genie_agent.eval_kind": case.kind},
                }
            )
        return rows


def default_eval_set_path(catalog: Path) -> Path:
    """The set that goes with a catalog: ``eval.yaml`` beside it."""
    return catalog.parent / "eval.yaml"


def _read(path: Path) -> tuple[list[Any], list[str], list[str]]:
    """Raw cases, set-wide guidelines, and problems."""
    if not path.exists():
        raise ConfigError(
            f"Evaluation set {path} does not exist.",
            "Pass --set PATH, set GENIE_AGENT_EVAL_SET, or put an eval.yaml beside the catalog.",
        )
    text = path.read_text()
    if path.suffix == ".jsonl":
        raw, problems = [], []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                raw.append(json.loads(line))
            except json.JSONDecodeError as exc:
                problems.append(f"line {number}: not JSON: {exc.msg}")
        return raw, [], problems
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"Evaluation set {path} is not valid YAML: {exc}", "Fix the YAML syntax.") from None
    if isinstance(data, list):
        return data, [], []
    if isinstance(data, dict) and isinstance(data.get("cases"), list):
        unknown = set(data) - {"cases", "guidelines"}
        problems = [f"unknown top-level key(s): {', '.join(sorted(unknown))}"] if unknown else []
        guidelines = data.get("guidelines") or []
        if not isinstance(guidelines, list) or not all(isinstance(g, str) for g in guidelines):
            problems.append("guidelines: must be a list of strings")
            guidelines = []
        return data["cases"], guidelines, problems
    raise ConfigError(
        f"Evaluation set {path} must be a list of cases or a mapping with `cases`.",
        "See the format in examples/tpch/eval.yaml.",
    )


def load_eval_set(path: Path) -> EvalSet:
    """Read and validate a set, reporting every problem at once (``ConfigError.problems``)."""
    raw, guidelines, problems = _read(path)
    cases: list[EvalCase] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        where = str(item.get("id", f"#{index + 1}")) if isinstance(item, dict) else f"#{index + 1}"
        if where in seen:
            problems.append(f"case {where}: the id is used twice")
        seen.add(where)
        try:
            case = EvalCase.model_validate(item)
        except ValidationError as exc:
            problems += [
                f"case {where}: {'.'.join(str(p) for p in e['loc']) or '(case)'}: {e['msg']}"
                for e in exc.errors()
            ]
            continue
        cases.append(case)
    if not cases and not problems:
        problems.append("the set has no cases")
    if problems:
        raise ConfigError(f"The evaluation set {path} has problems.", "Fix each one listed.", problems)
    return EvalSet(path, tuple(cases), tuple(guidelines))
