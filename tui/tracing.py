"""Tracing for the chat's embedded agent, set up off the UI thread so that the chat starts at once.

A rating is kept on the turn's MLflow trace, so the chat traces the answers of its embedded agent
(unless tracing is ``off``). Importing MLflow and opening its store takes seconds (half a minute when
the store is created), so :class:`BackgroundTracer` does it in a thread of its own: a turn that starts
before it is ready runs untraced, every part of it (it cannot be rated, and the chat says why); the
turns after are traced as ``serve`` traces them.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from typing import TYPE_CHECKING, Any

from genie_agent.errors import BackendError, GenieAgentError
from genie_agent.tracing import NoopTracer, Span, SpanKind

if TYPE_CHECKING:
    from genie_agent.agent import Agent
    from genie_agent.config import Settings
    from genie_agent.tracing import MlflowTracer

__all__ = ["SETUP_WAIT_S", "BackgroundTracer", "with_chat_tracing"]

SETUP_WAIT_S = 120.0
"""How long a rating waits for tracing to be ready."""
_UNTRACED: contextvars.ContextVar[bool] = contextvars.ContextVar("genie_chat_untraced", default=False)
"""Set inside a turn that began before tracing was ready: none of its spans are traced."""
_NO_SPAN = NoopTracer().span("", "AGENT").__enter__()


class BackgroundTracer:
    """An MLflow tracer whose setup (import, tracking store, experiment) runs in a thread of its own."""

    def __init__(self, tracking_uri: str | None, experiment: str | None) -> None:
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self._tracer: MlflowTracer | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._set_up, name="chat-tracing", daemon=True)

    def start(self) -> BackgroundTracer:
        self._thread.start()
        return self

    def _set_up(self) -> None:
        try:
            from genie_agent.tracing import MlflowTracer

            tracer = MlflowTracer(self.tracking_uri, self.experiment)
            tracer.configure()
            self._tracer = tracer
        except BaseException as exc:  # kept for the rating that needs it
            self._error = exc
        finally:
            self._done.set()

    @property
    def ready(self) -> bool:
        return self._tracer is not None

    def configure(self) -> None:
        """Wait for the setup (a rating reads the trace); raises what stopped it."""
        if not self._done.wait(SETUP_WAIT_S):
            raise BackendError(
                f"MLflow tracing is not ready after {SETUP_WAIT_S:.0f} s.",
                "Rate the answer again in a moment.",
                retryable=True,
            )
        error = self._error
        if isinstance(error, GenieAgentError):
            raise error
        if error is not None:
            raise BackendError(
                f"MLflow tracing could not start: {type(error).__name__}: {error}",
                "Check the tracking store (GENIE_AGENT_MLFLOW_TRACKING_URI), or turn tracing off "
                "(GENIE_AGENT_TRACING=off; answers then cannot be rated).",
            )

    def span(
        self, name: str, kind: SpanKind, inputs: Mapping[str, Any] | None = None
    ) -> AbstractContextManager[Span]:
        if _UNTRACED.get():
            return nullcontext(_NO_SPAN)
        if self._tracer is None:
            return _untraced_turn()
        return self._tracer.span(name, kind, inputs)

    def tag_trace(self, *, user: str, session_id: str, metadata: Mapping[str, str]) -> None:
        if self._tracer is not None and not _UNTRACED.get():
            self._tracer.tag_trace(user=user, session_id=session_id, metadata=metadata)

    def flush(self) -> None:
        if self._tracer is not None:
            self._tracer.flush()


@contextmanager
def _untraced_turn() -> Iterator[Span]:
    token = _UNTRACED.set(True)
    try:
        yield _NO_SPAN
    finally:
        with suppress(ValueError):  # left in another context than it was entered in: that one ends too
            _UNTRACED.reset(token)


def with_chat_tracing(agent: Agent, settings: Settings) -> Agent:
    """``agent`` traced as the chat traces (unless ``tracing`` is ``off`` or it is traced already)."""
    if settings.tracing != "off" and not agent.traced:
        agent.tracer = BackgroundTracer(settings.tracking_uri(), settings.mlflow_experiment).start()
    return agent
