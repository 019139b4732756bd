"""Asking the routed spaces at once: each answer is an event the moment it lands.

A Genie turn takes tens of seconds, so every space of a cross-domain question is asked at once on
the core loop (:mod:`genie_agent.aio`): a remote space is awaited (:class:`AsyncGenieSpace`: no
thread waits for Genie), the local engine (``cpu_bound``) runs in the cpu pool sized to the machine,
any other space with only the blocking ``ask`` in the io pool (it may wait on a network). The first
answer is shown before the slowest lands, and a space that does not answer in time fails alone (the
others' answers stand).

A space's time limit counts from when its question is sent. Waiting before that (for the workspace's
question limiter, or for a free engine worker) is reported apart: as :class:`SpaceProgress` events
while it lasts, and as ``elapsed_ms["waited"]`` in the answer.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from .errors import BackendTimeoutError, GenieAgentError, RateLimitedError, UnsafeRequestError
from .identity import Identity
from .spaces.base import AsyncGenieSpace, GenieSpace, SpaceAnswer
from .tracing import Tracer
from .turn import SpaceAnswered, SpaceFailed, SpaceProgress, SpaceQueryStarted, TurnEvent
from .understanding.routing import RouteDecision

if TYPE_CHECKING:
    from .aio import CoreLoop
    from .capacity import QuestionLimiter, WaitStatus

__all__ = ["MAX_CAPACITY_RETRIES", "FanOut"]

MAX_CAPACITY_RETRIES = 5
"""Times one question is sent again after the workspace refused it for its rate limit."""


class FanOut:
    """The spaces, the time each may take, and what limits how many questions go to Genie."""

    def __init__(
        self,
        spaces: Mapping[str, GenieSpace],
        tracer: Tracer,
        timeout_s: float,
        *,
        limiter: QuestionLimiter | None = None,
        capacity_wait_s: float = 600.0,
    ) -> None:
        self.spaces, self.tracer, self.timeout_s = spaces, tracer, timeout_s
        self.limiter, self.capacity_wait_s = limiter, capacity_wait_s

    async def astream(
        self,
        core: CoreLoop,
        ctx: contextvars.Context,
        decision: RouteDecision,
        conv_ids: Mapping[str, str],
        who: Identity,
        while_waiting: Callable[[], None] | None = None,
    ) -> AsyncIterator[TurnEvent]:
        """Ask every routed space at once; yield each answer the moment it lands. ``while_waiting``
        runs (in ``ctx``, in the io pool) once every space has been asked, before the first answer
        is awaited. Closing the iterator early cancels the questions still in flight."""
        landed: asyncio.Queue[TurnEvent] = asyncio.Queue()
        tasks: list[asyncio.Task[None]] = []
        for domain in decision.domains:
            question = decision.questions.get(domain, "")
            yield SpaceQueryStarted(domain, question)
            asked = self._ask(core, domain, question, conv_ids.get(domain), who, landed.put_nowait)
            # Each question's spans open in a copy of the turn's context: children of the turn's span.
            tasks.append(
                asyncio.get_running_loop().create_task(asked, context=ctx.run(contextvars.copy_context))
            )
        try:
            if while_waiting is not None:
                await core.run_io(ctx, while_waiting)
            remaining = len(tasks)
            while remaining:
                event = await landed.get()
                if not isinstance(event, SpaceProgress):
                    remaining -= 1
                yield event
        finally:
            for task in tasks:
                task.cancel()

    async def _ask(
        self,
        core: CoreLoop,
        domain: str,
        question: str,
        conversation_id: str | None,
        who: Identity,
        emit: Callable[[TurnEvent], None],
    ) -> None:
        """One space's question, from the wait for capacity to its answer or failure (always emitted)."""
        try:
            answer = await self._answer(core, domain, question, conversation_id, who, emit)
            emit(SpaceAnswered(domain, answer))
        except asyncio.CancelledError:
            raise
        except UnsafeRequestError as exc:
            emit(SpaceFailed(domain, exc.message, exc.hint, False, refused=True))
        except GenieAgentError as exc:
            emit(SpaceFailed(domain, exc.message, exc.hint, getattr(exc, "retryable", False)))
        except Exception as exc:  # a bug in a backend must not lose the other answers
            emit(
                SpaceFailed(domain, f"{type(exc).__name__}: {exc}", "This is a bug; please report it.", False)
            )

    async def _answer(
        self,
        core: CoreLoop,
        domain: str,
        question: str,
        conversation_id: str | None,
        who: Identity,
        emit: Callable[[TurnEvent], None],
    ) -> SpaceAnswer:
        space = self.spaces[domain]
        inputs = {"space": domain, "question": question, "conversation_id": conversation_id}
        with self.tracer.span(f"genie.{domain}", "TOOL", inputs) as span:
            waited = 0.0
            if isinstance(space, AsyncGenieSpace):
                for attempt in range(MAX_CAPACITY_RETRIES + 1):
                    waited += await self._capacity(domain, who, emit)
                    try:
                        answer = await self._in_time(
                            domain, space.aask(question, conversation_id, identity=who)
                        )
                        break
                    except RateLimitedError as exc:
                        if self.limiter is None or attempt == MAX_CAPACITY_RETRIES:
                            raise
                        self.limiter.throttled(exc.retry_after_s)
            else:
                answer, waited = await self._local(core, domain, space, question, conversation_id, who)
            if waited >= 0.001:
                answer = replace(answer, elapsed_ms={**answer.elapsed_ms, "waited": round(waited * 1000, 1)})
            span.set_outputs(
                {
                    "status": answer.status,
                    "text": answer.text,
                    "sql": answer.sql,
                    "row_count": answer.row_count,
                    "truncated": answer.truncated,
                }
            )
            span.set_attributes(
                {
                    "conversation_id": answer.conversation_id,
                    "message_id": answer.message_id,
                    "waited_s": waited,
                }
            )
            return answer

    async def _capacity(self, domain: str, who: Identity, emit: Callable[[TurnEvent], None]) -> float:
        """Wait until the question limiter lets this question go; the seconds waited."""
        if self.limiter is None:
            return 0.0
        started = time.monotonic()

        def told(status: WaitStatus) -> None:
            emit(SpaceProgress(domain, waiting_message(status)))

        try:
            await asyncio.wait_for(self.limiter.acquire(who.user, told), self.capacity_wait_s)
        except TimeoutError:
            raise BackendTimeoutError(
                f"The {domain} question waited {self.capacity_wait_s:g} s for Genie capacity and was not sent.",
                "The workspace's question limit is spent by other turns; try again in a few minutes.",
            ) from None
        return time.monotonic() - started

    async def _in_time(self, domain: str, asked: Awaitable[SpaceAnswer]) -> SpaceAnswer:
        try:
            return await asyncio.wait_for(asked, self.timeout_s)
        except TimeoutError:
            raise self._timeout(domain) from None

    async def _local(
        self,
        core: CoreLoop,
        domain: str,
        space: GenieSpace,
        question: str,
        conversation_id: str | None,
        who: Identity,
    ) -> tuple[SpaceAnswer, float]:
        """A blocking space in a pool (the cpu pool for a space that says it is ``cpu_bound``, the
        io pool for one that waits); its time limit counts from when a worker takes it."""
        loop = asyncio.get_running_loop()
        queued = time.monotonic()
        began: asyncio.Future[float] = loop.create_future()

        def run() -> SpaceAnswer:
            loop.call_soon_threadsafe(_settle, began, time.monotonic())
            return space.ask(question, conversation_id, identity=who)

        cpu_bound = getattr(space, "cpu_bound", False)
        if cpu_bound:
            await core.heavy()  # new turns' routes first
        pool = core.cpu if cpu_bound else core.io
        work = loop.run_in_executor(pool, contextvars.copy_context().run, run)
        await asyncio.wait([began, work], return_when=asyncio.FIRST_COMPLETED)  # type: ignore[type-var]
        waited = (began.result() if began.done() else time.monotonic()) - queued
        try:
            return await asyncio.wait_for(asyncio.shield(work), self.timeout_s), waited
        except TimeoutError:
            raise self._timeout(domain) from None

    def _timeout(self, domain: str) -> BackendTimeoutError:
        return BackendTimeoutError(
            f"The {domain} space did not answer within {self.timeout_s:g} s.",
            "Try again, or raise GENIE_AGENT_SPACE_TIMEOUT_S.",
        )


def _settle(future: asyncio.Future[float], value: float) -> None:
    if not future.done():
        future.set_result(value)


def waiting_message(status: WaitStatus) -> str:
    """What a question waiting for Genie capacity says ("waiting for Genie capacity: 3 ahead, about 40 s")."""
    ahead = "next" if status.ahead == 0 else f"{status.ahead} ahead"
    return f"waiting for Genie capacity: {ahead}, about {max(1, round(status.eta_s))} s"
