"""The served agent: an MLflow ResponsesAgent, thin over the genie_agent SDK (models-from-code).

Logged with ``mlflow.pyfunc.log_model(python_model="agent_model/agent.py", ...)``. The SDK builds
the agent from settings (``GENIE_AGENT_*`` environment) on the first request, not at load time.
"""

from __future__ import annotations

import threading
from collections.abc import Generator

import mlflow
from mlflow.pyfunc import ResponsesAgent
from mlflow.types.responses import ResponsesAgentRequest, ResponsesAgentResponse, ResponsesAgentStreamEvent

from genie_agent.agent import Agent
from genie_agent.errors import GenieAgentError
from genie_agent.responses import collect_response, error_events, events_to_responses, parse_request


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

    def _events(self, request: ResponsesAgentRequest) -> Generator[ResponsesAgentStreamEvent, None, None]:
        try:
            turn = parse_request(request)
            user = turn.client_user_id or "local"
            stream = self.agent.stream(
                turn.question,
                user=user,
                thread_id=turn.thread_id,
                genie_conversation_ids=turn.genie_conversation_ids,
            )
            yield from events_to_responses(stream)
        except GenieAgentError as exc:
            yield from error_events(exc)

    def predict(self, request: ResponsesAgentRequest) -> ResponsesAgentResponse:
        return collect_response(self._events(request))

    def predict_stream(
        self, request: ResponsesAgentRequest
    ) -> Generator[ResponsesAgentStreamEvent, None, None]:
        yield from self._events(request)


AGENT = GenieResponsesAgent()
mlflow.models.set_model(AGENT)
