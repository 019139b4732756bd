"""Tracing boundary: spans for every step of a turn, written to MLflow when tracing is on.

``import mlflow`` costs seconds, so tracing is on by default only where mlflow is already loaded
(the served ResponsesAgent, ``serve``); ``ask`` traces when ``GENIE_AGENT_TRACING=on``. Spans use
MLflow's own ``SpanType`` values: PARSER for routing, TOOL per space query, LLM for synthesis,
RETRIEVER for memory recall, AGENT for the turn.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Literal, Protocol, TypeVar

__all__ = ["MlflowTracer", "NoopTracer", "Span", "SpanKind", "Tracer", "make_tracer", "use_experiment"]


def use_experiment(name: str) -> str:
    """``mlflow.set_experiment(name)``, its id; a :class:`ConfigError` saying what to set when the
    tracking server refuses it (a workspace takes only absolute paths such as ``/Shared/genie-agent``)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from .errors import ConfigError

    try:
        return str(mlflow.set_experiment(name).experiment_id)
    except MlflowException as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(
            f"MLflow at {mlflow.get_tracking_uri()} refused the experiment {name!r}: {first}",
            "Set GENIE_AGENT_MLFLOW_EXPERIMENT to an experiment this tracking server accepts (on a "
            "workspace an absolute path such as /Shared/genie-agent), or GENIE_AGENT_TRACING=off.",
        ) from None


SpanKind = Literal["AGENT", "CHAIN", "PARSER", "TOOL", "LLM", "RETRIEVER", "MEMORY", "GUARDRAIL"]
T = TypeVar("T")


class Span(Protocol):
    def set_outputs(self, outputs: Any) -> None: ...

    def set_attributes(self, attributes: Mapping[str, Any]) -> None: ...


class Tracer(Protocol):
    """Opens spans around steps of a turn and labels the trace with its user and session."""

    def span(
        self, name: str, kind: SpanKind, inputs: Mapping[str, Any] | None = None
    ) -> AbstractContextManager[Span]: ...

    def tag_trace(self, *, user: str, session_id: str, metadata: Mapping[str, str]) -> None: ...

    def flush(self) -> None: ...


class _NoSpan:
    def set_outputs(self, outputs: Any) -> None:
        pass

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        pass


class NoopTracer:
    """Tracing off: every call is free."""

    _span = _NoSpan()

    def span(
        self, name: str, kind: SpanKind, inputs: Mapping[str, Any] | None = None
    ) -> AbstractContextManager[Span]:
        return nullcontext(self._span)

    def tag_trace(self, *, user: str, session_id: str, metadata: Mapping[str, str]) -> None:
        pass

    def flush(self) -> None:
        pass


class MlflowTracer:
    """Spans through ``mlflow.start_span``, into ``tracking_uri`` under ``experiment``.

    :meth:`configure` sets the tracking URI and experiment once, when they are not already in
    force: ``mlflow.set_experiment`` resets MLflow's tracer provider, which drops spans in flight, so
    the factory configures before any turn runs. ``tracking_uri=None`` leaves MLflow's own
    configuration alone (Model Serving and Apps configure it for the workspace).
    """

    def __init__(self, tracking_uri: str | None, experiment: str | None) -> None:
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self._configured = False
        self._lock = threading.Lock()

    def configure(self) -> None:
        """Point MLflow at the tracking URI and experiment, touching only what differs."""
        import mlflow

        with self._lock:
            if self._configured:
                return
            if self.tracking_uri and mlflow.get_tracking_uri() != self.tracking_uri:
                mlflow.set_tracking_uri(self.tracking_uri)
            if self.experiment:
                current = mlflow.get_experiment_by_name(self.experiment)
                active = mlflow.tracking.fluent._get_experiment_id()
                if current is None or current.experiment_id != active:
                    use_experiment(self.experiment)
            self._configured = True

    def _mlflow(self) -> Any:
        import mlflow

        if not self._configured:
            self.configure()
        return mlflow

    @contextmanager
    def span(self, name: str, kind: SpanKind, inputs: Mapping[str, Any] | None = None) -> Iterator[Span]:
        mlflow = self._mlflow()
        with mlflow.start_span(name=name, span_type=kind) as span:
            if inputs is not None:
                span.set_inputs(dict(inputs))
            yield span

    def tag_trace(self, *, user: str, session_id: str, metadata: Mapping[str, str]) -> None:
        mlflow = self._mlflow()
        mlflow.update_current_trace(user=user, session_id=session_id, metadata=dict(metadata))

    def flush(self) -> None:
        """Spans are exported asynchronously: flush before reading traces back."""
        self._mlflow().flush_trace_async_logging()


def make_tracer(
    mode: Literal["auto", "on", "off"], tracking_uri: str | None, experiment: str | None
) -> Tracer:
    """``auto`` traces only when mlflow is already imported in this process."""
    if mode == "off" or (mode == "auto" and "mlflow" not in sys.modules):
        return NoopTracer()
    return MlflowTracer(tracking_uri, experiment)


def in_context(fn: Callable[..., T]) -> Callable[..., T]:
    """Run ``fn`` in a copy of the caller's context: a worker thread's spans nest under the turn."""
    import contextvars

    ctx = contextvars.copy_context()
    return lambda *args, **kwargs: ctx.run(fn, *args, **kwargs)
