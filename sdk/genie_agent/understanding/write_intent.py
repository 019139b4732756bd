"""Requests to change data are refused before any space sees them."""

from __future__ import annotations

import re

__all__ = ["write_intent"]

_STRONG_VERBS = "delete|drop|truncate|update|insert|alter|remove|erase|purge|wipe|modify|rename|grant|revoke|overwrite|destroy|vacuum"
# Verbs that also start innocent questions ("change in revenue ..."): only with an object after them.
_WEAK_VERBS = (
    r"(?:create|add|change|set|replace|merge|load|copy|clear|edit|reset|attach|install|restore|move|bump|"
    r"raise|lower|mark|assign|reassign|increase|decrease|reduce|cut|fix|correct|flag|archive|void|cancel)"
    r"(?=\s+(?:a|an|new|the|all|every|each|this|that|these|those|\d))"
)
_WRITE_VERBS = f"{_STRONG_VERBS}|{_WEAK_VERBS}"
_POLITE = r"(?:(?:please|pls|kindly|now|then|go ahead and|can you|could you|would you|will you|"
_POLITE += (
    r"i want to|i'd like to|i need to|i want you to|we need to|let's|lets|help me|run|execute|sql)[\s:,]+)*"
)
_IMPERATIVE = re.compile(rf"^\W*{_POLITE}(?P<verb>{_WRITE_VERBS})\b", re.IGNORECASE)
_SQL_WRITE = re.compile(
    r"\b(delete\s+from|drop\s+(table|view|schema|database)|truncate\s+table|insert\s+into|"
    r"update\s+\w+\s+set|alter\s+table|create\s+(or\s+replace\s+)?(table|view|schema)|"
    r"merge\s+into|copy\s+\w+\s+(to|from)|attach\s+'|grant\s+\w+\s+on)\b",
    re.IGNORECASE,
)


_CLAUSES = re.compile(r"[.;!?]\s+|,\s*(?:so|and then|then|and)?\s*|\s+(?:and then|so)\s+", re.IGNORECASE)


def write_intent(question: str) -> str | None:
    """The verb of a request to change data ("delete", "drop table"), or None for a question."""
    m = _SQL_WRITE.search(question)
    if m:
        return " ".join(m.group(1).split()).upper()
    # Each clause may give an order: "1998 is incomplete, so remove those orders and then ...".
    for clause in _CLAUSES.split(question):
        m = _IMPERATIVE.match(clause or "")
        if m:
            return m.group("verb").lower()
    return None
