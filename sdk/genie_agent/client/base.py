"""One interface for every target: ask, stream, follow up, list and forget memories, rate a turn.

A :class:`Client` talks to one target — the agent in this process (:class:`~.local.LocalClient`), a
``genie-agent serve`` URL (:class:`~.http.HttpClient`) or a Databricks serving endpoint
(:class:`~.serving.ServingClient`) — and answers the same way whichever it is: ``ask`` returns the
wire's :class:`~genie_agent.contract.TurnResult`, ``stream`` yields the events of
:mod:`~.events`, errors are the SDK's (:mod:`~.errors`).

The thread is carried: the client keeps ``thread_id`` and ``genie_conversation_ids`` of the last
answer and sends them with the next question, so a follow-up is understood as one; ``new_thread()``
starts afresh, and a call that passes them explicitly uses those.

A target answers a Responses request (:meth:`Client.responses`); everything else is read from that
stream, unless the target can do better (the in-process client runs the agent directly).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator, Mapping
from contextlib import aclosing, closing
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from ..contract import Failure, ResultTable, TurnResult
from ..errors import GenieAgentError
from ..feedback import FeedbackAction, Rating
from .errors import SpaceFailedError, TargetError, error_from
from .events import ClientEvent, Done, SpaceFailed
from .feedback import FeedbackOutcome, feedback_action, feedback_outcome, feedback_request
from .genie_images import ChartRef, chart_ref, run_sync, unsupported
from .memory import (
    MemoryActionName,
    MemoryAnswer,
    MemoryEntry,
    MemoryOutcome,
    memory_answer,
    memory_outcome,
    memory_request,
)
from .reader import ResponsesReader

__all__ = ["Client", "ThreadState", "request_body"]


@dataclass(frozen=True)
class ThreadState:
    """The conversation a question continues: the agent's thread and each Genie space's conversation."""

    thread_id: str | None = None
    genie_conversation_ids: Mapping[str, str] = field(default_factory=dict)

    def custom_inputs(self) -> dict[str, Any]:
        """What a request's ``custom_inputs`` carries to continue this conversation."""
        inputs: dict[str, Any] = {}
        if self.thread_id:
            inputs["thread_id"] = self.thread_id
        if self.genie_conversation_ids:
            inputs["genie_conversation_ids"] = dict(self.genie_conversation_ids)
        return inputs


def request_body(question: str, thread: ThreadState | None = None) -> dict[str, Any]:
    """The Responses request of ``question``, continuing ``thread``."""
    body: dict[str, Any] = {"input": [{"role": "user", "content": question}]}
    inputs = thread.custom_inputs() if thread is not None else {}
    if inputs:
        body["custom_inputs"] = inputs
    return body


class _Watch:
    """One turn's events as the client sees them go by: failures, the result, the thread it carries."""

    def __init__(self, client: Client, thread: ThreadState) -> None:
        self.client = client
        self.thread = thread
        self.failures: list[SpaceFailed] = []
        self.result: TurnResult | None = None

    def see(self, event: ClientEvent) -> ClientEvent:
        if isinstance(event, SpaceFailed):
            self.failures.append(event)
        elif isinstance(event, Done):
            if event.result.error is not None:
                raise self.client._reported(event.result.error)
            self.result = event.result
            if event.result.thread_id:
                self.client.thread = ThreadState(
                    event.result.thread_id, dict(event.result.genie_conversation_ids)
                )
        return event

    def end(self) -> TurnResult:
        if self.result is None:
            raise TargetError(
                f"The answer from {self.client.label} ended before it was complete.",
                "Try again; if it happens again, check the server's log.",
            )
        return self.result

    def answered(self) -> TurnResult:
        """The result of a turn some space answered; raises :class:`SpaceFailedError` when none did."""
        result = self.end()
        if result.status != "error":
            return result
        failed = self.failures or [
            SpaceFailed(r.domain, r.error or "", "", False) for r in result.results if r.error
        ]
        first = failed[0] if failed else SpaceFailed("?", result.text, "", False)
        names = ", ".join(dict.fromkeys(f.domain for f in failed)) or "the spaces"
        raise SpaceFailedError(
            f"No space answered: {names} failed ({first.error})" if first.error else result.text,
            first.hint or "Try again.",
            retryable=any(f.retryable for f in failed),
            domains=[f.domain for f in failed],
            result=result,
        )


