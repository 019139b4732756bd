"""The agent in this process as a client target: no server, the same answers and events.

The agent is built on first use (or :meth:`LocalClient.connect`) from ``settings``
(``load_settings()`` when not given), or given ready-made. Its turn runs on the SDK's core loop
(:mod:`genie_agent.aio`), read from this thread or from the caller's event loop. Events are the agent's, as a remote client reads them from the same turn
(:func:`~.events.client_events`), without the Responses mapping (which costs MLflow's import).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any

from ..aio import blocking, iterate_sync
from .base import Client, ThreadState
from .events import ClientEvent, client_event, client_events
from .genie_images import ChartRef, unsupported
from .memory import MemoryActionName, MemoryAnswer, memory_request

if TYPE_CHECKING:
    from ..agent import Agent
    from ..config import Settings
    from ..feedback import FeedbackAction
    from ..identity import Identity

__all__ = ["LocalClient"]


class LocalClient(Client):
    """The agent in this process.

    ``agent``: an :class:`~genie_agent.agent.Agent`, or a function building one on first use; default
    ``make_agent(settings)``. ``user`` is the trusted local user (with the limits ``settings.users``
    gives that name), or pass ``identity``.
    """

    def __init__(
        self,
        agent: Agent | Callable[[], Agent] | None = None,
        *,
        settings: Settings | None = None,
        user: str = "local",
        identity: Identity | None = None,
        label: str | None = None,
    ) -> None:
        super().__init__(label or ("embedded" if user == "local" else f"embedded as {user}"))
        self._given = agent
        self._settings = settings
        self._user = user
        self._identity = identity
        self._agent: Agent | None = None
        self._lock = threading.Lock()

    @property
    def agent(self) -> Agent:
        """The agent, built on first use."""
        with self._lock:
            if self._agent is None:
                self._agent = self._build()
            return self._agent

    def _build(self) -> Agent:
        from ..agent import Agent

        given = self._given
        if isinstance(given, Agent):
            return given
        if given is not None:
            return given()
        from ..factory import make_agent

        return make_agent(self._settings_now(), progress=False)

    def _settings_now(self) -> Settings:
        if self._settings is None:
            from ..config import load_settings

            self._settings = load_settings()
        return self._settings

    @property
    def identity(self) -> Identity:
        """Who asks: the trusted local user."""
        if self._identity is None:
            from ..identity import local_identity

            users = self._settings.users if self._settings is not None else {}
            self._identity = local_identity(self._user, users)
        return self._identity

    def connect(self) -> None:
        """Build the agent now (a first run generates the example data)."""
        _ = self.agent

    async def aconnect(self) -> None:
        await asyncio.to_thread(self.connect)

    # --- turns and memories, run here ----------------------------------------------------------------
    def _turn(self, question: str, thread: ThreadState) -> Generator[ClientEvent]:
        events = self.agent.stream(
            question,
            identity=self.identity,
            thread_id=thread.thread_id,
            genie_conversation_ids=dict(thread.genie_conversation_ids),
        )
        yield from client_events(events)

    async def _aturn(self, question: str, thread: ThreadState) -> AsyncGenerator[ClientEvent]:
        await self.aconnect()
        events = self.agent.astream(
            question,
            identity=self.identity,
            thread_id=thread.thread_id,
            genie_conversation_ids=dict(thread.genie_conversation_ids),
        )
        async for event in events:
            for mapped in client_event(event):
                yield mapped

    def _memory(self, action: MemoryActionName, memory_id: str | None) -> MemoryAnswer:
        from ..memory.actions import MemoryAction, run_memory_action

        request = MemoryAction.from_custom_inputs(memory_request(action, memory_id)["custom_inputs"])
        assert request is not None
        result = run_memory_action(self.agent.memories, self.identity.user, request)
        return result.text, result.outputs

    async def _amemory(self, action: MemoryActionName, memory_id: str | None) -> MemoryAnswer:
        return await asyncio.to_thread(self._memory, action, memory_id)

    def _feedback(self, action: FeedbackAction) -> MemoryAnswer:
        from ..feedback import record_feedback

        result = record_feedback(self.agent, self.identity, action)
        return result.text, result.outputs

    async def _afeedback(self, action: FeedbackAction) -> MemoryAnswer:
        return await asyncio.to_thread(self._feedback, action)

    async def _agenie_image(self, ref: ChartRef) -> bytes:
        """Genie's image of the chart, downloaded by the space that asked, as this client's identity."""
        from ..spaces.databricks import DatabricksGenieSpace
        from ..spaces.genie_visualization import adownload_space_visualization

        await self.aconnect()
        space = self.agent.spaces.get(ref.domain)
        if not isinstance(space, DatabricksGenieSpace):
            raise unsupported(self.label, f"its {ref.domain} space is not a Databricks Genie space.")
        return await adownload_space_visualization(
            space, ref.conversation_id, ref.message_id, ref.chart.attachment_id, identity=self.identity
        )

    # --- the Responses stream, as `genie-agent serve` would send it -----------------------------------
    def responses(self, body: Mapping[str, Any]) -> Generator[dict[str, Any]]:
        """The served agent's Responses stream for ``body``, run here (imports MLflow's Responses types)."""
        _ = self.agent  # built here, not on the core loop
        yield from iterate_sync(lambda: self.aresponses(body))

    async def aresponses(self, body: Mapping[str, Any]) -> AsyncGenerator[dict[str, Any]]:
        from ..errors import GenieAgentError
        from ..feedback import record_feedback
        from ..memory.actions import run_memory_action
        from ..responses import (
            aevents_to_responses,
            error_events,
            feedback_events,
            memory_action_events,
            parse_request,
        )

        await self.aconnect()
        agent, who = self.agent, self.identity
        try:
            turn = parse_request(dict(body))
            if turn.memory_action is not None:
                result = await blocking(run_memory_action, agent.memories, who.user, turn.memory_action)
                for event in memory_action_events(result):
                    yield event.model_dump(exclude_none=True)
            elif turn.feedback is not None:
                for event in feedback_events(await blocking(record_feedback, agent, who, turn.feedback)):
                    yield event.model_dump(exclude_none=True)
            else:
                stream = agent.astream(
                    turn.question,
                    identity=who,
                    thread_id=turn.thread_id,
                    genie_conversation_ids=turn.genie_conversation_ids,
                )
                async for event in aevents_to_responses(stream):
                    yield event.model_dump(exclude_none=True)  # as the agent server serializes each chunk
        except GenieAgentError as exc:
            for event in error_events(exc):
                yield event.model_dump(exclude_none=True)
