"""Does ``genie-agent genie-server`` keep up with 1,000 conversations at once?

Starts ``genie-agent genie-server --latency '*=L'`` as a process, then opens N conversations at once
through ``httpx.AsyncClient`` (start-conversation with the example spaces' sample questions in turn,
or ``--question``) and polls each message once a second until it ends. With latency L the last
conversation should end about L + 1 s (one poll interval) after the first was sent; what more it
takes is the server's, the engine's or the client's, and the figures say which:

* wall time against the latency; each conversation's time to its end (p50/p95/max), as the client
  saw it and as the server ran it (the ended message's ``created_timestamp`` to its
  ``last_updated_timestamp``: the latency plus any wait for the engine, without the client's delays);
* how long start-conversation and get-message took, as the client saw it (its own queueing included);
* errors by kind, and the statuses the conversations ended in;
* the server process (read from /proc while it runs): peak thread count and RSS, CPU seconds of
  its event-loop thread (HTTP, message bookkeeping) and of its other threads (the spaces answering:
  the local engine and DuckDB), and how busy the event loop was over the run;
* the client's own CPU seconds: it runs on the same cores, in ``--clients`` processes (one per
  core by default: one Python process of httpx cannot poll 1,000 messages a second).

Not run in CI. From the repo root (about 20 s with the defaults, plus the example data's first
generation in a new home):

    .venv/bin/python bench/bench_genie_server.py [--conversations 1000] [--latency 5] [--home DIR]
    .venv/bin/python bench/bench_genie_server.py --question "What is the weather like?"  # no query
    .venv/bin/python bench/bench_genie_server.py -- --questions-per-minute 600  # genie-server options
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).parent / "genie-agent")
BASE = "/api/2.0/genie/spaces"
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "QUERY_RESULT_EXPIRED"}
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Conversation:
    space: str
    question: str
    sent: float = 0.0
    started_s: float = 0.0  # how long start-conversation took to answer
    ended: float | None = None
    status: str = ""
    polls: list[float] = field(default_factory=list)  # how long each get-message took to answer
    server_s: float | None = None  # created_timestamp to last_updated_timestamp of the ended message
    error: str | None = None


class ProcessWatch:
    """A process's thread count and RSS, sampled every 20 ms; CPU seconds of its threads on demand."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_threads = 0
        self.peak_rss_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def status(self) -> tuple[int, float]:
        text = Path(f"/proc/{self.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in text.splitlines())
        return int(fields["Threads"]), int(fields["VmRSS"].split()[0]) / 1024

    @staticmethod
    def _cpu(stat_path: Path) -> float:
        utime, stime = stat_path.read_text().rsplit(")", 1)[1].split()[11:13]
        return (int(utime) + int(stime)) / CLK_TCK

    def cpu_s(self) -> tuple[float, float]:
        """(the whole process, its main thread: uvicorn's event loop) in CPU seconds."""
        return self._cpu(Path(f"/proc/{self.pid}/stat")), self._cpu(
            Path(f"/proc/{self.pid}/task/{self.pid}/stat")
        )

    def _run(self) -> None:
        while not self._stop.is_set():
            threads, rss = self.status()
            self.peak_threads = max(self.peak_threads, threads)
            self.peak_rss_mb = max(self.peak_rss_mb, rss)
            self._stop.wait(0.02)

    def __enter__(self) -> ProcessWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def sample_questions() -> list[tuple[str, str]]:
    """(space, question): every sample question of the example catalog's spaces."""
    from genie_agent.config import EXAMPLE_CATALOG
    from genie_agent.spaces.catalog import load_catalog

    catalog = load_catalog(EXAMPLE_CATALOG)
    return [(d.id, q) for d in catalog.spaces for q in d.sample_questions]


def start_server(
    home: Path, latency: float, extra: list[str], log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    prefixes = ("GENIE_AGENT_", "DATABRICKS_", "MLFLOW_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env |= {"GENIE_AGENT_HOME": str(home), "GENIE_AGENT_TRACING": "off"}
    argv = [CLI, "genie-server", "--port", str(port), "--latency", f"*={latency:g}", *extra]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=out)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # the first run in a home generates the example data
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"genie-server exited:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("genie-server did not start within 300 s")


async def converse(client: httpx.AsyncClient, c: Conversation, poll_s: float, give_up: float) -> None:
    c.sent = time.monotonic()
    try:
        r = await client.post(f"{BASE}/{c.space}/start-conversation", json={"content": c.question})
        c.started_s = time.monotonic() - c.sent
        if r.status_code != 200:
            c.error = f"start-conversation HTTP {r.status_code} {r.json().get('error_code', '')}"
            return
        body = r.json()
        path = f"{BASE}/{c.space}/conversations/{body['conversation_id']}/messages/{body['message_id']}"
        message = body["message"]
        c.status = message["status"]
        while c.status not in TERMINAL:
            if time.monotonic() > give_up:
                c.error = f"still {c.status} when the run gave up"
                return
            await asyncio.sleep(poll_s)
            asked = time.monotonic()
            r = await client.get(path)
            c.polls.append(time.monotonic() - asked)
            if r.status_code != 200:
                c.error = f"get-message HTTP {r.status_code}"
                return
            message = r.json()
            c.status = message["status"]
        c.ended = time.monotonic()
        c.server_s = (message["last_updated_timestamp"] - message["created_timestamp"]) / 1000
    except httpx.HTTPError as exc:
        c.error = type(exc).__name__


async def run_all(
    url: str, convs: list[Conversation], poll_s: float, give_up: float, per_client: int, start_at: float
) -> None:
    """Run every conversation at once from ``start_at`` (``time.monotonic()``, the same clock in every
    process) on."""
    # httpx's connection pool looks at every waiting request each time a connection frees: one
    # client for 1,000 connections costs the client more CPU than the server spends. Clients of
    # ``per_client`` connections each.
    limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
    headers = {"Authorization": "Bearer bench"}
    clients = [
        httpx.AsyncClient(base_url=url, limits=limits, timeout=60, headers=headers)
        for _ in range(0, len(convs), per_client)
    ]
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    try:
        await asyncio.gather(
            *(converse(clients[i // per_client], c, poll_s, give_up) for i, c in enumerate(convs))
        )
    finally:
        for client in clients:
            await client.aclose()


def client_process(
    url: str, convs: list[Conversation], poll_s: float, give_up: float, per_client: int, start_at: float
) -> tuple[list[Conversation], float]:
    """One client process's share of the conversations, and the CPU seconds it spent on them."""
    cpu = time.process_time()
    asyncio.run(run_all(url, convs, poll_s, give_up, per_client, start_at))
    return convs, time.process_time() - cpu


def run_clients(
    url: str, convs: list[Conversation], args: argparse.Namespace
) -> tuple[list[Conversation], float, float]:
    """The conversations split over ``args.clients`` processes, all starting at once; the
    conversations as they ended, when they started and the clients' CPU seconds."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    n = max(1, args.clients)
    with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(time.sleep, [0.1] * n))  # the processes are up and have imported this
        start_at = time.monotonic() + 0.5
        give_up = start_at + args.give_up
        shares = [convs[i::n] for i in range(n)]
        done = list(
            pool.map(
                client_process,
                *zip(
                    *[(url, share, args.poll, give_up, args.per_client, start_at) for share in shares],
                    strict=True,
                ),
            )
        )
    return [c for share, _ in done for c in share], start_at, sum(cpu for _, cpu in done)


def ms(values: list[float]) -> str:
    p50, p95 = percentile(values, 50) * 1000, percentile(values, 95) * 1000
    return f"p50 {p50:5.0f} ms  p95 {p95:5.0f} ms  max {max(values, default=0) * 1000:5.0f} ms"


def report(convs: list[Conversation], started: float, latency: float, poll_s: float) -> float:
    """Prints the client's figures; returns the wall time."""
    ends = [c.ended for c in convs if c.ended is not None]
    took = [c.ended - c.sent for c in convs if c.ended is not None]
    wall = max(ends, default=started) - started
    polls = [p for c in convs for p in c.polls]
    errors = Counter(c.error for c in convs if c.error is not None)
    print(
        f"\ngenie-server: {len(convs)} conversations at once, latency {latency:g} s, polled every {poll_s:g} s"
    )
    print(f"  wall, first sent to last ended:   {wall:6.2f} s  (latency + one poll: {latency + poll_s:g} s)")
    print(
        f"  each conversation to its end:     p50 {percentile(took, 50):5.2f} s   "
        f"p95 {percentile(took, 95):5.2f} s   max {max(took, default=float('nan')):5.2f} s"
    )
    spans = [c.server_s for c in convs if c.server_s is not None]
    print(
        f"  ... as the server ran it:         p50 {percentile(spans, 50):5.2f} s   "
        f"p95 {percentile(spans, 95):5.2f} s   max {max(spans, default=float('nan')):5.2f} s"
        "  (created to ended, from the message's timestamps)"
    )
    print(f"  start-conversation, client-side:  {ms([c.started_s for c in convs if c.started_s])}")
    print(f"  get-message, client-side:         {ms(polls)}  ({len(polls)} polls)")
    print(f"  ended: {dict(Counter(c.status for c in convs if c.ended is not None))}")
    print(f"  errors: {sum(errors.values())} {dict(errors) if errors else ''}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=5.0, help="seconds a message takes")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between polls of one message")
    parser.add_argument("--give-up", type=float, default=120.0, help="stop polling this long after the start")
    parser.add_argument("--per-client", type=int, default=10, help="conversations per httpx client")
    parser.add_argument(
        "--clients", type=int, default=os.cpu_count() or 1, help="client processes (default: one per core)"
    )
    parser.add_argument("--question", help="ask only this (default: the example sample questions in turn)")
    parser.add_argument("--space", default="sales", help="the space --question is asked in")
    parser.add_argument("--home", type=Path, help="GENIE_AGENT_HOME to reuse (kept); default: a temp one")
    parser.add_argument("--url", help="measure this running genie-server instead of starting one")
    parser.add_argument("--pid", type=int, help="its process id (with --url)")
    parser.add_argument("server_args", nargs="*", help="more genie-server options, after --")
    args = parser.parse_args()
    if (args.url is None) != (args.pid is None):
        parser.error("--url and --pid go together")

    # N client sockets here and N server sockets in the server, which inherits this limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2 * args.conversations + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    asked = [(args.space, args.question)] if args.question else sample_questions()
    convs = [Conversation(*asked[i % len(asked)]) for i in range(args.conversations)]
    temp = proc = None
    home = args.home
    if args.url is None and home is None:
        (REPO / ".bench-home").mkdir(exist_ok=True)
        temp = home = Path(tempfile.mkdtemp(prefix="genie-server-", dir=REPO / ".bench-home"))
    try:
        if args.url is None:
            assert home is not None
            proc, url = start_server(home, args.latency, args.server_args, home / "bench-genie-server.log")
        else:
            url = args.url
        watch = ProcessWatch(proc.pid if proc is not None else args.pid)
        idle_threads, idle_rss = watch.status()
        cpu0, loop0 = watch.cpu_s()
        with watch:
            convs, started, client = run_clients(url, convs, args)
        cpu1, loop1 = watch.cpu_s()
        wall = report(convs, started, args.latency, args.poll)
        cpu, loop = cpu1 - cpu0, loop1 - loop0
        print(f"  server threads: {idle_threads} idle, {watch.peak_threads} at peak")
        print(f"  server RSS:     {idle_rss:.0f} MB idle, {watch.peak_rss_mb:.0f} MB at peak")
        print(
            f"  server CPU:     {cpu:.1f} s = event loop {loop:.1f} s ({loop / wall:.0%} of the wall time) "
            f"+ other threads (the spaces answering) {cpu - loop:.1f} s"
        )
        load = os.getloadavg()[0]
        print(
            f"  client CPU:     {client:.1f} s in {args.clients} processes   "
            f"({os.cpu_count()} cores; load average {load:.1f})"
        )
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main()
