"""What the spaces know, gathered once through the space protocol, for the router and the
preference extractor.

Each space gives its info and its routing terms (:meth:`~genie_agent.spaces.base.GenieSpace.routing_terms`):
a phrase, its kind, what it names and, for a value, its dimension. The router weighs the phrases by
kind; the preference extractor matches them: values with their dimensions, and the measures,
dimensions and filters they name. A local space names every indexed value with its dimension; a
remote Genie space configures a few words, which name themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..spaces.base import GenieSpace, RoutingTerm, SpaceInfo
from .lexicon import Lexicon, Match, Token, tokenize

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
    """Every space's info and routing terms; its values and named terms matched as phrases."""

    def __init__(self, spaces: Iterable[tuple[SpaceInfo, Sequence[RoutingTerm]]] = ()) -> None:
        self.spaces: dict[str, SpaceInfo] = {}
        self.routing_terms: dict[str, tuple[RoutingTerm, ...]] = {}
        self.values: Lexicon[ValueRef] = Lexicon()
        self.terms: Lexicon[TermRef] = Lexicon()
        for info, terms in spaces:
            self._add(info, tuple(terms))

    @classmethod
    def from_spaces(cls, spaces: Mapping[str, GenieSpace]) -> SpaceVocabulary:
        """Asks each space for its routing terms, once (the local engine indexes its values then)."""
        return cls((space.info, space.routing_terms()) for space in spaces.values())

    def _add(self, info: SpaceInfo, terms: tuple[RoutingTerm, ...]) -> None:
        self.spaces[info.id] = info
        self.routing_terms[info.id] = terms
        for term in terms:
            if term.name is None:
                continue  # points at the space, names nothing to remember ("how many e-bikes")
            if term.kind == "value":
                self.values.add(term.phrase, ValueRef(info.id, term.dimension, term.name))
            else:
                self.terms.add(term.phrase, TermRef(info.id, term.kind, term.name))

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
