"""What a sentence says about how to show results: chart types and number scales.

Chart words are read with their negations ("tables, not charts", "I'd rather see bars than pies",
"no pie charts"), scale words where they scale ("numbers in millions", "round to the nearest
thousand", "in $M"; not "over 1 million"). A data question's own display words ("... in
millions?", "... as a table") apply to that question only: :func:`strip_display` takes them out
before the spaces see it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .lexicon import Token
from .preferences import ChartChoice, Preference, Scale

__all__ = ["chart_statement", "clears_scale", "scale_statement", "strip_display"]

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


def chart_statement(
    body: str, tokens: list[Token], masked: set[int], forgetting: bool
) -> Preference | bool | None:
    """A chart preference, True to clear chart preferences, or None when no chart is mentioned.
    Tokens in ``masked`` are part of a value or term the spaces know (not chart words)."""
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


def scale_statement(body: str, tokens: list[Token], masked: set[int]) -> Scale | None:
    """The number scale ``body`` asks for, or None (tokens in ``masked`` are data, not scale words)."""
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


def clears_scale(body: str) -> bool:
    """Does ``body`` ask for numbers unscaled ("full numbers", "no rounding")?"""
    return bool(_SCALE_CLEAR.search(body))


def strip_display(sentence: str, is_data: Callable[[str, int, int], bool]) -> tuple[str, list[Preference]]:
    """Take one-off display requests out of a data question ("... in millions?", "... as a table").
    ``is_data(text, start, end)``: is ``text[start:end]`` part of a phrase the spaces know?"""
    once: list[Preference] = []
    text = sentence
    m = _SCALE_PHRASE.search(text)
    if m is not None:
        scale = _SCALE_WORDS.get(m.group(1).lower())
        if scale is not None and not is_data(text, m.start(1), m.end(1)):
            once.append(Preference("scale", (scale,), source=m.group(0).strip(" ,")))
            text = text[: m.start()] + text[m.end() :]
    m = _CHART_PHRASE.search(text)
    if m is not None and not is_data(text, m.start(1), m.end(1)):
        once.append(Preference("chart", (_chart_choice(m.group(1)),), source=m.group(0).strip(" ,")))
        text = text[: m.start()] + text[m.end() :]
    return re.sub(r"\s+([?.!,])", r"\1", text).strip(), once
