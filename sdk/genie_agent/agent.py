"""The agent: answers questions over a set of Genie spaces, one turn at a time, many turns at once.

A turn is one coroutine on the process's core loop (:mod:`genie_agent.aio`) that runs its phases
(:class:`genie_agent.phases.Turn`: recall, route, ask the spaces, write the answer, finish) and
yields typed events as they happen. :meth:`Agent.astream` reads it from any event loop,
:meth:`Agent.stream` from any thread; :meth:`Agent.ask` and :meth:`Agent.aask` collect it. One
implementation of a turn, four ways to read it.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .aio import aiterate, core, iterate_sync
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

if TYPE_CHECKING:
    from .capacity import QuestionLimiter
    from .memory.threads import ThreadState
    from .spaces.discovery import SpaceDiscovery

__all__ = ["Agent", "AgentLimits"]

_END = object()

_POOLED_SOURCES = frozenset({"genie", "warehouse"})
"""Backends whose spaces send requests over the core loop's pooled HTTP connections
(:mod:`.spaces.genie_connections`: Genie's API, and the warehouse's Statement Execution API)."""


@dataclass(frozen=True)
class AgentLimits:
    max_question_chars: int = 4000
    space_timeout_s: float = 120.0
    """A space's time to answer, from when its question is sent."""
    data_rows: int = 100
    capacity_wait_s: float = 600.0
    """The longest a question waits for the workspace's question limiter before it fails unsent."""


