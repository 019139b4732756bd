"""Preferences stated in plain language, extracted deterministically.

Statements are recognised by what they are about, not by fixed sentences: chart words with their
negations ("tables, not charts", "I'd rather see bars than pies", "no pie charts"), scale words
("numbers in millions", "round to the nearest thousand", "in $M"), and any dimension value the
spaces index, said by the user about themselves ("my region is EUROPE", "I only care about
Germany and France", "we work in the AUTOMOBILE segment", "from now on focus on ASIA").
"remember ..." with nothing structured in it is kept as a note. A sentence that asks for data is
never a preference: display words in it ("... in millions?", "... as a table") apply to that
question only and are taken out before the spaces see it.

The vocabulary comes from the spaces (measures, dimensions, their synonyms and indexed values),
so a new space's values are understood with no code change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from ..understanding.clauses import strip_presentation
from ..understanding.lexicon import Match, Token, tokenize
from .store import MemoryChange, MemoryItem
from .vocabulary import SpaceVocabulary, TermRef, ValueRef

__all__ = [
    "ChartChoice",
    "Extraction",
    "Preference",
    "PreferenceExtractor",
    "Scale",
    "SpaceVocabulary",
    "describe_all",
    "preferences_from",
]

ChartChoice = Literal["table", "bar", "line", "pie"]
Scale = Literal["thousands", "millions", "billions"]
CLEAR_ALL = "*"
CLEAR_FILTERS = "filter:*"


@dataclass(frozen=True)
class Preference:
    """One standing preference. A later statement on the same ``slot`` replaces it.

    Slots: ``chart`` (values: the chart type wanted), ``chart-avoid`` (types not wanted), ``scale``
    (thousands/millions/billions), ``filter:<dimension>`` (values to keep; ``spaces`` that have them).
    """

    slot: str
    values: tuple[str, ...]
    dimension: str | None = None
    spaces: tuple[str, ...] = ()
    source: str = ""

    @property
    def key(self) -> str:
        return "pref-" + re.sub(r"[^a-z0-9]+", "-", self.slot.lower()).strip("-")

    def describe(self) -> str:
        if self.slot == "chart":
            return "tables instead of charts" if self.values[0] == "table" else f"{self.values[0]} charts"
        if self.slot == "chart-avoid":
            return "no " + " or ".join(self.values) + " charts"
        if self.slot == "scale":
            return f"numbers in {self.values[0]}"
        where = f"{self.dimension} " if self.dimension else ""
        return f"only {where}{', '.join(self.values)}"

    def to_change(self) -> MemoryChange:
        data = {
            "slot": self.slot,
            "values": list(self.values),
            "dimension": self.dimension,
            "spaces": list(self.spaces),
            "source": self.source,
        }
        text = self.describe()
        return MemoryChange("preference", self.key, text[:1].upper() + text[1:], data, "")

    @classmethod
    def from_memory(cls, item: MemoryItem) -> Preference | None:
        data = item.data
        if item.kind != "preference" or not data.get("slot") or not data.get("values"):
            return None
        return cls(
            str(data["slot"]),
            tuple(str(v) for v in data["values"]),
            data.get("dimension"),
            tuple(data.get("spaces") or ()),
            str(data.get("source") or ""),
        )


@dataclass(frozen=True)
class Extraction:
    """What a message says to remember, and what it asks."""

    question: str
    """What is left to answer once statements are taken out ("" when the message only stated preferences)."""
    preferences: tuple[Preference, ...] = ()
    transient: tuple[Preference, ...] = ()
    """Display choices for this question only ("... in millions?")."""
    notes: tuple[str, ...] = ()
    clears: tuple[str, ...] = ()
    """Slots to forget; ``filter:*`` every filter, ``*`` everything."""
    sources: tuple[str, ...] = field(default=(), compare=False)

    @property
    def remembers(self) -> bool:
        return bool(self.preferences or self.notes or self.clears)


_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
_CUE = r"(?:from now on|going forward|moving forward|in (?:the )?future|always|by default|remember|please remember|i\b|i'd|i'm|i'll|my\b|we\b|we're|our\b)"
_CLAUSE = re.compile(rf",?\s+(?:and|but|also|plus|then)\s+(?={_CUE})|,\s+(?={_CUE})", re.IGNORECASE)
_LEAD_IN = re.compile(
    r"(?:(?:and|also|so|please|ok|okay|then|plus|honestly|oh)\b[\s,]*)*(?:from now on|going forward|"
    r"moving forward|in (?:the )?future|from here on|by default)?",
    re.IGNORECASE,
)
_QUESTION = re.compile(
    r"^\W*(?:what|which|who|whom|whose|when|where|why|how|is|are|was|were|do|does|did|can|could|would|"
    r"will|should|has|have|had|list|compare|rank|count)\b",
    re.IGNORECASE,
)
_PERSIST = re.compile(
    r"\b(?:from now on|going forward|moving forward|in (?:the )?future|from here on|always|by default|"
    r"every ?time|each time|whenever|default to|stick to|for all (?:my )?(?:questions|answers)|all the time|"
    r"remember|keep in mind|don'?t forget|do not forget|note that|make a note)\b",
    re.IGNORECASE,
)
_REMEMBER = re.compile(
    r"^\W*(?:please\s+)?(?:remember|note|keep in mind|don'?t forget|do not forget|make a note|"
    r"for future reference|fyi)\b[\s,:]*(?:that\s+|this\s*:\s*)?",
    re.IGNORECASE,
)
_FIRST_PERSON = re.compile(r"\b(?:i|i'm|im|i've|i'd|my|mine|we|we're|our|ours)\b", re.IGNORECASE)
_NEGATED = re.compile(
    r"\b(?:not|no|never|don'?t|doesn'?t|except|excluding|exclude|other than|outside|ignore|without|nor)\b",
    re.IGNORECASE,
)
_REPORTED = re.compile(r"\b(?:asked|said|told|visited|went|was|were|did|saw)\b", re.IGNORECASE)
_FORGET = re.compile(
    r"\b(?:forget|clear|reset|drop|remove|erase|delete|stop|no longer|any ?more|undo|unset|cancel)\b",
    re.IGNORECASE,
)
_FORGET_ALL = re.compile(
    r"\b(?:forget|clear|reset|drop|erase|delete|remove)\b.{0,24}\b(?:everything|all (?:my |your |of my |the )?"
    r"(?:preferences|settings|memories)|my (?:preferences|settings)|what i (?:told|said)|all of it)\b",
    re.IGNORECASE,
)
# A request to change data ("Drop the customer table", "delete all rows from orders") is refused by
# the router; it states nothing to remember even when its object is a display word ("table").
_DATA_OBJECT = re.compile(
    r"\b(?:tables?|views?|schemas?|databases?|rows?|records?|columns?|data|dataset|entries)\b", re.IGNORECASE
)
_MEMORY_OBJECT = re.compile(
    r"\b(?:preferences?|settings?|memor(?:y|ies)|filters?|defaults?|charts?|graphs?|remember(?:ed)?|"
    r"what i (?:told|said)|my|me)\b",
    re.IGNORECASE,
)


def _changes_data(sentence: str) -> bool:
    from ..understanding.write_intent import write_intent

    return (
        write_intent(sentence) is not None
        and bool(_DATA_OBJECT.search(sentence))
        and not _MEMORY_OBJECT.search(sentence)
    )


_EVERY = {"all", "any", "every", "each"}
# "most ridden model in every city" asks for a ranking; it does not state a preference.
_RANKING = re.compile(
    r"\b(?:most|least|top|bottom|best|worst|highest|lowest|fewest|biggest|largest|smallest)\b", re.I
)
_FILTER_WORD = re.compile(r"\b(?:filter|filters|filtering)\b", re.IGNORECASE)

_CHART_WORDS: dict[str, ChartChoice | None] = {
    "table": "table",
    "tabular": "table",
    "grid": "table",
    "spreadsheet": "table",
    "bar": "bar",
    "histogram": "bar",
    "line": "line",
    "pie": "pie",
    "donut": "pie",
    "doughnut": "pie",
    "chart": None,
    "graph": None,
    "plot": None,
    "visual": None,
    "visualization": None,
    "visualisation": None,
    "viz": None,
    "diagram": None,
    "graphic": None,
    "charting": None,
}
_CHART_NEGATORS = frozenset(
    "not no never don't dont without instead than over hate dislike avoid stop skip nor less fewer "
    "none neither ditch lose".split()
)
_CHART_RESETS = frozenset("but just only".split())
_DISLIKE = re.compile(
    r"\b(?:useless|confusing|hard to read|unreadable|awful|terrible|annoying|ugly|sucks?|pointless|bad|"
    r"hate|dislike|misleading|noisy)\b",
    re.IGNORECASE,
)
_SCALE_WORDS: dict[str, Scale] = {
    "thousand": "thousands",
    "thousands": "thousands",
    "k": "thousands",
    "million": "millions",
    "millions": "millions",
    "mm": "millions",
    "mn": "millions",
    "mio": "millions",
    "m": "millions",
    "billion": "billions",
    "billions": "billions",
    "bn": "billions",
    "b": "billions",
}
_SHORT_SCALE = frozenset({"k", "m", "b", "mm", "mn", "bn", "mio"})
_SCALE_CLEAR = re.compile(
    r"\b(?:full|exact|precise|unrounded|raw|complete|whole|all the)\s+(?:numbers|figures|values|amounts|digits|"
    r"precision)\b|\bno\s+(?:rounding|abbreviations?|scaling|millions|thousands|billions)\b|"
    r"\b(?:don'?t|do not|stop|never)\s+(?:round|abbreviate|scale|rounding|abbreviating|scaling)\b|\bevery digit\b",
    re.IGNORECASE,
)
_SCALE_PHRASE = re.compile(
    r",?\s*\b(?:(?:please\s+)?(?:show|give|display|express|write)\s+(?:it|them|the numbers|numbers|figures|"
    r"amounts|values)?\s*)?(?:in|as|to the nearest|rounded to|round(?:ed)? to)\s+(?:\$\s*|€\s*)?"
    r"(thousands?|millions?|billions?|k|mm|mn|bn|m|b)\b(?:\s+please)?",
    re.IGNORECASE,
)
_CHART_PHRASE = re.compile(
    r",?\s*\b(?:as|in|with|using|on|via)\s+(?:a\s+|an\s+)?(tables?|tabular form|bar charts?|bar graphs?|bars|"
    r"line charts?|line graphs?|pie charts?|pies?|donut charts?)\b(?!\s+items?)(?:\s+please)?",
    re.IGNORECASE,
)


def _chart_choice(word: str) -> ChartChoice:
    w = word.lower()
    for stem, choice in _CHART_WORDS.items():
        if choice is not None and w.startswith(stem):
            return choice
    return "table"


class PreferenceExtractor:
    """Finds preferences in a message, from the spaces' vocabulary. Deterministic and cheap (~0.1 ms)."""

    def __init__(self, vocabulary: SpaceVocabulary) -> None:
        self.vocabulary = vocabulary

    def extract(self, message: str, *, understood: Iterable[str] = ()) -> Extraction:
        """What ``message`` states and asks. Sentences in ``understood`` (as :meth:`candidates` gives
        them) are statements understood elsewhere (by an LLM): taken out of the question too."""
        elsewhere = set(understood)
        prefs: dict[str, Preference] = {}
        transient: dict[str, Preference] = {}
        notes: list[str] = []
        clears: list[str] = []
        kept: list[str] = []
        sources: list[str] = []
        # "... in one table", "side by side": the parts of this answer joined, not a way to show every answer.
        for sentence in self._sentences(strip_presentation(message) or message):
            found = self._statement(sentence)
            if found is None and sentence in elsewhere:
                sources.append(sentence)
                continue
            if found is None:
                question, once = self._strip_display(sentence)
                for p in once:
                    transient[p.slot] = p
                if question.strip(" ,.;"):
                    kept.append(question)
                continue
            stated, cleared, note = found
            for p in stated:
                prefs[p.slot] = p
            clears += [c for c in cleared if c not in clears]
            if note:
                notes.append(note)
            sources.append(sentence)
        question = " ".join(s.strip() for s in kept).strip()
        return Extraction(
            question,
            tuple(prefs.values()),
            tuple(p for s, p in transient.items() if s not in prefs),
            tuple(notes),
            tuple(clears),
            tuple(sources),
        )

    def candidates(self, message: str) -> list[tuple[str, bool]]:
        """The sentences of ``message`` that may state something (not data questions), each with
        whether this extractor understood it."""
        out = []
        for sentence in self._sentences(message):
            _, _, terms = self.vocabulary.matches(sentence)
            if self._asks_data(sentence, terms) or _changes_data(sentence):
                continue
            out.append((sentence, self._statement(sentence) is not None))
        return out

    @staticmethod
    def _asks_data(sentence: str, terms: list[Match[TermRef]]) -> bool:
        """A data question (or a data phrase), with no cue that it states something to remember."""
        measure = any(r.kind == "measure" for m in terms for r in m.entries)
        remember = _REMEMBER.match(sentence)
        persist = bool(_PERSIST.search(sentence))
        question = (
            sentence.rstrip().endswith("?")
            or bool(_QUESTION.match(sentence))
            or bool(_RANKING.search(sentence))
        )
        return not (remember or persist or (not question and not measure))

    @staticmethod
    def _sentences(message: str) -> list[str]:
        out: list[str] = []
        for sentence in _SENTENCE.split(message.strip()):
            carry = ""
            for clause in _CLAUSE.split(sentence):
                if not clause or not clause.strip(" ,.;"):
                    continue
                if _LEAD_IN.fullmatch(clause.strip(" ,.;")):  # "Going forward, we're ...": goes with the next
                    carry += clause.rstrip(" ,") + ", "
                    continue
                out.append(carry + clause)
                carry = ""
            if carry and out:
                out[-1] += " " + carry.rstrip(", ")
        return out

    def _statement(self, sentence: str) -> tuple[list[Preference], list[str], str | None] | None:
        """Preferences, clears and a note stated by ``sentence``; None when it is not a statement."""
        tokens, values, terms = self.vocabulary.matches(sentence)
        if self._asks_data(sentence, terms) or _changes_data(sentence):
            return None
        remember = _REMEMBER.match(sentence)
        persist = bool(_PERSIST.search(sentence))
        body = sentence[remember.end() :] if remember else sentence
        spans = [(m.start, m.end) for m in values] + [(m.start, m.end) for m in terms]
        masked = {i for start, end in spans for i in range(start, end)}
        if _FORGET_ALL.search(body):
            return [], [CLEAR_ALL], None
        stated: list[Preference] = []
        cleared: list[str] = []
        forgetting = bool(_FORGET.search(body))
        chart = self._chart(body, tokens, masked, forgetting)
        if isinstance(chart, Preference):
            stated.append(chart)
        elif chart:
            cleared += ["chart", "chart-avoid"]
        scale = self._scale(body, tokens, masked)
        if _SCALE_CLEAR.search(body) or (forgetting and scale is not None):
            cleared.append("scale")
        elif scale is not None:
            stated.append(Preference("scale", (scale,), source=sentence.strip()))
        stated_filters, cleared_filters = self._filters(sentence, tokens, values, terms, persist, forgetting)
        stated += stated_filters
        cleared += cleared_filters
        if stated or cleared:
            return stated, cleared, None
        if remember and body.strip(" ,.;"):
            return [], [], body.strip().rstrip(".")
        return None

    def _chart(
        self, body: str, tokens: list[Token], masked: set[int], forgetting: bool
    ) -> Preference | bool | None:
        """A chart preference, True to clear chart preferences, or None when no chart is mentioned."""
        positive: list[ChartChoice] = []
        negative: list[ChartChoice] = []
        generic_pos = generic_neg = False
        pending = 0
        previous_specific = -2
        for i, t in enumerate(tokens):
            if i > 0 and "," in body[tokens[i - 1].end : t.start]:
                pending = 0
            word = t.lower
            if word in _CHART_NEGATORS or word.endswith("n't"):
                pending = 4
                continue
            if word in _CHART_RESETS:
                pending = 0
            known = t.stem in _CHART_WORDS or word in _CHART_WORDS
            if not known or i in masked:
                pending = max(0, pending - 1)
                continue
            kind = _CHART_WORDS.get(t.stem, _CHART_WORDS.get(word))
            negated = pending > 0
            if kind is None:
                if previous_specific == i - 1:
                    continue  # "pie charts": one thing
                if negated:
                    generic_neg = True
                else:
                    generic_pos = True
            else:
                (negative if negated else positive).append(kind)
                previous_specific = i
        if not (positive or negative or generic_pos or generic_neg):
            return None
        if forgetting and not negative and not generic_neg and not positive:
            return True
        if _DISLIKE.search(body) and not negative and not generic_neg:
            negative, positive = positive, []
            generic_neg, generic_pos = generic_pos, False
        source = body.strip()
        if positive:
            return Preference("chart", (positive[0],), source=source)
        if generic_neg:
            return Preference("chart", ("table",), source=source)
        if negative:
            return Preference("chart-avoid", tuple(dict.fromkeys(negative)), source=source)
        return True  # charts in general, nothing against them: "charts are fine again"

    @staticmethod
    def _scale(body: str, tokens: list[Token], masked: set[int]) -> Scale | None:
        for i, t in enumerate(tokens):
            scale = _SCALE_WORDS.get(t.lower)
            if scale is None or i in masked:
                continue
            before = tokens[i - 1].lower if i else ""
            if before[:1].isdigit() or (i + 1 < len(tokens) and tokens[i + 1].lower.startswith("separator")):
                continue  # "over 1 million" is a quantity; "thousands separators" a format
            if (
                t.lower in _SHORT_SCALE
                and before not in {"in", "as", "to", "of"}
                and "$" not in body[: t.start][-2:]
            ):
                continue
            return scale
        return None

    def _filters(
        self,
        sentence: str,
        tokens: list[Token],
        values: list[Match[ValueRef]],
        terms: list[Match[TermRef]],
        persist: bool,
        forgetting: bool,
    ) -> tuple[list[Preference], list[str]]:
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
                Preference(
                    f"filter:{dim or 'value'}", tuple(sorted(found)), dim, tuple(spaces), sentence.strip()
                )
            )
        return prefs, []

    def _strip_display(self, sentence: str) -> tuple[str, list[Preference]]:
        """Take one-off display requests out of a data question ("... in millions?", "... as a table")."""
        once: list[Preference] = []
        text = sentence
        m = _SCALE_PHRASE.search(text)
        if m is not None:
            scale = _SCALE_WORDS.get(m.group(1).lower())
            if scale is not None and not self._is_data(text, m.start(1), m.end(1)):
                once.append(Preference("scale", (scale,), source=m.group(0).strip(" ,")))
                text = text[: m.start()] + text[m.end() :]
        m = _CHART_PHRASE.search(text)
        if m is not None and not self._is_data(text, m.start(1), m.end(1)):
            once.append(Preference("chart", (_chart_choice(m.group(1)),), source=m.group(0).strip(" ,")))
            text = text[: m.start()] + text[m.end() :]
        return re.sub(r"\s+([?.!,])", r"\1", text).strip(), once

    def _is_data(self, text: str, start: int, end: int) -> bool:
        """Is text[start:end] part of a phrase the spaces know (a value or a measure)?"""
        _, values, terms = self.vocabulary.matches(text)
        tokens = tokenize(text)
        spans = [(m.start, m.end) for m in values] + [(m.start, m.end) for m in terms]
        return any(tokens[a].start < end and tokens[b - 1].end > start for a, b in spans)


def preferences_from(items: Iterable[MemoryItem]) -> dict[str, Preference]:
    """Remembered preferences by slot."""
    out: dict[str, Preference] = {}
    for item in items:
        pref = Preference.from_memory(item)
        if pref is not None:
            out[pref.slot] = pref
    return out


def describe_all(prefs: Iterable[Preference]) -> str:
    return "; ".join(p.describe() for p in prefs)
