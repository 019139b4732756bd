"""A turn as its phases: recall -> route -> ask the spaces -> write the answer -> finish.

:class:`Turn` holds one turn's state (who asks, the question, the thread, the memory, the route, the
results, the failures, the suggestions) and has one method per phase, each opening its span and
timing itself on one clock (``timings_ms``: recall, route, spaces, synthesis, save, total). The
agent runs them in order on the core loop (:meth:`genie_agent.agent.Agent.astream`); each phase that
emits events is a generator, so the turn streams as it goes. Only asking the spaces is async (it
waits on them); the other phases are plain code the agent runs in a pool where they block (memory
I/O, an LLM's stream), each inside the turn's one context, so a span opened in one step closes in
a later one.
"""

from __future__ import annotations

import contextvars
import time
import uuid
from collections.abc import AsyncIterator, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from . import declines
from .combine import combine_results
from .errors import GenieAgentError
from .formatting import scaled
from .grounding import check_grounding
from .identity import Identity
from .memory.errors import MemoryUnavailableError, ThreadNotAvailableError
from .memory.threads import ThreadState, TurnRecord, summarize_results
from .synthesis import synthesize
from .tracing import Span
from .turn import (
    COMBINED,
    Clarification,
    ResultTable,
    RouteDecided,
    SpaceAnswered,
    SpaceFailed,
    TextDelta,
    TurnEvent,
    TurnResult,
    TurnStatus,
    VisualizationReady,
)
from .turn_memory import TurnMemory
from .understanding.references import carry_members, resolve_references, result_members
from .understanding.routing import RouteDecision, RouteKind

if TYPE_CHECKING:
    from .agent import Agent
    from .aio import CoreLoop

__all__ = ["Turn"]

_DENIED = "You don't have access to this space; it was not asked."


