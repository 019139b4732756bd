"""The served agent: an MLflow ResponsesAgent, thin over the genie_agent SDK (models-from-code).

Logged with ``mlflow.pyfunc.log_model(python_model="agent_model/agent.py", ...)``; also what
``genie-agent serve`` puts behind MLflow's agent server. The SDK builds the agent from settings
(``GENIE_AGENT_*`` environment) on the first request, not at load time.
"""

from __future__ import annotations

import threading
from collections.abc import Generator

import mlflow
from mlflow.pyfunc import ResponsesAgent
from mlflow.types.responses import ResponsesAgentRequest, ResponsesAgentResponse, ResponsesAgentStreamEvent

from genie_agent.agent import Agent
from genie_agent.errors import GenieAgentError
from genie_agent.identity import LOCAL_USER, Identity
from genie_agent.memory.actions import run_memory_action
from genie_agent.responses import (
    collect_response,
    error_events,
    events_to_responses,
    memory_action_events,
    parse_request,
)


class GenieResponsesAgent(ResponsesAgent):
    """Routes each question to Genie spaces and streams the answer as Responses events."""

    def __init__(self, agent: Agent | None = None) -> None:
        self._agent = agent
        self._lock = threading.Lock()

    @property
    def agent(self) -> Agent:
        if self._agent is None:
            with self._lock:
                if self._agent is None:
                    from genie_agent.config import load_settings
                    from genie_agent.factory import make_agent

                    self._agent = make_agent(load_settings(), progress=False)
        return self._agent

    def stream_events(
        self, request: ResponsesAgentRequest, identity: Identity | None = None
    ) -> Generator[ResponsesAgentStreamEvent, None, None]:
        """The turn as Responses events. An authenticated ``identity`` wins over ``custom_inputs.user_id``."""
        try:
            turn = parse_request(request)
            if identity is None or not identity.authenticated:
                identity = Identity(turn.client_user_id or (identity.user if identity else LOCAL_USER))
            if turn.memory_action is not None:  # list/forget memories: answered without a turn
                result = run_memory_action(self.agent.memories, identity.user, turn.memory_action)
                yield from memory_action_events(result)
                return
            stream = self.agent.stream(
                turn.question,
                identity=identity,
                thread_id=turn.thread_id,
                genie_conversation_ids=turn.genie_conversation_ids,
            )
            yield from events_to_responses(stream)
        except GenieAgentError as exc:
            yield from error_events(exc)

    # ResponsesAgent itself narrows PythonModel.predict to (request); mypy sees only PythonModel's.
    def predict(self, request: ResponsesAgentRequest) -> ResponsesAgentResponse:  # type: ignore[override]
        return collect_response(self.stream_events(request))

    def predict_stream(  # type: ignore[override]
        self, request: ResponsesAgentRequest
    ) -> Generator[ResponsesAgentStreamEvent, None, None]:
        yield from self.stream_events(request)


AGENT = GenieResponsesAgent()
mlflow.models.set_model(AGENT)
