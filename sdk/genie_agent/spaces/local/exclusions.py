"""Exclusions: the values (and named filters) a question leaves out — "excluding the HOUSEHOLD
segment", "other than Berlin", "not counting Mitte", "leaving out the e-bikes", "with Berlin and
Munich left out". Each cue consumes its words; the values it names are excluded, not filtered on.
"""

from __future__ import annotations

from ...understanding.lexicon import Match
from .reading import Reading
from .vocabulary import Term
from .words import EXCLUSION_WORDS

__all__ = ["read_exclusions"]

# "leave out", "take out", "rule out": a verb with "out" that excludes what it names, before or after it.
_OUT_VERBS = frozenset(
    {"leave", "leaves", "leaving", "left", "take", "takes", "taking", "took", "taken", "rule", "rules",
     "ruling", "ruled", "filter", "filtering", "filtered", "cut", "cutting"}
)  # fmt: skip
_CUES = EXCLUSION_WORDS | _OUT_VERBS | {"other", "apart", "excluded"}
"""The first words of the cues: a question has none of them more often than not."""
_BEFORE_POSTFIX = frozenset({"is", "are", "was", "were", "be", "being", "been", "with", "and", "or", ","})


def read_exclusions(r: Reading) -> set[int]:
    """Values (and named filters) after "excluding", "except", "other than", "not", "without",
    "not counting", "leaving out", or before "left out" / "excluded" ("with Berlin taken out"):
    returns the start indices of the vocabulary matches they negate."""
    negated: set[int] = set()
    for i, w in enumerate(r.words):
        if w not in _CUES or not r.free(i):
            continue
        cue_end, postfix = _exclusion_cue(r, i)
        if cue_end is None:
            continue
        # "bikes taken out in Berlin" rents them: after a verb's "out" only an article may come first.
        found = _excluded(r, cue_end, _ARTICLES if postfix else _BEFORE_EXCLUDED)
        if not found and postfix:
            found = _excluded_before(r, i)
        if found:
            r.use(*range(i, cue_end))
            negated.update(m.start for m in found)
        elif postfix and cue_end - i == 2:
            # "out" is filler on its own: a "take out" that names nothing must not vanish.
            r.use(i, i + 1)
            r.problems.append(f"what {r.question_span(i, cue_end)!r} leaves out")
    return negated


def _exclusion_cue(r: Reading, i: int) -> tuple[int | None, bool]:
    """Where the exclusion cue at ``i`` ends (None: no cue), and whether it may follow what it
    excludes ("Berlin left out", "with cargo bikes excluded")."""
    w = r.word(i)
    if w == "not" and r.is_word(i + 1, "counting", "including"):
        return i + 2, False
    if w in EXCLUSION_WORDS:
        return i + 1, False
    if (w == "other" and r.is_word(i + 1, "than")) or (w == "apart" and r.is_word(i + 1, "from")):
        return i + 2, False
    if w in _OUT_VERBS and r.is_word(i + 1, "out"):
        return i + 2, True
    if w == "excluded":
        return i + 1, True
    return None, False


def _excluded_before(r: Reading, cue: int) -> list[Match[Term]]:
    """The values right before a postfix exclusion cue ("with Berlin and Munich left out")."""
    found: list[Match[Term]] = []
    k = cue - 1
    while k >= 0:
        m = r.match_at(k)
        if m is not None and any(t.kind in ("value", "filter") for t in m.entries):
            if found and not _same_dimension(found[0], m):
                break
            found.append(m)
            k = m.start - 1
            continue
        if r.words[k] in _BEFORE_POSTFIX and (found or r.words[k] not in ("and", "or", ",", "with")):
            k -= 1
            continue
        break
    return found


_BEFORE_EXCLUDED = frozenset({"the", "for", "in", "any", "a", "from", "of", "those", "with", "being"})
_ARTICLES = frozenset({"the", "any", "all"})


def _excluded(r: Reading, start: int, before: frozenset[str]) -> list[Match[Term]]:
    """The values an exclusion cue at ``start`` names: "excluding the HOUSEHOLD segment", "not
    Berlin or Munich". A list goes on with "and", "or" or a comma through values of the same
    dimension; a preposition after a value ends it ("except casual for Munich and Hamburg": the
    cities are kept, not excluded). A value of another dimension joined to the list ("excluding
    Berlin and e-bikes") could be excluded or kept: that is asked, not guessed."""
    found: list[Match[Term]] = []
    k = start
    while k < len(r.words) and k - start <= 4 + 2 * len(found):
        m = r.match_at(k)
        if m is not None and any(t.kind in ("value", "filter") for t in m.entries):
            if found and not _same_dimension(found[0], m):
                r.problems.append(f"whether {m.text!r} is excluded too")
                break
            found.append(m)
            k = m.end
            continue
        w = r.words[k]
        if w in ("and", "or", ",") or (w in before and not found):
            k += 1
            continue
        if found and w == "the" and r.is_word(k - 1, "and", "or", ","):
            k += 1
            continue
        if found and m is not None and any(t.kind == "dimension" for t in m.entries):
            k = m.end  # "excluding the HOUSEHOLD segment"
            continue
        break
    return found


def _same_dimension(first: Match[Term], other: Match[Term]) -> bool:
    """Both name values of one dimension (or both named filters)."""
    names = {(t.kind, t.name) for t in first.entries if t.kind in ("value", "filter")}
    return any((t.kind, t.name) in names for t in other.entries)
