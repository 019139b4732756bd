"""bench_scale's load generator and process watch.

The load generator runs streamed turns (``POST /responses`` with ``"stream": true``) from a few
processes, each turn its ``delay_s`` after one ``time.monotonic()`` instant (one clock for every process
on Linux; all at that instant by default), in httpx clients of ``per_client`` connections each (httpcore checks every pooled connection on
each request: one client of 1,000 connections spends more CPU than the server). Each turn records
when it was sent, its first ``data:`` line, its end, the route, the progress items and what went
wrong. Each process also times its own event loop's lag, so a late event can be told from a late
client.

:class:`ProcWatch` samples processes' threads, RSS and CPU seconds from ``/proc`` every 0.2 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PROGRESS = "Progress: "
ROUTE = "Route: "


@dataclass
class Turn:
    """One streamed turn: what was sent, and what came back when (``time.monotonic()`` seconds)."""

    user: str
    token: str
    question: str
    cross: bool = False
    delay_s: float = 0.0  # sent this long after the release
    sent: float = 0.0
    sent_wall: float = 0.0  # time.time() when sent, to compare with genie-server's timestamps
    first: float | None = None
    ended: float | None = None
    stopped: float | None = None  # when the turn stopped, ended or not (what is in flight counts to here)
    http_status: int = 0
    status: str = ""  # the turn result's status (custom_outputs)
    route: str = ""
    progress: list[tuple[float, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    conversations: dict[str, str] = field(default_factory=dict)  # space -> Genie conversation id
    held_s: float | None = None  # from sent to genie-server creating its (first) message
    answered_s: float | None = None  # from sent to its last message's end on genie-server

    @property
    def took(self) -> float | None:
        return None if self.ended is None else self.ended - self.sent

    @property
    def first_s(self) -> float | None:
        return None if self.first is None else self.first - self.sent


def read_event(turn: Turn, payload: str, now: float) -> None:
    """Note what one ``data:`` payload says about the turn."""
    try:
        event = json.loads(payload)
    except ValueError:
        turn.problems.append("unparseable event")
        return
    if "error" in event or event.get("type") == "error":
        turn.problems.append(f"error event: {str(event.get('error'))[:100]}")
    item = event.get("item") or {}
    if item.get("type") == "reasoning":
        text = "".join(s.get("text", "") for s in item.get("summary", []))
        if text.startswith(PROGRESS):
            turn.progress.append((now, text))
        elif text.startswith(ROUTE) and not turn.route:
            turn.route = text
    custom = event.get("custom_outputs") or {}
    turn.conversations = custom.get("genie_conversation_ids") or turn.conversations
    if "status" in custom:
        turn.status = str(custom["status"])
        if turn.status == "error":
            said = next((r["error"] for r in custom.get("results", []) if r.get("error")), None)
            turn.problems.append(f"turn status error: {str(said)[:100]}")


async def stream_turn(client: object, turn: Turn, start_at: float) -> None:
    """Sends ``turn`` at ``start_at + turn.delay_s`` and reads its stream to the end."""
    await asyncio.sleep(max(0.0, start_at + turn.delay_s - time.monotonic()))
    turn.sent, turn.sent_wall = time.monotonic(), time.time()
    try:
        await _stream(client, turn)
    finally:
        turn.stopped = time.monotonic()


async def _stream(client: object, turn: Turn) -> None:
    import httpx

    assert isinstance(client, httpx.AsyncClient)
    body = {"input": [{"role": "user", "content": turn.question}], "stream": True}
    done = False
    try:
        headers = {"Authorization": f"Bearer {turn.token}"} if turn.token else {}
        async with client.stream("POST", "/responses", json=body, headers=headers) as r:
            turn.http_status = r.status_code
            async for line in r.aiter_lines():
                if not line.startswith("data:"):
                    continue
                now = time.monotonic()
                if turn.first is None:
                    turn.first = now
                payload = line[5:].strip()
                if payload == "[DONE]":
                    done = True
                else:
                    read_event(turn, payload, now)
        turn.ended = time.monotonic()
    except (httpx.HTTPError, OSError) as exc:
        turn.problems.append(type(exc).__name__)
        return
    except asyncio.CancelledError:
        turn.problems.append("not finished when the run gave up")
        return
    if turn.http_status != 200:
        turn.problems.append(f"HTTP {turn.http_status}")
    elif not done:
        turn.problems.append("no [DONE]")


async def _loop_lag(stop: asyncio.Event, lags: list[float]) -> None:
    while not stop.is_set():
        t = time.monotonic()
        await asyncio.sleep(0.05)
        lags.append(time.monotonic() - t - 0.05)


async def _run(
    url: str, turns: list[Turn], per_client: int, start_at: float, give_up_s: float
) -> list[float]:
    import httpx

    limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
    timeout = httpx.Timeout(give_up_s, connect=60)
    tls = httpx.create_ssl_context()  # one for all: each client would build its own (~30 ms of CPU)
    clients = [
        httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout, verify=tls)
        for _ in range(0, len(turns), per_client)
    ]
    stop, lags = asyncio.Event(), list[float]()
    lag = asyncio.create_task(_loop_lag(stop, lags))
    tasks = [
        asyncio.create_task(stream_turn(clients[i // per_client], t, start_at)) for i, t in enumerate(turns)
    ]
    await asyncio.wait(tasks, timeout=max(0.0, start_at + give_up_s - time.monotonic()))
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    stop.set()
    await lag
    for client in clients:
        await client.aclose()
    return lags


def client_process(
    url: str, turns: list[Turn], per_client: int, start_at: float, give_up_s: float
) -> tuple[list[Turn], list[float]]:
    """One process's share of the turns, and its event loop's lags (seconds late per 50 ms tick)."""
    lags = asyncio.run(_run(url, turns, per_client, start_at, give_up_s))
    return turns, lags


class LoadGen:
    """``processes`` client processes, started (and importing httpx) before any turn is timed."""

    def __init__(self, processes: int) -> None:
        self.n = max(1, processes)
        self.pool = ProcessPoolExecutor(self.n, mp_context=multiprocessing.get_context("spawn"))
        list(self.pool.map(_warm, range(self.n)))
        self.pids = list(self.pool._processes)  # the workers, to watch them

    def run(
        self, url: str, turns: list[Turn], per_client: int, give_up_s: float
    ) -> tuple[list[Turn], float, list[float]]:
        """Every turn, released 1 s from now (each ``delay_s`` after that); the turns as they ended, the
        release and the lags."""
        start_at = time.monotonic() + 1.0
        shares = [turns[i :: self.n] for i in range(self.n)]
        futures = [self.pool.submit(client_process, url, s, per_client, start_at, give_up_s) for s in shares]
        done = [f.result() for f in futures]
        return [t for ts, _ in done for t in ts], start_at, [lag for _, ls in done for lag in ls]

    def close(self) -> None:
        self.pool.shutdown()


def _warm(_: int) -> None:
    import httpx  # noqa: F401

    time.sleep(0.2)  # so every worker gets one


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads, living or ended)."""
    utime, stime = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11:13]
    return (int(utime) + int(stime)) / CLK_TCK


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (all processes, every core)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / CLK_TCK


