"""Production monitoring: what recent turns looked like, and the evaluation's scorers on a sample of them.

Locally, :func:`monitor` reads the traces of the configured experiment since a point in time (the
turns ``serve``, the served model or ``GENIE_AGENT_TRACING=on`` recorded; evaluation traces are left
out), reports volume, latency p50/p95 per space, error and timeout rate per space, the routing
distribution, groundedness failures, memory failures and users' ratings per space, and runs the code
scorers (and the judges, when a judge model is configured) on a sample, logging each assessment on
its trace.

On Databricks, :func:`register_production_monitoring` registers scorers with the workspace's
production monitoring, which samples live traces itself. Those must be built-in judges, ``make_judge``
judges, or ``@scorer`` functions whose body stands alone (MLflow ships only the body to the
service), hence the two self-contained trace scorers at the bottom. Importing this module imports
MLflow.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import mlflow
from mlflow.entities import Feedback
from mlflow.genai.scorers import Scorer, scorer

from ..errors import ConfigError, UserInputError
from .feedback_report import SpaceFeedback, feedback_by_space, rated_turn
from .judges import (
    DEFAULT_GUIDELINES,
    domain_accuracy_judge,
    judge_environ,
    judge_model_uri,
    judge_scorers,
    scoped_environ,
)
from .predict import EVAL_SPAN
from .runner import configure_mlflow
from .scorers import monitoring_code_scorers

if TYPE_CHECKING:
    from ..config import Settings

__all__ = [
    "Incident",
    "MonitoringReport",
    "ScoreSummary",
    "SpaceStats",
    "monitor",
    "parse_since",
    "register_production_monitoring",
]

TURN_SPAN = "genie_agent.turn"
_MONITOR_SOURCE = "genie_agent.monitor"


@dataclass(frozen=True)
class SpaceStats:
    space: str
    calls: int
    errors: int
    timeouts: int
    p50_ms: float | None
    p95_ms: float | None

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0

    @property
    def timeout_rate(self) -> float:
        return self.timeouts / self.calls if self.calls else 0.0


@dataclass(frozen=True)
class Incident:
    trace_id: str
    detail: str


@dataclass(frozen=True)
class ScoreSummary:
    """One scorer over the sample: how many traces it applied to, its mean, and where it failed."""

    name: str
    scored: int
    mean: float | None
    failures: tuple[Incident, ...] = ()


@dataclass(frozen=True)
class MonitoringReport:
    since: str
    until: str
    experiment: str
    tracking_uri: str
    traces: int
    turns: int
    statuses: dict[str, int]
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    spaces: tuple[SpaceStats, ...]
    routing: dict[str, int]
    groundedness_failures: tuple[Incident, ...]
    memory_failures: tuple[Incident, ...]
    sampled: int
    scores: tuple[ScoreSummary, ...] = field(default_factory=tuple)
    feedback: tuple[SpaceFeedback, ...] = field(default_factory=tuple)
    """Users' ratings of the turns, per space (:mod:`.feedback_report`)."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for space, stats in zip(data["spaces"], self.spaces, strict=True):
            space["error_rate"], space["timeout_rate"] = stats.error_rate, stats.timeout_rate
        for rated, feedback in zip(data["feedback"], self.feedback, strict=True):
            rated["rating_rate"] = feedback.rating_rate
        return data


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """``30m``, ``24h``, ``7d``, ``2w`` ago, or an ISO date/time (UTC unless it says otherwise)."""
    now = now or dt.datetime.now(dt.UTC)
    if match := _DURATION.match(text):
        return now - dt.timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserInputError(
            f"--since {text!r} is neither a duration nor a date.", "Use e.g. 30m, 24h, 7d, or 2026-01-31."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low, high = int(rank), min(int(rank) + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (rank - low), 1)


def _duration_ms(span: Any) -> float | None:
    if span.end_time_ns is None or span.start_time_ns is None:
        return None
    return (span.end_time_ns - span.start_time_ns) / 1e6


def _status_code(span: Any) -> str:
    status = getattr(span, "status", None)
    code = getattr(status, "status_code", "")
    return str(getattr(code, "value", code))


def _exception_type(span: Any) -> str:
    for event in getattr(span, "events", None) or []:
        if event.name == "exception":
            return str((event.attributes or {}).get("exception.type", ""))
    return ""


def _timed_out(space: Any, synthesis: Any) -> bool:
    """The turn stopped waiting for the space: its span is missing (still running when the trace
    ended) or ended after synthesis began (which waits for every space up to the time limit), or
    the space itself raised a timeout."""
    if space is None:
        return True
    if "Timeout" in _exception_type(space):
        return True
    return (
        synthesis is not None
        and space.end_time_ns is not None
        and synthesis.start_time_ns is not None
        and space.end_time_ns > synthesis.start_time_ns
    )


def in_sample(trace_id: str, rate: float) -> bool:
    """Stable sampling: a trace is in or out by its id, so repeated runs score the same traces."""
    if rate >= 1:
        return True
    bucket = int(hashlib.sha1(trace_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return bucket < rate


def _turns(trace: Any) -> Iterable[tuple[Any, list[Any]]]:
    """Each ``genie_agent.turn`` span of a production trace with its child spans."""
    spans = list(trace.data.spans)
    root = next((s for s in spans if s.parent_id is None), None)
    if root is None or root.name == EVAL_SPAN:
        return
    children: dict[str, list[Any]] = defaultdict(list)
    for span in spans:
        if span.parent_id is not None:
            children[span.parent_id].append(span)
    for span in spans:
        if span.name == TURN_SPAN:
            yield span, children.get(span.span_id, [])


@dataclass
class _Tally:
    statuses: Counter[str] = field(default_factory=Counter)
    routing: Counter[str] = field(default_factory=Counter)
    turn_ms: list[float] = field(default_factory=list)
    space_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    calls: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    timeouts: Counter[str] = field(default_factory=Counter)
    ungrounded: list[Incident] = field(default_factory=list)
    memory: list[Incident] = field(default_factory=list)
    turns: int = 0

    def add(self, trace_id: str, turn: Any, children: list[Any]) -> None:
        self.turns += 1
        outputs = turn.outputs if isinstance(turn.outputs, Mapping) else {}
        status = "error" if _status_code(turn) == "ERROR" else str(outputs.get("status", "unknown"))
        self.statuses[status] += 1
        if (ms := _duration_ms(turn)) is not None:
            self.turn_ms.append(ms)
        by_name = {s.name: s for s in children}
        synthesis = by_name.get("synthesis")
        route = by_name.get("route")
        route_out = route.outputs if route is not None and isinstance(route.outputs, Mapping) else {}
        domains = [str(d) for d in route_out.get("domains") or (turn.attributes or {}).get("domains") or []]
        self.routing["+".join(domains) if domains else f"(none: {route_out.get('kind', status)})"] += 1
        for domain in domains:
            self.calls[domain] += 1
            span = by_name.get(f"genie.{domain}")
            if span is not None and (ms := _duration_ms(span)) is not None:
                self.space_ms[domain].append(ms)
            if _timed_out(span, synthesis):
                self.timeouts[domain] += 1
            elif span is not None and _status_code(span) == "ERROR":
                self.errors[domain] += 1
        attributes = (synthesis.attributes or {}) if synthesis is not None else {}
        if attributes.get("grounding.ok") is False:
            numbers = ", ".join(str(n) for n in attributes.get("grounding.unsupported_numbers") or [])
            self.ungrounded.append(Incident(trace_id, f"numbers in no result: {numbers}"))
        for span in children:
            if not span.name.startswith("memory."):
                continue
            out = span.outputs
            if _status_code(span) == "ERROR":
                self.memory.append(Incident(trace_id, f"{span.name}: {_exception_type(span) or 'error'}"))
            elif isinstance(out, str) and out.startswith("failed"):
                self.memory.append(Incident(trace_id, f"{span.name}: {out}"))

    def spaces(self) -> tuple[SpaceStats, ...]:
        return tuple(
            SpaceStats(
                d,
                self.calls[d],
                self.errors[d],
                self.timeouts[d],
                _percentile(self.space_ms[d], 0.5),
                _percentile(self.space_ms[d], 0.95),
            )
            for d in sorted(self.calls)
        )


def _score(traces: Sequence[Any], scorers: Sequence[Scorer], log: bool) -> tuple[ScoreSummary, ...]:
    """Run each scorer on each trace; log new assessments on the traces (none twice)."""
    values: dict[str, list[float]] = defaultdict(list)
    failures: dict[str, list[Incident]] = defaultdict(list)
    for trace in traces:
        root = next((s for s in trace.data.spans if s.parent_id is None), None)
        if root is None:
            continue
        done = {a.name for a in trace.info.assessments or []}
        trace_id = trace.info.trace_id
        for sc in scorers:
            try:
                feedback = sc.run(inputs=root.inputs, outputs=root.outputs, trace=trace)
            except Exception as exc:  # one scorer failing must not stop the report
                failures[sc.name].append(Incident(trace_id, f"scorer error: {exc}"))
                continue
            if not isinstance(feedback, Feedback):
                continue
            value = feedback.value
            if not isinstance(value, bool | int | float):
                value = str(getattr(value, "value", value))  # CategoricalRating -> "yes" / "no"
            number = {"yes": 1.0, "no": 0.0}.get(value) if isinstance(value, str) else float(value)
            if number is not None:
                values[sc.name].append(number)
            if value is False or value == "no":
                failures[sc.name].append(Incident(trace_id, feedback.rationale or str(value)))
            if log and sc.name not in done:
                feedback.name = sc.name
                feedback.metadata = {**(feedback.metadata or {}), _MONITOR_SOURCE: "local"}
                mlflow.log_assessment(trace_id=trace_id, assessment=feedback)
    return tuple(
        ScoreSummary(
            sc.name,
            len(values[sc.name]),
            round(sum(values[sc.name]) / len(values[sc.name]), 4) if values[sc.name] else None,
            tuple(failures[sc.name]),
        )
        for sc in scorers
    )


def monitor(
    settings: Settings,
    *,
    since: dt.datetime,
    sample: float = 1.0,
    limit: int = 1000,
    judges: bool | None = None,
    log_assessments: bool = True,
) -> MonitoringReport:
    """Report on the experiment's production traces since ``since`` and score a ``sample`` of them.

    ``sample`` is the fraction of traces scored (0 < sample <= 1); ``limit`` caps the traces read,
    newest first. Judges run when a judge model is configured (``judges`` overrides).
    """
    if not 0 < sample <= 1:
        raise UserInputError(f"--sample {sample} is not a fraction in (0, 1].", "Use e.g. 0.2 or 1.")
    experiment_id = configure_mlflow(settings)
    until = dt.datetime.now(dt.UTC)
    traces = mlflow.search_traces(
        locations=[experiment_id],
        filter_string=f"trace.timestamp_ms >= {int(since.timestamp() * 1000)}",
        max_results=limit,
        order_by=["timestamp_ms DESC"],
        return_type="list",
        flush=True,
    )
    tally, production = _Tally(), []
    for trace in traces:
        found = False
        for turn, children in _turns(trace):
            tally.add(trace.info.trace_id, turn, children)
            found = True
        if found:
            production.append(trace)
    use_judges = bool(settings.judge_model) if judges is None else judges
    scorers = monitoring_code_scorers()
    if use_judges and settings.judge_model:
        scorers += judge_scorers(settings.judge_model)
    sampled = [t for t in production if in_sample(t.info.trace_id, sample)]
    with scoped_environ(judge_environ(settings) if use_judges else {}):
        scores = _score(sampled, scorers, log_assessments)
    return MonitoringReport(
        since=since.isoformat(timespec="seconds"),
        until=until.isoformat(timespec="seconds"),
        experiment=settings.mlflow_experiment,
        tracking_uri=mlflow.get_tracking_uri(),
        traces=len(production),
        turns=tally.turns,
        statuses=dict(tally.statuses),
        latency_p50_ms=_percentile(tally.turn_ms, 0.5),
        latency_p95_ms=_percentile(tally.turn_ms, 0.95),
        spaces=tally.spaces(),
        routing=dict(tally.routing.most_common()),
        groundedness_failures=tuple(tally.ungrounded),
        memory_failures=tuple(tally.memory),
        sampled=len(sampled),
        scores=scores,
        feedback=feedback_by_space(t for t in map(rated_turn, production) if t is not None),
    )


def register_production_monitoring(settings: Settings, *, sample_rate: float) -> list[str]:
    """Register and start the scorers with Databricks production monitoring at ``sample_rate``.

    Raises:
        ConfigError: the tracking store is not a Databricks workspace.
    """
    if not 0 < sample_rate <= 1:
        raise UserInputError(f"--sample {sample_rate} is not a fraction in (0, 1].", "Use e.g. 0.1.")
    from mlflow.utils.uri import is_databricks_uri

    uri = settings.tracking_uri() or mlflow.get_tracking_uri()
    if not is_databricks_uri(uri):
        raise ConfigError(
            f"Production monitoring is a Databricks feature; the tracking store here is {uri}.",
            "Set GENIE_AGENT_MLFLOW_TRACKING_URI=databricks (and workspace credentials) to register "
            "scorers; without --register, `genie-agent monitor` scores traces locally.",
        )
    from mlflow.genai.scorers import Guidelines, RelevanceToQuery, Safety, ScorerSamplingConfig

    configure_mlflow(settings)
    model = judge_model_uri(settings.judge_model) if settings.judge_model else None
    scorers = [
        Safety(model=model),
        RelevanceToQuery(model=model),
        Guidelines(name="guidelines", guidelines=list(DEFAULT_GUIDELINES), model=model),
        domain_accuracy_judge(settings.judge_model),
        production_groundedness,
        production_answered,
    ]
    started = []
    for sc in scorers:  # type: Scorer
        try:
            sc.register(name=sc.name)
        except Exception as exc:  # registered by an earlier run: update its sampling instead
            if "already" not in str(exc).lower():
                raise
        sc.start(name=sc.name, sampling_config=ScorerSamplingConfig(sample_rate=sample_rate))
        started.append(sc.name)
    return started


# Self-contained: Databricks runs each body alone, without genie_agent installed (MLflow ships
# only the function body), so they import inside and repeat what checks.groundedness knows.
@scorer(name="groundedness")
def production_groundedness(trace: Any) -> Feedback | None:
    from mlflow.entities import Feedback

    spans = [s for s in trace.data.spans if s.name == "synthesis"]
    attributes = (spans[-1].attributes or {}) if spans else {}
    ok = attributes.get("grounding.ok")
    if ok is None:
        return None
    numbers = attributes.get("grounding.unsupported_numbers") or []
    rationale = (
        "every number appears in a result"
        if ok
        else "numbers in no result: " + ", ".join(str(n) for n in numbers)
    )
    return Feedback(value=bool(ok), rationale=rationale)


@scorer(name="answered")
def production_answered(trace: Any) -> Feedback | None:
    from mlflow.entities import Feedback

    turns = [s for s in trace.data.spans if s.name == "genie_agent.turn"]
    if not turns:
        return None
    outputs = turns[-1].outputs if isinstance(turns[-1].outputs, dict) else {}
    status = str(outputs.get("status", "unknown"))
    return Feedback(value=status != "error", rationale=f"turn status {status}")