class Turn:
    """One turn's state and its phases. Made per turn by the agent; not shared between threads."""

    def __init__(
        self,
        agent: Agent,
        text: str,
        who: Identity,
        thread_id: str | None,
        domains: Sequence[str] | None = None,
        genie_conversation_ids: Mapping[str, str] | None = None,
        previous: ThreadState | None = None,
    ) -> None:
        self.agent, self.text, self.who, self.thread_id = agent, text, who, thread_id
        self.previous = previous
        self.domains = tuple(domains or ())
        self.asked_conv_ids = dict(genie_conversation_ids or {})
        self.started = time.perf_counter()
        self.timings: dict[str, float] = {}
        self.turn_id = uuid.uuid4().hex
        self.memory_failures: list[str] = []
        self.state = ThreadState(thread_id or "", who.user)
        self.memory: TurnMemory | None = None
        self.question = text
        self.conv_ids: dict[str, str] = {}
        self.decision = RouteDecision("single", (), 1.0, "")
        self.results: list[ResultTable] = []
        self.failures: dict[str, str] = {}
        self.refused: set[str] = set()
        self.suggested: list[str] = []
        self.combined: ResultTable | None = None
        self.status: TurnStatus = "ok"
        self.chunks: Iterable[str] = ()
        self.answer_text = ""
        self.grounding: Any = {"ok": True, "unsupported_numbers": []}
        self.hint: dict[str, Any] | None = None

    # --- the clock -----------------------------------------------------------------------------------
    @contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        """Times the block as phase ``name`` (recorded once, added up when a phase runs in parts)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + (time.perf_counter() - started) * 1000

    def _span(self, name: str, kind: str, inputs: Mapping[str, Any]) -> Any:
        return self.agent.tracer.span(name, kind, inputs)  # type: ignore[arg-type]

    @property
    def _memory(self) -> TurnMemory:
        assert self.memory is not None, "recall() runs first"
        return self.memory

    # --- recall: the thread and what memory holds for this user ----------------------------------------
    def recall(self) -> None:
        agent, user = self.agent, self.who.user
        with self._phase("recall"):
            with self._span(
                "memory.load_thread", "RETRIEVER", {"thread_id": self.thread_id, "user": user}
            ) as span:
                self.state = self._load()
                span.set_outputs({"turns": self.state.turns, "last_domains": list(self.state.last_domains)})
            with self._span("memory.recall", "RETRIEVER", {"user": user, "question": self.text}) as span:
                # The notes only matter to the answer's text: searched while the spaces work, unless the
                # span shows them or a statement is written first (a note stated now is not recalled now).
                memory = TurnMemory.begin(
                    agent.memories, agent.extractor, user, self.text, agent.memory_llm, notes=False
                )
                if agent.traced or memory.statement_only:
                    memory.recall_notes(agent.memories, user)
                if agent.traced:
                    span.set_outputs(memory.trace())
            self.memory = memory
            if memory.statement_only:  # the answer is whether this worked
                self._save_memories(())
            # Statements taken out: what the spaces answer; "those nations": the last answer's members.
            self.question = resolve_references(memory.question or self.text, self.state.last_members)
            agent.tracer.tag_trace(
                user=user, session_id=self.state.thread_id, metadata={"genie_agent.source": agent.source}
            )
            self.conv_ids = {**self.state.genie_conversation_ids, **self.asked_conv_ids}

    def _load(self) -> ThreadState:
        """The thread's state; with memory off the ``previous`` state passed in (or a new one); a new
        one when memory is down (the turn goes on without history).

        Another user's thread raises :class:`ThreadNotAvailableError`.
        """
        threads, user = self.agent.threads, self.who.user
        if threads is not None:
            try:
                return threads.load(self.thread_id, user)
            except MemoryUnavailableError as exc:
                self.memory_failures.append(exc.message)
            except GenieAgentError:
                raise  # another user's thread
            except Exception as exc:  # a bug in a store must not lose the answer
                self.memory_failures.append(f"load thread: {type(exc).__name__}: {exc}")
        if self.previous is not None and self.previous.user == user:
            return self.previous
        return ThreadState(self.thread_id or uuid.uuid4().hex, user)

    # --- route: which spaces, asked what ---------------------------------------------------------------
    def route(self) -> RouteDecided:
        agent, memory, question = self.agent, self._memory, self.question
        with self._phase("route"), self._span("route", "PARSER", {"question": question}) as span:
            if memory.statement_only:
                decision = RouteDecision("single", (), 1.0, "a statement to remember; no data was asked")
            elif self.domains:
                kind: RouteKind = "single" if len(self.domains) == 1 else "cross_domain"
                decision = RouteDecision(
                    kind,
                    self.domains,
                    1.0,
                    "spaces chosen by the caller",
                    {d: question for d in self.domains},
                )
            else:
                decision = _allowed(agent.router.route(question, self.state.last_domains), self.who)
            decision = _carried(memory.route(decision, agent.vocabulary), self.state)
            span.set_outputs(
                {
                    "kind": decision.kind,
                    "domains": list(decision.domains),
                    "confidence": decision.confidence,
                    "reason": decision.reason,
                }
            )
        self.decision = decision
        self.failures = {d: _DENIED for d in decision.denied if decision.domains}
        return RouteDecided(decision)

    # --- ask the spaces (or say why none is asked) -----------------------------------------------------
    async def ask_spaces(self, core: CoreLoop, ctx: contextvars.Context) -> AsyncIterator[TurnEvent]:
        """On the core loop; ``ctx`` is the turn's context (its spans), which only this phase enters now."""
        decision, memory = self.decision, self._memory
        if memory.statement_only:
            self.chunks = [memory.acknowledgement()]
            return
        if decision.kind in ("ambiguous", "refused", "out_of_scope"):
            for event in ctx.run(list, self._answer_without_data()):
                yield event
            return
        agent = self.agent
        with self._phase("spaces"):
            # While the spaces work: the domain counts (taken back at the end if none answered) and what
            # the message stated, in one store call.
            writes = None if agent.memories is None else partial(self._while_spaces_work, decision.domains)
            async for event in agent.fan_out.astream(core, ctx, decision, self.conv_ids, self.who, writes):
                yield event
                if isinstance(event, SpaceAnswered):
                    self.results.append(ResultTable.from_answer(event.answer))
                    self.conv_ids[event.domain] = event.answer.conversation_id
                    self.suggested += event.answer.suggested_questions
                elif isinstance(event, SpaceFailed):
                    self.failures[event.domain] = f"{event.error} {event.hint}".strip()
                    if event.refused:
                        self.refused.add(event.domain)
        order = {d: i for i, d in enumerate(decision.domains)}
        self.results.sort(key=lambda r: order.get(r.domain, 99))
        self.status = _status(self.results, self.failures, self.refused, decision)
        self.combined = combine_results(self.results) if decision.kind == "cross_domain" else None
        for event in ctx.run(list, self._plan_the_answer()):
            yield event

    def _answer_without_data(self) -> Iterator[TurnEvent]:
        decision, spaces = self.decision, self.agent.spaces
        if decision.kind == "ambiguous":
            self.status = "clarify"
            message = declines.which_space(decision, spaces)
            self.suggested = [q for d in decision.domains for q in spaces[d].info.sample_questions[:2]]
            yield Clarification(message, tuple(self.suggested))
            self.chunks = [message]
            return
        self.status = "refused" if decision.kind == "refused" else "out_of_scope"
        self.chunks = [declines.decline(decision, spaces, self.who)]
        self.suggested = declines.suggestions(spaces, self.who, self._memory.recall.domains)

    def _plan_the_answer(self) -> Iterator[TurnEvent]:
        """What the answer is written from: the refusals, a clarification, or the synthesizer's stream."""
        titles = {k: s.info.title for k, s in self.agent.spaces.items()}
        if self.status == "refused":
            self.chunks = [" ".join(self.failures[d] for d in self.refused)]
        elif self.status == "clarify":
            message = synthesize(self.results, self.failures, titles)
            yield Clarification(message, tuple(dict.fromkeys(self.suggested)))
            self.chunks = [message]
        else:
            context = self._memory.llm_context()
            asked = f"{self.question}\n\n{context}" if context else self.question
            written = self.results if self.combined is None else [*self.results, self.combined]
            titles[COMBINED] = "Together"
            self.chunks = self.agent.synthesizer.stream(asked, written, self.failures, titles)

    def _while_spaces_work(self, domains: Sequence[str]) -> None:
        self._memory.recall_notes(
            self.agent.memories, self.who.user
        )  # before the writes, as a recall before the turn
        self._save_memories(domains)

    def _save_memories(self, domains: Sequence[str]) -> None:
        """What the message stated and the domain counts, in one store call (failures go to
        ``memory_status`` through the save_thread span, so this span's outputs never say "failed")."""
        with self._span("memory.save_memories", "MEMORY", {"user": self.who.user}) as span:
            self._memory.save(self.agent.memories, self.who.user, domains)
            span.set_outputs({"domains": list(domains), "stated": self._memory.saved})

    # --- write the answer ------------------------------------------------------------------------------
    def write_answer(self) -> Iterator[TurnEvent]:
        agent, memory, user = self.agent, self._memory, self.who.user
        memory.recall_notes(agent.memories, user)  # when no space was asked
        if memory.stated_pending:  # no space answered: what the message stated, before the answer
            self._save_memories(())
        # Before the text: the answer says when a remembered chart preference changed the hint.
        charted = self.results if self.combined is None else [self.combined]
        primary_rows = next((len(r.rows) for r in charted if r.error is None and r.columns), 0)
        self.hint = memory.visualization(_visualization(self.question, charted), primary_rows)
        synthesizer = agent.synthesizer
        kind = "LLM" if synthesizer.name == "llm" else "CHAIN"
        inputs = {"question": self.text, "synthesizer": synthesizer.name}
        with self._phase("synthesis"), self._span("synthesis", kind, inputs) as span:
            parts = yield from self._stream_text()
            said = memory.notice()  # one short sentence when memory changed the answer
            if said:
                parts.append(f"\n\n{said}" if parts else said)
                yield TextDelta(parts[-1])
            self.answer_text = "".join(parts)
            self._ground(said, span)
        if self.hint is not None:
            yield VisualizationReady(self.hint)

    def _stream_text(self) -> Generator[TurnEvent, None, list[str]]:
        parts: list[str] = []
        scale = self._memory.scale(r.rows for r in self.results if r.error is None)
        try:
            for chunk in scaled(self.chunks, scale):
                parts.append(chunk)
                yield TextDelta(chunk)
        except GenieAgentError as exc:  # the LLM failed mid-answer: say so; the results stand
            notice = f"\n\n(The answer was cut off: {exc.message} The result tables are complete.)"
            parts.append(notice)
            yield TextDelta(notice)
            self.status = "partial"
        return parts

    def _ground(self, said: str, span: Span) -> None:
        answered = [r for r in self.results if r.error is None]
        # Numbers the user or an error message said are not claims about the data, nor is the engine's
        # own description of each query (the year a follow-up carried over).
        context = " ".join([self.text, said, *self.failures.values(), *(r.text for r in answered)])
        self.grounding = check_grounding(
            self.answer_text, [r.rows for r in answered], context, [r.row_count for r in answered]
        )
        span.set_outputs(self.answer_text)
        span.set_attributes(
            {
                **self.agent.synthesizer.trace_attributes(),
                "grounding.ok": self.grounding["ok"],
                "grounding.unsupported_numbers": self.grounding["unsupported_numbers"],
            }
        )

    # --- finish: save the thread, the result -----------------------------------------------------------
    def finish(self) -> TurnResult:
        agent, memory = self.agent, self._memory
        with (
            self._phase("save"),
            self._span("memory.save_thread", "MEMORY", {"thread_id": self.state.thread_id}) as span,
        ):
            self._save_thread()
            if self.status not in ("ok", "partial"):  # only answered turns count
                memory.uncount(agent.memories, self.who.user)
            memory_status = _memory_status(agent, [*self.memory_failures, *memory.failures])
            span.set_outputs(memory_status)
        self.timings["total"] = (time.perf_counter() - self.started) * 1000
        return TurnResult(
            status=self.status,
            text=self.answer_text,
            route=self.decision,
            results=tuple(self.results),
            thread_id=self.state.thread_id,
            genie_conversation_ids={d: self.conv_ids[d] for d in self.conv_ids if d in agent.spaces},
            grounding=self.grounding,
            memory_status=memory_status,
            source=agent.source,
            visualization_hint=self.hint,
            suggested_questions=tuple(dict.fromkeys(self.suggested))[:6],
            data_rows=agent.limits.data_rows,
            timings_ms=dict(self.timings),
            combined=self.combined,
            turn_id=self.turn_id,
        )

    def _save_thread(self) -> None:
        threads = self.agent.threads
        if threads is None:
            return
        record = TurnRecord(
            self.text,
            self.status,
            self.answer_text,
            self.decision.domains,
            dict(self.conv_ids),
            {r.domain: r.sql for r in self.results},
            summarize_results(self.results),
            members=result_members(self.results) if self.status in ("ok", "partial") else {},
        )
        try:
            threads.append(self.state, record)
        except (MemoryUnavailableError, ThreadNotAvailableError) as exc:
            self.memory_failures.append(
                exc.message if isinstance(exc, MemoryUnavailableError) else f"save thread: {exc.message}"
            )
        except Exception as exc:  # the answer stands even when the thread could not be saved
            self.memory_failures.append(f"save thread: {type(exc).__name__}: {exc}")


