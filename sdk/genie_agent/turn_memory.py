"""Long-term memory in one turn: recall what the user told us, apply it, remember what they say now.

Applied preferences change what the spaces are asked (a default filter is added to each space's
question, as words, so Databricks Genie understands it too; not when the question already names
that dimension, and not on a follow-up, whose conversation carries the first turn's filter), the
visualization hint's type, and how synthesis writes numbers. The answer says in one short sentence
when a remembered preference changed it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .formatting import SCALES, is_number
from .memory.errors import MemoryUnavailableError
from .memory.store import DOMAINS_ID, MemoryChange, MemoryStore, Recall, search_terms
from .understanding.extraction import PreferenceExtractor
from .understanding.llm_extraction import LlmExtraction, LlmMemoryExtractor
from .understanding.preferences import (
    CLEAR_ALL,
    CLEAR_FILTERS,
    Extraction,
    Preference,
    describe_all,
    preferences_from,
)
from .understanding.routing import RouteDecision
from .understanding.vocabulary import SpaceVocabulary

__all__ = ["TurnMemory"]

Origin = Literal["remembered", "stated", "once"]
_PIE_MAX = 6


def _clear_text(slot: str) -> str:
    if slot == CLEAR_ALL:
        return "everything you asked me to remember"
    if slot == CLEAR_FILTERS:
        return "your default filters"
    if slot.startswith("filter:"):
        return f"your {slot.split(':', 1)[1]} filter"
    return {
        "chart": "your chart preference",
        "chart-avoid": "the chart types to avoid",
        "scale": "your number format",
    }[slot]


def _failure(what: str, exc: Exception) -> str:
    if isinstance(exc, MemoryUnavailableError):
        return exc.message
    return f"{what}: {type(exc).__name__}: {exc}"  # a bug: said, not raised


def _with_filter(question: str, phrase: str) -> str:
    body = question.rstrip()
    end = len(body.rstrip("?.! "))
    return f"{body[:end]} {phrase}{body[end:]}"


@dataclass
class TurnMemory:
    """What long-term memory contributes to one turn. Never raises for a memory failure: each one
    is recorded in ``failures`` (the turn's ``memory_status``) and the turn goes on."""

    extraction: Extraction
    remembered: dict[str, Preference] = field(default_factory=dict)
    recall: Recall = field(default_factory=Recall)
    enabled: bool = True
    failures: list[str] = field(default_factory=list)
    saved: bool = False
    changes: list[str] = field(default_factory=list)
    """Remembered preferences that changed this answer (described)."""

    llm: LlmExtraction | None = None
    """What an LLM extractor added (None when none is configured or memory is off)."""
    stated_pending: bool = False
    """The message stated something that :meth:`save` has not tried to write yet."""
    counted: bool = False
    """:meth:`save` wrote this turn's domain counts (:meth:`uncount` takes them back)."""
    notes_for: str | None = None
    """The question whose notes :meth:`recall_notes` has yet to search (None: searched or skipped)."""

    @classmethod
    def begin(
        cls,
        store: MemoryStore | None,
        extractor: PreferenceExtractor,
        user: str,
        message: str,
        llm: LlmMemoryExtractor | None = None,
        *,
        notes: bool = True,
    ) -> TurnMemory:
        """Extract statements from ``message`` (also with ``llm``, when given and memory is on) and
        recall the user's memories (one store call). ``notes=False`` recalls the preferences and
        domain counts only: :meth:`recall_notes` searches the notes later (they only matter to
        the answer's text), e.g. while the spaces work."""
        extraction = extractor.extract(message)
        report = None
        if llm is not None and store is not None:
            extraction, report = llm.extend(message, extraction, extractor)  # never raises
        turn = cls(extraction, enabled=store is not None, llm=report)
        turn.stated_pending = store is not None and extraction.remembers
        if store is not None:
            question = extraction.question or message
            try:
                if notes:
                    turn.recall = store.recall(user, question)
                    turn.failures.extend(turn.recall.failures)
                else:
                    turn.recall = store.recall_preferences(user)
                    turn.notes_for = question
            except Exception as exc:  # memory never fails a turn
                turn.failures.append(_failure("recall memories", exc))
            turn.remembered = preferences_from(turn.recall.preferences)
        return turn

    def recall_notes(self, store: MemoryStore | None, user: str) -> None:
        """Search the notes :meth:`begin` left out (once; nothing when the preferences could not be
        recalled, whose failure already says memory is down)."""
        question, self.notes_for = self.notes_for, None
        if store is None or question is None:
            return
        try:
            found = store.recall_notes(user, question)
        except Exception as exc:  # memory never fails a turn
            self.failures.append(_failure("recall memories", exc))
            return
        self.failures.extend(found.failures)
        self.recall = replace(self.recall, notes=found.notes, failures=found.failures)

    # --- what applies ---------------------------------------------------------------------------------

    @property
    def question(self) -> str:
        """What the spaces should answer ("" when the message only stated preferences)."""
        return self.extraction.question

    @property
    def statement_only(self) -> bool:
        return self.extraction.remembers and not self.extraction.question

    def _effective(self) -> dict[str, tuple[Preference, Origin]]:
        clears = set(self.extraction.clears)
        out: dict[str, tuple[Preference, Origin]] = {}
        for slot, pref in self.remembered.items():
            if (
                CLEAR_ALL in clears
                or slot in clears
                or (CLEAR_FILTERS in clears and slot.startswith("filter:"))
            ):
                continue
            out[slot] = (pref, "remembered")
        for pref in self.extraction.preferences:
            out[pref.slot] = (pref, "stated")
        for pref in self.extraction.transient:
            out[pref.slot] = (pref, "once")
        return out

    def _changed(self, pref: Preference, origin: Origin) -> None:
        if origin == "remembered" and pref.describe() not in self.changes:
            self.changes.append(pref.describe())

    def route(self, decision: RouteDecision, vocabulary: SpaceVocabulary) -> RouteDecision:
        """Add remembered default filters to what each space is asked."""
        if decision.kind not in ("single", "cross_domain") or not decision.domains:
            return decision
        questions = dict(decision.questions)
        for slot, (pref, origin) in self._effective().items():
            if not slot.startswith("filter:"):
                continue
            phrase = f"for {pref.dimension + ' ' if pref.dimension else ''}{' and '.join(pref.values)}"
            for domain in decision.domains:
                q = questions.get(domain, "")
                if pref.spaces and domain not in pref.spaces:
                    continue
                if vocabulary.names_dimension(q, domain, pref.dimension, pref.values):
                    continue  # the question says which region it wants
                questions[domain] = _with_filter(q, phrase)
                self._changed(pref, origin)
        return replace(decision, questions=questions) if questions != decision.questions else decision

    def visualization(self, hint: dict[str, Any] | None, rows: int) -> dict[str, Any] | None:
        """The hint with the chart type the user asked for, where the result can be drawn that way."""
        if hint is None:
            return None
        effective = self._effective()
        current = hint["type"]
        new = current
        used: tuple[Preference, Origin] | None = None
        if "chart" in effective:
            pref, origin = effective["chart"]
            want = pref.values[0]
            if want == "table" and current != "table":
                new = "table"
            elif want == "bar" and current in ("line", "pie"):
                new = "bar"
            elif want == "pie" and current == "bar" and not hint.get("series") and 2 <= rows <= _PIE_MAX:
                new = "pie"
            used = (pref, origin) if new != current else None
        if "chart-avoid" in effective and new in effective["chart-avoid"][0].values:
            new = "bar" if new == "pie" else "table"
            used = effective["chart-avoid"]
        if used is None or new == current:
            return hint
        self._changed(*used)
        reason = (
            f"{used[0].describe()}, as you asked (the data suggested {current}: {hint.get('reason', '')})"
        )
        return {**hint, "type": new, "reason": reason}

    def scale(self, tables: Iterable[Sequence[Sequence[Any]]]) -> str | None:
        """The number scale to write the answer in, when one applies to these results."""
        found = self._effective().get("scale")
        if found is None:
            return None
        pref, origin = found
        unit = SCALES[pref.values[0]][0]
        if not any(is_number(c) and abs(float(c)) >= unit for rows in tables for row in rows for c in row):
            return None
        self._changed(pref, origin)
        return pref.values[0]

    def relevant_notes(self, limit: int = 1) -> list[str]:
        """Notes that share at least two words with the question, to mention in the answer."""
        if not self.recall.notes:
            return []
        asked = set(search_terms(self.question))
        out = []
        for note in self.recall.notes:
            if len(asked & set(search_terms(note.text))) >= 2:
                out.append(note.text)
        return out[:limit]

    # --- what is said ---------------------------------------------------------------------------------

    def _stated(self) -> str:
        parts = [p.describe() for p in self.extraction.preferences]
        parts += [f'"{n}"' for n in self.extraction.notes]
        said = []
        if parts:
            said.append("I'll remember: " + "; ".join(parts) + ".")
        if self.extraction.clears:
            said.append(
                "I've forgotten " + " and ".join(_clear_text(c) for c in self.extraction.clears) + "."
            )
        return " ".join(said)

    def acknowledgement(self) -> str:
        """The answer to a message that only stated preferences."""
        if not self.enabled:
            return (
                "Memory is off (GENIE_AGENT_MEMORY_BACKEND=off or GENIE_AGENT_LONG_TERM_MEMORY=false), "
                "so I can't remember preferences. Ask a question about the data instead."
            )
        if not self.saved:
            return f"I couldn't save that, so nothing was remembered: {self.failures[-1]}"
        return self._stated()

    def notice(self) -> str:
        """One short sentence per thing memory did to this answer, or ""."""
        said = []
        if self.extraction.remembers and not self.statement_only:
            said.append(
                self._stated() if self.saved else "I couldn't save your preference: memory is unavailable."
            )
        if self.changes:
            said.append("Applied your saved preferences: " + "; ".join(self.changes) + ".")
        said += [f"You asked me to remember: {n}." for n in self.relevant_notes()]
        return " ".join(s for s in said if s)

    def llm_context(self) -> str:
        """Instructions for an LLM synthesizer (the deterministic one ignores them)."""
        lines = []
        for slot, (pref, _) in self._effective().items():
            if slot == "scale":
                lines.append(
                    f"Write large amounts in {pref.values[0]} with a suffix (K, M or B) and two decimals."
                )
        lines += [f"The user asked you to remember: {n.text}" for n in self.recall.notes[:3]]
        return "\n".join(lines)

    # --- writes ---------------------------------------------------------------------------------------

    def save(self, store: MemoryStore | None, user: str, domains: Sequence[str] = ()) -> None:
        """Write in one store call what the message stated (once a turn; the answer says whether it
        worked, so this runs before its text) and, given the domains a space answered for, this
        turn's domain counts (added to those read with the recall)."""
        if store is None:
            return
        stating, self.stated_pending = self.stated_pending, False
        changes = self._stated_changes() if stating else []
        counting = bool(domains) and not any(f.startswith("recall") for f in self.failures)
        if counting:
            counts = dict(self.recall.domains)
            for d in domains:
                counts[d] = counts.get(d, 0) + 1
            changes.append(_domain_counts(counts))
        if not stating and not counting:
            return
        try:
            if stating and CLEAR_ALL in self.extraction.clears:
                store.forget_all(user)
            store.apply(user, changes)
            self.saved = self.saved or stating
            self.counted = self.counted or counting
        except Exception as exc:  # memory never fails a turn
            self.failures.append(_failure("save memories", exc))

    def uncount(self, store: MemoryStore | None, user: str) -> None:
        """Take back the domain counts :meth:`save` wrote (they were written while the spaces worked,
        and then none of them answered): the counts go back to what the recall read."""
        if store is None or not self.counted:
            return
        self.counted = False
        recalled = dict(self.recall.domains)
        change = _domain_counts(recalled) if recalled else MemoryChange("domains", DOMAINS_ID)
        try:
            store.apply(user, [change])
        except Exception as exc:  # memory never fails a turn
            self.failures.append(_failure("save memories", exc))

    def _stated_changes(self) -> list[MemoryChange]:
        changes = [p.to_change() for p in self.extraction.preferences]
        changes += [MemoryChange.note(n) for n in self.extraction.notes]
        stated = {p.slot for p in self.extraction.preferences}
        clears = self.extraction.clears
        for slot, pref in self.remembered.items():
            if slot in stated or CLEAR_ALL in clears:
                continue
            if slot in clears or (CLEAR_FILTERS in clears and slot.startswith("filter:")):
                changes.append(MemoryChange("preference", pref.key))
        return changes

    def trace(self) -> Mapping[str, Any]:
        return {
            "preferences": describe_all(p for p, _ in self._effective().values()),
            "notes": [n.text for n in self.recall.notes],
            "stated": describe_all(self.extraction.preferences),
            "cleared": list(self.extraction.clears),
            **({"llm_extraction": self.llm.trace()} if self.llm is not None else {}),
        }


def _domain_counts(counts: Mapping[str, int]) -> MemoryChange:
    """The item that says how often the user asked each domain."""
    top = sorted(counts.items(), key=lambda kv: -kv[1])
    text = "Most asked: " + ", ".join(f"{d} ({n})" for d, n in top[:5])
    return MemoryChange("domains", DOMAINS_ID, text, dict(counts), " ".join(counts))