@dataclass
class Usage:
    peak_threads: int = 0
    peak_rss_mb: float = 0.0
    cpu_start: float = 0.0
    cpu_s: float = 0.0


class ProcWatch:
    """Threads and RSS of named processes every ``every_s``, their CPU seconds from start to stop, and
    the CPU they spent together in each interval (for the busiest second)."""

    def __init__(self, pids: dict[str, list[int]], every_s: float = 0.2) -> None:
        self.pids = pids
        self.every_s = every_s
        self.usage = {name: Usage() for name in pids}
        self.samples: list[tuple[float, float]] = []  # (monotonic, CPU seconds of all the watched)
        self.by_name: dict[str, list[tuple[float, float]]] = {name: [] for name in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        now = time.monotonic()
        for name, pids in self.pids.items():
            self.by_name[name].append((now, sum(cpu_s(p) for p in pids)))
            threads, rss = 0, 0.0
            for pid in pids:
                text = Path(f"/proc/{pid}/status").read_text()
                status = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
                threads += int(status["Threads"])
                rss += int(status["VmRSS"].split()[0]) / 1024
            u = self.usage[name]
            u.peak_threads, u.peak_rss_mb = max(u.peak_threads, threads), max(u.peak_rss_mb, rss)
        self.samples.append((now, sum(c[-1][1] for c in self.by_name.values())))

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, KeyError):  # a process ended
                self._sample()
            self._stop.wait(self.every_s)

    def __enter__(self) -> ProcWatch:
        for name, pids in self.pids.items():
            self.usage[name].cpu_start = sum(cpu_s(p) for p in pids)
        self.busy_start = machine_busy_s()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for name, pids in self.pids.items():
            u = self.usage[name]
            u.cpu_s = sum(cpu_s(p) for p in pids) - u.cpu_start
        self.machine_s = machine_busy_s() - self.busy_start

    def per_second(self, name: str, since: float) -> list[float]:
        """``name``'s CPU seconds in each whole second from ``since`` (``time.monotonic()``) on."""
        out, samples = [], [(t, c) for t, c in self.by_name[name] if t >= since - 0.2]
        t0, c0 = samples[0] if samples else (since, 0.0)
        for t, c in samples:
            if t - t0 >= 1.0:
                out.append((c - c0) / (t - t0))
                t0, c0 = t, c
        return out

    def busiest(self, seconds: float = 1.0) -> float:
        """The most CPU seconds the watched processes spent together per ``seconds``, over any stretch
        of at least that long between two samples."""
        best, j = 0.0, 0
        for t, c in self.samples:
            while j + 1 < len(self.samples) and self.samples[j + 1][0] <= t - seconds:
                j += 1
            t0, c0 = self.samples[j]
            if t - t0 >= seconds:
                best = max(best, (c - c0) / (t - t0) * seconds)
        return best

    def cores_between(self, name: str, start: float, end: float) -> float:
        """``name``'s mean CPU (cores) from ``start`` to ``end`` (``time.monotonic()``), between the samples
        nearest them."""
        samples = self.by_name[name]
        if not samples:
            return float("nan")
        t0, c0 = min(samples, key=lambda s: abs(s[0] - start))
        t1, c1 = min(samples, key=lambda s: abs(s[0] - end))
        return (c1 - c0) / (t1 - t0) if t1 > t0 else float("nan")