def _allowed(decision: RouteDecision, who: Identity) -> RouteDecision:
    """Drop spaces the identity may not query (named in ``denied``); refuse when none is left."""
    denied = tuple(d for d in decision.domains if not who.may_use(d))
    if not denied:
        return decision
    kept = tuple(d for d in decision.domains if who.may_use(d))
    reason = f"{decision.reason}; user {who.user!r} has no access to {', '.join(denied)}"
    if not kept:
        return RouteDecision("refused", (), decision.confidence, reason, denied=denied)
    kind = "single" if len(kept) == 1 and decision.kind in ("cross_domain", "ambiguous") else decision.kind
    questions = {d: q for d, q in decision.questions.items() if d in kept}
    return RouteDecision(kind, kept, decision.confidence, reason, questions, denied)


def _carried(decision: RouteDecision, state: ThreadState) -> RouteDecision:
    """An elliptic follow-up ("and suppliers?") that goes to a space the last turn did not ask: that
    space is asked about the last answer's members (:func:`~genie_agent.understanding.references.carry_members`)."""
    if decision.kind != "single" or not decision.domains or not state.last_members:
        return decision
    if decision.domains[0] in state.last_domains:
        return decision
    domain = decision.domains[0]
    asked = carry_members(decision.questions.get(domain, ""), state.last_members)
    return (
        replace(decision, questions={domain: asked}) if asked != decision.questions.get(domain) else decision
    )


