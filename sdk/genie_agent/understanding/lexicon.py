"""Tokens and phrase matching shared by the local Genie engine and the router.

Questions are tokenized, each token reduced to a crude stem (plural ``s`` dropped) so that
"regions" matches "region", and phrases are matched greedily, longest first, left to right.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Generic, TypeVar

__all__ = ["Lexicon", "Match", "Token", "stem", "tokenize"]

T = TypeVar("T")

_TOKEN = re.compile(r"\d{4}-\d{2}-\d{2}|[A-Za-z0-9#]+(?:[-'.&][A-Za-z0-9#]+)*")
_NO_STEM = frozenset({"this", "has", "was", "is", "its", "us", "as", "less", "across", "always"})


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A deliberately small stemmer: case-fold, drop possessives and a plural ending."""
    w = word.lower()
    if w.endswith("'s"):
        w = w[:-2]
    # Hyphenated words stem too ("e-bikes" -> "e-bike"); anything with digits ("1-URGENT") does not.
    if w in _NO_STEM or len(w) <= 3 or not w.replace("-", "").isalpha():
        return w
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("sses", "ches", "shes", "xes")):
        return w[:-2]
    if w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


@dataclass(frozen=True)
class Token:
    text: str
    stem: str
    start: int
    end: int

    @property
    def lower(self) -> str:
        return self.text.lower()


_MEMO_MAX_CHARS = 4000


def tokenize(text: str) -> list[Token]:
    """Split text into word tokens with their stems and character offsets."""
    # A turn tokenizes its question several times (preferences, recall, routing): memoized.
    if len(text) <= _MEMO_MAX_CHARS:
        return list(_tokens(text))
    return list(_tokens.__wrapped__(text))


@lru_cache(maxsize=1024)
def _tokens(text: str) -> tuple[Token, ...]:
    return tuple(Token(m.group(0), stem(m.group(0)), m.start(), m.end()) for m in _TOKEN.finditer(text))


def phrase_key(phrase: str) -> tuple[str, ...]:
    """The stems of ``phrase``'s tokens (without making them: building the lexicons keys thousands of phrases)."""
    return tuple(stem(m.group(0)) for m in _TOKEN.finditer(phrase))


@dataclass(frozen=True)
class Match(Generic[T]):
    """Tokens ``[start, end)`` matched one phrase, which means each of ``entries``."""

    start: int
    end: int
    entries: tuple[T, ...]
    text: str


@dataclass
class Lexicon(Generic[T]):
    """Phrase -> entries, matched over token sequences."""

    _phrases: dict[tuple[str, ...], list[T]] = field(default_factory=dict)
    _first: dict[str, int] = field(default_factory=dict)
    """First stem of a phrase -> its longest phrase length: most tokens start no phrase and are skipped."""

    def add(self, phrase: str, entry: T) -> None:
        key = phrase_key(phrase)
        if not key:
            return
        bucket = self._phrases.setdefault(key, [])
        if entry not in bucket:
            bucket.append(entry)
        self._first[key[0]] = max(self._first.get(key[0], 0), len(key))

    def add_all(self, phrases: Iterable[str], entry: T) -> None:
        for phrase in phrases:
            self.add(phrase, entry)

    def __len__(self) -> int:
        return len(self._phrases)

    def get(self, phrase: str) -> tuple[T, ...]:
        """The entries of exactly ``phrase`` (compared by stems, as matching does)."""
        return tuple(self._phrases.get(phrase_key(phrase), ()))

    def entries(self) -> Iterator[T]:
        """Every entry, once per phrase it was added under."""
        for bucket in self._phrases.values():
            yield from bucket

    def match(self, tokens: Sequence[Token], text: str) -> list[Match[T]]:
        """Greedy longest-first matches, left to right; unmatched tokens are skipped."""
        found: list[Match[T]] = []
        i = 0
        while i < len(tokens):
            longest = self._first.get(tokens[i].stem, 0)
            for n in range(min(longest, len(tokens) - i), 0, -1):
                key = tuple(t.stem for t in tokens[i : i + n])
                entries = self._phrases.get(key)
                if entries:
                    span = text[tokens[i].start : tokens[i + n - 1].end]
                    found.append(Match(i, i + n, tuple(entries), span))
                    i += n
                    break
            else:
                i += 1
        return found
