"""The turn: identity -> thread + memories -> route -> parallel fan-out -> synthesis -> save -> result.

:meth:`Agent.stream` yields typed events as they happen; :meth:`Agent.ask` is the stream collected.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from queue import Empty, SimpleQueue

from .combine import combine_results
from .errors import (
    BackendTimeoutError,
    GenieAgentError,
    UnknownSpaceError,
    UnsafeRequestError,
    UserInputError,
)
from .formatting import number_scale
from .grounding import check_grounding
from .identity import Identity, PermissionDeniedError
from .memory.errors import MemoryUnavailableError, ThreadNotAvailableError
from .memory.store import MemoryStore
from .memory.threads import ThreadState, ThreadStore, TurnLocks, TurnRecord, summarize_results
from .spaces.base import GenieSpace, SpaceAnswer
from .synthesis import DeterministicSynthesizer, Synthesizer, synthesize
from .tracing import NoopTracer, Tracer, in_context
from .turn import (
    COMBINED,
    Clarification,
    ResultTable,
    RouteDecided,
    SpaceAnswered,
    SpaceFailed,
    SpaceQueryStarted,
    TextDelta,
    TurnDone,
    TurnEvent,
    TurnResult,
    TurnStatus,
    VisualizationReady,
)
from .turn_memory import TurnMemory
from .understanding.extraction import PreferenceExtractor
from .understanding.llm_extraction import LlmMemoryExtractor
from .understanding.references import carry_members, key_members, resolve_references
from .understanding.routing import RouteDecision, Router
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
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        self.tracer: Tracer = tracer or NoopTracer()

    @property
    def _traced(self) -> bool:
        """Spans are kept: build their costlier outputs only then."""
        return type(self.tracer) is not NoopTracer

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
        with (
            self.tracer.span("genie_agent.turn", "AGENT", {"question": text, "user": who.user}) as root,
            self._turn_locks.hold(thread_id),  # turns on one thread take turns
        ):
            turn_id = str(getattr(root, "trace_id", None) or uuid.uuid4().hex)  # the trace's id where traced
            result = yield from self._turn(text, who, thread_id, domains, genie_conversation_ids)
            result = replace(result, turn_id=turn_id)
            root.set_outputs({"status": result.status, "text": result.text, "grounding": result.grounding})
            root.set_attributes({"domains": list(result.route.domains), "timings_ms": result.timings_ms})
        yield TurnDone(result)

    def _turn(
        self,
        text: str,
        who: Identity,
        thread_id: str | None,
        domains: Sequence[str] | None,
        genie_conversation_ids: Mapping[str, str] | None,
    ) -> Generator[TurnEvent, None, TurnResult]:
        started = time.perf_counter()
        user = who.user
        memory_failures: list[str] = []
        with self.tracer.span(
            "memory.load_thread", "RETRIEVER", {"thread_id": thread_id, "user": user}
        ) as span:
            state = self._load(thread_id, user, memory_failures)
            span.set_outputs({"turns": state.turns, "last_domains": list(state.last_domains)})
        with self.tracer.span("memory.recall", "RETRIEVER", {"user": user, "question": text}) as span:
            # The notes only matter to the answer's text: searched while the spaces work, unless
            # the span shows them or a statement is written first (a note stated now is not recalled now).
            memory = TurnMemory.begin(self.memories, self.extractor, user, text, self.memory_llm, notes=False)
            if self._traced or memory.statement_only:
                memory.recall_notes(self.memories, user)
            if self._traced:
                span.set_outputs(memory.trace())
        if memory.statement_only:  # the answer is whether this worked
            self._save_memories(memory, user, ())
        question = memory.question or text  # statements taken out: what the spaces answer
        question = resolve_references(question, state.last_members)  # "those nations": the last answer's
        self.tracer.tag_trace(
            user=user, session_id=state.thread_id, metadata={"genie_agent.source": self.source}
        )
        conv_ids = {**state.genie_conversation_ids, **(genie_conversation_ids or {})}

        with self.tracer.span("route", "PARSER", {"question": question}) as span:
            if memory.statement_only:
                decision = RouteDecision("single", (), 1.0, "a statement to remember; no data was asked")
            elif domains:
                decision = RouteDecision(
                    "single" if len(domains) == 1 else "cross_domain",
                    tuple(domains),
                    1.0,
                    "spaces chosen by the caller",
                    {d: question for d in domains},
                )
            else:
                decision = self._allowed(self.router.route(question, state.last_domains), who)
            decision = memory.route(decision, self.vocabulary)
            decision = _carried(decision, state)
            span.set_outputs(
                {
                    "kind": decision.kind,
                    "domains": list(decision.domains),
                    "confidence": decision.confidence,
                    "reason": decision.reason,
                }
            )
        timings = {"route": (time.perf_counter() - started) * 1000}
        yield RouteDecided(decision)

        results: list[ResultTable] = []
        failures: dict[str, str] = {
            d: "You don't have access to this space; it was not asked."
            for d in decision.denied
            if decision.domains
        }
        suggested: list[str] = []
        titles = {k: s.info.title for k, s in self.spaces.items()}
        status: TurnStatus
        combined: ResultTable | None = None
        if memory.statement_only:
            status = "ok"
            chunks: Iterator[str] = iter([memory.acknowledgement()])
        elif decision.kind == "ambiguous":
            status = "clarify"
            message = self._which_space(decision)
            suggested = [q for d in decision.domains for q in self.spaces[d].info.sample_questions[:2]]
            yield Clarification(message, tuple(suggested))
            chunks = iter([message])
        elif decision.kind in ("refused", "out_of_scope"):
            status = "refused" if decision.kind == "refused" else "out_of_scope"
            chunks = iter([self._decline(decision, who)])
            frequent = {d: -n for d, n in memory.recall.domains.items()}  # the user's usual spaces first
            suggested = [
                q
                for k, s in sorted(self.spaces.items(), key=lambda kv: frequent.get(kv[0], 0))
                if who.may_use(k)
                for q in s.info.sample_questions[:2]
            ]
        else:
            spaces_started = time.perf_counter()
            # While the spaces work: the domain counts (taken back at the end if none answered) and
            # what the message stated, in one store call.
            writes = partial(self._while_spaces_work, memory, user, decision.domains)
            for event in self._fan_out(decision, conv_ids, who, None if self.memories is None else writes):
                yield event
                if isinstance(event, SpaceAnswered):
                    results.append(ResultTable.from_answer(event.answer))
                    conv_ids[event.domain] = event.answer.conversation_id
                    suggested += event.answer.suggested_questions
                elif isinstance(event, SpaceFailed):
                    failures[event.domain] = f"{event.error} {event.hint}".strip()
            timings["spaces"] = (time.perf_counter() - spaces_started) * 1000
            order = {d: i for i, d in enumerate(decision.domains)}
            results.sort(key=lambda r: order.get(r.domain, 99))
            status = self._status(results, failures, decision)
            combined = combine_results(results) if decision.kind == "cross_domain" else None
            if status == "refused":
                chunks = iter([" ".join(failures.values())])
            elif status == "clarify":
                message = synthesize(results, failures, titles)
                yield Clarification(message, tuple(dict.fromkeys(suggested)))
                chunks = iter([message])
            else:
                context = memory.llm_context()
                asked = f"{question}\n\n{context}" if context else question
                written = results if combined is None else [*results, combined]
                titles[COMBINED] = "Together"
                chunks = self.synthesizer.stream(asked, written, failures, titles)

        memory.recall_notes(self.memories, user)  # when no space was asked
        if memory.stated_pending:  # no space answered: what the message stated, before the answer
            self._save_memories(memory, user, ())
        # Before the text: the answer says when a remembered chart preference changed the hint.
        charted = results if combined is None else [combined]
        primary_rows = next((len(r.rows) for r in charted if r.error is None and r.columns), 0)
        hint = memory.visualization(self._visualization(question, charted), primary_rows)
        synthesis_started = time.perf_counter()
        parts: list[str] = []
        with self.tracer.span(
            "synthesis",
            "LLM" if self.synthesizer.name == "llm" else "CHAIN",
            {"question": text, "synthesizer": self.synthesizer.name},
        ) as span:
            scale = memory.scale(r.rows for r in results if r.error is None)
            try:
                for chunk in _scaled(chunks, scale):
                    parts.append(chunk)
                    yield TextDelta(chunk)
            except GenieAgentError as exc:  # the LLM failed mid-answer: say so; the results stand
                notice = f"\n\n(The answer was cut off: {exc.message} The result tables are complete.)"
                parts.append(notice)
                yield TextDelta(notice)
                status = "partial"
            said = memory.notice()  # one short sentence when memory changed the answer
            if said:
                parts.append(f"\n\n{said}" if parts else said)
                yield TextDelta(parts[-1])
            answer_text = "".join(parts)
            answered = [r for r in results if r.error is None]
            # Numbers the user or an error message said are not claims about the data, nor is the
            # engine's own description of each query (the year a follow-up carried over).
            context = " ".join([text, said, *failures.values(), *(r.text for r in answered)])
            grounding = check_grounding(
                answer_text, [r.rows for r in answered], context, [r.row_count for r in answered]
            )
            span.set_outputs(answer_text)
            span.set_attributes(
                {
                    **self.synthesizer.trace_attributes(),
                    "grounding.ok": grounding["ok"],
                    "grounding.unsupported_numbers": grounding["unsupported_numbers"],
                }
            )
        timings["synthesis"] = (time.perf_counter() - synthesis_started) * 1000

        if hint is not None:
            yield VisualizationReady(hint)
        with self.tracer.span("memory.save_thread", "MEMORY", {"thread_id": state.thread_id}) as span:
            self._save(state, text, status, answer_text, decision, conv_ids, results, memory_failures)
            if status not in ("ok", "partial"):  # only answered turns count
                memory.uncount(self.memories, user)
            memory_status = self._memory_status([*memory_failures, *memory.failures])
            span.set_outputs(memory_status)
        timings["total"] = (time.perf_counter() - started) * 1000
        return TurnResult(
            status=status,
            text=answer_text,
            route=decision,
            results=tuple(results),
            thread_id=state.thread_id,
            genie_conversation_ids={d: conv_ids[d] for d in conv_ids if d in self.spaces},
            grounding=grounding,
            memory_status=memory_status,
            source=self.source,
            visualization_hint=hint,
            suggested_questions=tuple(dict.fromkeys(suggested))[:6],
            data_rows=self.limits.data_rows,
            timings_ms=timings,
            combined=combined,
        )

    def _while_spaces_work(self, memory: TurnMemory, user: str, domains: Sequence[str]) -> None:
        memory.recall_notes(self.memories, user)  # before the writes, as a recall before the turn
        self._save_memories(memory, user, domains)

    def _save_memories(self, memory: TurnMemory, user: str, domains: Sequence[str]) -> None:
        """What the message stated and the domain counts, in one store call (failures go to
        ``memory_status`` through the save_thread span, so this span's outputs never say "failed")."""
        with self.tracer.span("memory.save_memories", "MEMORY", {"user": user}) as span:
            memory.save(self.memories, user, domains)
            span.set_outputs({"domains": list(domains), "stated": memory.saved})

    @staticmethod
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

    @staticmethod
    def _allowed(decision: RouteDecision, who: Identity) -> RouteDecision:
        """Drop spaces the identity may not query (named in ``denied``); refuse when none is left."""
        denied = tuple(d for d in decision.domains if not who.may_use(d))
        if not denied:
            return decision
        kept = tuple(d for d in decision.domains if who.may_use(d))
        reason = f"{decision.reason}; user {who.user!r} has no access to {', '.join(denied)}"
        if not kept:
            return RouteDecision("refused", (), decision.confidence, reason, denied=denied)
        kind = (
            "single" if len(kept) == 1 and decision.kind in ("cross_domain", "ambiguous") else decision.kind
        )
        questions = {d: q for d, q in decision.questions.items() if d in kept}
        return RouteDecision(kind, kept, decision.confidence, reason, questions, denied)

    def _fan_out(
        self,
        decision: RouteDecision,
        conv_ids: Mapping[str, str],
        who: Identity,
        while_waiting: Callable[[], None] | None = None,
    ) -> Iterator[TurnEvent]:
        """Ask every routed space at once; emit each answer the moment it lands. ``while_waiting``
        runs once every space has been asked, before the first answer is awaited."""
        pool = self._pool()
        landed: SimpleQueue[Future[SpaceAnswer]] = SimpleQueue()
        pending: dict[Future[SpaceAnswer], str] = {}
        for domain in decision.domains:
            question = decision.questions.get(domain, "")
            yield SpaceQueryStarted(domain, question)
            call = in_context(self._ask_space)
            future = pool.submit(call, domain, question, conv_ids.get(domain), who)
            pending[future] = domain
            future.add_done_callback(landed.put)  # one wake-up per answer, in the order they land
        deadline = time.monotonic() + self.limits.space_timeout_s
        try:
            if while_waiting is not None:
                while_waiting()
            while pending:
                try:
                    future = landed.get(timeout=max(0.0, deadline - time.monotonic()))
                except Empty:
                    for domain in pending.values():
                        exc = BackendTimeoutError(
                            f"The {domain} space did not answer within {self.limits.space_timeout_s:g} s.",
                            "Try again, or raise GENIE_AGENT_SPACE_TIMEOUT_S.",
                        )
                        yield SpaceFailed(domain, exc.message, exc.hint, True)
                    return
                domain = pending.pop(future)
                try:
                    yield SpaceAnswered(domain, future.result())
                except UnsafeRequestError as exc:
                    yield SpaceFailed(domain, exc.message, "refused", False)
                except GenieAgentError as exc:
                    yield SpaceFailed(domain, exc.message, exc.hint, getattr(exc, "retryable", False))
                except Exception as exc:  # a bug in a backend must not lose the other answers
                    yield SpaceFailed(
                        domain, f"{type(exc).__name__}: {exc}", "This is a bug; please report it.", False
                    )
        finally:
            for future in pending:  # timed out or abandoned: drop what has not started
                future.cancel()

    def _pool(self) -> ThreadPoolExecutor:
        """One pool for the agent's life: a new pool per turn costs ~0.3 ms of the turn's overhead."""
        if self._executor is None:
            with self._executor_lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(
                        max_workers=SPACE_WORKERS, thread_name_prefix="genie-space"
                    )
        return self._executor

    def _ask_space(
        self, domain: str, question: str, conversation_id: str | None, who: Identity
    ) -> SpaceAnswer:
        inputs = {"space": domain, "question": question, "conversation_id": conversation_id}
        with self.tracer.span(f"genie.{domain}", "TOOL", inputs) as span:
            answer = self.spaces[domain].ask(question, conversation_id, identity=who)
            span.set_outputs(
                {
                    "status": answer.status,
                    "text": answer.text,
                    "sql": answer.sql,
                    "row_count": answer.row_count,
                    "truncated": answer.truncated,
                }
            )
            span.set_attributes({"conversation_id": answer.conversation_id, "message_id": answer.message_id})
            return answer

    @staticmethod
    def _status(
        results: list[ResultTable], failures: Mapping[str, str], decision: RouteDecision
    ) -> TurnStatus:
        if failures and all(f.endswith("refused") for f in failures.values()) and not results:
            return "refused"
        answered = [r for r in results if r.error is None]
        # A part its space did not understand makes the turn a clarify: the rest of the answer is
        # shown, but a question understood in part is not answered as if understood whole.
        if any(r.error is not None and r.domain not in failures for r in results):
            return "clarify"
        if not answered:
            return "error" if failures else "clarify"
        if failures or len(answered) < len(decision.domains):
            return "partial"
        return "ok"

    def _which_space(self, decision: RouteDecision) -> str:
        titles = [self.spaces[d].info.title for d in decision.domains]
        return (
            f"Which do you mean? {decision.reason[:1].upper()}{decision.reason[1:]}, so I won't guess. "
            "Ask again naming one: " + " or ".join(f"'... in {t}'" for t in titles) + "."
        )

    def _decline(self, decision: RouteDecision, who: Identity) -> str:
        titles = ", ".join(self.spaces[d].info.title for d in decision.denied if d in self.spaces)
        if decision.kind == "refused" and decision.denied:
            return (
                f"You don't have access to {titles}, which this question needs. Ask the operator for access."
            )
        if decision.kind == "refused":
            return (
                f"I can't do that: {decision.reason}. I only read data; nothing was changed. "
                "Ask a question about the data instead."
            )
        topics = "\n".join(
            f"- **{s.info.title}**: {s.info.description}" for k, s in self.spaces.items() if who.may_use(k)
        )
        return f"That is outside what I can answer ({decision.reason}). I can answer questions about:\n\n{topics}"

    def _load(self, thread_id: str | None, user: str, failures: list[str]) -> ThreadState:
        """The thread's state; a new one when memory is off or down (the turn goes on without history).

        Another user's thread raises :class:`ThreadNotAvailableError`.
        """
        if self.threads is not None:
            try:
                return self.threads.load(thread_id, user)
            except MemoryUnavailableError as exc:
                failures.append(exc.message)
            except GenieAgentError:
                raise  # another user's thread
            except Exception as exc:  # a bug in a store must not lose the answer
                failures.append(f"load thread: {type(exc).__name__}: {exc}")
        return ThreadState(thread_id or uuid.uuid4().hex, user)

    def _save(
        self,
        state: ThreadState,
        question: str,
        status: str,
        text: str,
        decision: RouteDecision,
        conv_ids: Mapping[str, str],
        results: list[ResultTable],
        failures: list[str],
    ) -> None:
        if self.threads is None:
            return
        record = TurnRecord(
            question,
            status,
            text,
            decision.domains,
            dict(conv_ids),
            {r.domain: r.sql for r in results},
            summarize_results(results),
            members=_members(results) if status in ("ok", "partial") else {},
        )
        try:
            self.threads.append(state, record)
        except (MemoryUnavailableError, ThreadNotAvailableError) as exc:
            failures.append(
                exc.message if isinstance(exc, MemoryUnavailableError) else f"save thread: {exc.message}"
            )
        except Exception as exc:  # the answer stands even when the thread could not be saved
            failures.append(f"save thread: {type(exc).__name__}: {exc}")

    def _memory_status(self, failures: Sequence[str]) -> str:
        """``saved``, ``disabled`` (memory off), or ``failed: <what failed>``."""
        if self.threads is None and self.memories is None:
            return "disabled"
        return "failed: " + "; ".join(dict.fromkeys(failures)) if failures else "saved"


def _carried(decision: RouteDecision, state: ThreadState) -> RouteDecision:
    """An elliptic follow-up ("and suppliers?") that goes to a space the last turn did not ask: that
    space is asked about the last answer's members (:func:`~genie_agent.understanding.references.carry_members`)."""
    if decision.kind != "single" or not state.last_members or decision.domains[0] in state.last_domains:
        return decision
    domain = decision.domains[0]
    asked = carry_members(decision.questions.get(domain, ""), state.last_members)
    return (
        replace(decision, questions={domain: asked}) if asked != decision.questions.get(domain) else decision
    )


def _members(results: Sequence[ResultTable]) -> dict[str, list[object]]:
    """The grouping members of the first answered result, per key column (for "those nations")."""
    from .column_kinds import column_formats
    from .synthesis import measure_index

    for r in results:
        if r.error is None and r.rows:
            formats = column_formats(r.columns, r.rows, r.column_types, r.column_formats)
            keys = measure_index(r.rows[0], formats)
            return key_members(r.columns, r.rows, keys) if keys else {}
    return {}


def _scaled(chunks: Iterable[str], scale: str | None) -> Iterator[str]:
    """Produce each chunk with numbers written in ``scale``; the scale is not in force between chunks."""
    if scale is None:
        yield from chunks
        return
    it = iter(chunks)
    while True:
        with number_scale(scale):
            chunk = next(it, None)
        if chunk is None:
            return
        yield chunk
