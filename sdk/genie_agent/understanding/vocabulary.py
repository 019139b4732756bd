"""The spaces' vocabulary as preference extraction needs it: values with their dimensions, and terms.

The local engine knows which dimension each indexed value belongs to; other spaces (Databricks
Genie) give routing terms only, so their values come without a dimension.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..spaces.base import GenieSpace
from ..understanding.lexicon import Lexicon, Match, Token, tokenize

__all__ = ["SpaceVocabulary", "TermRef", "ValueRef"]


@dataclass(frozen=True)
class ValueRef:
    space: str
    dimension: str | None
    value: str


@dataclass(frozen=True)
class TermRef:
    space: str
    kind: str
    name: str


class SpaceVocabulary:
    """Measures, dimensions and indexed values of every space, matched as phrases."""

    def __init__(self) -> None:
        self.values: Lexicon[ValueRef] = Lexicon()
        self.terms: Lexicon[TermRef] = Lexicon()

    @classmethod
    def from_spaces(cls, spaces: Mapping[str, GenieSpace]) -> SpaceVocabulary:
        """Exact dimensions of each value where the space knows them (the local engine), else its routing terms."""
        vocab = cls()
        for sid, space in spaces.items():
            local = getattr(space, "vocabulary", None)
            model = getattr(local, "space", None)
            values = getattr(local, "values", None)
            if model is None or values is None:
                for term in space.routing_terms():
                    if term.kind == "value":
                        vocab.values.add(term.phrase, ValueRef(sid, None, term.phrase))
                    else:
                        vocab.terms.add(term.phrase, TermRef(sid, term.kind, term.phrase))
                continue
            for kind, items in (
                ("measure", model.measures),
                ("dimension", model.dimensions),
                ("time_dimension", model.time_dimensions),
                ("filter", model.filters),
            ):
                for item in items:
                    for phrase in item.phrases:
                        vocab.terms.add(phrase, TermRef(sid, kind, item.name))
            for d in model.dimensions:
                for value in values.get(d.name, ()):
                    if len(value) >= 2 and not value.isdigit():
                        vocab.values.add(value, ValueRef(sid, d.name, value))
                for value, phrases in d.value_synonyms.items():
                    for phrase in phrases:
                        vocab.values.add(phrase, ValueRef(sid, d.name, value))
        return vocab

    def matches(self, text: str) -> tuple[list[Token], list[Match[ValueRef]], list[Match[TermRef]]]:
        tokens = tokenize(text)
        return tokens, self.values.match(tokens, text), self.terms.match(tokens, text)

    def names_dimension(self, text: str, space: str, dimension: str | None, values: Iterable[str]) -> bool:
        """Does ``text`` name ``dimension`` (by name, synonym or any of its values) in ``space``?"""
        _, value_matches, term_matches = self.matches(text)
        wanted = {v.lower() for v in values}
        for m in value_matches:
            for ref in m.entries:
                if ref.space == space and (
                    ref.dimension == dimension if dimension else ref.value.lower() in wanted
                ):
                    return True
        return dimension is not None and any(
            ref.space == space and ref.kind == "dimension" and ref.name == dimension
            for m in term_matches
            for ref in m.entries
        )

    def known_values(self, phrase: str) -> tuple[ValueRef, ...]:
        """The indexed values ``phrase`` names exactly (a value or one of its synonyms), in any space."""
        return self.values.get(phrase)

    def values_by_dimension(self, per_dimension: int = 40) -> dict[str, list[str]]:
        """Each dimension's indexed values (at most ``per_dimension``; ``value`` for values without a
        dimension), for telling an LLM what the spaces know."""
        out: dict[str, list[str]] = {}
        for ref in self.values.entries():
            known = out.setdefault(ref.dimension or "value", [])
            if ref.value not in known and len(known) < per_dimension:
                known.append(ref.value)
        return out
