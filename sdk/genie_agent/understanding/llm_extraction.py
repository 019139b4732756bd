"""Memories found by an LLM, in addition to the deterministic extractor (when an LLM is configured).

Only sentences that may state something are sent (never a message the deterministic extractor
reads as data questions only), and only when the deterministic extractor did not understand one
of them: "show tables, not charts" costs no LLM call. The model answers a JSON list of the same
kinds the deterministic extractor produces (prompt ``prompts/memory_extraction.md``); every item
is checked against the spaces' vocabulary, and anything else (malformed JSON, an unknown kind, a
value the spaces do not index) is dropped: an LLM never makes up a stored value. The deterministic
result wins on every slot it states or clears. A failing or slow LLM never fails the turn: the
deterministic extraction stands and :attr:`LlmExtraction.status` says why.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import BackendError, ConfigError
from ..llm import OpenAICompatibleChat
from ..prompts import REGISTRY_PREFIX, PromptText, load_prompt_template
from .extraction import PreferenceExtractor
from .preferences import CLEAR_ALL, CLEAR_FILTERS, Extraction, Preference
from .vocabulary import SpaceVocabulary, ValueRef

__all__ = ["MAX_NOTE_CHARS", "LlmExtraction", "LlmMemoryExtractor", "parse_memories"]

MAX_NOTE_CHARS = 300
_CHARTS = frozenset({"table", "bar", "line", "pie"})
_SCALES = frozenset({"thousands", "millions", "billions"})
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


@dataclass
class LlmExtraction:
    """What the LLM added to one message's extraction, for the memory span."""

    status: str = "skipped"
    """``skipped`` (nothing to ask), ``ok``, or ``failed: <why>`` (the deterministic result stands)."""
    added: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def trace(self) -> dict[str, Any]:
        return {"status": self.status, "added": self.added, "rejected": self.rejected}


def _values(item: Mapping[str, Any]) -> list[str] | None:
    values = item.get("values")
    if (
        not isinstance(values, list)
        or not values
        or not all(isinstance(v, str) and v.strip() for v in values)
    ):
        return None
    return [v.strip() for v in values]


def _filter(
    item: Mapping[str, Any], vocabulary: SpaceVocabulary, source: str
) -> tuple[Preference | None, str]:
    values = _values(item)
    dimension = item.get("dimension")
    if values is None or not (dimension is None or isinstance(dimension, str)):
        return None, "filter without a list of values"
    found: dict[str, set[str]] = {}
    chosen: str | None = None
    for value in values:
        refs = vocabulary.known_values(value)
        if dimension and dimension != "value":
            refs = tuple(r for r in refs if r.dimension == dimension)
        elif refs:
            first = sorted({r.dimension or "" for r in refs})[0] or None
            refs = tuple(r for r in refs if r.dimension == first)
        if not refs:
            where = f" of {dimension}" if dimension else ""
            return None, f"{value!r} is not a value{where} the spaces know"
        dims = {r.dimension for r in refs}
        if chosen is not None and chosen not in dims:
            return None, f"{value!r} is not a value of {chosen}"
        chosen = chosen or sorted(dims, key=lambda d: d or "")[0]
        ref: ValueRef
        for ref in refs:
            if ref.dimension == chosen:
                found.setdefault(ref.value, set()).add(ref.space)
    spaces = sorted({s for ss in found.values() for s in ss})
    return Preference(f"filter:{chosen or 'value'}", tuple(sorted(found)), chosen, tuple(spaces), source), ""


def _item(
    item: Any, vocabulary: SpaceVocabulary, sources: Mapping[int, str]
) -> tuple[Preference | str | None, str, str | None]:
    """(a preference, a note or None; why it was rejected; the sentence it came from)."""
    if not isinstance(item, dict):
        return None, f"not an object: {str(item)[:80]}", None
    n = item.get("sentence")
    source = sources.get(n) if isinstance(n, int) and not isinstance(n, bool) else None
    if source is None and len(sources) == 1 and n is None:
        source = next(iter(sources.values()))
    if source is None:
        return None, f"no sentence {n!r}", None
    kind = item.get("kind")
    value = item.get("value")
    if kind == "chart":
        if value not in _CHARTS:
            return None, f"unknown chart type {value!r}", source
        return Preference("chart", (str(value),), source=source), "", source
    if kind == "chart_avoid":
        values = _values(item)
        if values is None or not set(values) <= _CHARTS - {"table"}:
            return None, f"unknown chart types {item.get('values')!r}", source
        return Preference("chart-avoid", tuple(dict.fromkeys(values)), source=source), "", source
    if kind == "scale":
        if value not in _SCALES:
            return None, f"unknown scale {value!r}", source
        return Preference("scale", (str(value),), source=source), "", source
    if kind == "filter":
        pref, why = _filter(item, vocabulary, source)
        return pref, why, source
    if kind == "note":
        text = item.get("text")
        if not isinstance(text, str) or not text.strip(" .") or len(text) > MAX_NOTE_CHARS:
            return None, "a note without a short text", source
        return text.strip().rstrip("."), "", source
    return None, f"unknown kind {kind!r}", source


