"""The parts of a question that spans spaces: clauses, and what is said once for all of them.

"number of customers and suppliers in peru" is two clauses, "number of customers" and "suppliers in
peru", and "in peru" is said once for both. A modifier is shared when it stands at the question's
edge (before the first clause's measure, after the last clause's measure, or in a clause of its
own there: "Automobile segment: ...", "..., europe only") and holds nothing but values, groupings,
times and function words. Anything else ("with a balance over 9,500") stays with its own clause:
sharing a condition on one space's measure would answer a different question in the other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .lexicon import Token

__all__ = ["Clause", "Shared", "ellipsis_predicate", "shareable", "split_clauses", "strip_presentation"]

_SPLIT = re.compile(
    r",?\s+(?:and also|and|as well as|along with|alongside|next to|together with|side by side with|plus"
    r"|versus|vs\.?|compared (?:to|with)|with)\s+|,\s+|;\s*|:\s+|\s+[-–—]\s+|\?\s+|\s+\+\s+",
    re.IGNORECASE,
)
# Words that ask for the parts in one table: the combined table is built whenever the parts share a
# grouping, so the words themselves ask nothing of a space.
_PRESENTATION = re.compile(
    r"\b(?:(?:in|into|as)\s+)?(?:a\s+|one\s+)?(?:single|one|combined)\s+(?:combined\s+)?table(?:\s+please)?"
    r"|\bside[- ]by[- ]side\b",
    re.IGNORECASE,
)
_ONE_ROW_PER = re.compile(r"\bone row (per|for each|for every)\b", re.IGNORECASE)
_SHAREABLE_WORDS = frozenset(
    """
    and or vs versus in for of the a an each every per by across only just all our we do does did have has had
    excl excl. excluding except other than not without but within from to during since before after
    between through until year years month months quarter quarters q1 q2 q3 q4 h1 h2 first second
    half last this there is are were was
    """.split()
)
_AUXILIARY = frozenset("do does did are were is was have has had".split())
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_MONTHS = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)


@dataclass(frozen=True)
class Clause:
    """A stretch of the question, ``[start, end)`` in characters, and the measures it names."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Shared:
    """What the question says once for every part: text before its clauses, and after them (with the
    separator it is written after: " in peru", ", europe only")."""

    prefix: str = ""
    suffix: str = ""


def strip_presentation(question: str) -> str:
    """The question without words that only ask for one table ("in one table", "side by side")."""
    text = _ONE_ROW_PER.sub(r"\1", question)
    text = _PRESENTATION.sub("", text)
    return re.sub(r"\s{2,}", " ", re.sub(r"\s+([,.?:;])", r"\1", text)).strip(" ,-:")


def split_clauses(question: str, tokens: Sequence[Token], is_value: Callable[[int], bool]) -> list[Clause]:
    """The clauses, split at conjunctions and separators, but never inside a value set ("Germany and
    France"): a split between two tokens that are both values (``is_value(token index)``) is skipped."""
    clauses: list[Clause] = []
    start = 0
    for m in _SPLIT.finditer(question):
        before = _token_ending_at(tokens, m.start())
        after = _token_starting_at(tokens, m.end())
        if before is not None and after is not None and is_value(before) and is_value(after):
            continue
        _add(clauses, question, start, m.start())
        start = m.end()
    _add(clauses, question, start, len(question))
    return clauses


def _add(clauses: list[Clause], question: str, start: int, end: int) -> None:
    text = question[start:end]
    stripped = text.strip(" ,?.!")
    if stripped:
        offset = start + text.index(stripped)
        clauses.append(Clause(stripped, offset, offset + len(stripped)))


def _token_ending_at(tokens: Sequence[Token], offset: int) -> int | None:
    found = [i for i, t in enumerate(tokens) if t.end <= offset]
    return found[-1] if found else None


def _token_starting_at(tokens: Sequence[Token], offset: int) -> int | None:
    return next((i for i, t in enumerate(tokens) if t.start >= offset), None)


def shareable(tokens: Sequence[Token], spans: Sequence[tuple[int, int, set[str]]]) -> bool:
    """True when a stretch holds only values, groupings, times and function words, and something
    more than function words (there is something to share)."""
    covered: dict[int, set[str]] = {}
    for start, end, kinds in spans:  # matched phrases: token range and the kinds of term they are
        for i in range(start, end):
            covered[i] = kinds
    substantive = False
    for i, t in enumerate(tokens):
        found = covered.get(i)
        if found is not None:
            if found & {"measure", "topic"}:
                return False
            substantive = True
        elif _YEAR.match(t.text) or t.lower in _MONTHS:
            substantive = True
        elif t.lower not in _SHAREABLE_WORDS:
            return False
    return substantive


def ellipsis_predicate(after_measure: str) -> bool:
    """What follows a clause's measure is a bare auxiliary ("... and how many suppliers do?"): the
    clause repeats the predicate of the clause before it."""
    words = after_measure.strip(" ,?.!").split()
    return len(words) == 1 and words[0].lower() in _AUXILIARY
