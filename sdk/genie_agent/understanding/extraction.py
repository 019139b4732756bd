"""Preferences stated in plain language, extracted deterministically.

Statements are recognised by what they are about, not by fixed sentences: chart and scale words
(:mod:`.display_statements`) and any dimension value the spaces index, said by the user about
themselves (:mod:`.filter_statements`). "remember ..." with nothing structured in it is kept as a
note. A sentence that asks for data is never a preference (:mod:`.sentences`): display words in it
("... in millions?", "... as a table") apply to that question only and are taken out before the
spaces see it.

The vocabulary comes from the spaces (measures, dimensions, their synonyms and indexed values),
so a new space's values are understood with no code change.
"""

from __future__ import annotations

from collections.abc import Iterable

from .clauses import strip_presentation
from .display_statements import chart_statement, clears_scale, scale_statement, strip_display
from .filter_statements import filter_statements
from .lexicon import tokenize
from .preferences import CLEAR_ALL, Extraction, Preference
from .sentences import FORGET, FORGET_ALL, PERSIST, REMEMBER, asks_data, changes_data, split_sentences
from .vocabulary import SpaceVocabulary

__all__ = ["PreferenceExtractor"]


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
        for sentence in split_sentences(strip_presentation(message) or message):
            found = self._statement(sentence)
            if found is None and sentence in elsewhere:
                sources.append(sentence)
                continue
            if found is None:
                question, once = strip_display(sentence, self._is_data)
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
        for sentence in split_sentences(message):
            _, _, terms = self.vocabulary.matches(sentence)
            if asks_data(sentence, terms) or changes_data(sentence):
                continue
            out.append((sentence, self._statement(sentence) is not None))
        return out

    def _statement(self, sentence: str) -> tuple[list[Preference], list[str], str | None] | None:
        """Preferences, clears and a note stated by ``sentence``; None when it is not a statement."""
        tokens, values, terms = self.vocabulary.matches(sentence)
        if asks_data(sentence, terms) or changes_data(sentence):
            return None
        remember = REMEMBER.match(sentence)
        persist = bool(PERSIST.search(sentence))
        body = sentence[remember.end() :] if remember else sentence
        spans = [(m.start, m.end) for m in values] + [(m.start, m.end) for m in terms]
        masked = {i for start, end in spans for i in range(start, end)}
        if FORGET_ALL.search(body):
            return [], [CLEAR_ALL], None
        stated: list[Preference] = []
        cleared: list[str] = []
        forgetting = bool(FORGET.search(body))
        chart = chart_statement(body, tokens, masked, forgetting)
        if isinstance(chart, Preference):
            stated.append(chart)
        elif chart:
            cleared += ["chart", "chart-avoid"]
        scale = scale_statement(body, tokens, masked)
        if clears_scale(body) or (forgetting and scale is not None):
            cleared.append("scale")
        elif scale is not None:
            stated.append(Preference("scale", (scale,), source=sentence.strip()))
        stated_filters, cleared_filters = filter_statements(
            sentence, tokens, values, terms, persist, forgetting
        )
        stated += stated_filters
        cleared += cleared_filters
        if stated or cleared:
            return stated, cleared, None
        if remember and body.strip(" ,.;"):
            return [], [], body.strip().rstrip(".")
        return None

    def _is_data(self, text: str, start: int, end: int) -> bool:
        """Is text[start:end] part of a phrase the spaces know (a value or a measure)?"""
        _, values, terms = self.vocabulary.matches(text)
        tokens = tokenize(text)
        spans = [(m.start, m.end) for m in values] + [(m.start, m.end) for m in terms]
        return any(tokens[a].start < end and tokens[b - 1].end > start for a, b in spans)
