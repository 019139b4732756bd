"""A message as sentences, and the cues that tell a statement from a data question.

A message is split into sentences, and a sentence into clauses where a new statement starts
("..., and from now on show tables"). A sentence that asks for data is never a preference unless a
cue says it is meant to last ("from now on", "remember ..."); a request to change data ("drop the
customer table") states nothing to remember even when its object is a display word.
"""

from __future__ import annotations

import re

from .lexicon import Match
from .vocabulary import TermRef
from .write_intent import write_intent

__all__ = ["FORGET", "FORGET_ALL", "PERSIST", "REMEMBER", "asks_data", "changes_data", "split_sentences"]

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
PERSIST = re.compile(
    r"\b(?:from now on|going forward|moving forward|in (?:the )?future|from here on|always|by default|"
    r"every ?time|each time|whenever|default to|stick to|for all (?:my )?(?:questions|answers)|all the time|"
    r"remember|keep in mind|don'?t forget|do not forget|note that|make a note)\b",
    re.IGNORECASE,
)
"""Words that make a statement last beyond this question."""
REMEMBER = re.compile(
    r"^\W*(?:please\s+)?(?:remember|note|keep in mind|don'?t forget|do not forget|make a note|"
    r"for future reference|fyi)\b[\s,:]*(?:that\s+|this\s*:\s*)?",
    re.IGNORECASE,
)
"""A sentence that asks to remember what follows it (a note, when nothing structured is in it)."""
FORGET = re.compile(
    r"\b(?:forget|clear|reset|drop|remove|erase|delete|stop|no longer|any ?more|undo|unset|cancel)\b",
    re.IGNORECASE,
)
FORGET_ALL = re.compile(
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
# "most ridden model in every city" asks for a ranking; it does not state a preference.
_RANKING = re.compile(
    r"\b(?:most|least|top|bottom|best|worst|highest|lowest|fewest|biggest|largest|smallest)\b", re.I
)


def split_sentences(message: str) -> list[str]:
    """The sentences of ``message``, each split where a new statement starts; a lead-in alone
    ("Going forward, ...") goes with the clause after it."""
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


def asks_data(sentence: str, terms: list[Match[TermRef]]) -> bool:
    """A data question (or a data phrase), with no cue that it states something to remember."""
    measure = any(r.kind == "measure" for m in terms for r in m.entries)
    remember = REMEMBER.match(sentence)
    persist = bool(PERSIST.search(sentence))
    question = (
        sentence.rstrip().endswith("?") or bool(_QUESTION.match(sentence)) or bool(_RANKING.search(sentence))
    )
    return not (remember or persist or (not question and not measure))


def changes_data(sentence: str) -> bool:
    """A request to change data, which states nothing to remember."""
    return (
        write_intent(sentence) is not None
        and bool(_DATA_OBJECT.search(sentence))
        and not _MEMORY_OBJECT.search(sentence)
    )
