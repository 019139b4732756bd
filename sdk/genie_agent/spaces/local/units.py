"""Units of measure: the words a question writes with a number ("40 minutes", "5 euros", "€5"),
the kind of quantity each unit measures, and the English that names a kind without a unit:
"rides lasted over 40 minutes", "rides longer than 90 minutes", "bikes that cost more than 2000".

A space declares a measure's or a column's unit (``unit: minutes``); the engine knows the usual
words of well-known units, and of each kind of quantity its verbs and comparatives.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..semantic_model import Unit

__all__ = ["KIND_COMPARATIVES", "KIND_VERBS", "UnitOwner", "unit_key", "unit_kind", "unit_words"]

_KNOWN: dict[str, tuple[str, tuple[str, ...]]] = {
    "seconds": ("duration", ("second", "seconds", "sec", "secs")),
    "minutes": ("duration", ("minute", "minutes", "min", "mins")),
    "hours": ("duration", ("hour", "hours", "hr", "hrs")),
    "days": ("duration", ("day", "days")),
    "eur": ("money", ("eur", "euro", "euros", "€")),
    "usd": ("money", ("usd", "dollar", "dollars", "$")),
    "gbp": ("money", ("gbp", "pound", "pounds", "£")),
    "km": ("distance", ("km", "kms", "kilometre", "kilometres", "kilometer", "kilometers")),
    "miles": ("distance", ("mile", "miles", "mi")),
    "kg": ("weight", ("kg", "kgs", "kilo", "kilos", "kilogram", "kilograms")),
}
_ALIASES = {word: key for key, (_, words) in _KNOWN.items() for word in words}

KIND_VERBS: dict[str, frozenset[str]] = {
    "duration": frozenset({"last", "lasted", "lasting", "lasts"}),
    "money": frozenset({"cost", "costs", "costing", "priced", "paid", "pay", "pays", "spent"}),
}
"""Verbs that say a quantity of the kind ("rides lasted over 40 minutes", "bikes that cost 500 to 2000")."""
KIND_COMPARATIVES: dict[str, tuple[str, str]] = {
    "longer": ("duration", ">"), "shorter": ("duration", "<"),
    "cheaper": ("money", "<"), "pricier": ("money", ">"), "costlier": ("money", ">"),
}  # fmt: skip
"""Comparatives that say the kind they compare ("rides longer than 90 minutes")."""


@dataclass(frozen=True)
class UnitOwner:
    """A measure or dimension whose values are in a unit."""

    kind: str
    """``measure`` or ``dimension``."""
    name: str
    unit: str
    """The unit's key (:func:`unit_key`)."""


def unit_key(unit: Unit) -> str:
    """One key per unit whatever its name's spelling ("EUR", "euro", "Euros" -> "eur")."""
    name = unit.name.strip().lower()
    return _ALIASES.get(name, name)


def unit_kind(key: str) -> str | None:
    """The kind of quantity a unit measures ("minutes" -> "duration"), for well-known units."""
    known = _KNOWN.get(key)
    return known[0] if known else None


def unit_words(unit: Unit) -> frozenset[str]:
    """Every word (lowercase) a question may write for the unit: its name, synonyms, usual words."""
    key = unit_key(unit)
    usual = _KNOWN[key][1] if key in _KNOWN else ()
    return frozenset(w.strip().lower() for w in (*unit.phrases, *usual) if w.strip())
