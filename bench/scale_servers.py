"""bench_scale's servers: ``genie-agent genie-server`` and ``serve`` of one commit (through its import
shim), started on free ports and stopped; what genie-server counted and timed; py-spy and CPU pinning."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from bench_startup import clean_env
from scale_load import Turn

REPO = Path(__file__).resolve().parent.parent
_CLI = "import sys; from genie_agent_cli.main import cli; sys.argv[0] = 'genie-agent'; sys.exit(cli())"
_WHERE = "import json, genie_agent, genie_agent_cli.serve as s; print(json.dumps([genie_agent.__file__, s.__file__]))"
SERVICE_TOKEN = "bench-scale-service"
SPACES = """genie_spaces:
  sales:
    space_id: sales
    description: Orders and their line items, with revenue, order counts, quantities and discounts by the customer's nation, region and market segment.
    keywords: [revenue, orders, order value, units, quantity, discount]
    sample_questions: [Revenue by region in 1995, Top 5 nations by revenue]
  supply:
    space_id: supply
    description: Suppliers, parts and part supply; supplier counts and account balances by the supplier's nation and region, supply cost, available quantity and inventory value by part brand.
    keywords: [suppliers, supply cost, inventory value, available quantity]
  customers:
    space_id: customers
    description: Customers with their nation, region and market segment; customer counts and account balances.
    keywords: [customers, account balance]
"""


@dataclass
class Code:
    """One commit's code: its tree and the import shim that puts it first."""

    label: str
    tree: Path
    shim: Path


class Server:
    """A ``genie-agent`` server process on a free port, up once ``/health`` answers."""

    def __init__(
        self, code: Code, args: list[str], home: Path, config: str | None, env: dict[str, str]
    ) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        full = clean_env(home, code.shim)
        full = {k: v for k, v in full.items() if not k.startswith("DATABRICKS_")} | env
        if config is not None:
            path = home / f"config-{port}.yaml"
            path.write_text(config)
            full["GENIE_AGENT_CONFIG"] = str(path)
        self.log = home / f"{args[0]}-{port}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _CLI, *args, "--port", str(port)],
                env=full,
                stdout=subprocess.DEVNULL,
                stderr=out,
                cwd=home,
            )
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300  # a first run in a home generates the example data
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{code.label} {args[0]} exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit(f"{code.label} {args[0]} did not start within 300 s")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextmanager
def running(*servers: Server) -> Iterator[None]:
    try:
        yield
    finally:
        for server in servers:
            server.stop()


def genie_server(head: Code, data_home: Path, latency: float, qpm: int | None = None) -> Server:
    args = ["genie-server", "--latency", f"*={latency:g}"]
    if qpm is not None:
        args += ["--questions-per-minute", str(qpm)]
    config = f"users:\n  service: {{token: {SERVICE_TOKEN}}}\n"
    return Server(head, args, data_home, config, {"GENIE_AGENT_TRACING": "off"})


def users_yaml(names: list[str]) -> str:
    return "users:\n" + "".join(f"  {n}: {{token: bench-{n}}}\n" for n in names)


def databricks_serve(
    code: Code, home: Path, genie: Server, users: list[str], extra: str, tracing: str
) -> Server:
    config = "genie_backend: databricks\n" + SPACES + users_yaml(users) + extra
    env = {
        "DATABRICKS_HOST": genie.url,
        "DATABRICKS_TOKEN": SERVICE_TOKEN,
        "DATABRICKS_CONFIG_FILE": "/nonexistent",
        "GENIE_AGENT_TRACING": tracing,
    }
    return Server(code, ["serve"], home, config, env)


def fresh_home(root: Path, name: str, data_home: Path | None = None) -> Path:
    home = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
    if data_home is not None:  # the example data, linked
        (home / "data").mkdir()
        for f in (data_home / "data").glob("*.duckdb"):
            (home / "data" / f.name).symlink_to(f)
    return home


def check_code(code: Code, home: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _WHERE],
        env=clean_env(home, code.shim),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{code.label}: cannot import its code:\n{proc.stderr[-2000:]}")
    for path in json.loads(proc.stdout):
        if not Path(path).resolve().is_relative_to(code.tree.resolve()):
            raise SystemExit(f"{code.label} imported {path}, not from {code.tree}")


def genie_stats(genie: Server) -> dict[str, float]:
    r = httpx.get(f"{genie.url}/_genie_server/stats", timeout=10)
    r.raise_for_status()
    stats: dict[str, float] = r.json()
    return stats


@contextmanager
def profiled(args: argparse.Namespace, server: Server, name: str) -> Iterator[None]:
    """py-spy records ``server`` meanwhile (``--py-spy``): collapsed stacks in ``--profile-dir``."""
    if not args.py_spy:
        yield
        return
    args.profile_dir.mkdir(parents=True, exist_ok=True)
    out = args.profile_dir / f"{name}.txt"
    argv = [
        args.py_spy,
        "record",
        "-p",
        str(server.pid),
        "-o",
        str(out),
        "--format",
        "raw",
        "-r",
        str(args.profile_rate),
    ]
    if args.profile_s:
        argv += ["--duration", str(args.profile_s)]
    if args.profile_gil:
        argv += ["--gil"]
    spies: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        spies.append(
            subprocess.Popen([*argv, "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )

    timer = threading.Timer(args.profile_from, start)  # from the release (1 s after the call) on
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        for spy in spies:
            if spy.poll() is None:
                spy.send_signal(2)  # py-spy writes its file on SIGINT
            spy.wait(60)
        print(f"  (py-spy: {out})")


def pin(pids: list[int], cpu: int) -> None:
    """Every thread of ``pids`` on ``cpu`` (threads started later inherit it)."""
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            os.sched_setaffinity(int(task.name), {cpu})


def unpin(pids: list[int]) -> None:
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            os.sched_setaffinity(int(task.name), set(range(os.cpu_count() or 1)))


def genie_times(genie: Server, turns: list[Turn]) -> None:
    """When each turn's questions reached genie-server and when their answers ended there (the
    messages' created and last-updated timestamps): sets ``held_s`` and ``answered_s``."""
    headers = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    with httpx.Client(base_url=genie.url, headers=headers, timeout=30) as client:
        for t in turns:
            created, updated = [], []
            for space, conversation in t.conversations.items():
                r = client.get(f"/api/2.0/genie/spaces/{space}/conversations/{conversation}/messages")
                messages = r.json().get("messages", []) if r.status_code == 200 else []
                created += [m["created_timestamp"] / 1000 for m in messages]
                updated += [m["last_updated_timestamp"] / 1000 for m in messages]
            if created:
                t.held_s = min(created) - t.sent_wall
                t.answered_s = max(updated) - t.sent_wall


def git(*args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()
