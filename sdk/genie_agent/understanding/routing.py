"""Route a question to the space(s) that can answer it, from the spaces' own vocabulary.

Each space contributes routing terms (measures, dimensions, indexed values, synonyms). A
question is split into clauses at conjunctions; a clause that names a measure belongs to the
space owning it. Clauses owned by different spaces make a cross-domain turn: each space is
asked its own part, plus the groupings ("by region") the whole question asked for.

A local space's terms include every indexed value (closed world), so a name none of them knows
("Apple") means the question is about something else. A remote Genie space's terms are a few
configured words (open world, ``SpaceInfo.knows_values`` False): a question naming a value goes to
the open-world space it points at, which answers or says it has no such data.
"""

from __future__ import annotations

import calendar
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .clauses import Clause, Shared, ellipsis_predicate, shareable, split_clauses, strip_presentation
from .lexicon import Lexicon, Match, Token, tokenize
from .vocabulary import SpaceVocabulary
from .write_intent import write_intent

__all__ = ["RouteDecision", "RouteKind", "Router"]

RouteKind = Literal["single", "cross_domain", "follow_up", "ambiguous", "out_of_scope", "refused"]
_WEIGHTS = {
    "measure": 3.0,
    "value": 1.5,
    "topic": 1.0,
    "dimension": 1.0,
    "filter": 1.0,
    "time_dimension": 0.5,
}
_GROUPING = re.compile(
    r"\b(?:by|per|for each|in each|each|across|for every)\s+((?:[\w#-]+\s?){1,3})", re.IGNORECASE
)
_NARROWING = re.compile(
    r"^\s*(?:and\s+|but\s+|now\s+)?(?:only|just|limit(?:ed)? to|restrict(?:ed)? to)\b", re.IGNORECASE
)
_BY = re.compile(r"^[\s,]*(?:by|per|for each|for every|across)\b", re.IGNORECASE)
_AFTER_GROUPING = frozenset("have has had do does did is are was were there".split())
_NOT_PROPER = frozenset(
    {
        "i",
        "what",
        "which",
        "how",
        "who",
        "show",
        "give",
        "list",
        "compare",
        "and",
        "the",
        "q1",
        "q2",
        "q3",
        "q4",
    }
    | {m.lower() for m in (*calendar.month_name, *calendar.month_abbr, *calendar.day_name) if m}
)


@dataclass(frozen=True)
class RouteDecision:
    """Where a question goes. ``questions`` holds what each space is asked."""

    kind: RouteKind
    domains: tuple[str, ...]
    confidence: float
    reason: str
    questions: Mapping[str, str] = field(default_factory=dict)
    denied: tuple[str, ...] = ()
    """Spaces the question needed that the caller may not query."""


@dataclass(frozen=True)
class _Hit:
    space: str
    kind: str


_Parsed = tuple[list[Token], list[Match[_Hit]]]


