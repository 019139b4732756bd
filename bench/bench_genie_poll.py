"""How late each Genie client sees a finished answer, and how many polls it makes to see it.

Against the local Genie API server (``build_genie_api``) with Genie-like latency per space, two
clients ask the same questions in the same run, through the real databricks-sdk:

* ``backend``: ``DatabricksGenieSpace.ask`` (this package: its own poller, then the query result);
* ``sdk``: ``w.genie.start_conversation_and_wait`` then ``get_message_attachment_query_result``.

The server records when each message reached COMPLETED. *late* = when the client had the answer and
its rows in hand minus that time; *polls/s* = the server's count of get-message requests over the
seconds the clients waited. Targets for ``backend``: <= 0.5 s late at p50, <= 1 poll per second.
Prints figures only. Run from the repo root (about 80 s):

    .venv/bin/python bench/bench_genie_poll.py [--home DIR] [--questions N] [--jitter 0.15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = REPO / "examples" / "tpch" / "questions.yaml"
LATENCY_S = {"supply": 3.0, "sales": 6.0, "customers": 10.0}
TARGET_LATE_S, TARGET_POLLS_PER_S = 0.5, 1.0


@dataclass(frozen=True)
class Ask:
    client: str
    space: str
    index: int
    sent: float
    seen: float
    finished: float
    polls: int

    @property
    def late(self) -> float:
        return self.seen - self.finished

    @property
    def waited(self) -> float:
        return self.seen - self.sent


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def questions(space: str, n: int) -> list[str]:
    cases = yaml.safe_load(QUESTIONS.read_text())
    return [c["question"] for c in cases if c["kind"] == "single" and c["spaces"] == [space]][:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="GENIE_AGENT_HOME to reuse (kept); default: a temp one")
    parser.add_argument("--questions", type=int, default=5, help="questions per space and client")
    parser.add_argument(
        "--jitter", type=float, default=0.15, help="spread of each answer's latency, +-fraction"
    )
    args = parser.parse_args()

    for name in [n for n in os.environ if n.startswith(("GENIE_AGENT_", "DATABRICKS_"))]:
        del os.environ[name]  # neither your config nor your workspace credentials change the run
    os.environ["DATABRICKS_CONFIG_FILE"] = "/nonexistent/databrickscfg"
    temp = None
    home = args.home
    if home is None:
        (REPO / ".bench-home").mkdir(exist_ok=True)
        temp = home = Path(tempfile.mkdtemp(prefix="genie-poll-", dir=REPO / ".bench-home"))
    try:
        run(home, args.questions, args.jitter)
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


def run(home: Path, n: int, jitter: float) -> None:
    from databricks.sdk import WorkspaceClient

    from genie_agent.config import load_settings
    from genie_agent.factory import make_agent
    from genie_agent.genie_api import GenieApi, build_genie_api, serve_in_background
    from genie_agent.identity import TokenIdentityProvider
    from genie_agent.spaces.databricks import DatabricksGenieSpace, GenieSpaceConfig

    t0 = time.perf_counter()
    agent = make_agent(load_settings(home=home, tracing="off"), progress=True)
    print(f"local spaces ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    api: GenieApi = build_genie_api(
        agent.spaces, TokenIdentityProvider({}), latency_s=LATENCY_S, latency_jitter=jitter, seed=7
    )
    asks: list[Ask] = []
    lock = threading.Lock()

    def finished(message_id: str) -> tuple[float, int]:
        trace = api.trace(message_id)
        assert trace is not None and trace.finished_at is not None and trace.status == "COMPLETED"
        return trace.finished_at, trace.polls

    with serve_in_background(api) as url:
        client = WorkspaceClient(host=url, token="bench")

        def backend(space: str) -> None:
            info = agent.spaces[space].info
            genie = DatabricksGenieSpace(
                space, GenieSpaceConfig(space_id=space, title=info.title), lambda _: client
            )
            for i, q in enumerate(questions(space, n)):
                sent = time.time()
                answer = genie.ask(q)
                seen = time.time()
                assert answer.status == "completed", answer.text
                with lock:
                    asks.append(Ask("backend", space, i, sent, seen, *finished(answer.message_id)))

        def sdk(space: str) -> None:
            for i, q in enumerate(questions(space, n)):
                sent = time.time()
                message = client.genie.start_conversation_and_wait(space, q, timeout=timedelta(minutes=2))
                (query,) = [a for a in message.attachments or [] if a.query is not None]
                client.genie.get_message_attachment_query_result(
                    space, message.conversation_id, message.message_id, query.attachment_id or ""
                )
                seen = time.time()
                with lock:
                    asks.append(Ask("sdk", space, i, sent, seen, *finished(message.message_id)))

        started = time.perf_counter()
        with ThreadPoolExecutor(2 * len(LATENCY_S)) as pool:
            futures = [pool.submit(f, s) for f in (backend, sdk) for s in LATENCY_S]
            for future in futures:
                future.result()
        wall = time.perf_counter() - started
    report(asks, n, jitter, wall)


def report(asks: list[Any], n: int, jitter: float, wall: float) -> None:
    latency = ", ".join(f"{s} {v:g} s" for s, v in LATENCY_S.items())
    print(f"\nGenie poll lateness: {n} questions per space and client; latency {latency} (+-{jitter:.0%})")
    print(f"run took {wall:.0f} s\n")
    header = f"{'client':<16}{'answers':>8}{'late p50':>10}{'late p90':>10}{'late max':>10}{'polls/s':>9}{'polls/ans':>11}"
    print(header)
    print("-" * len(header))

    def row(label: str, group: list[Ask]) -> None:
        late = [a.late for a in group]
        polls = sum(a.polls for a in group)
        rate = polls / sum(a.waited for a in group)
        print(
            f"{label:<16}{len(group):>8}{statistics.median(late):>9.2f}s{percentile(late, 90):>9.2f}s"
            f"{max(late):>9.2f}s{rate:>9.2f}{polls / len(group):>11.1f}"
        )

    for client in ("backend", "sdk"):
        group = [a for a in asks if a.client == client]
        row(client, group)
        row("  first/space", [a for a in group if a.index == 0])
        row("  later", [a for a in group if a.index > 0])
        for space in LATENCY_S:
            row(f"  {space}", [a for a in group if a.space == space])
    ours = [a for a in asks if a.client == "backend"]
    late = statistics.median(a.late for a in ours)
    rate = sum(a.polls for a in ours) / sum(a.waited for a in ours)
    ok = "OK" if late <= TARGET_LATE_S else "MISSED"
    print(f"\nbackend late p50 {late:.2f} s (target <= {TARGET_LATE_S} s): {ok}")
    ok = "OK" if rate <= TARGET_POLLS_PER_S else "MISSED"
    print(f"backend polls/s  {rate:.2f}   (target <= {TARGET_POLLS_PER_S:g}):   {ok}")


if __name__ == "__main__":
    main()
