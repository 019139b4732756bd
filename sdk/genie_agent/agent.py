"""The agent: answers questions over a set of Genie spaces, one turn at a time, many turns at once.

:meth:`Agent.stream` runs a turn's phases (:class:`genie_agent.phases.Turn`: recall, route, ask the
spaces, write the answer, finish) and yields typed events as they happen; :meth:`Agent.ask` is the
stream collected.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .errors import UnknownSpaceError, UserInputError
from .fan_out import FanOut
from .identity import Identity, PermissionDeniedError
from .memory.store import MemoryStore
from .memory.threads import ThreadStore, TurnLocks
from .phases import Turn
from .spaces.base import GenieSpace
from .synthesis import DeterministicSynthesizer, Synthesizer
from .tracing import NoopTracer, Tracer
from .turn import TurnDone, TurnEvent, TurnResult
from .understanding.extraction import PreferenceExtractor
from .understanding.llm_extraction import LlmMemoryExtractor
from .understanding.routing import Router
from .understanding.vocabulary import SpaceVocabulary

__all__ = ["SPACE_WORKERS", "Agent", "AgentLimits"]

SPACE_WORKERS = 32
"""Space calls in flight at once across all turns of one agent (a Genie call mostly waits)."""


@dataclass(frozen=True)
class AgentLimits:
    max_question_chars: int = 4000
    space_timeout_s: float = 120.0
    data_rows: int = 100


class Agent:
    """Answers questions over a set of Genie spaces. Thread-safe; one instance serves many turns."""

    def __init__(
        self,
        spaces: Mapping[str, GenieSpace],
        threads: ThreadStore | None,
        *,
        vocabulary: SpaceVocabulary | None = None,
        limits: AgentLimits | None = None,
        source: str = "local",
        synthesizer: Synthesizer | None = None,
        tracer: Tracer | None = None,
        memories: MemoryStore | None = None,
        memory_llm: LlmMemoryExtractor | None = None,
    ) -> None:
        """``threads`` None turns memory off (``memory_status`` "disabled"); ``memories`` None turns
        off long-term memory (preferences and notes) only. ``memory_llm`` also finds memories in
        statements with an LLM, beside the deterministic extractor. ``vocabulary`` (what the spaces
        know, for the router and the preference extractor) is gathered from ``spaces`` when not given."""
        self.memory_llm = memory_llm
        self.spaces = dict(spaces)
        self.threads = threads
        self.memories = memories
        self._turn_locks = TurnLocks()
        self.vocabulary = vocabulary if vocabulary is not None else SpaceVocabulary.from_spaces(self.spaces)
        self.router = Router(self.vocabulary)
        self.extractor = PreferenceExtractor(self.vocabulary)
        self.limits = limits or AgentLimits()
        self.source = source
        self.synthesizer: Synthesizer = synthesizer or DeterministicSynthesizer()
        self._fan_out: FanOut | None = None
        self._executor_lock = threading.Lock()
        self.tracer: Tracer = tracer or NoopTracer()

    @property
    def traced(self) -> bool:
        """Spans are kept: build their costlier outputs only then."""
        return type(self.tracer) is not NoopTracer

    @property
    def fan_out(self) -> FanOut:
        """Asks the routed spaces at once, on one pool for the agent's life (a new pool per turn costs
        ~0.3 ms of the turn's overhead)."""
        if self._fan_out is None:
            with self._executor_lock:
                if self._fan_out is None:
                    pool = ThreadPoolExecutor(max_workers=SPACE_WORKERS, thread_name_prefix="genie-space")
                    self._fan_out = FanOut(self.spaces, pool, self.tracer, self.limits.space_timeout_s)
        return self._fan_out

    def validate_question(self, question: str) -> str:
        text = question.strip()
        if not text:
            raise UserInputError(
                "The question is empty.", "Ask something, e.g. 'What was total revenue in 1996?'"
            )
        if len(text) > self.limits.max_question_chars:
            raise UserInputError(
                f"The question is {len(text):,} characters long; the limit is {self.limits.max_question_chars:,}.",
                "Ask a shorter question (raise GENIE_AGENT_MAX_QUESTION_CHARS if you must).",
            )
        return text

    def ask(self, question: str, **kwargs: object) -> TurnResult:
        """Run a turn to the end and return its result."""
        for event in self.stream(question, **kwargs):  # type: ignore[arg-type]
            if isinstance(event, TurnDone):
                return event.result
        raise AssertionError("a turn always ends with TurnDone")  # pragma: no cover

    def stream(
        self,
        question: str,
        *,
        user: str = "local",
        thread_id: str | None = None,
        domains: Sequence[str] | None = None,
        genie_conversation_ids: Mapping[str, str] | None = None,
        identity: Identity | None = None,
    ) -> Iterator[TurnEvent]:
        """Run one turn, yielding events as they happen. Bad input raises before any event.

        ``identity`` (default: the trusted local ``user``) decides the thread's owner, the spaces
        that may be asked and the rows they return.
        """
        text = self.validate_question(question)
        who = identity or Identity(user)
        for d in domains or ():
            if d not in self.spaces:
                raise UnknownSpaceError(
                    f"There is no space called {d!r}.", f"Known spaces: {', '.join(sorted(self.spaces))}."
                )
            if not who.may_use(d):
                raise PermissionDeniedError(
                    f"User {who.user!r} may not query the {d} space.", "Ask the operator for access."
                )
        turn = Turn(self, text, who, thread_id, domains, genie_conversation_ids)
        with (
            self.tracer.span("genie_agent.turn", "AGENT", {"question": text, "user": who.user}) as root,
            self._turn_locks.hold(thread_id),  # turns on one thread take turns
        ):
            turn.turn_id = str(getattr(root, "trace_id", None) or turn.turn_id)  # the trace's id where traced
            turn.recall()
            yield turn.route()
            yield from turn.ask_spaces()
            yield from turn.write_answer()
            result = turn.finish()
            root.set_outputs({"status": result.status, "text": result.text, "grounding": result.grounding})
            root.set_attributes({"domains": list(result.route.domains), "timings_ms": result.timings_ms})
        yield TurnDone(result)