class Router:
    """Deterministic router over the spaces' routing terms (gathered once in ``vocabulary``)."""

    def __init__(self, vocabulary: SpaceVocabulary) -> None:
        self.spaces = dict(vocabulary.spaces)
        self._lexicon: Lexicon[_Hit] = Lexicon()
        for info in self.spaces.values():
            for term in vocabulary.routing_terms[info.id]:
                self._lexicon.add(term.phrase, _Hit(info.id, term.kind))
            self._lexicon.add(info.id, _Hit(info.id, "topic"))
            self._lexicon.add(info.title, _Hit(info.id, "topic"))
        names = "|".join(
            sorted(
                {re.escape(n) for i in self.spaces.values() for n in (i.id, i.title)}, key=len, reverse=True
            )
        )
        # "... in Customers": the question addresses a space; the space is not asked about itself.
        self._addressed = re.compile(
            rf",?\s+(?:in|from|using|on)\s+(?:the\s+)?(?:{names})(?:\s+space)?(?=\s*(?:[,.?!]|$))",
            re.IGNORECASE,
        )

    def _parsed(self, text: str, memo: dict[str, _Parsed]) -> _Parsed:
        """Tokens and matches of ``text``, once per route: clauses and sub-questions often repeat."""
        found = memo.get(text)
        if found is None:
            tokens = tokenize(text)
            found = memo[text] = (tokens, self._lexicon.match(tokens, text))
        return found

    @staticmethod
    def _scores(matches: list[Match[_Hit]]) -> tuple[dict[str, float], set[str]]:
        scores: dict[str, float] = defaultdict(float)
        measure_spaces: set[str] = set()
        for m in matches:
            shared = len({h.space for h in m.entries}) ** 0.5
            for hit in m.entries:
                scores[hit.space] += _WEIGHTS[hit.kind] / shared
                if hit.kind == "measure":
                    measure_spaces.add(hit.space)
        # Rounded: the same evidence summed in another order must tie, not differ in the last bit.
        return {s: round(v, 6) for s, v in scores.items()}, measure_spaces

    def _reason(self, space: str, matches: list[Match[_Hit]]) -> str:
        """The reason for ``space``: its title and the phrases of the question that point at it."""
        # A phrase once, as what it first names ('suppliers': a measure, not also a column).
        why: dict[str, str] = {}
        for m in matches:
            for hit in m.entries:
                if hit.space == space:
                    why.setdefault(m.text, hit.kind.replace("_", " "))
        return f"{self.spaces[space].title}: " + ", ".join(f"'{t}' ({k})" for t, k in why.items())

    def _open_world(self, space: str) -> bool:
        return not self.spaces[space].knows_values

    def _unknown_names(self, question: str, tokens: list[Token], matches: list[Match[_Hit]]) -> list[str]:
        """Capitalized words no routing term knows ("Apple", "Paris"): in no closed-world space's data."""
        known = {i for m in matches for i in range(m.start, m.end)}
        names = []
        for i, t in enumerate(tokens):
            sentence_start = i == 0 or question[: t.start].rstrip().endswith((".", "?", "!", ":"))
            if i in known or sentence_start or not t.text[:1].isupper() or t.lower in _NOT_PROPER:
                continue
            if t.text.isupper() and len(t.text) <= 3:
                continue  # abbreviations such as "AOV", "Q2"
            names.append(t.text)
        return names

    def route(self, question: str, previous_domains: Sequence[str] = ()) -> RouteDecision:
        """Decide the spaces for a question; ``previous_domains`` are the thread's last turn's."""
        verb = write_intent(question)
        if verb:
            return RouteDecision("refused", (), 1.0, f"a request to {verb} data; the spaces are read-only")
        question = strip_presentation(question) or question
        memo: dict[str, _Parsed] = {}
        tokens, matches = self._parsed(question, memo)
        unknown = self._unknown_names(question, tokens, matches)
        scores, measure_spaces = self._scores(matches)
        previous = tuple(d for d in previous_domains if d in self.spaces)
        if unknown:
            # A name no term knows is in none of the closed-world spaces. An open-world space the question
            # points at, or the one it follows up, may hold it: it is asked, and says so when it does not.
            scores = {s: v for s, v in scores.items() if self._open_world(s)}
            previous = tuple(d for d in previous if self._open_world(d))
            if not scores and not previous:
                confidence = 0.7 if measure_spaces else 0.9
                return RouteDecision("out_of_scope", (), confidence, f"no space knows {', '.join(unknown)}")
            measure_spaces &= scores.keys()
        if previous and (not measure_spaces or self._narrows(question, matches, previous)):
            return RouteDecision(
                "follow_up",
                previous,
                0.8,
                f"follow-up to the previous turn on {', '.join(previous)}",
                {d: question for d in previous},
            )
        if not scores:
            return RouteDecision("out_of_scope", (), 0.9, "nothing in the question matches any space's data")

        owners, shared = self._clause_owners(question, memo)
        domains = tuple(dict.fromkeys(space for space, _ in owners))
        if len(domains) <= 1:
            best = domains[0] if domains else max(scores, key=lambda s: scores[s])
            contenders = measure_spaces or scores.keys()  # no measure named: every space it matched
            # A tie is a question only when the tied spaces hold the same measure it names (or it names
            # none): "average duration for Volt bikes" names the rides' measure first, not a shared one.
            shared_measure = any(
                len({h.space for h in m.entries if h.kind == "measure"}) > 1 for m in matches
            )
            rivals = tuple(
                s
                for s in self.spaces
                if s in contenders
                and s != best
                and scores[s] == scores[best]
                and (shared_measure or not measure_spaces)
            )
            if rivals and not previous:
                return self._ambiguous(question, (best, *rivals), matches)
            best = next((p for p in previous if p in (best, *rivals)), best)
            total = sum(scores.values())
            confidence = round(scores[best] / total, 2) if total else 0.0
            asked = self._addressed.sub("", question) or question
            return RouteDecision("single", (best,), confidence, self._reason(best, matches), {best: asked})

        questions = self._sub_questions(question, owners, shared, domains, memo)
        reasons = [self._reason(d, self._parsed(questions[d], memo)[1]) for d in domains]
        return RouteDecision("cross_domain", domains, 0.9, "; ".join(reasons), questions)

    @staticmethod
    def _narrows(question: str, matches: list[Match[_Hit]], previous: Sequence[str]) -> bool:
        """ "just household customers" after a turn on sales: a follow-up that only narrows the last
        answer (its noun sets the scene), when every value it names is one the last spaces know."""
        if not _NARROWING.match(question):
            return False
        values = [m for m in matches if any(h.kind in ("value", "filter") for h in m.entries)]
        return bool(values) and all(any(h.space in previous for h in m.entries) for m in values)

    def _ambiguous(self, question: str, tied: tuple[str, ...], matches: list[Match[_Hit]]) -> RouteDecision:
        """Spaces that hold the same measure, and nothing in the question to choose between them."""
        shared = [m for m in matches if {h.space for h in m.entries} >= set(tied)]
        measures = [m for m in shared if any(h.kind == "measure" for h in m.entries)]
        phrases = [m.text for m in measures or shared]
        titles = " and ".join(self.spaces[s].title for s in tied)
        what = "', '".join(dict.fromkeys(phrases)) or "what it asks"
        reason = f"'{what}' is in {titles}; the question does not say which"
        return RouteDecision("ambiguous", tied, 0.5, reason, {s: question for s in tied})

    def _owner(self, clause: str, memo: dict[str, _Parsed], before: str | None) -> str | None:
        """The space whose measure the clause names (ties: the one the clause before went to, else the
        one named first, never the set's hash order); None when it names no measure."""
        tokens, matches = self._parsed(clause, memo)
        scores, measure_spaces = self._scores(matches)
        if self._unknown_names(clause, tokens, matches):
            measure_spaces = {s for s in measure_spaces if self._open_world(s)}
        named = [
            h.space for m in matches for h in m.entries if h.kind == "measure" and h.space in measure_spaces
        ]
        if not named:
            return None
        owner = max(dict.fromkeys(named), key=lambda s: scores[s])
        tied = [s for s in measure_spaces if scores[s] == scores[owner]]
        return before if len(tied) > 1 and before in tied else owner

    def _clause_owners(self, question: str, memo: dict[str, _Parsed]) -> tuple[list[tuple[str, str]], Shared]:
        """Clauses of the question with the space that owns each (by the measures it names), and what
        the question says once for all of them (:mod:`genie_agent.understanding.clauses`)."""
        tokens, matches = self._parsed(question, memo)
        values = {
            i
            for m in matches
            if any(h.kind in ("value", "filter") for h in m.entries)
            for i in range(m.start, m.end)
        }
        owned: list[tuple[str | None, str]] = []
        clauses = split_clauses(question, tokens, values.__contains__)
        for clause in clauses:
            before = next((o for o, _ in reversed(owned) if o is not None), None)
            text = clause.text
            previous = next((t for o, t in reversed(owned) if o is not None), None)
            if previous is not None and ellipsis_predicate(self._after_measures(text, memo)):
                text = self._with_predicate(text, previous, memo)
            elif previous is not None and text.lower().startswith("of ") and " of " in previous:
                # "the total balance of our customers and of our suppliers": the head is said once.
                text = previous[: previous.rindex(" of ")] + " " + text
            owned.append((self._owner(text, memo, before), text))
        first = next((i for i, (o, _) in enumerate(owned) if o is not None), len(owned))
        last = max((i for i, (o, _) in enumerate(owned) if o is not None), default=-1)
        prefix = [t for _, t in owned[:first] if self._shareable(t, memo)]
        suffix = "".join(f", {t}" for _, t in owned[last + 1 :] if self._shareable(t, memo))
        if last >= 0:
            tail = self._after_measures(owned[last][1], memo)
            if tail and self._shareable(tail, memo):
                suffix = f" {tail}{suffix}"
        return self._merge(question, owned, clauses), Shared(", ".join(prefix), suffix)

    @staticmethod
    def _merge(
        question: str, owned: list[tuple[str | None, str]], clauses: list[Clause]
    ) -> list[tuple[str, str]]:
        """One text per owner. A clause naming no measure ("1996", "asia") belongs with its neighbour;
        clauses next to each other keep the words between them ("how many suppliers with a balance")."""
        merged: list[tuple[str, str, int]] = []  # owner, text, index of its last clause

        def joined(text: str, last: int, i: int, clause_text: str) -> str:
            if last == i - 1 and owned[i][1] == clauses[i].text and text.endswith(clauses[last].text):
                return text + question[clauses[last].end : clauses[i].end]
            return f"{text} and {clause_text}"

        pending: tuple[str, int] | None = None
        for i, (owner, text) in enumerate(owned):
            if owner is None:
                if merged:
                    o, t, last = merged[-1]
                    merged[-1] = (o, joined(t, last, i, text), i)
                else:
                    pending = (text, i) if pending is None else (joined(pending[0], pending[1], i, text), i)
                continue
            if merged and merged[-1][0] == owner:
                o, t, last = merged[-1]
                merged[-1] = (owner, joined(t, last, i, text), i)
            elif pending is not None:
                merged.append((owner, joined(pending[0], pending[1], i, text), i))
            else:
                merged.append((owner, text, i))
            pending = None
        return [(o, t) for o, t, _ in merged]

    def _shareable(self, text: str, memo: dict[str, _Parsed]) -> bool:
        tokens, matches = self._parsed(text, memo)
        return shareable(tokens, [(m.start, m.end, {h.kind for h in m.entries}) for m in matches])

    def _may_take(self, suffix: str, domain: str, memo: dict[str, _Parsed]) -> bool:
        """A "by ..." said after the last part ("rides by members") groups or narrows only a space that
        knows what it names; a filter ("in Munich") goes to every part, which answers it or says it cannot."""
        if not _BY.match(suffix):
            return True
        _, matches = self._parsed(suffix, memo)
        return not matches or any(h.space == domain for m in matches for h in m.entries)

    def _after_measures(self, clause: str, memo: dict[str, _Parsed]) -> str:
        """The clause's words after its last measure ("suppliers in peru" -> "in peru")."""
        tokens, matches = self._parsed(clause, memo)
        ends = [m.end for m in matches if any(h.kind == "measure" for h in m.entries)]
        if not ends or ends[-1] >= len(tokens):
            return ""
        return clause[tokens[ends[-1]].start :].strip(" ,?.!")

    def _with_predicate(self, clause: str, previous: str, memo: dict[str, _Parsed]) -> str:
        """ "how many suppliers do" after "how many customers have a negative balance": the clause with
        the predicate it leaves out."""
        tokens, matches = self._parsed(previous, memo)
        first = next((m.end for m in matches if any(h.kind == "measure" for h in m.entries)), None)
        if first is None or first >= len(tokens):
            return clause
        words = clause.rstrip(" ?.!").split()
        return " ".join(words[:-1]) + " " + previous[tokens[first].start :].strip(" ,?.!")

    def _sub_questions(
        self,
        question: str,
        owners: list[tuple[str, str]],
        shared: Shared,
        domains: tuple[str, ...],
        memo: dict[str, _Parsed],
    ) -> dict[str, str]:
        # Groupings asked of the whole question ("... in each nation") apply to every space that has them.
        grouping_phrases = []
        for g in _GROUPING.finditer(question):
            words = g.group(1)
            for m in self._lexicon.match(tokenize(words), words):
                if any(h.kind == "dimension" for h in m.entries):
                    stems = {t.stem for t in tokenize(m.text)}
                    grouping_phrases.append(
                        (m.text, stems, {h.space for h in m.entries if h.kind == "dimension"})
                    )
                    break
        trailing = self._trailing_grouping(question)
        out: dict[str, str] = {}
        for domain in domains:
            text = " and ".join(clause for owner, clause in owners if owner == domain)
            have = {t.stem for t in self._parsed(text, memo)[0]}
            # What the question said once for every part ("In ASIA, ...", "... in peru").
            if shared.prefix and not {t.stem for t in tokenize(shared.prefix)} <= have:
                text = f"{shared.prefix}, {text}"
            # A verb phrase ("... do Germany and France each have") completes only a clause that ends at its measure.
            verbal = (
                ellipsis_predicate(shared.suffix.split(maxsplit=1)[0]) if shared.suffix.strip() else False
            )
            fits = (not verbal or not self._after_measures(text, memo)) and self._may_take(
                shared.suffix, domain, memo
            )
            if shared.suffix and fits and not {t.stem for t in tokenize(shared.suffix)} <= have:
                text += shared.suffix
            have = {t.stem for t in self._parsed(text, memo)[0]}
            for phrase, stems, spaces in grouping_phrases:
                if domain in spaces and not stems <= have:
                    text += f" by {phrase}"
            if trailing is not None and self._open_world(domain) and not trailing[1] <= have:
                text += " " + trailing[0]
            out[domain] = text
        return out

    def _trailing_grouping(self, question: str) -> tuple[str, set[str]] | None:
        """The grouping that ends the question ("... in each nation"), as asked, and the stems naming it.

        An open-world space claims no dimension, so this is what it gets of the whole question's grouping.
        """
        found = [g for g in _GROUPING.finditer(question) if not question[g.end() :].strip(" ?.!")]
        if not found:
            return None
        g = found[-1]
        tokens = tokenize(g.group(1))
        # "does each region have": the grouping is "each region".
        cut = next((i for i, t in enumerate(tokens) if t.lower in _AFTER_GROUPING), len(tokens))
        if cut == 0:
            return None
        text = question[g.start() : g.start(1) + tokens[cut - 1].end]
        return ("for " if text[:5].lower() == "each " else "") + text, {t.stem for t in tokens[:cut]}
