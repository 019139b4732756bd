"""Asking the routed spaces at once: each answer is an event the moment it lands.

A Genie turn takes tens of seconds, so every space of a cross-domain question is asked in parallel
on one pool kept for the agent's life; the first answer is shown before the slowest lands, and a
space that does not answer in time fails alone (the others' answers stand).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from queue import Empty, SimpleQueue

from .errors import BackendTimeoutError, GenieAgentError, UnsafeRequestError
from .identity import Identity
from .spaces.base import GenieSpace, SpaceAnswer
from .tracing import Tracer, in_context
from .turn import SpaceAnswered, SpaceFailed, SpaceQueryStarted, TurnEvent
from .understanding.routing import RouteDecision

__all__ = ["FanOut"]


class FanOut:
    """The spaces, the pool that asks them and the time each may take."""

    def __init__(
        self, spaces: Mapping[str, GenieSpace], pool: ThreadPoolExecutor, tracer: Tracer, timeout_s: float
    ) -> None:
        self.spaces, self.pool, self.tracer, self.timeout_s = spaces, pool, tracer, timeout_s

    def ask(
        self,
        decision: RouteDecision,
        conv_ids: Mapping[str, str],
        who: Identity,
        while_waiting: Callable[[], None] | None = None,
    ) -> Iterator[TurnEvent]:
        """Ask every routed space at once; emit each answer the moment it lands. ``while_waiting``
        runs once every space has been asked, before the first answer is awaited."""
        landed: SimpleQueue[Future[SpaceAnswer]] = SimpleQueue()
        pending: dict[Future[SpaceAnswer], str] = {}
        for domain in decision.domains:
            question = decision.questions.get(domain, "")
            yield SpaceQueryStarted(domain, question)
            future = self.pool.submit(in_context(self._ask_one), domain, question, conv_ids.get(domain), who)
            pending[future] = domain
            future.add_done_callback(landed.put)  # one wake-up per answer, in the order they land
        deadline = time.monotonic() + self.timeout_s
        try:
            if while_waiting is not None:
                while_waiting()
            while pending:
                try:
                    future = landed.get(timeout=max(0.0, deadline - time.monotonic()))
                except Empty:
                    yield from self._timed_out(pending.values())
                    return
                yield self._landed(pending.pop(future), future)
        finally:
            for future in pending:  # timed out or abandoned: drop what has not started
                future.cancel()

    def _timed_out(self, domains: object) -> Iterator[TurnEvent]:
        for domain in domains:  # type: ignore[attr-defined]
            exc = BackendTimeoutError(
                f"The {domain} space did not answer within {self.timeout_s:g} s.",
                "Try again, or raise GENIE_AGENT_SPACE_TIMEOUT_S.",
            )
            yield SpaceFailed(domain, exc.message, exc.hint, True)

    @staticmethod
    def _landed(domain: str, future: Future[SpaceAnswer]) -> TurnEvent:
        try:
            return SpaceAnswered(domain, future.result())
        except UnsafeRequestError as exc:
            return SpaceFailed(domain, exc.message, exc.hint, False, refused=True)
        except GenieAgentError as exc:
            return SpaceFailed(domain, exc.message, exc.hint, getattr(exc, "retryable", False))
        except Exception as exc:  # a bug in a backend must not lose the other answers
            return SpaceFailed(
                domain, f"{type(exc).__name__}: {exc}", "This is a bug; please report it.", False
            )

    def _ask_one(self, domain: str, question: str, conversation_id: str | None, who: Identity) -> SpaceAnswer:
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
