"""The state of reading one question: its tokens, what the vocabulary matched, and which words
each reader has placed. Readers mark the words they consume; whatever no reader placed and is not
filler is reported, so no word is dropped silently."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ...understanding.lexicon import Match, Token
from .vocabulary import Term, Vocabulary

__all__ = ["NumberSpan", "Reading", "read_numbers"]

_NUMERIC = re.compile(r"^(\d+(?:\.\d+)?)(k|m|mm|mn|b|bn)?$")
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mm": 1e6, "mn": 1e6, "million": 1e6, "b": 1e9,
          "bn": 1e9, "billion": 1e9}  # fmt: skip
YEAR = re.compile(r"^(19|20)\d\d$")


@dataclass(frozen=True)
class NumberSpan:
    start: int
    end: int
    value: float
    percent: bool
    text: str
    unit: str | None = None
    """The key of the unit written with the number ("40 minutes", "€5"), one of the space's."""


@dataclass
class Reading:
    """One question being read against one space's vocabulary."""

    question: str
    tokens: list[Token]
    vocabulary: Vocabulary
    matches: list[Match[Term]]
    words: list[str] = field(init=False)
    matched: list[bool] = field(init=False)
    used: list[bool] = field(init=False)
    problems: list[str] = field(default_factory=list)
    """Bad input found while reading (a reversed range, contradictory conditions): a clarify."""
    numbers: list[NumberSpan] = field(default_factory=list)
    _taken: list[bool] = field(init=False, repr=False)
    """Matched, used, or a number's unit: what :meth:`free` reads (called hundreds of times)."""

    def __post_init__(self) -> None:
        self.words = [t.lower for t in self.tokens]
        self.matched = [False] * len(self.tokens)
        for m in self.matches:
            for i in range(m.start, m.end):
                self.matched[i] = True
        self.used = [False] * len(self.tokens)
        self._taken = list(self.matched)

    def free(self, i: int) -> bool:
        """Neither a vocabulary term, the unit of a number ("60 min") nor placed by a reader yet."""
        return 0 <= i < len(self._taken) and not self._taken[i]

    def use(self, *indices: int) -> None:
        for i in indices:
            if 0 <= i < len(self.used):
                self.used[i] = self._taken[i] = True

    def unit_at(self, i: int) -> None:
        """The word at ``i`` is the unit of the number before it: read with it, by no other reader."""
        self._taken[i] = True

    def word(self, i: int) -> str:
        return self.words[i] if 0 <= i < len(self.words) else ""

    def is_word(self, i: int, *options: str) -> bool:
        return 0 <= i < len(self.words) and self.words[i] in options

    def replaces_at(self, i: int) -> bool:
        """Words ``i`` and ``i + 1`` are "instead of" or "rather than": what follows is replaced."""
        return (self.is_word(i, "instead") and self.is_word(i + 1, "of")) or (
            self.is_word(i, "rather") and self.is_word(i + 1, "than")
        )

    def question_span(self, start: int, end: int) -> str:
        return self.question[self.tokens[start].start : self.tokens[end - 1].end]

    def number_at(self, i: int) -> NumberSpan | None:
        for n in self.numbers:  # a plain loop: called a dozen times per question, mostly with no numbers
            if n.start == i:
                return n
        return None

    def match_at(self, i: int) -> Match[Term] | None:
        return next((m for m in self.matches if m.start <= i < m.end), None)


def read_numbers(r: Reading) -> None:
    """Numeric literals: "600", "-500", "5,000", "1.5M", "2 billion", "$5000", "5%", "10 percent".

    Four-digit numbers from 1900 to 2099 are years unless a comparator stands before them."""
    words, tokens, text = r.words, r.tokens, r.question
    i = 0
    while i < len(words):
        m = _NUMERIC.match(words[i])
        if not m or r.matched[i]:
            i += 1
            continue
        if YEAR.match(words[i]) and not _after_comparator(words, i):
            i += 1
            continue
        value, end = float(m.group(1)), i + 1
        # "5,000,000": digit groups joined by commas with nothing between them.
        while (
            m.group(2) is None
            and end < len(words)
            and re.fullmatch(r"\d{3}", words[end])
            and text[tokens[end - 1].end : tokens[end].start] == ","
        ):
            value = value * 1000 + float(words[end])
            end += 1
        scale = m.group(2) or (words[end] if end < len(words) and words[end] in _SCALE else None)
        if scale is not None:
            value *= _SCALE[scale]
            if m.group(2) is None:
                end += 1
        percent = text[tokens[end - 1].end : tokens[end - 1].end + 1] == "%"
        if not percent and end < len(words) and words[end] in ("percent", "pct", "%"):
            percent, end = True, end + 1
        first = _minus_sign(text, tokens[i].start)
        if first is not None:
            value = -value
        first = tokens[i].start if first is None else first
        unit, end = _unit(r, i, end) if r.vocabulary.unit_by_word and not percent else (None, end)
        r.numbers.append(NumberSpan(i, end, value, percent, text[first : tokens[end - 1].end], unit))
        i = end


def _unit(r: Reading, start: int, end: int) -> tuple[str | None, int]:
    """The unit written with the number at ``start``..``end``: a word after it ("40 minutes") or a
    symbol against it ("€5", "5€"); with where the number and its unit end."""
    units = r.vocabulary.unit_by_word
    if end < len(r.words) and r.words[end] in units and not r.matched[end]:
        r.unit_at(end)
        return units[r.words[end]], end + 1
    text, before, after = r.question, r.tokens[start].start, r.tokens[end - 1].end
    for symbol in (text[before - 1 : before].strip(), text[after : after + 1].strip()):
        if symbol and symbol in units:
            return units[symbol], end
    return None, end


def _minus_sign(text: str, start: int) -> int | None:
    """Where the minus sign of the number at ``start`` stands ("-500", "-$200"), if it has one: a
    dash right before it that does not join it to a word ("e-5") and follows no number ("300 -400"
    is a range written loosely, not 300 and minus 400)."""
    k = start - 1
    if k >= 0 and text[k] == "$":
        k -= 1
    if k < 0 or text[k] not in "-\u2212" or (k > 0 and text[k - 1] not in " \t(,:="):
        return None
    before = text[:k].rstrip()
    return None if before[-1:].isdigit() else k


_COMPARATOR_WORDS = frozenset(
    {"over", "above", "under", "below", "than", "exceeds", "exceeded", "exceed", "exceeding", "least",
     "most", "to", "and", "between", "balance", "of"}
)  # fmt: skip


def _after_comparator(words: list[str], i: int) -> bool:
    prev = words[i - 1] if i > 0 else ""
    if prev in ("to", "and", "between", "of"):
        # "between 10 and 2000": a number only when the other end is a plain number too.
        return any(_NUMERIC.match(w) and not YEAR.match(w) for w in words[max(0, i - 3) : i])
    return prev in _COMPARATOR_WORDS
