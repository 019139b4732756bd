"""Benchmark of the agent layer: per-turn overhead, parallel fan-out, and the served endpoint.

Prints figures only (nothing is asserted on timings). Run from the repo root:

    .venv/bin/python bench/bench_agent.py [--home DIR] [--turns N] [--sessions N] [--long-term-memory off]

1. Agent overhead per turn: turn wall time minus the time spent inside space calls (and LLM calls, for
   the LLM variant), measured by timing wrappers around the spaces, the thread store, the memory store
   and the LLM client, with a per-phase breakdown. Baseline: the same spaces' ``ask`` called directly
   in sequence.
2. Cross-domain wall time / slowest space, with delays injected into three spaces.
3. Time to the first SSE event of ``genie-agent serve``; baseline: a GET /health round trip.
4. Concurrent streamed sessions against the same server.

Without --home a fresh temporary home under ``.bench-home/`` is used (the TPC-H SF 0.1 data is generated
once) and deleted at the end; with --home the directory is kept and reused. The product code is not
changed: everything is measured from outside, through the public constructors and protocols.
See bench/README.md for how to read the output.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SCALE_FACTOR = 0.1

SINGLE_QUESTION = "What was the revenue for each region between 1994 and 1996?"
CROSS_QUESTION = "What was revenue by region in 1995, and how many suppliers does each region have?"
# Routes to all three spaces (sales, supply, customers), each part answerable.
THREE_SPACE_QUESTION = "Revenue by region in 1995, and the number of suppliers per region, and the number of customers per region"
DELAYS_MS = {"sales": 200, "supply": 300, "customers": 400}
# The served sections cycle over these (single- and cross-space, all three spaces).
SERVE_QUESTIONS = (
    "What was total revenue in 1996?",
    "How many suppliers does each nation have?",
    "How many customers are there per region?",
    "Top 5 nations by revenue in 1996",
    "What is the average account balance by market segment?",
    "What was revenue by region in 1995, and how many suppliers does each region have?",
    "How many orders were placed per order priority?",
    "What is the average supply cost by brand?",
)
SESSION_TURNS = 5  # in-process "clients": a thread is continued for this many turns, then a new one starts
USERS = 10  # identities the in-process turns rotate over
LLM_REPLY = (
    "**Sales**: revenue by region is listed in the table above, with the highest region first. "
    "**Supply chain**: the supplier count per region is listed above as well."
)

TARGET_OVERHEAD_MS = 2.0
TARGET_FANOUT_RATIO = 1.05
TARGET_TTFE_MS = 50.0


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------
def percentile(values: Sequence[float], p: float) -> float:
    """Linear-interpolated percentile (p in 0..100); p50 is the median."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def p50(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def p95(values: Sequence[float]) -> float:
    return percentile(values, 95)


def fmt_ms(ms: float) -> str:
    if ms != ms:  # NaN
        return "-"
    if abs(ms) >= 1000:
        return f"{ms / 1000:.2f} s"
    if abs(ms) >= 10:
        return f"{ms:.1f} ms"
    return f"{ms:.3f} ms" if abs(ms) < 1 else f"{ms:.2f} ms"


def ratio(a: float, b: float) -> str:
    return "-" if a != a or b != b or b == 0 else f"{a / b:.3f}"


def now_ms() -> float:
    return time.perf_counter_ns() / 1e6


def _overlap(interval: tuple[float, float], others: Sequence[tuple[float, float]]) -> float:
    """How much of ``interval`` the union of ``others`` covers."""
    start, end = interval
    clipped = [(max(s, start), min(e, end)) for s, e in others if s < end and e > start]
    return union_ms(clipped)


def union_ms(intervals: Sequence[tuple[float, float]]) -> float:
    """Length of the union of [start, end] intervals: overlapping (parallel) calls count once."""
    total = 0.0
    cur_start = cur_end = None
    for start, end in sorted(intervals):
        if cur_end is None or start > cur_end:
            if cur_end is not None:
                total += cur_end - cur_start  # type: ignore[operator]
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_end is not None:
        total += cur_end - cur_start  # type: ignore[operator]
    return total


def clean_env(home: Path) -> dict[str, str]:
    """The environment without the user's GENIE_AGENT_* / MLFLOW_* settings, pointed at ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENIE_AGENT_", "MLFLOW_"))}
    env["GENIE_AGENT_HOME"] = str(home)
    env["GENIE_AGENT_TPCH_SCALE_FACTOR"] = str(SCALE_FACTOR)
    env["GENIE_AGENT_VERIFIED_QUERIES"] = "false"
    env["GENIE_AGENT_TRACING"] = "off"
    return env


# --------------------------------------------------------------------------------------------------
# timing wrappers (no product code is changed; these sit at the public seams)
# --------------------------------------------------------------------------------------------------
@dataclass
class SpaceCall:
    space: str
    start: float
    end: float
    question: str
    conversation_id: str | None
    identity: Any
    answer: Any = None

    @property
    def ms(self) -> float:
        return self.end - self.start


class Recorder:
    """Collects intervals from the spaces' pool threads (list.append is atomic under the GIL)."""

    def __init__(self) -> None:
        self.calls: list[SpaceCall] = []

    def take(self) -> list[SpaceCall]:
        calls, self.calls = self.calls, []
        return calls


