"""LLM synthesis: an OpenAI-compatible model writes the answer from the results, streamed.

The system prompt is the packaged ``prompts/synthesis.md`` (or its registered version); the user
message carries the question and each space's result as compact JSON rows, bounded per result.
The model is told to copy numbers exactly; the grounding check still reads every answer.

Failure contract:

* the LLM fails before its first token (or returns no text): the answer is the deterministic one,
  and :attr:`LlmSynthesizer.last_fallback_reason` says why (per turn inside it, the last turn's
  outside; None when the LLM wrote it);
* the LLM fails after tokens were streamed: :class:`BackendError` is raised (the caller decides:
  the partial text is already out);
* no space answered: the deterministic text (which names each failure), without calling the LLM;
* the prompt template itself is unusable (a registered version needing variables genie-agent does
  not supply): :class:`ConfigError`, raised before any text.
"""

from __future__ import annotations

import contextvars
import json
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .errors import BackendError
from .llm import OpenAICompatibleChat
from .prompts import REGISTRY_PREFIX, PromptText, load_prompt_template
from .synthesis import DeterministicSynthesizer
from .turn import ResultTable

_UNSET = object()
_FALLBACK_REASON: contextvars.ContextVar[object] = contextvars.ContextVar("genie_agent_synthesis_fallback")

__all__ = ["MAX_CELL_CHARS", "MAX_ROWS_PER_RESULT", "LlmSynthesizer", "render_results"]

logger = logging.getLogger(__name__)

MAX_ROWS_PER_RESULT = 50
MAX_CELL_CHARS = 200


def _cell(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
        return value[:MAX_CELL_CHARS] + "…"
    return value


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def render_results(
    results: Sequence[ResultTable],
    failures: Mapping[str, str],
    titles: Mapping[str, str],
    *,
    max_rows: int = MAX_ROWS_PER_RESULT,
) -> str:
    """The results as the model reads them: one section per space, rows as JSON arrays.

    At most ``max_rows`` rows per result, with the full row count stated; failed spaces (an
    ``error`` on the result, or an entry in ``failures``) say so and carry no rows.
    """
    sections = []
    for r in results:
        title = titles.get(r.domain, r.domain)
        if r.error is not None:
            sections.append(
                f"### {title} (space {r.domain}): FAILED\nError: {r.error}\nGive no figures for this space."
            )
            continue
        lines = [f"### {title} (space {r.domain}): answered"]
        if r.text:
            lines.append(f"Description: {r.text}")
        shown = r.rows[:max_rows]
        count = f"Row count: {r.row_count}"
        if r.truncated:
            count += " (truncated at the row limit: the full result has more rows)"
        if len(shown) < len(r.rows) or len(shown) < r.row_count:
            count += f"; only the first {len(shown)} rows are shown below"
        lines.append(count)
        if not r.rows:
            lines.append("The query returned no rows.")
        else:
            lines.append(f"Columns: {_dumps(list(r.columns))}")
            lines.append("Rows:")
            lines.extend(_dumps([_cell(v) for v in row]) for row in shown)
        sections.append("\n".join(lines))
    for domain, error in failures.items():
        title = titles.get(domain, domain)
        sections.append(
            f"### {title} (space {domain}): FAILED\nError: {error}\nGive no figures for this space."
        )
    return "\n\n".join(sections) if sections else "(no space returned a result)"


class LlmSynthesizer:
    """A :class:`~genie_agent.synthesis.Synthesizer` backed by an OpenAI-compatible chat endpoint.

    The prompt template is loaded once, on the first answer (``prompt`` overrides it; ``registry``
    and ``tracking_uri`` go to :func:`~genie_agent.prompts.load_prompt_template`).
    """

    name = "llm"

    def __init__(
        self,
        chat: OpenAICompatibleChat,
        *,
        prompt: PromptText | None = None,
        registry: bool = False,
        tracking_uri: str | None = None,
        prompt_prefix: str = REGISTRY_PREFIX,
        max_rows: int = MAX_ROWS_PER_RESULT,
        temperature: float = 0.0,
        max_tokens: int = 800,
    ) -> None:
        self.chat = chat
        self.max_rows = max_rows
        self.temperature = temperature
        self.max_tokens = max_tokens
        self._prompt = prompt
        self._registry = registry
        self._tracking_uri = tracking_uri
        self._prompt_prefix = prompt_prefix
        self._prompt_lock = threading.Lock()
        self._last_reason: str | None = None
        self._fallback = DeterministicSynthesizer()

    @property
    def prompt(self) -> PromptText:
        """The system prompt template in use (loaded on first access)."""
        if self._prompt is None:
            with self._prompt_lock:
                if self._prompt is None:
                    self._prompt = load_prompt_template(
                        "synthesis",
                        registry=self._registry,
                        tracking_uri=self._tracking_uri,
                        prefix=self._prompt_prefix,
                    )
        return self._prompt

    @property
    def last_fallback_reason(self) -> str | None:
        """Why the last :meth:`stream` wrote the deterministic answer instead of the LLM's (the
        endpoint's error), or None when the LLM wrote it. Inside a turn (its trace attributes) the
        turn's own; elsewhere the last turn's. Read it after the stream is consumed."""
        reason = _FALLBACK_REASON.get(_UNSET)
        return self._last_reason if reason is _UNSET else reason  # type: ignore[return-value]

    def _fell_back(self, reason: str | None) -> None:
        _FALLBACK_REASON.set(reason)
        self._last_reason = reason

    def trace_attributes(self) -> dict[str, object]:
        """The prompt version the turn used (links the trace to the registry) and any fallback."""
        prompt = self.prompt
        return {
            "synthesizer": self.name,
            "llm.model": self.chat.model,
            "prompt.name": prompt.name,
            "prompt.version": prompt.version or "file",
            "prompt.uri": prompt.uri or "",
            "fallback_reason": self.last_fallback_reason or "",
        }

    def messages(
        self,
        question: str,
        results: Sequence[ResultTable],
        failures: Mapping[str, str],
        titles: Mapping[str, str],
    ) -> list[dict[str, str]]:
        """The chat messages sent for one answer."""
        rendered = render_results(results, failures, titles, max_rows=self.max_rows)
        prompt = self.prompt
        messages = prompt.messages(question=question, results=rendered)
        if len(messages) == 1 or "results" not in prompt.variables:
            # A (registry-edited) template without a user part or without {{results}}: the data still
            # goes to the model, in a user message of its own.
            messages.append({"role": "user", "content": f"Question: {question}\n\nResults:\n\n{rendered}"})
        return messages

    def stream(
        self,
        question: str,
        results: Sequence[ResultTable],
        failures: Mapping[str, str],
        titles: Mapping[str, str],
    ) -> Iterator[str]:
        self._fell_back(None)
        if not any(r.error is None for r in results):
            yield from self._fallback.stream(question, results, failures, titles)
            return
        deltas = self.chat.stream_chat(
            self.messages(question, results, failures, titles),
            temperature=self.temperature,
            max_tokens=self.max_tokens,
        )
        started = False
        try:
            while True:
                try:
                    delta = next(deltas)
                except StopIteration:
                    break
                except BackendError as exc:
                    if started:
                        raise
                    self._fell_back(str(exc))
                    logger.warning(
                        "LLM synthesis failed before its first token (%s); answering deterministically.", exc
                    )
                    break
                started = True
                yield delta
        finally:
            deltas.close()
        if not started:
            if self.last_fallback_reason is None:
                self._fell_back(f"The LLM endpoint ({self.chat.endpoint}) returned no text.")
            yield from self._fallback.stream(question, results, failures, titles)
