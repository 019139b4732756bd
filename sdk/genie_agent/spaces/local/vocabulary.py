"""A space's vocabulary: every phrase the local engine understands, and what it means.

Built from the semantic model (names and synonyms) and from the data: the distinct values of
each indexed dimension, so "germany" is known to be a value of ``nation``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from ...understanding.lexicon import Lexicon, phrase_key, stem, tokenize
from ..semantic_model import SpaceDefinition, referenced_aliases
from .units import UnitOwner, unit_key, unit_words

__all__ = ["MAX_INDEXED_VALUES", "Term", "Vocabulary"]

TermKind = Literal["measure", "dimension", "time_dimension", "filter", "value"]
MAX_INDEXED_VALUES = 500
"""Dimensions with more distinct values than this are not indexed (names, ids, free text)."""
# Forms of English verbs the stemmer does not bring back to their base: a space whose prose says
# "riders take" also knows "rides were taken".
_IRREGULAR = {
    "take": ("took", "taken", "taking"), "buy": ("bought", "buying"), "ride": ("rode", "ridden", "riding"),
    "pay": ("paid", "paying"), "spend": ("spent", "spending"), "hold": ("held", "holding"),
    "sell": ("sold", "selling"), "make": ("made", "making"), "bring": ("brought", "bringing"),
    "get": ("got", "gotten", "getting"), "give": ("gave", "given", "giving"), "go": ("went", "gone", "going"),
    "run": ("ran", "running"), "keep": ("kept", "keeping"), "send": ("sent", "sending"),
    "ship": ("shipping",), "rent": ("renting",), "own": ("owning",), "use": ("using",),
}  # fmt: skip


@dataclass(frozen=True)
class Term:
    kind: TermKind
    name: str
    value: str | None = None


@dataclass(frozen=True)
class Vocabulary:
    space: SpaceDefinition
    lexicon: Lexicon[Term]
    values: Mapping[str, Sequence[str]]
    words: frozenset[str] = frozenset()
    """Stems of the space's own prose (title, description, instructions, sample questions): words
    a question may use without them naming data ("rented" in a bike-rental space)."""

    @classmethod
    def build(cls, space: SpaceDefinition, values: Mapping[str, Sequence[str]]) -> Vocabulary:
        """``values`` maps an indexed dimension's name to its distinct values in the data."""
        lexicon: Lexicon[Term] = Lexicon()
        for m in space.measures:
            lexicon.add_all(m.phrases, Term("measure", m.name))
        for d in space.dimensions:
            lexicon.add_all(d.phrases, Term("dimension", d.name))
        for t in space.time_dimensions:
            lexicon.add_all(t.phrases, Term("time_dimension", t.name))
        for f in space.filters:
            lexicon.add_all(f.phrases, Term("filter", f.name))
        for d in space.dimensions:
            for value in values.get(d.name, ()):
                if len(value) >= 2 and not value.isdigit():
                    lexicon.add(value, Term("value", d.name, value))
            for value, phrases in d.value_synonyms.items():
                lexicon.add_all(phrases, Term("value", d.name, value))
        prose = " ".join((space.title, space.description, space.instructions, *space.sample_questions))
        stems = {t.stem for t in tokenize(prose)}
        forms = {f for base, fs in _IRREGULAR.items() if base in stems for f in fs}
        return cls(space, lexicon, values, frozenset(stems | {stem(f) for f in forms}))

    @cached_property
    def superlatives(self) -> dict[str, tuple[str, str]]:
        """Word -> (measure, order) for words that rank by a measure ("busiest" -> orders, desc)."""
        out: dict[str, tuple[str, str]] = {}
        for m in sorted(self.space.measures, key=lambda m: m.name):
            for word, order in m.superlatives.items():
                out.setdefault(word.lower(), (m.name, order))
        return out

    @cached_property
    def unit_owners(self) -> tuple[UnitOwner, ...]:
        """The measures and dimensions whose values are in a unit."""
        s = self.space
        owners = [UnitOwner("measure", m.name, unit_key(m.unit)) for m in s.measures if m.unit]
        owners += [UnitOwner("dimension", d.name, unit_key(d.unit)) for d in s.dimensions if d.unit]
        return tuple(owners)

    @cached_property
    def unit_by_word(self) -> dict[str, str]:
        """Word (lowercase) -> unit key, for the units of this space's measures and columns."""
        out: dict[str, str] = {}
        units = [m.unit for m in self.space.measures] + [d.unit for d in self.space.dimensions]
        for unit in units:
            if unit is not None:
                for word in unit_words(unit):
                    out.setdefault(word, unit_key(unit))
        return out

    @cached_property
    def unit_names(self) -> dict[str, str]:
        """Unit key -> the unit as the model names it ("eur" -> "EUR")."""
        units = [m.unit for m in self.space.measures] + [d.unit for d in self.space.dimensions]
        return {unit_key(u): u.name for u in reversed(units) if u is not None}

    def unit_of(self, kind: str, name: str) -> str | None:
        """The unit key of a measure or dimension, if it has one."""
        return next((o.unit for o in self.unit_owners if o.kind == kind and o.name == name), None)

    @cached_property
    def term_words(self) -> frozenset[str]:
        """Stems of the words in the space's term phrases: alone, such a word is not the term
        ("account" is part of "account balance" but names nothing on its own)."""
        return frozenset(
            w for phrase in self.phrases() for w in phrase_key(phrase) if len(phrase_key(phrase)) > 1
        )

    @cached_property
    def table_nouns(self) -> dict[str, frozenset[str]]:
        """Dimension -> stems of the names (alias and table) of the tables its expression reads:
        the nouns that say what its values are ("Hauler bikes")."""
        out: dict[str, frozenset[str]] = {}
        for d in self.space.dimensions:
            aliases = referenced_aliases(d.expr)
            names = {n for a in aliases for n in (a, self.space.table_by_alias[a].physical)}
            out[d.name] = frozenset(stem(n) for n in names)
        return out

    @cached_property
    def text_dimensions(self) -> frozenset[str]:
        """Indexed dimensions with a value that is not a number: no numeric condition applies."""
        return frozenset(d for d, values in self.values.items() if any(not _is_number(v) for v in values))

    def is_column_measure(self, name: str) -> bool:
        return self.space.measure(name).column is not None

    def count_measure_for(self, dimension: str) -> str | None:
        """The COUNT measure whose grain table holds ``dimension`` ("how many e-bikes" counts bikes)."""
        tables = referenced_aliases(self.space.dimension(dimension).expr)
        for m in self.space.measures:
            if (m.expr or "").upper().startswith("COUNT(") and m.table in tables:
                return m.name
        return None

    def counted_values(self) -> list[tuple[str, str]]:
        """(value, dimension) pairs that name countable things: their dimension lives on a COUNT measure's table."""
        return [(v, d) for d, values in self.values.items() if self.count_measure_for(d) for v in values]

    def is_indexed(self, dimension: str) -> bool:
        return self.space.dimension(dimension).index_values

    def phrases(self) -> list[str]:
        """Names and synonyms of everything in the space (for routing and help)."""
        s = self.space
        out: list[str] = []
        for item in (*s.measures, *s.dimensions, *s.time_dimensions, *s.filters):
            out.extend(item.phrases)
        return out


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