class TimedSpace:
    """A GenieSpace that records the wall time of each ``ask`` (after an optional injected delay)."""

    def __init__(self, inner: Any, recorder: Recorder, delay_ms: float = 0.0) -> None:
        self._inner = inner
        self._recorder = recorder
        self._delay_s = delay_ms / 1000.0

    @property
    def info(self) -> Any:
        return self._inner.info

    def routing_terms(self) -> Any:
        return self._inner.routing_terms()

    def ask(self, question: str, conversation_id: str | None = None, *, identity: Any = None) -> Any:
        call = SpaceCall(self._inner.info.id, now_ms(), 0.0, question, conversation_id, identity)
        try:
            if self._delay_s:
                time.sleep(self._delay_s)
            call.answer = self._inner.ask(question, conversation_id, identity=identity)
            return call.answer
        finally:
            call.end = now_ms()
            self._recorder.calls.append(call)

    def __getattr__(self, name: str) -> Any:  # vocabulary, definition, ... of the local engine
        return getattr(self._inner, name)


class TimedStore:
    """A ThreadStore that times ``load`` and ``append``."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.load_ms: list[float] = []
        self.append_ms: list[float] = []
        self.last_state: Any = None

    def take(self) -> tuple[float, float]:
        out = (sum(self.load_ms), sum(self.append_ms))
        self.load_ms, self.append_ms = [], []
        return out

    def load(self, thread_id: str | None, user: str) -> Any:
        t0 = now_ms()
        try:
            self.last_state = self._inner.load(thread_id, user)
            return self.last_state
        finally:
            self.load_ms.append(now_ms() - t0)

    def append(self, state: Any, turn: Any) -> None:
        t0 = now_ms()
        try:
            self._inner.append(state, turn)
        finally:
            self.append_ms.append(now_ms() - t0)


class TimedMemories:
    """A MemoryStore that times ``recall`` / ``recall_preferences`` and records the intervals of
    ``recall_notes`` and ``apply`` (the writes: statements, domain counts), which the agent may
    make while a space call is still running."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.recall_ms: list[float] = []
        self.notes: list[tuple[float, float]] = []
        self.writes: list[tuple[float, float]] = []

    def take(self) -> tuple[float, list[tuple[float, float]], list[tuple[float, float]]]:
        out = (sum(self.recall_ms), self.notes, self.writes)
        self.recall_ms, self.notes, self.writes = [], [], []
        return out

    def recall(self, user: str, question: str, **kwargs: Any) -> Any:
        t0 = now_ms()
        try:
            return self._inner.recall(user, question, **kwargs)
        finally:
            self.recall_ms.append(now_ms() - t0)

    def recall_preferences(self, user: str) -> Any:
        t0 = now_ms()
        try:
            return self._inner.recall_preferences(user)
        finally:
            self.recall_ms.append(now_ms() - t0)

    def recall_notes(self, user: str, question: str, **kwargs: Any) -> Any:
        t0 = now_ms()
        try:
            return self._inner.recall_notes(user, question, **kwargs)
        finally:
            self.notes.append((t0, now_ms()))

    def apply(self, user: str, changes: Any) -> None:
        t0 = now_ms()
        try:
            self._inner.apply(user, changes)
        finally:
            self.writes.append((t0, now_ms()))

    def __getattr__(self, name: str) -> Any:  # forget_all, health, ...
        return getattr(self._inner, name)


