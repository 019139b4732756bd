"""Start-up benchmark: ``import genie_agent`` and one ``genie-agent ask --json`` process, this checkout
against a base commit, in the same run.

Prints figures only (nothing is asserted on timings). Run from the repo root:

    .venv/bin/python bench/bench_startup.py [--home DIR] [--runs N] [--base REV | --no-base]

The ask runs on the embedded default (the TPC-H example catalog, SF 0.1, verified queries on, SQLite
memory, tracing ``auto``) in a prepared home: data generated, value caches and ``.pyc`` files written by
untimed warm-up runs, so every timed run is a warm start. A second ask row removes the SQL guard's
accepted texts and the catalog's parsed YAML before each run: what a question never asked before (or
an edited catalog) finds; the value caches stay warm. The base commit is checked out in a temporary
``git worktree``; each commit runs through a directory of symlinks that maps its import names onto its
own tree as ``pyproject.toml``'s ``package-dir`` does (``genie_agent_cli`` -> ``deploy_scripts``, ...),
put first on ``PYTHONPATH``. The script checks that each commit imported its own code. Runs are
interleaved (pass, head, base, head, base, ...) so drift in machine load hits both alike.
See bench/README.md for how to read the output.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SCALE_FACTOR = 0.1
QUESTION = "total revenue in 1996"
TARGET_S = 0.5
# Where issue 14's start-up work began.
DEFAULT_BASE = "25e188b"
# The caches a question never asked before (or an edited catalog) finds cold; the value caches stay warm.
NEW_SQL_CACHES = ("sql-guard-accepted.json", "parsed-yaml.json")
HEAVY = ("mlflow", "langgraph", "databricks", "sqlglot", "duckdb", "numpy", "pandas", "httpx", "rich", "yaml")

_CLI = "import sys; from genie_agent_cli.main import cli; sys.argv[0] = 'genie-agent'; sys.exit(cli())"
_IMPORT = (
    "import time; t = time.perf_counter(); import genie_agent; ms = (time.perf_counter() - t) * 1000; "
    "import sys, json; print(json.dumps([ms, sorted({m.split('.')[0] for m in sys.modules} & set(sys.argv[1:]))]))"
)
# Which files each commit's subprocesses import, and what one ask leaves loaded.
_WHERE = (
    "import sys, json, runpy, io, contextlib, genie_agent, genie_agent_cli.main as m; "
    "out = io.StringIO()\n"
    "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(out): "
    "sys.argv = ['genie-agent', 'ask', '--json', sys.argv[1]]; m.cli()\n"
    "heavy = " + repr(HEAVY) + "\n"
    "print(json.dumps({'sdk': genie_agent.__file__, 'cli': m.__file__, 'answer': json.loads(out.getvalue()), "
    "'loaded': sorted({n.split('.')[0] for n in sys.modules} & set(heavy))}))"
)


def fmt_s(seconds: float) -> str:
    return f"{seconds:.3f} s" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms"


def clean_env(home: Path, tree: Path) -> dict[str, str]:
    """The environment without the user's GENIE_AGENT_* / MLFLOW_* settings, on ``tree``'s code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENIE_AGENT_", "MLFLOW_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a warm start reads .pyc files: let the warm-up write them
    env["GENIE_AGENT_HOME"] = str(home)
    env["GENIE_AGENT_TPCH_SCALE_FACTOR"] = str(SCALE_FACTOR)
    env["PYTHONPATH"] = str(tree)
    return env


def import_shim(tree: Path, into: Path) -> Path:
    """A directory of symlinks, one per import name of ``tree``'s pyproject.toml ``package-dir``."""
    config = tomllib.loads((tree / "pyproject.toml").read_text())
    into.mkdir(parents=True)
    for name, directory in config["tool"]["setuptools"]["package-dir"].items():
        (into / name).symlink_to(tree / directory, target_is_directory=True)
    return into