def _status(
    results: list[ResultTable], failures: Mapping[str, str], refused: set[str], decision: RouteDecision
) -> TurnStatus:
    if failures and refused >= failures.keys() and not results:
        return "refused"
    answered = [r for r in results if r.error is None]
    # A part its space did not understand makes the turn a clarify: the rest of the answer is shown,
    # but a question understood in part is not answered as if understood whole.
    if any(r.error is not None and r.domain not in failures for r in results):
        return "clarify"
    if not answered:
        return "error" if failures else "clarify"
    if failures or len(answered) < len(decision.domains):
        return "partial"
    return "ok"


def _visualization(question: str, results: Sequence[ResultTable]) -> dict[str, object] | None:
    primary = next((r for r in results if r.error is None and r.columns), None)
    if primary is None:
        return None
    from .viz import suggest_visualization

    hint = suggest_visualization(
        primary.columns,
        primary.rows,
        question=question,
        title=primary.text,
        column_types=primary.column_types,
        column_formats=primary.column_formats,
    )
    return hint.to_dict() if hint is not None else None


def _memory_status(agent: Agent, failures: Sequence[str]) -> str:
    """``saved``, ``disabled`` (memory off), or ``failed: <what failed>``."""
    if agent.threads is None and agent.memories is None:
        return "disabled"
    return "failed: " + "; ".join(dict.fromkeys(failures)) if failures else "saved"
