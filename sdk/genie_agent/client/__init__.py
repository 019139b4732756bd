"""The client: one interface to the agent in this process, a ``genie-agent serve`` URL or a Databricks
serving endpoint — ``ask``, ``stream``, follow-ups, memories, ratings — the same answers and events from each::

    import genie_agent

    with genie_agent.connect() as client:  # or connect("http://127.0.0.1:8000"), connect("endpoint:NAME")
        result = client.ask("How many orders were placed in 1996?")
        print(result.text)
        print(client.ask("what about 1995?").text)  # a follow-up: the thread is carried

Importing this package loads none of its targets: httpx is imported with the URL and endpoint
clients, databricks-sdk when an endpoint's credentials are first resolved, the agent when the local
client first asks.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Public name -> the module of this package that defines it.
_EXPORTS = {
    "connect": "targets",
    "Client": "base",
    "ThreadState": "base",
    "LocalClient": "local",
    "HttpClient": "http",
    "ServingClient": "serving",
    "ClientEvent": "events",
    "RouteChosen": "events",
    "SpaceQueryStarted": "events",
    "SpaceProgress": "events",
    "SpaceReplied": "events",
    "SpaceFailed": "events",
    "TextDelta": "events",
    "VisualizationReady": "events",
    "Done": "events",
    "Unreadable": "events",
    "MemoryEntry": "memory",
    "MemoryOutcome": "memory",
    "FeedbackOutcome": "feedback",
    "TargetError": "errors",
    "TargetUnreachableError": "errors",
    "TargetAuthError": "errors",
    "TargetRequestError": "errors",
    "MemoryActionError": "errors",
    "SpaceFailedError": "errors",
}

__all__ = [
    "Client",
    "ClientEvent",
    "Done",
    "FeedbackOutcome",
    "HttpClient",
    "LocalClient",
    "MemoryActionError",
    "MemoryEntry",
    "MemoryOutcome",
    "RouteChosen",
    "ServingClient",
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
    "Unreadable",
    "VisualizationReady",
    "connect",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'genie_agent.client' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from .base import Client, ThreadState
    from .errors import (
        MemoryActionError,
        SpaceFailedError,
        TargetAuthError,
        TargetError,
        TargetRequestError,
        TargetUnreachableError,
    )
    from .events import (
        ClientEvent,
        Done,
        RouteChosen,
        SpaceFailed,
        SpaceProgress,
        SpaceQueryStarted,
        SpaceReplied,
        TextDelta,
        Unreadable,
        VisualizationReady,
    )
    from .feedback import FeedbackOutcome
    from .http import HttpClient
    from .local import LocalClient
    from .memory import MemoryEntry, MemoryOutcome
    from .serving import ServingClient
    from .targets import connect