class Client(ABC):
    """A target the SDK talks to. Use it as a context manager, or call :meth:`close` when done."""

    def __init__(self, label: str) -> None:
        self.label = label
        """How the target is named in messages ("embedded", "http://127.0.0.1:8000", "endpoint NAME")."""
        self._thread = ThreadState()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label}>"

    # --- the thread ---------------------------------------------------------------------------------
    @property
    def thread(self) -> ThreadState:
        """The conversation the next question continues (empty: a new thread)."""
        return self._thread

    @thread.setter
    def thread(self, state: ThreadState) -> None:
        self._thread = state

    def new_thread(self) -> None:
        """The next question starts a new thread."""
        self._thread = ThreadState()

    def _thread_for(self, thread_id: str | None, ids: Mapping[str, str] | None) -> ThreadState:
        carried = self._thread
        if thread_id is None:
            return carried if ids is None else ThreadState(carried.thread_id, dict(ids))
        if ids is None:
            ids = carried.genie_conversation_ids if thread_id == carried.thread_id else {}
        return ThreadState(thread_id, dict(ids))

    # --- connecting ---------------------------------------------------------------------------------
    def connect(self) -> None:  # noqa: B027 - optional hook
        """Get ready now (build the agent, resolve credentials) rather than on the first question."""

    async def aconnect(self) -> None:
        self.connect()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    async def aclose(self) -> None:
        self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # --- asking -------------------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        *,
        thread_id: str | None = None,
        genie_conversation_ids: Mapping[str, str] | None = None,
    ) -> TurnResult:
        """Ask ``question`` (a follow-up of the carried thread unless ``thread_id`` is given) and
        return its turn result.

        Raises :class:`~.errors.TargetError` (unreachable, refused, a broken stream), the SDK error the
        agent reported (e.g. :class:`~genie_agent.errors.UserInputError` for an empty question), or
        :class:`~.errors.SpaceFailedError` when no space answered because each one failed.
        """
        watch = _Watch(self, self._thread_for(thread_id, genie_conversation_ids))
        with closing(self._turn(question, watch.thread)) as events:
            for event in events:
                watch.see(event)
        return watch.answered()

    async def aask(
        self,
        question: str,
        *,
        thread_id: str | None = None,
        genie_conversation_ids: Mapping[str, str] | None = None,
    ) -> TurnResult:
        """:meth:`ask`, awaited."""
        watch = _Watch(self, self._thread_for(thread_id, genie_conversation_ids))
        async with aclosing(self._aturn(question, watch.thread)) as events:
            async for event in events:
                watch.see(event)
        return watch.answered()

    def stream(
        self,
        question: str,
        *,
        thread_id: str | None = None,
        genie_conversation_ids: Mapping[str, str] | None = None,
    ) -> Iterator[ClientEvent]:
        """Ask ``question`` and yield its events as they arrive, :class:`~.events.Done` last.

        Raises as :meth:`ask` does, except that a turn whose spaces all failed is not an error here:
        its :class:`~genie_agent.turn.SpaceFailed` events and ``Done`` say so.
        """
        watch = _Watch(self, self._thread_for(thread_id, genie_conversation_ids))
        with closing(self._turn(question, watch.thread)) as events:
            for event in events:
                yield watch.see(event)
        watch.end()

    async def astream(
        self,
        question: str,
        *,
        thread_id: str | None = None,
        genie_conversation_ids: Mapping[str, str] | None = None,
    ) -> AsyncIterator[ClientEvent]:
        """:meth:`stream`, asynchronously."""
        watch = _Watch(self, self._thread_for(thread_id, genie_conversation_ids))
        async with aclosing(self._aturn(question, watch.thread)) as events:
            async for event in events:
                yield watch.see(event)
        watch.end()

    def _reported(self, failure: Failure) -> GenieAgentError:
        """The error the agent reported in its answer, as the SDK's class of that name where known."""
        return error_from(failure.type, failure.message, failure.hint) or TargetError(
            f"{self.label} could not answer: {failure.message}", failure.hint or "Try again."
        )

    # --- memories -----------------------------------------------------------------------------------
    def memory_action(self, action: MemoryActionName, memory_id: str | None = None) -> MemoryOutcome:
        """Run a memory action on the caller's own memories: ``list``, ``forget`` (``memory_id``),
        ``forget_all``. Raises :class:`~.errors.MemoryActionError` or :class:`~.errors.TargetError`."""
        return memory_outcome(self._memory(action, memory_id), self.label)

    async def amemory_action(self, action: MemoryActionName, memory_id: str | None = None) -> MemoryOutcome:
        """:meth:`memory_action`, awaited."""
        return memory_outcome(await self._amemory(action, memory_id), self.label)

    def memories(self) -> tuple[MemoryEntry, ...]:
        """What the agent remembers about the caller (empty when long-term memory is off)."""
        return self.memory_action("list").memories

    async def amemories(self) -> tuple[MemoryEntry, ...]:
        return (await self.amemory_action("list")).memories

    def forget(self, memory_id: str) -> bool:
        """Forget one memory (an ``id`` from :meth:`memories`); False when there was none of that id."""
        return self.memory_action("forget", memory_id).forgotten > 0

    async def aforget(self, memory_id: str) -> bool:
        return (await self.amemory_action("forget", memory_id)).forgotten > 0

    def forget_all(self) -> int:
        """Forget every memory of the caller's; how many there were."""
        return self.memory_action("forget_all").forgotten

    async def aforget_all(self) -> int:
        return (await self.amemory_action("forget_all")).forgotten

    # --- feedback -----------------------------------------------------------------------------------
    def feedback(self, turn_id: str, rating: Rating, comment: str | None = None) -> FeedbackOutcome:
        """Rate a turn the caller asked: ``rating`` ``"up"`` or ``"down"``, with an optional ``comment``;
        ``turn_id`` is the one its result carries. Rating a turn again replaces the rating.

        The rating goes on the turn's MLflow trace (and to Genie, for answers from Genie spaces), so the
        turn must have been traced. Raises :class:`~genie_agent.errors.UserInputError` (a bad rating),
        :class:`~genie_agent.feedback.TurnNotTracedError`, :class:`~genie_agent.feedback.UnknownTurnError`,
        :class:`~genie_agent.errors.PermissionDeniedError` (another user's turn) or
        :class:`~.errors.TargetError`.
        """
        action = feedback_action(turn_id, rating, comment)
        return feedback_outcome(self._feedback(action), action, self.label)

    async def afeedback(self, turn_id: str, rating: Rating, comment: str | None = None) -> FeedbackOutcome:
        """:meth:`feedback`, awaited."""
        action = feedback_action(turn_id, rating, comment)
        return feedback_outcome(await self._afeedback(action), action, self.label)

    # --- Genie's chart -------------------------------------------------------------------------------
    def genie_image(self, result: ResultTable) -> bytes:
        """The PNG of the chart Genie drew of ``result`` (its ``genie_visualization``), downloaded as
        the user who asked (:mod:`.genie_images` says how on each target). Raises
        :class:`~genie_agent.spaces.genie_visualization.VisualizationUnavailableError`, its ``reason``
        saying why: ``none`` (Genie drew no chart), ``unsupported`` (this target cannot fetch it),
        ``not_found``, ``not_a_visualization`` or ``refused`` (the workspace refused)."""
        ref = chart_ref(result)
        return run_sync(lambda: self._agenie_image(ref))

    async def agenie_image(self, result: ResultTable) -> bytes:
        """:meth:`genie_image`, awaited."""
        return await self._agenie_image(chart_ref(result))

    async def _agenie_image(self, ref: ChartRef) -> bytes:
        raise unsupported(self.label, "it has no way to Genie for you.")

    # --- the target ---------------------------------------------------------------------------------
    @abstractmethod
    def responses(self, body: Mapping[str, Any]) -> Generator[dict[str, Any]]:
        """The Responses stream answering ``body`` (a Responses request), as the served agent sends it:
        one JSON object per event. Raises :class:`~.errors.TargetError`."""

    @abstractmethod
    def aresponses(self, body: Mapping[str, Any]) -> AsyncGenerator[dict[str, Any]]:
        """:meth:`responses`, asynchronously. Closing the iterator stops the request."""

    def _turn(self, question: str, thread: ThreadState) -> Generator[ClientEvent]:
        reader = ResponsesReader()
        with closing(self.responses(request_body(question, thread))) as events:
            for event in events:
                yield from reader.read(event)

    async def _aturn(self, question: str, thread: ThreadState) -> AsyncGenerator[ClientEvent]:
        reader = ResponsesReader()
        async with aclosing(self.aresponses(request_body(question, thread))) as events:
            async for event in events:
                for each in reader.read(event):
                    yield each

    def _memory(self, action: MemoryActionName, memory_id: str | None) -> MemoryAnswer:
        return memory_answer(self.responses(memory_request(action, memory_id)))

    async def _amemory(self, action: MemoryActionName, memory_id: str | None) -> MemoryAnswer:
        return memory_answer([event async for event in self.aresponses(memory_request(action, memory_id))])

    def _feedback(self, action: FeedbackAction) -> MemoryAnswer:
        return memory_answer(self.responses(feedback_request(action)))

    async def _afeedback(self, action: FeedbackAction) -> MemoryAnswer:
        return memory_answer([event async for event in self.aresponses(feedback_request(action))])
