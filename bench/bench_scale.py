"""Scale benchmark (issue 15): many streamed turns at once through ``genie-agent serve``, this checkout
against a base commit (fce2013, before the async core), in the same run.

Prints figures and targets (met / not met); asserts nothing. Run from the repo root:

    .venv/bin/python bench/bench_scale.py                      # every part, latency 10 s (~15 min)
    .venv/bin/python bench/bench_scale.py --latency 30 --parts scale
    .venv/bin/python bench/bench_scale.py --parts limiter,embedded --no-base
    .venv/bin/python bench/bench_scale.py --tracing on         # serve traces every turn (MLflow, SQLite)
    .venv/bin/python bench/bench_scale.py --parts scale --no-base --arrival steady --latency 30 --turns 1000

Parts (see bench/README.md, "Scale"):

* **scale**: ``genie-agent genie-server --latency '*=L'`` and ``serve`` on the Databricks backend
  pointed at it; ``--turns`` (100, 500, 1,000) streamed turns released at once, half of them
  cross-domain, each row with fresh processes; the base for ``--base-turns`` (capped at ``--base-cap``).
  ``--arrival steady``: a row of N turns sends N / latency turns a second for ``--arrival-for`` (2)
  latencies instead, so about N are in flight once the first latency has passed, as a replica reaches N
  in flight in production; its figures count the turns sent after the first latency (the steady state).
* **limiter**: genie-server ``--questions-per-minute 30``, serve ``genie_questions_per_minute: 30``,
  4 users, 40 single-space turns: one user trickles, one bursts, two arrive behind the burst.
* **embedded**: ``serve`` with no workspace (the example spaces), 50 turns at once, head and base in
  alternating rounds.

Scale rows also take ``--pin`` (serve alone on CPU 0), ``--cold`` (no warm-up turns) and ``--py-spy PATH``
(record serve while each row runs: ``--profile-gil``, ``--profile-rate``, ``--profile-from``, ``--profile-s``).

Both commits' servers start the same way: ``python -c 'genie_agent_cli.main.cli()'`` with a directory
of symlinks onto the commit's tree first on ``PYTHONPATH`` (bench_startup's ``import_shim``); the
script checks each imported its own tree. genie-server is always this checkout's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_startup import import_shim, prepare_home
from scale_load import LoadGen, ProcWatch, Turn, Usage, stream_turn
from scale_report import ScaleRow, report_embedded, report_limiter, report_row, summary
from scale_servers import (
    REPO,
    Code,
    Server,
    check_code,
    databricks_serve,
    fresh_home,
    genie_server,
    genie_stats,
    genie_times,
    git,
    pin,
    profiled,
    running,
    unpin,
)

DEFAULT_BASE = "fce2013"
SINGLE = (
    "What was total revenue in 1996?",
    "How many suppliers are in each region?",
    "How many customers are in each market segment?",
    "Revenue by region in 1995",
    "Average supply cost by brand",
    "Average account balance by region",
)
CROSS = (
    "What was revenue by region in 1995, and how many suppliers does each region have?",
    "How many customers and how many suppliers are there in each nation?",
    "What was total revenue in 1996, and how many customers do we have?",
    "How many orders were placed in Germany in 1997, and how many suppliers are in Germany?",
)


def warm(url: str, turns: list[Turn]) -> None:
    """Untimed turns, one at a time: the first turn builds the router, opens connections."""

    async def run() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=120) as client:
            for t in turns:
                await stream_turn(client, t, time.monotonic())

    asyncio.run(run())
    bad = [t for t in turns if t.problems or t.ended is None]
    if bad:
        raise SystemExit(f"warm-up turns failed at {url}: {[t.problems for t in bad]}")


def wait_for_quiet(max_s: float, below: float = 1.5) -> float:
    """Waits (up to ``max_s``) for the 1-minute load average to fall below ``below``; returns it."""
    deadline = time.monotonic() + max_s
    while os.getloadavg()[0] >= below and time.monotonic() < deadline:
        time.sleep(5)
    return os.getloadavg()[0]


def scale_turns(n: int, users: list[str]) -> list[Turn]:
    out = []
    for i in range(n):
        cross = i % 2 == 1
        question = CROSS[(i // 2) % len(CROSS)] if cross else SINGLE[(i // 2) % len(SINGLE)]
        user = users[i % len(users)]
        out.append(Turn(user, f"bench-{user}", question, cross))
    return out


def steady_turns(n: int, latency: float, span: float, users: list[str]) -> list[Turn]:
    """Turns sent at ``n / latency`` a second for ``span`` latencies: about ``n`` in flight once the first
    latency has passed (Little's law), for ``span - 1`` latencies."""
    turns = scale_turns(round(n * span), users)
    for i, t in enumerate(turns):
        t.delay_s = i * latency / n
    return turns


def row_turns(n: int, args: argparse.Namespace, users: list[str]) -> list[Turn]:
    if args.arrival == "steady":
        return steady_turns(n, args.latency, args.arrival_for, users)
    return scale_turns(n, users)


def scale_row(
    code: Code,
    head: Code,
    n: int,
    args: argparse.Namespace,
    root: Path,
    data_home: Path,
    gen: LoadGen,
    cap_s: float,
) -> ScaleRow:
    load = wait_for_quiet(args.wait_load)
    users = [f"user{i}" for i in range(10)]
    genie = genie_server(head, data_home, args.latency)
    with running(genie):
        serve = databricks_serve(
            code, fresh_home(root, "serve"), genie, users, args.serve_extra, args.tracing
        )
        with running(serve):
            if not args.cold:
                warm(serve.url, scale_turns(4, users))
            if args.pin:  # serve alone on one core, genie-server and the load generator on the other
                pin([serve.pid], 0)
                pin([genie.pid, *gen.pids], 1)
            before = genie_stats(genie)
            watch = ProcWatch({"serve": [serve.pid], "genie-server": [genie.pid], "load generator": gen.pids})
            sent = row_turns(n, args, users)
            cap_s += sent[-1].delay_s  # a steady row gives up that long after its last turn was sent
            with watch, profiled(args, serve, f"{code.label.split()[0]}-{n}-serve"):
                turns, start_at, lags = gen.run(serve.url, sent, args.per_client, cap_s)
            after = genie_stats(genie)
            genie_times(genie, turns)
            if args.pin:
                unpin(gen.pids)
    stats = {k: after[k] - before[k] for k in after}
    label = code.label + (" pinned" if args.pin else "") + (" cold" if args.cold else "")
    row = ScaleRow(label, n, args.latency, args.tracing, turns, start_at, watch, stats, lags, load, cap_s)
    if args.arrival == "steady":
        row.arrival, row.rate, row.counted_from = "steady", n / args.latency, args.latency
    return row


def limiter_turns(latency: float) -> list[Turn]:
    """dan trickles 10 (one every 2 s: the window's grants spread over 18 s), ann bursts 24 at 20 s (20 fit
    the window, 4 wait), bob and cia send 3 each behind the burst (21-26 s). 30 a minute: the 10 that wait
    are sent one at a time as dan's grants leave the window, from 60 s on."""
    turns = [Turn("dan", "bench-dan", SINGLE[i % 6], delay_s=2.0 * i) for i in range(10)]
    turns += [Turn("ann", "bench-ann", SINGLE[i % 6], delay_s=20.0) for i in range(24)]
    for i in range(3):
        turns.append(Turn("bob", "bench-bob", SINGLE[(i + 1) % 6], delay_s=21.0 + 2 * i))
        turns.append(Turn("cia", "bench-cia", SINGLE[(i + 2) % 6], delay_s=22.0 + 2 * i))
    return turns


def limiter(head: Code, args: argparse.Namespace, root: Path, data_home: Path, gen: LoadGen) -> None:
    latency = args.limiter_latency
    genie = genie_server(head, data_home, latency, qpm=30)
    with running(genie):
        extra = args.serve_extra + "genie_questions_per_minute: 30\n"
        users = ["ann", "bob", "cia", "dan"]
        serve = databricks_serve(head, fresh_home(root, "serve"), genie, users, extra, args.tracing)
        with running(serve):
            if not args.limiter_cold:  # one question, then both windows empty again
                warm(serve.url, [Turn("dan", "bench-dan", SINGLE[0])])
                time.sleep(61)
            load = wait_for_quiet(args.wait_load)
            before = genie_stats(genie)
            turns, start_at, _ = gen.run(serve.url, limiter_turns(latency), args.per_client, 300)
            after = genie_stats(genie)
            genie_times(genie, turns)
    stats = {k: after[k] - before[k] for k in after}
    report_limiter(turns, start_at, latency, stats, load, warm=not args.limiter_cold)


def embedded(codes: list[Code], args: argparse.Namespace, root: Path, data_home: Path, gen: LoadGen) -> None:
    load = wait_for_quiet(args.wait_load)
    env = {"GENIE_AGENT_TRACING": args.tracing}
    servers = [Server(c, ["serve"], fresh_home(root, "embedded", data_home), None, env) for c in codes]
    rounds: dict[str, list[list[Turn]]] = {c.label: [] for c in codes}
    usage: dict[str, list[Usage]] = {c.label: [] for c in codes}
    with running(*servers):
        questions = [q for pair in zip(SINGLE, CROSS * 2, strict=False) for q in pair]
        for s in servers:
            warm(s.url, [Turn("local", "", q) for q in questions[:4]])
        for r in range(args.embedded_rounds):
            order = list(zip(codes, servers, strict=True))
            for code, server in order if r % 2 == 0 else reversed(order):
                turns = [
                    Turn("local", "", questions[i % len(questions)], cross=i % 2 == 1) for i in range(50)
                ]
                name = f"{code.label.split()[0]}-embedded-{r}-serve"
                with ProcWatch({"serve": [server.pid]}) as watch, profiled(args, server, name):
                    done, _, _ = gen.run(server.url, turns, args.per_client, 120)
                rounds[code.label].append(done)
                usage[code.label].append(watch.usage["serve"])
    report_embedded(rounds, usage, load)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="scale,limiter,embedded", help="which parts, comma-separated")
    parser.add_argument("--latency", type=float, default=10.0, help="genie-server's latency, scale part (s)")
    parser.add_argument(
        "--turns", default="100,500,1000", help="scale rows for this checkout (turns, comma-separated)"
    )
    parser.add_argument(
        "--arrival",
        choices=("burst", "steady"),
        default="burst",
        help="scale rows: every turn at one instant (burst), or N / latency turns a second (steady)",
    )
    parser.add_argument(
        "--arrival-for",
        type=float,
        default=2.0,
        help="steady: send turns for this many latencies; only those sent after the first count",
    )
    parser.add_argument("--base-turns", default="100,500", help="scale rows for the base")
    parser.add_argument("--base-cap", type=float, default=300.0, help="a base row gives up after this (s)")
    parser.add_argument(
        "--base", default=DEFAULT_BASE, help=f"commit to compare with (default {DEFAULT_BASE})"
    )
    parser.add_argument("--no-base", action="store_true", help="this checkout only")
    parser.add_argument(
        "--tracing", choices=("off", "on"), default="off", help="serve's tracing (default off)"
    )
    parser.add_argument("--memory", default="sqlite", help="serve's memory_backend (default sqlite)")
    parser.add_argument(
        "--max-inflight", type=int, help="serve's max_inflight_turns (default serve's own, 1,000)"
    )
    parser.add_argument("--limiter-latency", type=float, default=2.0)
    parser.add_argument(
        "--limiter-cold",
        action="store_true",
        help="no warm-up question (and 61 s pause) before the limiter part",
    )
    parser.add_argument("--embedded-rounds", type=int, default=3, help="rounds of 50 turns per commit")
    parser.add_argument("--clients", type=int, default=os.cpu_count() or 1, help="load generator processes")
    parser.add_argument("--per-client", type=int, default=10, help="connections per httpx client")
    parser.add_argument("--wait-load", type=float, default=180.0, help="wait this long for load < 1.5 (s)")
    parser.add_argument("--py-spy", help="path of py-spy: record serve during each scale row")
    parser.add_argument("--profile-dir", type=Path, default=Path("/tmp/bench-scale-profiles"))
    parser.add_argument("--profile-s", type=int, help="record only N seconds of each row")
    parser.add_argument("--profile-from", type=float, default=0.0, help="start recording N s into each row")
    parser.add_argument("--profile-rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--profile-gil", action="store_true", help="sample only the thread holding the GIL")
    parser.add_argument(
        "--cold", action="store_true", help="scale rows: no warm-up turns (a serve just started)"
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="scale rows: serve on CPU 0, genie-server and the load generator on CPU 1",
    )
    parser.add_argument("--home", type=Path, help="keep the example data here (default: temporary)")
    args = parser.parse_args()
    args.serve_extra = f"memory_backend: '{args.memory}'\n"
    if args.max_inflight:
        args.serve_extra += f"max_inflight_turns: {args.max_inflight}\n"
    parts = set(args.parts.split(","))

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # sockets: every turn, both ends, inherited
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 8192), hard), hard))
    (REPO / ".bench-home").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-scale-", dir=REPO / ".bench-home") as tmp:
        root = Path(tmp)
        data_home = args.home.expanduser().resolve() if args.home else root / "data-home"
        (data_home / "data").mkdir(parents=True, exist_ok=True)
        prepare_home(data_home)
        head = Code(
            f"head {git('rev-parse', '--short', 'HEAD')}", REPO, import_shim(REPO, root / "shim-head")
        )
        codes = [head]
        tree = root / "base-tree"
        base_rev = "" if args.no_base else git("rev-parse", "--short", f"{args.base}^{{commit}}")
        if base_rev:
            git("worktree", "add", "--detach", "--quiet", str(tree), base_rev)
            codes.append(Code(f"base {base_rev}", tree, import_shim(tree, root / "shim-base")))
        gen = LoadGen(args.clients)
        try:
            for code in codes:
                check_code(code, data_home)
            dirty = (
                " + uncommitted changes"
                if git("status", "--porcelain", "--", "sdk", "deploy_scripts")
                else ""
            )
            print(
                f"bench_scale: {', '.join(c.label for c in codes)}{dirty}; python {sys.version.split()[0]}; "
                f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}; tracing {args.tracing}; "
                f"memory {args.memory}; max_inflight_turns {args.max_inflight or 'default (1,000)'}; "
                f"load generator {gen.n} processes, httpx clients of {args.per_client} connections",
                flush=True,
            )
            if "scale" in parts:
                plan = {
                    c.label: [int(x) for x in ns.split(",") if x]
                    for c, ns in zip(codes, (args.turns, args.base_turns), strict=False)
                }
                caps = {head.label: max(120.0, 6 * args.latency), codes[-1].label: args.base_cap}
                rows = []
                for n in sorted({n for ns in plan.values() for n in ns}):
                    for code in codes:  # head and base alternate, so drift in machine load hits both
                        if n in plan[code.label]:
                            rows.append(
                                scale_row(code, head, n, args, root, data_home, gen, caps[code.label])
                            )
                            report_row(rows[-1])
                summary(rows)
            if "limiter" in parts:
                limiter(head, args, root, data_home, gen)
            if "embedded" in parts:
                embedded(codes, args, root, data_home, gen)
            print(f"load average at the end: {os.getloadavg()[0]:.2f}")
        finally:
            gen.close()
            if base_rev:
                git("worktree", "remove", "--force", str(tree))
    return 0


if __name__ == "__main__":
    sys.exit(main())