def _git(*args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall and CPU (user + system) seconds of one subprocess."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc


class Target:
    """One commit's code (through its import shim) and its own home."""

    def __init__(self, label: str, tree: Path, shim: Path, home: Path) -> None:
        self.label, self.tree, self.shim, self.home = label, tree, shim, home
        self.env = clean_env(home, shim)
        self.wall: dict[str, list[float]] = defaultdict(list)
        self.cpu: dict[str, list[float]] = defaultdict(list)
        self.import_ms: list[float] = []
        self.import_loaded: list[str] = []

    def check(self) -> dict[str, Any]:
        """One untimed ask (the warm-up: .pyc files, value caches, memory tables); where the code came from."""
        proc = subprocess.run(
            [sys.executable, "-c", _WHERE, QUESTION],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"{self.label}: the ask failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
        where: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
        for key in ("sdk", "cli"):
            if not Path(where[key]).resolve().is_relative_to(self.tree.resolve()):
                raise SystemExit(f"{self.label} imported {key} from {where[key]}, not from {self.tree}")
        return where

    def run(self, kind: str) -> None:
        if kind == "import":
            wall, cpu, proc = timed([sys.executable, "-c", _IMPORT, *HEAVY], self.env)
            ms, loaded = json.loads(proc.stdout)
            self.import_ms.append(ms)
            self.import_loaded = loaded
        else:
            if kind == "ask-new":  # as for SQL and catalog files never seen: the guard and YAML caches gone
                for name in NEW_SQL_CACHES:
                    (self.home / "cache" / name).unlink(missing_ok=True)
            wall, cpu, proc = timed([sys.executable, "-c", _CLI, "ask", "--json", QUESTION], self.env)
            if proc.returncode != 0 or json.loads(proc.stdout).get("status") != "ok":
                raise SystemExit(f"{self.label}: ask failed: {proc.stdout[-500:]} {proc.stderr[-1000:]}")
        self.wall[kind].append(wall)
        self.cpu[kind].append(cpu)


def prepare_home(home: Path) -> None:
    """Generate the TPC-H file in ``home`` once (untimed)."""
    env = clean_env(home, REPO)
    env.pop("PYTHONPATH")
    code = (
        "from genie_agent.config import load_settings; from genie_agent.factory import database_path; "
        "from genie_agent.spaces.catalog import load_catalog; s = load_settings(); "
        "[database_path(s, n, d, progress=False) for n, d in load_catalog(s.catalog).databases.items()]"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def measure(targets: Sequence[Target], runs: int) -> dict[str, list[float]]:
    python_pass: dict[str, list[float]] = defaultdict(list)
    for i in range(runs):
        wall, cpu, _ = timed([sys.executable, "-c", "pass"], targets[0].env)
        python_pass["wall"].append(wall)
        python_pass["cpu"].append(cpu)
        for kind in ("import", "ask", "ask-new"):
            for target in targets if i % 2 == 0 else reversed(targets):
                target.run(kind)
    return python_pass


def report(targets: Sequence[Target], python_pass: dict[str, list[float]], runs: int) -> None:
    med = statistics.median
    print(f"\nmedians of {runs} runs each, interleaved; wall time (CPU time: user + system)")
    print(
        f"  python -c pass                       {fmt_s(med(python_pass['wall']))} ({fmt_s(med(python_pass['cpu']))})"
    )
    for t in targets:
        print(f"  [{t.label}]")
        print(
            f"    import genie_agent (in-process)    {med(t.import_ms):.1f} ms; loaded: "
            f"{', '.join(t.import_loaded) or 'none of ' + '/'.join(HEAVY[:3])}"
        )
        print(
            f"    python -c 'import genie_agent'     {fmt_s(med(t.wall['import']))} ({fmt_s(med(t.cpu['import']))})"
        )
        print(
            f"    genie-agent ask --json             {fmt_s(med(t.wall['ask']))} ({fmt_s(med(t.cpu['ask']))})"
            f"   p90 {fmt_s(statistics.quantiles(t.wall['ask'], n=10)[-1]) if runs > 1 else '-'}"
        )
        print(
            f"    ... guard + YAML caches removed    {fmt_s(med(t.wall['ask-new']))} ({fmt_s(med(t.cpu['ask-new']))})"
        )
    if len(targets) == 2:
        head, base = targets
        ask = med(head.wall["ask"]) / med(base.wall["ask"])
        ask_cpu = med(head.cpu["ask"]) / med(base.cpu["ask"])
        new = med(head.wall["ask-new"]) / med(base.wall["ask-new"])
        new_cpu = med(head.cpu["ask-new"]) / med(base.cpu["ask-new"])
        imp = med(head.import_ms) / med(base.import_ms)
        print(
            f"  head/base: ask wall {ask:.2f}x, CPU {ask_cpu:.2f}x; with the caches removed wall {new:.2f}x, "
            f"CPU {new_cpu:.2f}x; import genie_agent {imp:.2f}x"
        )
    head_ask = med(targets[0].wall["ask"])
    verdict = "met" if head_ask <= TARGET_S else "NOT met"
    print(
        f"  target: genie-agent ask --json <= {TARGET_S:g} s wall (median) -> {verdict} ({fmt_s(head_ask)})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="keep and reuse this directory (default: temporary)")
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each command (default 15)")
    parser.add_argument(
        "--base", default=DEFAULT_BASE, help=f"commit to compare with (default {DEFAULT_BASE})"
    )
    parser.add_argument("--no-base", action="store_true", help="time this checkout only")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        root = args.home.expanduser().resolve() if args.home else Path(tmp)
        home = root / "home"
        (home / "data").mkdir(parents=True, exist_ok=True)
        prepare_home(home)
        shims = Path(tmp) / "shims"
        targets = [Target("this checkout", REPO, import_shim(REPO, shims / "head"), home)]
        head_rev = _git("rev-parse", "--short", "HEAD")
        dirty = (
            " + uncommitted changes" if _git("status", "--porcelain", "--", "sdk", "deploy_scripts") else ""
        )
        tree = Path(tmp) / "base-tree"
        base_rev = "" if args.no_base else _git("rev-parse", "--short", f"{args.base}^{{commit}}")
        if base_rev:
            _git("worktree", "add", "--detach", "--quiet", str(tree), base_rev)
        try:
            if base_rev:
                base_home = root / "base-home"  # its own value caches and memory file; the same TPC-H file
                (base_home / "data").mkdir(parents=True, exist_ok=True)
                for data in (home / "data").glob("*.duckdb"):
                    link = base_home / "data" / data.name
                    if not link.exists():
                        link.symlink_to(data)
                targets.append(Target(f"base {base_rev}", tree, import_shim(tree, shims / "base"), base_home))
            print(
                f"genie-agent start-up: HEAD {head_rev}{dirty}; python {sys.version.split()[0]}; "
                f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}; question {QUESTION!r}"
            )
            for target in targets:
                for _ in range(2):
                    where = target.check()
                sdk, cli = (Path(where[k]).resolve() for k in ("sdk", "cli"))
                print(f"  [{target.label}] genie_agent from {sdk.parent}, genie_agent_cli from {cli.parent}")
                print(f"    answer: {where['answer']['status']}: {where['answer']['text'][:90]}")
                print(f"    loaded by one ask: {', '.join(where['loaded'])}")
            python_pass = measure(targets, args.runs)
            report(targets, python_pass, args.runs)
            print(f"  load average after: {os.getloadavg()[0]:.1f}")
        finally:
            if base_rev:
                _git("worktree", "remove", "--force", str(tree))
    return 0


if __name__ == "__main__":
    sys.exit(main())