def parse_memories(
    reply: str, vocabulary: SpaceVocabulary, sources: Mapping[int, str]
) -> tuple[list[tuple[Preference | str, str]], list[str]]:
    """The valid memories of an LLM reply, each with its sentence, and why the others were dropped.

    ``sources`` numbers the sentences the model was shown. A reply that is not a JSON list gives
    nothing (and says so).
    """
    text = reply.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        items = json.loads(text)
    except ValueError:
        return [], [f"not JSON: {reply.strip()[:80]!r}"]
    if not isinstance(items, list):
        return [], [f"not a JSON list: {reply.strip()[:80]!r}"]
    found: list[tuple[Preference | str, str]] = []
    rejected: list[str] = []
    for item in items:
        memory, why, source = _item(item, vocabulary, sources)
        if memory is None or source is None:
            rejected.append(why)
        else:
            found.append((memory, source))
    return found, rejected


class LlmMemoryExtractor:
    """Asks an OpenAI-compatible model for memories the deterministic extractor missed."""

    def __init__(
        self,
        chat: OpenAICompatibleChat,
        *,
        registry: bool = False,
        tracking_uri: str | None = None,
        prompt_prefix: str = REGISTRY_PREFIX,
    ):
        self.chat = chat
        self._registry = registry
        self._tracking_uri = tracking_uri
        self._prompt_prefix = prompt_prefix
        self._prompt: PromptText | None = None

    @property
    def prompt(self) -> PromptText:
        if self._prompt is None:
            self._prompt = load_prompt_template(
                "memory_extraction",
                registry=self._registry,
                tracking_uri=self._tracking_uri,
                prefix=self._prompt_prefix,
            )
        return self._prompt

    def extend(
        self, message: str, deterministic: Extraction, extractor: PreferenceExtractor
    ) -> tuple[Extraction, LlmExtraction]:
        """``deterministic`` with what the LLM found in ``message`` merged in (deterministic wins)."""
        report = LlmExtraction()
        candidates = extractor.candidates(message)
        if all(understood for _, understood in candidates):
            return deterministic, report  # no statement left to understand (or none at all)
        sources = {i: sentence for i, (sentence, _) in enumerate(candidates, 1)}
        try:
            reply = self._ask(sources, extractor.vocabulary)
        except (BackendError, ConfigError) as exc:
            report.status = f"failed: {exc.message}"
            return deterministic, report
        except Exception as exc:  # memory never fails a turn
            report.status = f"failed: {type(exc).__name__}: {exc}"
            return deterministic, report
        found, report.rejected = parse_memories(reply, extractor.vocabulary, sources)
        report.status = "ok"
        return self._merge(message, deterministic, extractor, found, report), report

    def _ask(self, sources: Mapping[int, str], vocabulary: SpaceVocabulary) -> str:
        dimensions = "\n".join(
            f"- {dim}: {', '.join(values)}"
            for dim, values in sorted(vocabulary.values_by_dimension().items())
        )
        sentences = "\n".join(f"{i}. {s.strip()}" for i, s in sources.items())
        messages = self.prompt.messages(dimensions=dimensions or "(none)", sentences=sentences)
        return "".join(self.chat.stream_chat(messages, max_tokens=400))

    @staticmethod
    def _merge(
        message: str,
        deterministic: Extraction,
        extractor: PreferenceExtractor,
        found: list[tuple[Preference | str, str]],
        report: LlmExtraction,
    ) -> Extraction:
        clears = set(deterministic.clears)
        taken = {p.slot for p in deterministic.preferences}
        prefs = list(deterministic.preferences)
        notes = list(deterministic.notes)
        used: set[str] = set()
        for memory, source in found:
            if isinstance(memory, str):
                if memory not in notes and CLEAR_ALL not in clears:
                    notes.append(memory)
                    report.added.append(f'"{memory}"')
                    used.add(source)
                continue
            slot = memory.slot
            if (
                slot in taken
                or slot in clears
                or CLEAR_ALL in clears
                or (CLEAR_FILTERS in clears and slot.startswith("filter:"))
            ):
                report.rejected.append(f"{memory.describe()}: the statement itself says otherwise")
                continue
            taken.add(slot)
            prefs.append(memory)
            report.added.append(memory.describe())
            used.add(source)
        if not used:
            return deterministic
        rest = extractor.extract(message, understood=used)  # those sentences are no longer asked
        return replace(
            deterministic,
            question=rest.question,
            preferences=tuple(prefs),
            transient=tuple(p for p in rest.transient if p.slot not in taken),
            notes=tuple(notes),
            sources=rest.sources,
        )
