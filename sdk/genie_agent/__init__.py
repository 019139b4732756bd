"""genie-agent: a multi-domain analytics agent over Databricks Genie spaces.

``import genie_agent`` is the SDK; what is listed in ``__all__`` is its public API, loaded on first
use (the import itself costs almost nothing). Everything else — modules and names not listed here,
and any name starting with an underscore — is private and may change without notice::

    import genie_agent

    agent = genie_agent.make_agent(genie_agent.load_settings())
    for event in agent.stream("What was revenue by region in 1996?"):
        if isinstance(event, genie_agent.TextDelta):
            print(event.text, end="")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Public name -> the module that defines it.
_EXPORTS = {
    # building an agent
    "Settings": "config",
    "load_settings": "config",
    "make_agent": "factory",
    "Agent": "agent",
    "AgentLimits": "agent",
    "Identity": "identity",
    # a turn's events, in the order they come
    "RouteDecided": "turn",
    "SpaceQueryStarted": "turn",
    "SpaceProgress": "turn",
    "SpaceAnswered": "turn",
    "SpaceFailed": "turn",
    "Clarification": "turn",
    "TextDelta": "turn",
    "VisualizationReady": "turn",
    "TurnDone": "turn",
    "TurnEvent": "turn",
    # what a turn returns, and the wire contract every consumer reads
    "TurnResult": "turn",
    "ResultTable": "turn",
    "contract": "",
    # the client: the agent in-process, a `genie-agent serve` URL or a serving endpoint, one interface
    "connect": "client",
    "Client": "client",
    "LocalClient": "client",
    "HttpClient": "client",
    "ServingClient": "client",
    "ClientEvent": "client",
    "RouteChosen": "client",
    "SpaceReplied": "client",
    "Done": "client",
    "Unreadable": "client",
    "ThreadState": "client",
    "MemoryEntry": "client",
    "MemoryOutcome": "client",
    "FeedbackOutcome": "client",
    # errors, by whose fault
    "GenieAgentError": "errors",
    "UserInputError": "errors",
    "UnknownSpaceError": "errors",
    "UnsafeRequestError": "errors",
    "PermissionDeniedError": "errors",
    "AuthenticationError": "errors",
    "ConfigError": "errors",
    "BackendError": "errors",
    "BackendTimeoutError": "errors",
    "TargetError": "client",
    "TargetUnreachableError": "client",
    "TargetAuthError": "client",
    "TargetRequestError": "client",
    "SpaceFailedError": "client",
    "MemoryActionError": "client",
}

__all__ = [
    "Agent",
    "AgentLimits",
    "AuthenticationError",
    "BackendError",
    "BackendTimeoutError",
    "Clarification",
    "Client",
    "ClientEvent",
    "ConfigError",
    "Done",
    "FeedbackOutcome",
    "GenieAgentError",
    "HttpClient",
    "Identity",
    "LocalClient",
    "MemoryActionError",
    "MemoryEntry",
    "MemoryOutcome",
    "PermissionDeniedError",
    "ResultTable",
    "RouteChosen",
    "RouteDecided",
    "ServingClient",
    "Settings",
    "SpaceAnswered",
    "SpaceFailed",
    "SpaceFailedError",
    "SpaceProgress",
    "SpaceQueryStarted",
    "SpaceReplied",
    "TargetAuthError",
    "TargetError",
    "TargetRequestError",
    "TargetUnreachableError",
    "TextDelta",
    "ThreadState",
    "TurnDone",
    "TurnEvent",
    "TurnResult",
    "UnknownSpaceError",
    "Unreadable",
    "UnsafeRequestError",
    "UserInputError",
    "VisualizationReady",
    "connect",
    "contract",
    "load_settings",
    "make_agent",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'genie_agent' has no attribute {name!r}")
    if module == "":
        value: Any = importlib.import_module(f"{__name__}.{name}")
    else:
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from . import contract
    from .agent import Agent, AgentLimits
    from .client import (
        Client,
        ClientEvent,
        Done,
        HttpClient,
        LocalClient,
        MemoryActionError,
        MemoryEntry,
        MemoryOutcome,
        RouteChosen,
        ServingClient,
        SpaceFailedError,
        SpaceReplied,
        TargetAuthError,
        TargetError,
        TargetRequestError,
        TargetUnreachableError,
        ThreadState,
        Unreadable,
        connect,
    )
    from .config import Settings, load_settings
    from .errors import (
        AuthenticationError,
        BackendError,
        BackendTimeoutError,
        ConfigError,
        GenieAgentError,
        PermissionDeniedError,
        UnknownSpaceError,
        UnsafeRequestError,
        UserInputError,
    )
    from .factory import make_agent
    from .identity import Identity
    from .turn import (
        Clarification,
        ResultTable,
        RouteDecided,
        SpaceAnswered,
        SpaceFailed,
        SpaceProgress,
        SpaceQueryStarted,
        TextDelta,
        TurnDone,
        TurnEvent,
        TurnResult,
        VisualizationReady,
    )