@dataclass(frozen=True)
class _Understanding:
    """What the spaces know and what reads questions with it, replaced as one."""

    vocabulary: SpaceVocabulary
    router: Router
    extractor: PreferenceExtractor

    @classmethod
    def of(cls, vocabulary: SpaceVocabulary) -> _Understanding:
        return cls(vocabulary, Router(vocabulary), PreferenceExtractor(vocabulary))


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
        limiter: QuestionLimiter | None = None,
        discovery: SpaceDiscovery | None = None,
    ) -> None:
        """``threads`` None turns memory off (``memory_status`` "disabled"); ``memories`` None turns
        off long-term memory (preferences and notes) only. ``memory_llm`` also finds memories in
        statements with an LLM, beside the deterministic extractor. ``vocabulary`` (what the spaces
        know, for the router and the preference extractor) is gathered from ``spaces`` when not given.
        ``limiter`` paces the questions sent to Genie (the workspace's questions per minute).
        ``discovery`` reads the Genie spaces' vocabulary again when its interval has passed: in the
        background, the vocabulary, router and extractor then replaced together, no turn waiting."""
        self.memory_llm = memory_llm
        self.spaces = dict(spaces)
        self.threads = threads
        self.memories = memories
        self._turn_locks = TurnLocks()
        self._understanding = _Understanding.of(
            vocabulary if vocabulary is not None else SpaceVocabulary.from_spaces(self.spaces)
        )
        self.discovery = discovery
        self.limits = limits or AgentLimits()
        self.source = source
        self.synthesizer: Synthesizer = synthesizer or DeterministicSynthesizer()
        self.limiter = limiter
        self._fan_out: FanOut | None = None
        self._fan_out_lock = threading.Lock()
        self.tracer: Tracer = tracer or NoopTracer()

    @property
    def vocabulary(self) -> SpaceVocabulary:
        return self._understanding.vocabulary

    @property
    def router(self) -> Router:
        return self._understanding.router

    @property
    def extractor(self) -> PreferenceExtractor:
        return self._understanding.extractor

    def _rediscovered(self) -> None:
        """The spaces' vocabulary was read again (on discovery's thread): the three parts built from it
        replace the old ones in one assignment, so a turn reading them sees old or new, never a mix."""
        self._understanding = _Understanding.of(SpaceVocabulary.from_spaces(self.spaces))

    @property
    def traced(self) -> bool:
        """Spans are kept: build their costlier outputs only then."""
        return type(self.tracer) is not NoopTracer

    @property
    def fan_out(self) -> FanOut:
        """Asks the routed spaces at once (made on first use: the tracer may be set after ``__init__``)."""
        if self._fan_out is None:
            with self._fan_out_lock:
                if self._fan_out is None:
                    self._fan_out = FanOut(
                        self.spaces,
                        self.tracer,
                        self.limits.space_timeout_s,
                        limiter=self.limiter,
                        capacity_wait_s=self.limits.capacity_wait_s,
                    )
        return self._fan_out

    def close(self) -> bool:
        """Close what the agent holds: its spaces (databases, the core loop's HTTP connections to a
        workspace), its memory stores and its question limiter. Whether every part could be closed;
        a part that has no ``close`` or fails to close is left to the collector. Not usable after."""
        closed = True
        for part in (*self.spaces.values(), self.threads, self.memories):
            close = getattr(part, "close", None) if part is not None else (lambda: None)
            try:
                if close is None:
                    closed = False
                else:
                    close()
            except Exception:  # as when the collector closed it first
                closed = False
        if self.limiter is not None or self.source in _POOLED_SOURCES:
            closed = self._close_on_core() and closed
        return closed

    def _close_on_core(self) -> bool:
        """The limiter and the workspace connections (Genie's or the warehouse's) live on the core
        loop: closed there."""
        import asyncio

        from .aio import core as core_loop

        async def close() -> None:
            if self.limiter is not None:
                await self.limiter.aclose()
            if self.source in _POOLED_SOURCES:
                from .spaces.genie_connections import aclose_connections

                await aclose_connections()

        try:
            asyncio.run_coroutine_threadsafe(close(), core_loop().loop).result(timeout=10)
        except Exception:
            return False
        return True

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

    def ask(self, question: str, **kwargs: Any) -> TurnResult:
        """Run a turn to the end and return its result (from any thread but the core loop's)."""
        for event in self.stream(question, **kwargs):
            if isinstance(event, TurnDone):
                return event.result
        raise AssertionError("a turn always ends with TurnDone")  # pragma: no cover

    async def aask(self, question: str, **kwargs: Any) -> TurnResult:
        """:meth:`ask` for async code."""
        async for event in self.astream(question, **kwargs):
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
        previous: ThreadState | None = None,
    ) -> Iterator[TurnEvent]:
        """Run one turn, yielding events as they happen. Bad input raises before any event.

        ``identity`` (default: the trusted local ``user``) decides the thread's owner, the spaces
        that may be asked and the rows they return. ``previous``: with memory off, the state of the
        turn this one follows (its domains, conversations and answer's members) passed along instead
        of loaded. Closing the iterator early cancels the turn.
        """
        turn = self._turn(question, user, thread_id, domains, genie_conversation_ids, identity, previous)
        yield from iterate_sync(lambda: self._run(turn))

    async def astream(
        self,
        question: str,
        *,
        user: str = "local",
        thread_id: str | None = None,
        domains: Sequence[str] | None = None,
        genie_conversation_ids: Mapping[str, str] | None = None,
        identity: Identity | None = None,
        previous: ThreadState | None = None,
    ) -> AsyncIterator[TurnEvent]:
        """:meth:`stream` for async code: the turn runs on the core loop, its events arrive here."""
        turn = self._turn(question, user, thread_id, domains, genie_conversation_ids, identity, previous)
        async for event in aiterate(lambda: self._run(turn)):
            yield event

    def _turn(
        self,
        question: str,
        user: str,
        thread_id: str | None,
        domains: Sequence[str] | None,
        genie_conversation_ids: Mapping[str, str] | None,
        identity: Identity | None,
        previous: ThreadState | None,
    ) -> Turn:
        """The checked request as a turn not yet run."""
        text = self.validate_question(question)
        if self.discovery is not None:
            self.discovery.refresh_in_background(self._rediscovered)
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
        return Turn(self, text, who, thread_id, domains, genie_conversation_ids, previous)

    async def _run(self, turn: Turn) -> AsyncIterator[TurnEvent]:
        """The turn, on the core loop. Its steps that block run in the io pool, each inside ``ctx``
        (the turn's context, entered by one step at a time), so its spans nest across steps."""
        loop, ctx = core(), contextvars.copy_context()
        root_span = self.tracer.span(
            "genie_agent.turn", "AGENT", {"question": turn.text, "user": turn.who.user}
        )
        root = ctx.run(root_span.__enter__)
        try:
            async with self._turn_locks.hold(turn.thread_id):  # turns on one thread take turns
                # The trace's id where traced.
                turn.turn_id = str(getattr(root, "trace_id", None) or turn.turn_id)
                loop.routing()
                try:
                    await loop.run_io(ctx, turn.recall)
                    route = ctx.run(turn.route)
                finally:
                    loop.routed()
                yield route
                async for event in turn.ask_spaces(loop, ctx):
                    yield event
                await loop.heavy()  # the answer is written after new turns' routes
                writing = ctx.run(turn.write_answer)
                while (event := await loop.run_io(ctx, next, writing, _END)) is not _END:
                    yield event
                result = await loop.run_io(ctx, turn.finish)
                ctx.run(
                    root.set_outputs,
                    {"status": result.status, "text": result.text, "grounding": result.grounding},
                )
                ctx.run(
                    root.set_attributes,
                    {"domains": list(result.route.domains), "timings_ms": result.timings_ms},
                )
        except BaseException as exc:
            # Cancelled while a step still runs in ``ctx`` in a pool: the span is left to that step.
            with contextlib.suppress(RuntimeError):
                ctx.run(root_span.__exit__, type(exc), exc, exc.__traceback__)
            raise
        ctx.run(root_span.__exit__, None, None, None)
        yield TurnDone(result)
