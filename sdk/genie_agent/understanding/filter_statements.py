"""Default filters stated by naming values, and filters cleared.

Any dimension value the spaces index, said by the user about themselves ("my region is EUROPE",
"I only care about Germany and France", "we work in the AUTOMOBILE segment", "from now on focus on
ASIA"), becomes a filter on its dimension in the spaces that hold it. "All regions again", "forget
the region filter" clear one.
"""

from __future__ import annotations

import re

from .lexicon import Match, Token
from .preferences import CLEAR_FILTERS, Preference
from .vocabulary import TermRef, ValueRef

__all__ = ["filter_statements"]

_FIRST_PERSON = re.compile(r"\b(?:i|i'm|im|i've|i'd|my|mine|we|we're|our|ours)\b", re.IGNORECASE)
_NEGATED = re.compile(
    r"\b(?:not|no|never|don'?t|doesn'?t|except|excluding|exclude|other than|outside|ignore|without|nor)\b",
    re.IGNORECASE,
)
_REPORTED = re.compile(r"\b(?:asked|said|told|visited|went|was|were|did|saw)\b", re.IGNORECASE)
_EVERY = {"all", "any", "every", "each"}
_FILTER_WORD = re.compile(r"\b(?:filter|filters|filtering)\b", re.IGNORECASE)


def filter_statements(
    sentence: str,
    tokens: list[Token],
    values: list[Match[ValueRef]],
    terms: list[Match[TermRef]],
    persist: bool,
    forgetting: bool,
) -> tuple[list[Preference], list[str]]:
    """The filters ``sentence`` states and the filter slots it clears, from its matched ``values``
    and ``terms``; ``persist``: a cue says it lasts, ``forgetting``: it asks to forget."""
    named = {r.name for m in terms for r in m.entries if r.kind == "dimension"}
    cleared: list[str] = []
    for m in terms:
        dims = {r.name for r in m.entries if r.kind == "dimension"}
        before = tokens[m.start - 1].lower if m.start else ""
        if dims and (forgetting or before in _EVERY):
            cleared += [f"filter:{d}" for d in sorted(dims)]
    if forgetting and not cleared and _FILTER_WORD.search(sentence):
        cleared.append(CLEAR_FILTERS)
    if cleared or not values or forgetting:
        return [], cleared
    if not (_FIRST_PERSON.search(sentence) or persist) or _NEGATED.search(sentence):
        return [], []
    if _REPORTED.search(sentence) and not persist:
        return [], []  # "I asked about EUROPE yesterday" tells, it does not ask
    by_dimension: dict[str | None, dict[str, set[str]]] = {}
    for vm in values:
        dims_of_value = {ref.dimension for ref in vm.entries}
        choice = (
            next((d for d in dims_of_value if d in named), None)
            or sorted(dims_of_value, key=lambda d: d or "")[0]
        )
        for ref in vm.entries:
            if ref.dimension == choice:
                by_dimension.setdefault(choice, {}).setdefault(ref.value, set()).add(ref.space)
    prefs = []
    for dim, found in by_dimension.items():
        spaces = sorted({s for ss in found.values() for s in ss})
        prefs.append(
            Preference(f"filter:{dim or 'value'}", tuple(sorted(found)), dim, tuple(spaces), sentence.strip())
        )
    return prefs, []
