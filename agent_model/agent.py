"""The served agent: an MLflow ResponsesAgent, thin over the genie_agent SDK (models-from-code).

Logged with ``mlflow.pyfunc.log_model(python_model="agent_model/agent.py", ...)``; also what
``genie-agent serve`` puts behind MLflow's agent server. The SDK builds the agent from settings
(``GENIE_AGENT_*`` environment) on the first request, not at load time.

Who asks: an authenticated identity handed in by the server in front wins. Otherwise, in Model
Serving (``auth``: ``model-serving``, or ``auto`` there) and under Databricks Apps the caller is
derived from their own credentials on every request and ``custom_inputs.user_id`` is ignored; only
with ``auth: token`` and no identity is the client-set ``user_id`` used (a trusted local client).

A conversation sent whole (the AI Playground, OpenAI-style clients: earlier messages in ``input``, no
thread id) continues the caller's thread holding its earlier user messages, or has its context
rebuilt from them (:mod:`genie_agent.continuation`), before the turn runs.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import AsyncIterator, Generator, Iterator, Mapping

import mlflow
from mlflow.pyfunc import ResponsesAgent
from mlflow.types.responses import ResponsesAgentRequest, ResponsesAgentResponse, ResponsesAgentStreamEvent

from genie_agent.agent import Agent
from genie_agent.aio import blocking, iterate_sync
from genie_agent.continuation import (
    MAX_REPLAYED,
    Continuation,
    askable,
    find_conversation,
    rebuild_conversation,
)
from genie_agent.errors import GenieAgentError
from genie_agent.feedback import record_feedback
from genie_agent.identity import LOCAL_USER, Identity, IdentityProvider
from genie_agent.memory.actions import run_memory_action
from genie_agent.responses import (
    TurnRequest,
    aevents_to_responses,
    collect_response,
    error_events,
    feedback_events,
    memory_action_events,
    parse_request,
    rebuilding_event,
)


class GenieResponsesAgent(ResponsesAgent):
    """Routes each question to Genie spaces and streams the answer as Responses events."""

    def __init__(self, agent: Agent | None = None, identities: IdentityProvider | None = None) -> None:
        """``identities`` names the caller of each request from their credentials; None: the caller
        is the identity passed to :meth:`stream_events`, else the client-set ``user_id``. Both default
        to what the settings say when the agent is built from them."""
        self._agent = agent
        self._identities = identities
        self._lock = threading.Lock()

    @property
    def agent(self) -> Agent:
        if self._agent is None:
            with self._lock:
                if self._agent is None:
                    from genie_agent.config import load_settings
                    from genie_agent.factory import make_agent
                    from genie_agent.workspace_identity import make_identity_provider

                    settings = load_settings()
                    if self._identities is None and settings.auth_mode() != "token":
                        self._identities = make_identity_provider(settings)
                    self._agent = make_agent(settings, progress=False)
        return self._agent

    def _caller(self, client_user_id: str | None, identity: Identity | None) -> Identity:
        if identity is not None and identity.authenticated:
            return identity
        if self._identities is not None:  # built per request, from the caller's own credentials
            return self._identities.identify(_request_headers())
        return Identity(client_user_id or (identity.user if identity else LOCAL_USER))

    async def astream_events(
        self, request: ResponsesAgentRequest, identity: Identity | None = None
    ) -> AsyncIterator[ResponsesAgentStreamEvent]:
        """The turn as Responses events, read from any event loop (the turn runs on the SDK's core
        loop). An authenticated ``identity`` wins over ``custom_inputs.user_id``."""
        try:
            turn = parse_request(request)
            agent = self._agent if self._agent is not None else await blocking(lambda: self.agent)
            if (identity is not None and identity.authenticated) or self._identities is None:
                identity = self._caller(turn.client_user_id, identity)  # no workspace call: no thread
            else:
                identity = await blocking(self._caller, turn.client_user_id, identity)
            if turn.memory_action is not None:  # list/forget memories: answered without a turn
                result = await blocking(run_memory_action, agent.memories, identity.user, turn.memory_action)
                for event in memory_action_events(result):
                    yield event
                return
            if turn.feedback is not None:  # rate an earlier turn: answered without a turn
                rated = await blocking(record_feedback, agent, identity, turn.feedback)
                for event in feedback_events(rated):
                    yield event
                return
            continued = Continuation(turn.thread_id)
            async for item in _continuation(agent, identity, turn):
                if isinstance(item, Continuation):
                    continued = item
                else:
                    yield item
            stream = agent.astream(
                turn.question,
                identity=identity,
                thread_id=continued.thread_id,
                genie_conversation_ids={**continued.genie_conversation_ids, **turn.genie_conversation_ids},
                previous=continued.previous,
            )
            async for event in aevents_to_responses(stream):
                yield event
        except GenieAgentError as exc:
            for event in error_events(exc):
                yield event

    def stream_events(
        self, request: ResponsesAgentRequest, identity: Identity | None = None
    ) -> Iterator[ResponsesAgentStreamEvent]:
        """:meth:`astream_events` read from this thread (Model Serving's ``predict_stream``)."""
        return iterate_sync(lambda: self.astream_events(request, identity))

    # ResponsesAgent itself narrows PythonModel.predict to (request); mypy sees only PythonModel's.
    def predict(self, request: ResponsesAgentRequest) -> ResponsesAgentResponse:  # type: ignore[override]
        return collect_response(self.stream_events(request))

    def predict_stream(  # type: ignore[override]
        self, request: ResponsesAgentRequest
    ) -> Generator[ResponsesAgentStreamEvent, None, None]:
        yield from self.stream_events(request)


async def _continuation(
    agent: Agent, identity: Identity, turn: TurnRequest
) -> AsyncIterator[ResponsesAgentStreamEvent | Continuation]:
    """What the question continues (the last item): the thread it names; else, for a conversation
    sent whole (earlier user messages, no thread id), the user's thread holding those messages, or
    their context rebuilt (said in a reasoning item first: it asks them again)."""
    if turn.thread_id is not None or not turn.earlier_questions:
        yield Continuation(turn.thread_id)
        return
    earlier = askable(agent, turn.earlier_questions)
    found = await blocking(find_conversation, agent, identity.user, earlier)
    if found is not None or not earlier:
        yield Continuation(found)
        return
    agent.validate_question(turn.question)  # a bad question is refused before the earlier ones are asked
    yield rebuilding_event(min(len(earlier), MAX_REPLAYED))
    yield await blocking(rebuild_conversation, agent, identity, turn.question, earlier)


def _request_headers() -> Mapping[str, str]:
    """The current request's headers where MLflow's agent server recorded them (Apps), else none."""
    server = sys.modules.get("mlflow.genai.agent_server")  # not loaded: no server records headers
    if server is None:
        return {}
    return {k.lower(): v for k, v in server.get_request_headers().items()}


AGENT = GenieResponsesAgent()
mlflow.models.set_model(AGENT)