class TimedChat:
    """An OpenAICompatibleChat whose streamed reply records the time spent inside each ``next()``:
    the request, the wait for each chunk and the client's parsing. Time between chunks (the agent
    handling a delta) is not counted."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.intervals: list[tuple[float, float]] = []

    def take(self) -> list[tuple[float, float]]:
        out, self.intervals = self.intervals, []
        return out

    def stream_chat(self, messages: list[dict[str, str]], **kwargs: Any) -> Iterator[str]:
        inner = self._inner.stream_chat(messages, **kwargs)

        def timed() -> Iterator[str]:
            try:
                while True:
                    t0 = now_ms()
                    try:
                        delta = next(inner)
                    except StopIteration:
                        self.intervals.append((t0, now_ms()))
                        return
                    self.intervals.append((t0, now_ms()))
                    yield delta
            finally:
                inner.close()

        return timed()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def wrap_agent(
    base: Any, recorder: Recorder, delays: dict[str, float] | None = None, synthesizer: Any = None
) -> Any:
    """A new Agent over timed wrappers of ``base``'s spaces, thread store and memory store (same limits,
    tracer and memory extractor): memory on, as ``make_agent`` configures it."""
    from genie_agent.agent import Agent

    spaces = {k: TimedSpace(s, recorder, (delays or {}).get(k, 0.0)) for k, s in base.spaces.items()}
    return Agent(
        spaces,
        TimedStore(base.threads),
        memories=TimedMemories(base.memories) if base.memories is not None else None,
        limits=base.limits,
        source=base.source,
        synthesizer=synthesizer or base.synthesizer,
        tracer=base.tracer,
        memory_llm=base.memory_llm,
    )


# --------------------------------------------------------------------------------------------------
# 1. agent overhead per turn
# --------------------------------------------------------------------------------------------------
@dataclass
class TurnSample:
    wall: float
    spaces_union: float
    llm: float
    overhead: float
    first_event: float
    to_text: float  # overhead up to the last TextDelta: the user has the whole answer
    status: str
    domains: tuple[str, ...]
    phases: dict[str, float]  # an exact partition of ``overhead``


def run_turn(
    agent: Any, recorder: Recorder, question: str, identity: Any, thread_id: str | None, chat: Any = None
) -> tuple[TurnSample, Any, list[SpaceCall]]:
    from genie_agent.turn import RouteDecided, TextDelta, TurnDone

    recorder.take()
    agent.threads.take()
    if agent.memories is not None:
        agent.memories.take()
    if chat is not None:
        chat.take()
    result = None
    first = routed = last_text = float("nan")
    t0 = now_ms()
    for event in agent.stream(question, identity=identity, thread_id=thread_id):
        if first != first:
            first = now_ms() - t0
        if isinstance(event, RouteDecided):
            routed = now_ms()  # the fan-out starts right after this event
        elif isinstance(event, TextDelta):
            last_text = now_ms()
        elif isinstance(event, TurnDone):
            result = event.result
    wall = now_ms() - t0
    assert result is not None
    calls = recorder.take()
    load_ms, append_ms = agent.threads.take()
    recall_ms, notes, writes = agent.memories.take() if agent.memories is not None else (0.0, [], [])
    llm_intervals = chat.take() if chat is not None else []
    intervals = [(c.start, c.end) for c in calls]
    spaces = union_ms(intervals)
    llm = sum(e - s for s, e in llm_intervals)  # sequential, after the fan-out: never overlaps a space call
    t = result.timings_ms  # the turn's own phases (genie_agent.phases.Turn), one clock
    recall, route, fan = t.get("recall", 0.0), t.get("route", 0.0), t.get("spaces", 0.0)
    synth, save, total = t.get("synthesis", 0.0), t.get("save", 0.0), t["total"]
    # A notes search or memory write the agent makes while a space call runs is hidden by it (it is in
    # the union above); the rest counts in the phase it started in: recall or route (a statement-only
    # turn), fan-out, or after.
    writes_in: dict[str, float] = defaultdict(float)
    notes_shown = 0.0
    for kind, (start, end) in [*(("write", w) for w in writes), *(("notes", n) for n in notes)]:
        shown = (end - start) - _overlap((start, end), intervals)
        phase = "route" if start < routed else "fan" if start <= routed + fan else "late"
        writes_in[phase] += shown
        if kind == "notes":
            notes_shown += shown
    phases = {
        "outside the turn (validate, generator, TurnDone)": wall - total,
        "thread load": load_ms,
        "memory recall (preferences, domain counts)": recall_ms,
        "notes search (not hidden by a space call)": notes_shown,
        "recall + route phases, the rest (router, tags, spans)": recall
        + route
        - load_ms
        - recall_ms
        - writes_in["route"],
        "spaces phase bookkeeping (pool, futures, ResultTable)": fan - spaces - writes_in["fan"],
        "synthesis phase: text + grounding" + (" (minus LLM)" if chat is not None else ""): synth - llm,
        "between phases (viz hint, combined table, status)": total
        - recall
        - route
        - fan
        - synth
        - save
        - writes_in["late"],
        "thread save": append_ms,
        "save phase, the rest (spans, memory status)": save - append_ms,
        "memory writes (not hidden by a space call)": sum(writes_in.values()) - notes_shown,
    }
    overhead = wall - spaces - llm
    to_text = (last_text - t0) - spaces - llm
    sample = TurnSample(
        wall, spaces, llm, overhead, first, to_text, result.status, tuple(result.route.domains), phases
    )
    return sample, result, calls


def baseline_direct(spaces: dict[str, Any], calls: list[SpaceCall]) -> float:
    """The same spaces' ``ask`` called directly, in sequence, with the arguments the agent passed."""
    t0 = now_ms()
    for c in sorted(calls, key=lambda c: c.start):
        spaces[c.space].ask(c.question, c.conversation_id, identity=c.identity)
    return now_ms() - t0


@dataclass
class OverheadFigures:
    label: str
    question: str
    samples: list[TurnSample]
    baseline: list[float]

    @property
    def overhead(self) -> list[float]:
        return [s.overhead for s in self.samples]


