"""The engine's own words: what each cue means, and which words carry no meaning at all.

A question is answered only when every word is placed: a term of the space, a cue read by one of
the parser's readers, or a word in :data:`FILLER`. Operators ("excluding", "more than", "share",
"between") are deliberately *not* filler: a reader must consume them, or the question is declined
naming them — an operator that no reader understood would otherwise be dropped silently and the
answer would be to a different question.
"""

from __future__ import annotations

import calendar
import re

from ..semantic_model import Aggregation
from .plan import TimeGrain

__all__ = [
    "AGG_WORDS",
    "ASC_WORDS",
    "CHANGE_WORDS",
    "COMPARE_WORDS",
    "COUNT_CUES",
    "DESC_WORDS",
    "EXCLUSION_WORDS",
    "FILLER",
    "FOLLOWUP_OPENERS",
    "GRAIN_WORDS",
    "GROUPING_CUES",
    "MONTHS",
    "NUMBER_WORDS",
    "ORDINALS",
    "PERIOD_NAME",
    "PREPOSITIONS",
    "SHARE_WORDS",
    "TOTAL_WORDS",
]

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9
NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "fifty": 50,
}  # fmt: skip
PERIOD_NAME = re.compile(r"q[1-4]|h[12]")
"""A quarter or half written as one word ("q2", "h1")."""
ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}
GRAIN_WORDS: dict[str, TimeGrain] = {
    "monthly": "month", "month": "month", "months": "month",
    "quarterly": "quarter", "quarter": "quarter", "quarters": "quarter",
    "yearly": "year", "annual": "year", "annually": "year", "year": "year", "years": "year",
    "weekly": "week", "week": "week", "weeks": "week", "daily": "day", "day": "day", "days": "day",
}  # fmt: skip
GROUPING_CUES = frozenset({"by", "per", "each", "every", "across", "which", "what", "top", "bottom", "list"})
PREPOSITIONS = frozenset({"for", "of", "from", "with", "among", "in", "to", "on", "at"})
DESC_WORDS = frozenset({"highest", "most", "largest", "biggest", "best", "greatest", "top", "maximum", "max"})
ASC_WORDS = frozenset({"lowest", "least", "fewest", "smallest", "worst", "bottom", "minimum", "min"})
AGG_WORDS: dict[str, Aggregation] = {
    "average": "avg", "avg": "avg", "mean": "avg", "total": "sum", "sum": "sum", "overall": "sum",
    "maximum": "max", "max": "max", "minimum": "min", "min": "min",
}  # fmt: skip
COUNT_CUES = frozenset({"many", "number", "count", "total"})
TOTAL_WORDS = frozenset({"combined", "together", "altogether", "overall", "total", "sum"})
EXCLUSION_WORDS = frozenset({"excluding", "exclude", "excludes", "except", "without", "not", "non", "excl"})
SHARE_WORDS = frozenset(
    {"share", "shares", "percentage", "percentages", "percent", "proportion", "fraction", "portion",
     "contribute", "contributes", "contributed", "contribution", "contributions", "pct"}
)  # fmt: skip
CHANGE_WORDS = frozenset(
    {"change", "changes", "changed", "growth", "grew", "grow", "grown", "growing", "increase", "increased",
     "decrease", "decreased", "decline", "declined", "drop", "dropped", "fell", "rose", "yoy", "delta",
     "difference"}
)  # fmt: skip
COMPARE_WORDS = frozenset({"compare", "compared", "comparing", "versus", "vs", "against", "comparison"})
FOLLOWUP_OPENERS = ("and", "what about", "how about", "now", "only", "just", "then", "also", "same",
                    "instead", "break", "split", "but", "ok", "okay", "and what", "what if")  # fmt: skip

# Words that carry no meaning of their own in an analytics question. Nothing that changes the
# answer belongs here (see the module docstring).
FILLER = frozenset(
    """
a about also am an and any are as at be been being both but by can could did do does doing done
during for from had has have having he her here hers him his how i if in into is it its itself me
my of on once only or our ours out own please she should so some such that the their theirs them
then there they this to too up us was we were what when where which while who whom whose why will
with would you your yours let lets show shown give gave given tell list display get got find see
want need like look looking much many number count total figure figures value values amount amounts
overall whole entire data result results report numbers happen happened made make placed recorded
sold shipped generated earned brought time period ranked rank ranking order ordered sort sorted
breakdown broken down break split grouped group grouping trend trends
just instead again what's whats how's s t ok okay thanks thank hi hello yes now same all every
each across per cent among just currently current do does there's available exist exists
exactly precisely roughly approximately about kindly quick quickly hey pull up
""".split()
)
