"""The accounting of a question's words after every reader ran: cue words next to the terms they
qualify are placed, and whatever is still unplaced is reported — as unknown (the space has no data
about it) or as unplaced (an operator, number or date understood as a word but not placed in the
plan). The engine declines naming them rather than answer a different question.
"""

from __future__ import annotations

from collections.abc import Collection

from ...understanding.lexicon import stem
from .plan import QueryPlan
from .reading import YEAR, Reading
from .words import (
    AGG_WORDS,
    ASC_WORDS,
    CHANGE_WORDS,
    COMPARE_WORDS,
    COUNT_CUES,
    DESC_WORDS,
    EXCLUSION_WORDS,
    FILLER,
    GRAIN_WORDS,
    GROUPING_CUES,
    MONTHS,
    PERIOD_NAME,
    PREPOSITIONS,
    SHARE_WORDS,
)

__all__ = ["account", "unknown_groupings", "unused_terms", "use_cues", "use_value_nouns"]

# Words that change an answer: a space's own prose never excuses them (see words.FILLER).
_OPERATORS = (
    DESC_WORDS | ASC_WORDS | EXCLUSION_WORDS | SHARE_WORDS | CHANGE_WORDS | COMPARE_WORDS
    | GRAIN_WORDS.keys() | MONTHS.keys()
    | {"between", "since", "before", "after", "until", "through", "within", "than", "more", "less", "fewer",
       "over", "under", "above", "below", "first", "last", "second", "half", "next", "previous", "only",
       "other", "ratio", "rate", "median", "distinct", "unique", "cumulative", "running", "rolling",
       "including", "include", "includes", "except", "each", "per", "top", "bottom"}
)  # fmt: skip


_CUES = AGG_WORDS.keys() | COUNT_CUES | {"by", "per", "each", "every", "across", "within"}


def use_cues(r: Reading) -> None:
    """Grouping cues and aggregation words next to the terms they qualify."""
    for i, w in enumerate(r.words):
        if w not in _CUES or not r.free(i):
            continue
        if (
            w in AGG_WORDS
            or w in COUNT_CUES
            or (
                w in ("by", "per", "each", "every", "across")
                and (r.matched[i + 1] if i + 1 < len(r.words) else False)
            )
        ):
            r.use(i)
        elif w in ("each", "every") and r.is_word(i - 1, "in", "for", "within", "by", "per"):
            r.use(i, i - 1)
        elif w == "within" and r.is_word(i + 1, "each", "every"):
            r.use(i, i + 1)


def use_value_nouns(r: Reading) -> None:
    """ "Hauler bikes", "BUILDING customers": a noun right after a value that names the table
    holding the value's dimension says what the value is, nothing more."""
    nouns = r.vocabulary.table_nouns
    for m in r.matches:
        if r.free(m.end) and any(
            t.kind == "value" and stem(r.words[m.end]) in nouns[t.name] for t in m.entries
        ):
            r.use(m.end)


def account(r: Reading) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Words no reader placed: unknown subjects (no data about them) and unplaced operators,
    numbers and dates (understood as words, not placed in the plan)."""
    prose = r.vocabulary.words - r.vocabulary.term_words
    unknown: list[str] = []
    unplaced: list[str] = []
    for i, w in enumerate(r.words):
        if r.matched[i] or r.used[i] or w in FILLER:
            continue
        if any(n.start <= i < n.end for n in r.numbers) or w.isdigit() or YEAR.match(w):
            unplaced.append(r.tokens[i].text)
            continue
        if w in _OPERATORS or stem(w) in _OPERATORS or PERIOD_NAME.fullmatch(w):
            unplaced.append(r.tokens[i].text)
            continue
        if not w.replace("-", "").replace("'", "").isalpha():
            continue
        if stem(w) in FILLER or stem(w) in prose or w in GROUPING_CUES or w in PREPOSITIONS:
            continue
        unknown.append(w)
    return tuple(unknown), tuple(dict.fromkeys(unplaced))


def unknown_groupings(r: Reading) -> list[str]:
    """Words after "by"/"per" that the space does not know ("revenue by weather")."""
    unknown = []
    words = r.words
    for i, w in enumerate(words):
        if w not in ("by", "per") or r.matched[i]:
            continue
        k = i + 1
        while k < len(words) and not r.matched[k] and words[k] in ("the", "each", "their", "a"):
            k += 1
        if k < len(words) and r.free(k) and words[k].isalpha() and words[k] not in FILLER:
            nxt = words[k]
            if nxt not in GRAIN_WORDS and nxt not in _OPERATORS:
                unknown.append(nxt)
    return unknown


# What the plan must use of each phrase the question names. Measures are not among them: a measure's
# noun often names the rows another measure is taken over ("revenue on 1997 orders").
_USED_KINDS = frozenset({"dimension", "value", "filter", "time_dimension"})


def unused_terms(r: Reading, plan: QueryPlan, scene: Collection[int] = ()) -> tuple[str, ...]:
    """Phrases the question names that the plan uses nowhere: a dimension it neither groups,
    filters, excludes nor compares by, a value it does not filter on, a named filter it does not
    apply. Each is a part of the question the answer would leave out: the engine declines naming
    it. A phrase that may also name a measure is left to the reader that chose; ``scene`` holds
    where an entity noun only sets the scene ("for customers in Europe")."""
    used = _plan_names(plan)
    out: list[str] = []
    for m in r.matches:
        if m.start in scene or r.replaces_at(m.start - 2):  # "by bike type instead of city"
            continue
        if not m.entries or any(t.kind not in _USED_KINDS for t in m.entries):
            continue
        if any((t.kind, t.name if t.kind != "value" else f"{t.name}={t.value}") in used for t in m.entries):
            continue
        out.append(r.question_span(m.start, m.end))
    return tuple(dict.fromkeys(out))


def _plan_names(plan: QueryPlan) -> set[tuple[str, str]]:
    """(kind, name) of everything the plan uses; a value as ``dimension=value``."""
    used = {("dimension", d) for d in plan.group_by}
    for dim, values in (*plan.filters, *plan.exclusions):
        used.add(("dimension", dim))
        used |= {("value", f"{dim}={v}") for v in values}
    used |= {("filter", f.removeprefix("not:")) for f in plan.named_filters}
    used |= {("dimension", c.target) for c in plan.conditions}
    for name in (plan.per_group, plan.ratio.denominator if plan.ratio else None, plan.share_of):
        if name:
            used |= {("dimension", name), ("filter", name.removeprefix("filter:"))}
    if plan.time_dimension:
        used.add(("time_dimension", plan.time_dimension))
    return used