def overhead_section(
    console: Any, base: Any, turns: int, llm_synthesizer: Any = None, llm_chat: Any = None, llm_turns: int = 0
) -> list[OverheadFigures]:
    from rich.table import Table

    from genie_agent.identity import Identity

    recorder = Recorder()
    agent = wrap_agent(base, recorder)
    llm_agent = wrap_agent(base, recorder, synthesizer=llm_synthesizer) if llm_synthesizer else None
    from genie_agent.spaces.base import GenieSpace

    assert all(isinstance(s, GenieSpace) for s in agent.spaces.values())
    identities = [Identity(f"bench-user-{i}") for i in range(USERS)]

    def session_loop(
        a: Any, question: str, n: int, chat: Any = None, baseline: bool = True
    ) -> tuple[list[TurnSample], list[float]]:
        samples: list[TurnSample] = []
        base_ms: list[float] = []
        thread_id: str | None = None
        for i in range(n):
            identity = identities[(i // SESSION_TURNS) % USERS]
            if i % SESSION_TURNS == 0:
                thread_id = None  # a client starting a conversation; later turns continue its thread
            sample, result, calls = run_turn(a, recorder, question, identity, thread_id, chat)
            thread_id = result.thread_id
            if baseline:
                base_ms.append(baseline_direct(base.spaces, calls))
            samples.append(sample)
        return samples, base_ms

    figures = []
    for label, question in (("single-space", SINGLE_QUESTION), ("cross-space", CROSS_QUESTION)):
        session_loop(agent, question, 3)  # warm: vocabularies, router, DuckDB, viz import
        gc.collect()
        samples, base_ms = session_loop(agent, question, turns)
        figures.append(OverheadFigures(label, question, samples, base_ms))
    if llm_agent is not None:
        for label, question in (("single-space +LLM", SINGLE_QUESTION), ("cross-space +LLM", CROSS_QUESTION)):
            session_loop(llm_agent, question, 2, llm_chat, baseline=False)
            gc.collect()
            samples, _ = session_loop(llm_agent, question, llm_turns, llm_chat, baseline=False)
            figures.append(OverheadFigures(label, question, samples, []))

    table = Table(
        title="Agent overhead per turn = turn wall - union of space-call intervals (- LLM time); "
        "baseline = the same space calls made directly, in sequence",
        title_justify="left",
    )
    for col in (
        "turns",
        "n",
        "status",
        "wall p50",
        "spaces p50",
        "LLM p50",
        "overhead p50",
        "overhead p95",
        "to last text p50",
        "baseline p50",
        "overhead/baseline",
        "wall/baseline",
        "1st event p50",
    ):
        table.add_column(col, justify="left" if col in ("turns", "status") else "right")
    for f in figures:
        s = f.samples
        statuses = "/".join(sorted({x.status for x in s}))
        b = p50(f.baseline)
        table.add_row(
            f.label,
            str(len(s)),
            statuses,
            fmt_ms(p50([x.wall for x in s])),
            fmt_ms(p50([x.spaces_union for x in s])),
            fmt_ms(p50([x.llm for x in s])) if "LLM" in f.label else "-",
            fmt_ms(p50(f.overhead)),
            fmt_ms(p95(f.overhead)),
            fmt_ms(p50([x.to_text for x in s])),
            fmt_ms(b),
            ratio(p50(f.overhead), b),
            ratio(p50([x.wall for x in s]), b),
            fmt_ms(p50([x.first_event for x in s])),
        )
    console.print(table)
    for f in figures[:2]:
        console.print(f"  {f.label}: {f.question}  (spaces {','.join(f.samples[-1].domains)})")
    console.print(
        f"  Each turn passes an identity (one of {USERS} users) and a thread id: a thread is continued for "
        f"{SESSION_TURNS} turns, then a new one starts. The spaces' time is the union of their ask() intervals "
        "(parallel calls of a cross-space turn count once: the wall time of the parallel section). "
        "'to last text' is the overhead up to the last TextDelta, when the whole answer is on screen; "
        "the thread save and the result follow it."
    )

    # The breakdown: an exact partition of the overhead from the turn's own phase timings.
    table = Table(
        title="Where the overhead goes (p50 per phase, from the turn's own timings; the rows add up to the overhead)",
        title_justify="left",
    )
    table.add_column("phase")
    for f in figures:
        table.add_column(f.label, justify="right")
    phase_names = list(dict.fromkeys(k for f in figures for k in f.samples[0].phases))
    for name in phase_names:
        table.add_row(
            name, *[fmt_ms(p50([x.phases[name] for x in f.samples if name in x.phases])) for f in figures]
        )
    table.add_row(
        "[b]sum of p50s / overhead p50[/]",
        *[
            f"{fmt_ms(sum(p50([x.phases[n] for x in f.samples]) for n in f.samples[0].phases))} / "
            f"{fmt_ms(p50(f.overhead))}"
            for f in figures
        ],
    )
    console.print(table)
    for f in figures[:2]:
        ranked = sorted(
            ((n, p50([x.phases[n] for x in f.samples])) for n in f.samples[0].phases), key=lambda kv: -kv[1]
        )
        top = ", ".join(f"{n} {fmt_ms(v)} ({100 * v / p50(f.overhead):.0f}%)" for n, v in ranked[:3])
        console.print(f"  top contributors, {f.label}: {top}")
    return figures


# --------------------------------------------------------------------------------------------------
# 2. cross-domain fan-out with injected delays
# --------------------------------------------------------------------------------------------------
@dataclass
class FanoutFigures:
    walls: list[float]
    slowest: list[float]
    sums: list[float]
    statuses: set[str]
    domains: tuple[str, ...]

    @property
    def ratios(self) -> list[float]:
        return [w / s for w, s in zip(self.walls, self.slowest, strict=True)]


def fanout_section(console: Any, base: Any, turns: int) -> FanoutFigures:
    from genie_agent.identity import Identity

    recorder = Recorder()
    agent = wrap_agent(base, recorder, DELAYS_MS)
    identity = Identity("bench-fanout")
    run_turn(agent, recorder, THREE_SPACE_QUESTION, identity, None)  # warm
    figs = FanoutFigures([], [], [], set(), ())
    for _ in range(turns):
        sample, result, calls = run_turn(agent, recorder, THREE_SPACE_QUESTION, identity, None)
        figs.walls.append(sample.wall)
        figs.slowest.append(max(c.ms for c in calls))
        figs.sums.append(sum(c.ms for c in calls))
        figs.statuses.add(result.status)
        figs.domains = tuple(result.route.domains)
    delays = ", ".join(f"{k} +{v:g} ms" for k, v in DELAYS_MS.items())
    console.print(
        f"[b]Cross-domain fan-out[/] ({turns} turns; injected delays {delays}; routed to "
        f"{','.join(figs.domains)}; status {'/'.join(sorted(figs.statuses))})"
    )
    console.print(f"  {THREE_SPACE_QUESTION}")
    console.print(
        f"  turn wall p50 {fmt_ms(p50(figs.walls))}; slowest space (delay + its ask, timed in the wrapper) "
        f"p50 {fmt_ms(p50(figs.slowest))}; all three in sequence would take p50 {fmt_ms(p50(figs.sums))}"
    )
    console.print(
        f"  wall / slowest space: p50 [b]{p50(figs.ratios):.3f}[/], max {max(figs.ratios):.3f}  "
        f"(target <= {TARGET_FANOUT_RATIO}); wall / sum of spaces p50 "
        f"{p50([w / s for w, s in zip(figs.walls, figs.sums, strict=True)]):.3f}"
    )
    return figs


# --------------------------------------------------------------------------------------------------
# LLM: a scripted OpenAI-compatible server in a subprocess (its threads do not share our GIL)
# --------------------------------------------------------------------------------------------------
_FAKE_LLM = """
import sys, time
sys.path.insert(0, sys.argv[1])
from tests.fakes.openai_server import FakeOpenAIServer, Reply
server = FakeOpenAIServer([Reply(sys.argv[2])]).start()
print(server.base_url, flush=True)
sys.stdin.read()  # until the parent closes stdin
server.stop()
"""


def start_fake_llm() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _FAKE_LLM, str(REPO), LLM_REPLY],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()  # bounded: the child prints at once or exits
    if not line.startswith("http"):
        proc.kill()
        raise RuntimeError("the fake LLM server did not start")
    return proc, line


def stop_proc(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.terminate()
            proc.wait(timeout=10)
        except (subprocess.TimeoutExpired, OSError):
            proc.kill()
            proc.wait(timeout=5)


# --------------------------------------------------------------------------------------------------
# 3 + 4. the served endpoint
# --------------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(home: Path, db: Path, console: Any) -> tuple[subprocess.Popen[Any] | None, str, float]:
    """``genie-agent serve`` on a fresh home whose data/ links to the existing TPC-H file."""
    import httpx

    (home / "data").mkdir(parents=True, exist_ok=True)
    link = home / "data" / db.name
    if not link.exists():
        link.symlink_to(db)
    exe = Path(sys.executable).parent / "genie-agent"
    port = _free_port()
    log = open(home / "serve.log", "w")  # noqa: SIM115 - closed with the process
    t0 = now_ms()
    proc = subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=clean_env(home),
        cwd=home,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url, now_ms() - t0
        except httpx.HTTPError:
            time.sleep(0.1)
    stop_proc(proc)
    console.print(f"[red]serve did not start: {(home / 'serve.log').read_text()[-1500:]}[/]")
    return None, url, float("nan")


def _body(question: str) -> dict[str, Any]:
    return {"input": [{"role": "user", "content": question}], "stream": True}


def sse_turn(client: Any, url: str, question: str) -> tuple[float, float, list[str], int]:
    """One streamed turn: (ms to the first data line, ms to the end, data payloads, HTTP status)."""
    first = float("nan")
    payloads: list[str] = []
    t0 = now_ms()
    with client.stream("POST", f"{url}/responses", json=_body(question)) as r:
        for line in r.iter_lines():
            if line.startswith("data:"):
                if first != first:
                    first = now_ms() - t0
                payloads.append(line[5:].strip())
        status = r.status_code
    return first, now_ms() - t0, payloads, status


def problems_of(status: int, payloads: Sequence[str]) -> list[str]:
    """Why a streamed turn counts as an error: non-200, no [DONE], an error event or an error turn."""
    out = []
    if status != 200:
        out.append(f"HTTP {status}")
    if not payloads or payloads[-1] != "[DONE]":
        out.append("no [DONE]")
    for p in payloads:
        if p == "[DONE]":
            continue
        try:
            event = json.loads(p)
        except ValueError:
            out.append("unparseable event")
            continue
        if "error" in event or event.get("type") == "error":
            out.append(f"error event: {str(event.get('error'))[:80]}")
        custom = event.get("custom_outputs") or {}
        if custom.get("status") == "error":
            out.append(f"turn status error: {str(custom.get('error'))[:80]}")
    return out


@dataclass
class TtfeFigures:
    ttfe: list[float]
    full: list[float]
    health: list[float]
    problems: list[str]
    startup_ms: float


def ttfe_section(console: Any, url: str, requests: int, startup_ms: float) -> TtfeFigures:
    import httpx

    figs = TtfeFigures([], [], [], [], startup_ms)
    with httpx.Client(timeout=60) as client:
        for q in SERVE_QUESTIONS[:4]:  # warm: the first turn indexes vocabularies, builds the router
            sse_turn(client, url, q)
        client.get(f"{url}/health")
        for i in range(requests):  # interleaved, so drift in machine load hits both alike
            t0 = now_ms()
            r = client.get(f"{url}/health")
            figs.health.append(now_ms() - t0)
            if r.status_code != 200:
                figs.problems.append(f"/health {r.status_code}")
            first, full, payloads, status = sse_turn(client, url, SERVE_QUESTIONS[i % len(SERVE_QUESTIONS)])
            figs.ttfe.append(first)
            figs.full.append(full)
            figs.problems += problems_of(status, payloads)
    console.print(
        f"[b]Time to first stream event[/] ({requests} POST /responses, stream true, one keep-alive httpx "
        f"client, questions cycling over {len(SERVE_QUESTIONS)}; serve started in {fmt_ms(startup_ms)})"
    )
    console.print(
        f"  first `data:` line p50 [b]{fmt_ms(p50(figs.ttfe))}[/]  p95 {fmt_ms(p95(figs.ttfe))}   "
        f"whole turn p50 {fmt_ms(p50(figs.full))}  p95 {fmt_ms(p95(figs.full))}"
    )
    console.print(
        f"  baseline GET /health p50 {fmt_ms(p50(figs.health))}  p95 {fmt_ms(p95(figs.health))}   "
        f"ttfe/health p50 {ratio(p50(figs.ttfe), p50(figs.health))}; "
        f"ttfe/whole turn p50 {ratio(p50(figs.ttfe), p50(figs.full))}; errors {len(figs.problems)}"
    )
    for p in figs.problems[:5]:
        console.print(f"  [red]{p}[/]")
    return figs


@dataclass
class ConcurrencyFigures:
    sessions: int
    walls: list[float]
    ttfe: list[float]
    errors: dict[str, int]
    total_ms: float
    completed: int


async def _concurrent(url: str, sessions: int, timeout_s: float) -> ConcurrencyFigures:
    import httpx

    walls: list[float] = []
    ttfes: list[float] = []
    errors: dict[str, int] = defaultdict(int)
    start_gate = asyncio.Event()

    async def session(client: httpx.AsyncClient, i: int) -> None:
        await start_gate.wait()
        question = SERVE_QUESTIONS[i % len(SERVE_QUESTIONS)]
        payloads: list[str] = []
        first = float("nan")
        t0 = now_ms()
        try:
            async with client.stream("POST", f"{url}/responses", json=_body(question)) as r:
                async for line in r.aiter_lines():
                    if line.startswith("data:"):
                        if first != first:
                            first = now_ms() - t0
                        payloads.append(line[5:].strip())
                status = r.status_code
        except (httpx.HTTPError, OSError) as exc:
            errors[f"{type(exc).__name__}"] += 1
            return
        walls.append(now_ms() - t0)
        ttfes.append(first)
        for p in dict.fromkeys(problems_of(status, payloads)):
            errors[p] += 1

    limits = httpx.Limits(max_connections=sessions + 10, max_keepalive_connections=sessions + 10)
    async with httpx.AsyncClient(timeout=timeout_s, limits=limits) as client:
        tasks = [asyncio.create_task(session(client, i)) for i in range(sessions)]
        await asyncio.sleep(0.05)  # every task is waiting at the gate
        t0 = now_ms()
        start_gate.set()
        _done, pending = await asyncio.wait(tasks, timeout=timeout_s)
        total = now_ms() - t0
        for task in pending:
            task.cancel()
            errors["not finished within the total timeout"] += 1
        if pending:
            await asyncio.wait(pending, timeout=5)
    return ConcurrencyFigures(sessions, walls, ttfes, dict(errors), total, len(walls))


def concurrency_section(
    console: Any, url: str, sessions: int, timeout_s: float, sequential_ms: float
) -> ConcurrencyFigures:
    figs = asyncio.run(_concurrent(url, sessions, timeout_s))
    n_errors = sum(figs.errors.values())
    throughput = 1000 * figs.completed / figs.total_ms if figs.total_ms else float("nan")
    seq_throughput = 1000 / sequential_ms if sequential_ms else float("nan")
    console.print(
        f"[b]{sessions} concurrent streamed sessions[/] (one httpx.AsyncClient, all released at once, "
        f"total timeout {timeout_s:g} s; questions cycling over {len(SERVE_QUESTIONS)})"
    )
    console.print(
        f"  errors [b]{n_errors}[/]; finished {figs.completed}/{sessions}; total wall {fmt_ms(figs.total_ms)}; "
        f"throughput {throughput:.1f} turns/s (one at a time: {seq_throughput:.1f} turns/s, "
        f"x{throughput / seq_throughput:.2f})"
    )
    console.print(
        f"  per-session wall p50 {fmt_ms(p50(figs.walls))}  p95 {fmt_ms(p95(figs.walls))}  max "
        f"{fmt_ms(max(figs.walls) if figs.walls else float('nan'))}; first event p50 {fmt_ms(p50(figs.ttfe))} "
        f"p95 {fmt_ms(p95(figs.ttfe))}; baseline one turn alone (section 3) p50 {fmt_ms(sequential_ms)}, "
        f"session p50 / that {ratio(p50(figs.walls), sequential_ms)}"
    )
    for kind, count in figs.errors.items():
        console.print(f"  [red]{count} x {kind}[/]")
    return figs


# --------------------------------------------------------------------------------------------------
# summary
# --------------------------------------------------------------------------------------------------
def summary(
    console: Any,
    overhead: list[OverheadFigures],
    fanout: FanoutFigures | None,
    ttfe: TtfeFigures | None,
    conc: ConcurrencyFigures | None,
) -> None:
    from rich.table import Table

    table = Table(title="Summary", title_justify="left")
    for col, just in (
        ("figure", "left"),
        ("value", "right"),
        ("target", "right"),
        ("baseline (same run)", "left"),
        ("ratio", "right"),
        ("", "left"),
    ):
        table.add_column(col, justify=just)  # type: ignore[arg-type]

    def verdict(ok: bool | None) -> str:
        return "-" if ok is None else ("[green]met[/]" if ok else "[red]NOT met[/]")

    for f in overhead:
        o50, o95 = p50(f.overhead), p95(f.overhead)
        if f.baseline:
            b = p50(f.baseline)
            base = f"direct space calls p50 {fmt_ms(b)}"
        else:  # +LLM rows: the time the turn spent in the spaces and the LLM
            b = p50([x.spaces_union + x.llm for x in f.samples])
            base = f"spaces + LLM in the turn p50 {fmt_ms(b)}"
        table.add_row(
            f"1. overhead p50, {f.label}",
            fmt_ms(o50),
            f"<= {TARGET_OVERHEAD_MS:g} ms",
            base,
            ratio(o50, b),
            verdict(o50 <= TARGET_OVERHEAD_MS),
        )
        table.add_row(f"   overhead p95, {f.label}", fmt_ms(o95), "-", base, ratio(o95, b), "-")
    if fanout is not None:
        r = p50(fanout.ratios)
        table.add_row(
            "2. cross-domain wall / slowest space (p50)",
            f"{r:.3f}",
            f"<= {TARGET_FANOUT_RATIO}",
            f"slowest space p50 {fmt_ms(p50(fanout.slowest))}",
            f"{r:.3f}",
            verdict(r <= TARGET_FANOUT_RATIO),
        )
        table.add_row(
            "   (max over turns)", f"{max(fanout.ratios):.3f}", "-", "", f"{max(fanout.ratios):.3f}", "-"
        )
    if ttfe is not None:
        h = p50(ttfe.health)
        table.add_row(
            "3. time to first stream event p50",
            fmt_ms(p50(ttfe.ttfe)),
            f"<= {TARGET_TTFE_MS:g} ms",
            f"GET /health p50 {fmt_ms(h)}",
            ratio(p50(ttfe.ttfe), h),
            verdict(p50(ttfe.ttfe) <= TARGET_TTFE_MS),
        )
        table.add_row(
            "   time to first stream event p95",
            fmt_ms(p95(ttfe.ttfe)),
            "-",
            f"GET /health p95 {fmt_ms(p95(ttfe.health))}",
            ratio(p95(ttfe.ttfe), p95(ttfe.health)),
            "-",
        )
    else:
        table.add_row("3. time to first stream event", "not measured", "", "", "", "[red]NOT met[/]")
    if conc is not None and ttfe is not None:
        n_err = sum(conc.errors.values())
        seq = p50(ttfe.full)
        table.add_row(
            f"4. {conc.sessions} concurrent sessions: errors",
            str(n_err),
            "0",
            f"of {conc.sessions} sessions",
            f"{n_err / conc.sessions:.2f}",
            verdict(n_err == 0),
        )
        table.add_row(
            "   per-session wall p50 / p95",
            f"{fmt_ms(p50(conc.walls))} / {fmt_ms(p95(conc.walls))}",
            "-",
            f"one turn alone p50 {fmt_ms(seq)}",
            ratio(p50(conc.walls), seq),
            "-",
        )
        thr = 1000 * conc.completed / conc.total_ms
        table.add_row(
            "   total wall; throughput",
            f"{fmt_ms(conc.total_ms)}; {thr:.1f}/s",
            "-",
            f"sequential {1000 / seq:.1f}/s",
            ratio(thr, 1000 / seq),
            "-",
        )
    else:
        table.add_row("4. concurrent sessions", "not measured", "0 errors", "", "", "[red]NOT met[/]")
    console.print(table)


# --------------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--home",
        type=Path,
        help="genie-agent home to use and keep (default: a temporary directory under .bench-home/, deleted afterwards)",
    )
    parser.add_argument(
        "--turns", type=int, default=100, help="timed turns per question in section 1 (default 100)"
    )
    parser.add_argument(
        "--llm-turns",
        type=int,
        default=30,
        help="timed turns per question with LLM synthesis against a scripted local server; 0 skips (default 30)",
    )
    parser.add_argument(
        "--fanout-turns", type=int, default=5, help="turns with injected delays in section 2 (default 5)"
    )
    parser.add_argument(
        "--requests", type=int, default=30, help="streamed requests for time to first event (default 30)"
    )
    parser.add_argument("--sessions", type=int, default=50, help="concurrent streamed sessions (default 50)")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="bound on the concurrent section, in s (default 120)"
    )
    parser.add_argument(
        "--long-term-memory",
        choices=("on", "off"),
        default="on",
        help="user memories in the in-process sections 1-2, as make_agent configures them (default on); "
        "threads are saved either way",
    )
    args = parser.parse_args(argv)

    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 200, highlight=False)
    temporary = args.home is None
    if temporary:
        (REPO / ".bench-home").mkdir(exist_ok=True)
        home = Path(tempfile.mkdtemp(prefix="agent-", dir=REPO / ".bench-home"))
    else:
        home = args.home.expanduser().resolve()
        home.mkdir(parents=True, exist_ok=True)
    for key in [k for k in os.environ if k.startswith(("GENIE_AGENT_", "MLFLOW_"))]:
        del os.environ[key]
    os.environ.update({k: v for k, v in clean_env(home).items() if k.startswith("GENIE_AGENT_")})

    import httpx  # noqa: F401  (imported up front: no figure pays for imports)

    import genie_agent.factory
    import genie_agent.grounding
    import genie_agent.spaces.local.engine
    import genie_agent.viz  # noqa: F401
    from genie_agent.config import load_settings
    from genie_agent.factory import database_path, make_agent
    from genie_agent.spaces.catalog import load_catalog

    settings = load_settings(
        home=home,
        tracing="off",
        verified_queries=False,
        tpch_scale_factor=SCALE_FACTOR,
        long_term_memory=args.long_term_memory == "on",
    )
    started = time.perf_counter()
    console.rule("genie-agent agent benchmark")
    console.print(
        f"home {home}{' (temporary)' if temporary else ''}; python {sys.version.split()[0]}; "
        f"{os.cpu_count()} CPUs; tracing off; verified queries off; deterministic synthesis unless noted; "
        f"long-term memory {args.long_term_memory} in-process"
    )
    serve_home = Path(tempfile.mkdtemp(prefix="serve-", dir=home))
    procs: list[subprocess.Popen[Any]] = []
    overhead: list[OverheadFigures] = []
    fanout = ttfe = conc = None
    try:
        catalog = load_catalog(settings.catalog)
        t0 = now_ms()
        db = None
        for name, spec in catalog.databases.items():
            db = database_path(settings, name, spec, progress=False)
        console.print(f"TPC-H SF {SCALE_FACTOR:g} at {db} (ready in {fmt_ms(now_ms() - t0)})")
        assert db is not None
        base = make_agent(settings, progress=False)

        llm_synthesizer = llm_chat = None
        if args.llm_turns > 0:
            from genie_agent.llm import OpenAICompatibleChat
            from genie_agent.synthesis_llm import LlmSynthesizer

            proc, base_url = start_fake_llm()
            procs.append(proc)
            llm_chat = TimedChat(
                OpenAICompatibleChat(base_url=base_url, model="fake-model", api_key=None, timeout_s=10)
            )
            llm_synthesizer = LlmSynthesizer(llm_chat)  # type: ignore[arg-type]

        console.rule("1. Agent overhead per turn (in-process)")
        overhead = overhead_section(console, base, args.turns, llm_synthesizer, llm_chat, args.llm_turns)
        if args.llm_turns > 0:
            console.print(
                "  +LLM rows: LlmSynthesizer over OpenAICompatibleChat against tests/fakes/openai_server.py in a "
                "subprocess (instant scripted reply); LLM time = time inside the reply stream's next() calls."
            )
        for p in procs:
            stop_proc(p)
        procs.clear()

        console.rule("2. Cross-domain wall time vs. the slowest space")
        fanout = fanout_section(console, base, args.fanout_turns)
        # The in-process agent stays open (DuckDB read-only, SQLite WAL: the server opens its own files).
        del base, llm_synthesizer
        gc.collect()

        console.rule("3. Time to first stream event (genie-agent serve)")
        proc_or_none, url, startup_ms = start_server(serve_home, db, console)
        if proc_or_none is not None:
            procs.append(proc_or_none)
            ttfe = ttfe_section(console, url, args.requests, startup_ms)
            console.rule(f"4. {args.sessions} concurrent streaming sessions")
            conc = concurrency_section(console, url, args.sessions, args.timeout, p50(ttfe.full))
    finally:
        for p in procs:
            stop_proc(p)
        shutil.rmtree(serve_home, ignore_errors=True)
        if temporary:
            shutil.rmtree(home, ignore_errors=True)
    console.rule("Summary")
    summary(console, overhead, fanout, ttfe, conc)
    console.rule(f"done in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
