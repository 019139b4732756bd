"""Benchmark of the local ask path: NL -> SQL, query execution, the CLI and in-process turns.

Prints figures only (nothing is asserted on timings). Run from the repo root:

    .venv/bin/python bench/bench_ask.py [--home DIR] [--runs N] [--query-runs N] [--cli-runs N]
                                        [--base REV | --no-base] [--compare-only] [--compare-runs N]

Without --home a fresh temporary home under ``.bench-home/`` is used (so the TPC-H SF 0.1 data is
generated, and timed, once) and deleted at the end; with --home the directory is kept and reused.
Verified queries are OFF throughout, so every question goes through the parser and the compiler.
The last section times NL -> SQL and routing on this checkout and, in the same run, on the base
commit (``--base``, checked out in a temporary ``git worktree``), each in a subprocess.
See bench/README.md for how to read the output.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = REPO / "examples" / "tpch" / "questions.yaml"
SCALE_FACTOR = 0.1
TARGET_MS = 1.0
TARGET = f"NL -> SQL <= {TARGET_MS:g} ms p50 and routing <= {TARGET_MS:g} ms p50, small beside the query"
BANK_FILES = (
    REPO / "tests" / "bank" / "tpch_single.yaml",
    REPO / "tests" / "bank" / "tpch_conversations.yaml",
)
# Where issue 12's work began: the parent of 58147a7, the first commit of the question bank.
DEFAULT_BASE = "48cdcfe"

# CLI questions: three single-space (one per space) and one cross-space.
CLI_QUESTIONS = (
    "What was total revenue in 1996?",
    "How many suppliers does each nation have?",
    "How many customers are there per region?",
    "How many customers and how many suppliers are there in each nation?",
)
SINGLE_QUESTION = "What was the revenue for each region between 1994 and 1996?"
CROSS_QUESTION = "What was revenue by region in 1995, and how many suppliers does each region have?"


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
    return statistics.median(values)


def time_ms(fn: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    """Call ``fn`` ``runs`` times; return each call's wall time in ms (perf_counter_ns) and the last result."""
    out: list[float] = []
    result = None
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        result = fn()
        out.append((time.perf_counter_ns() - t0) / 1e6)
    return out, result


def fmt_ms(ms: float) -> str:
    if ms != ms:  # NaN
        return "-"
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 10:
        return f"{ms:.1f} ms"
    return f"{ms:.3f} ms" if ms < 1 else f"{ms:.2f} ms"


def clean_env(home: Path) -> dict[str, str]:
    """The environment without any GENIE_AGENT_* setting of the user's, pointed at the bench home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENIE_AGENT_")}
    env["GENIE_AGENT_HOME"] = str(home)
    env["GENIE_AGENT_TPCH_SCALE_FACTOR"] = str(SCALE_FACTOR)
    env["GENIE_AGENT_VERIFIED_QUERIES"] = "false"
    return env


# --------------------------------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------------------------------
def generate_data(console: Any, settings: Any) -> None:
    from genie_agent.factory import database_path
    from genie_agent.spaces.catalog import load_catalog

    catalog = load_catalog(settings.catalog)
    for name, spec in catalog.databases.items():
        expected = settings.home / "data" / f"tpch-sf{settings.tpch_scale_factor:g}.duckdb"
        existed = spec.path is not None or expected.exists()
        t0 = time.perf_counter_ns()
        path = database_path(settings, name, spec, progress=False)
        ms = (time.perf_counter_ns() - t0) / 1e6
        size = path.stat().st_size / 1e6
        if existed:
            console.print(f"Database [b]{name}[/]: {path} ({size:.0f} MB) already present, not generated.")
        else:
            console.print(
                f"Database [b]{name}[/]: generated TPC-H SF {settings.tpch_scale_factor:g} "
                f"in [b]{fmt_ms(ms)}[/] ({size:.0f} MB) -> {path}"
            )


def cold_start(console: Any, settings: Any) -> None:
    """A fresh agent: make_agent, then the first ask (opens DuckDB, indexes vocabularies, builds the router)."""
    from genie_agent.factory import make_agent

    t0 = time.perf_counter_ns()
    agent = make_agent(settings, progress=False)
    build_ms = (time.perf_counter_ns() - t0) / 1e6
    t0 = time.perf_counter_ns()
    result = agent.ask(SINGLE_QUESTION)
    first_ms = (time.perf_counter_ns() - t0) / 1e6
    second, _ = time_ms(lambda: agent.ask(SINGLE_QUESTION), 1)

    # A second fresh agent, to split the first call: vocabulary indexing, router, then the turn.
    agent2 = make_agent(settings, progress=False)
    vocab_ms = {}
    for sid, space in agent2.spaces.items():
        t0 = time.perf_counter_ns()
        _ = space.vocabulary  # type: ignore[attr-defined]
        vocab_ms[sid] = (time.perf_counter_ns() - t0) / 1e6
    router_ms, _ = time_ms(lambda: agent2.router, 1)
    turn_ms, _ = time_ms(lambda: agent2.ask(SINGLE_QUESTION), 1)

    console.print(
        f"make_agent: {fmt_ms(build_ms)};  first agent.ask (cold, status={result.status}): "
        f"[b]{fmt_ms(first_ms)}[/];  the same question again: {fmt_ms(second[0])}"
    )
    parts = ", ".join(f"{sid} {fmt_ms(ms)}" for sid, ms in vocab_ms.items())
    console.print(
        f"  split on a second fresh agent: vocabulary indexing {fmt_ms(sum(vocab_ms.values()))} "
        f"({parts}); router {fmt_ms(router_ms[0])}; then the turn {fmt_ms(turn_ms[0])}"
    )
    console.print(
        "  (in-process, modules already imported. The first agent is the first to open the DuckDB file\n"
        "   and to use sqlglot's DuckDB dialect in this process; the second agent shares both.)"
    )


def per_question(console: Any, settings: Any, runs: int, query_runs: int) -> None:
    import yaml
    from rich.table import Table

    from genie_agent.factory import database_path, make_agent
    from genie_agent.spaces.catalog import load_catalog
    from genie_agent.spaces.local.executor import ReadOnlyExecutor
    from genie_agent.spaces.local.parser import parse_question
    from genie_agent.spaces.local.sql_guard import check_select
    from genie_agent.spaces.local.sqlgen import compile_plan

    cases = [c for c in yaml.safe_load(QUESTIONS.read_text()) if c["kind"] == "single"]
    agent = make_agent(settings, progress=False)
    databases = load_catalog(settings.catalog).databases
    executors: dict[Path, ReadOnlyExecutor] = {}

    def nl_to_sql(space: Any, question: str) -> str | None:
        vocabulary = space.vocabulary
        plan = parse_question(question, vocabulary).plan
        if plan.unknown_groupings:
            return None
        return compile_plan(space.definition, plan).sql

    spaces: dict[str, Any] = dict(agent.spaces)
    for space in spaces.values():  # index vocabularies before timing anything
        _ = space.vocabulary

    rows = []
    for case in cases:
        space = spaces[case["spaces"][0]]
        question = case["question"]
        try:
            sql = nl_to_sql(space, question)  # warm-up, and the SQL to execute
        except Exception as exc:
            rows.append((case, float("nan"), float("nan"), float("nan"), f"{type(exc).__name__}: {exc}"))
            continue
        gc.collect()
        nl_ms, _ = time_ms(partial(nl_to_sql, space, question), runs)
        if sql is None:
            rows.append((case, p50(nl_ms), float("nan"), float("nan"), "no SQL (unknown grouping)"))
            continue
        db = space.definition.database
        path = database_path(settings, db, databases[db], progress=False)  # the file the space queries
        if path not in executors:
            executors[path] = ReadOnlyExecutor(
                path, row_limit=settings.row_limit, timeout_s=settings.query_timeout_s
            )
        ex = executors[path]
        tables = space.definition.physical_tables
        try:
            q_ms, result = time_ms(partial(ex.execute, sql, tables), query_runs)
        except Exception as exc:
            rows.append((case, p50(nl_ms), float("nan"), float("nan"), f"{type(exc).__name__}: {exc}"))
            continue
        guard_ms, _ = time_ms(partial(check_select, sql, tables), runs)
        rows.append((case, p50(nl_ms), p50(q_ms), p50(guard_ms), f"{result.row_count} rows"))
    for ex in executors.values():
        ex.close()

    table = Table(
        title=f"Per question: {len(cases)} single-space cases, verified queries off "
        f"(NL -> SQL p50 of {runs}, query p50 of {query_runs})",
        title_justify="left",
    )
    table.add_column("#", justify="right")
    table.add_column("space")
    table.add_column("question", overflow="fold")
    table.add_column("NL->SQL p50", justify="right")
    table.add_column("query p50", justify="right")
    table.add_column("nl2sql/query", justify="right")
    table.add_column("guard p50", justify="right")
    table.add_column("result")
    for i, (case, nl, q, g, note) in enumerate(rows, 1):
        ratio = nl / q if q == q and q > 0 else float("nan")
        table.add_row(
            str(i),
            case["spaces"][0],
            case["question"],
            fmt_ms(nl),
            fmt_ms(q),
            "-" if ratio != ratio else f"{ratio:.3f}",
            fmt_ms(g),
            note,
        )
    console.print(table)

    nls = [nl for _, nl, _, _, _ in rows if nl == nl]
    qs = [q for _, _, q, _, _ in rows if q == q]
    guards = [g for _, _, _, g, _ in rows if g == g]
    ratios = [nl / q for _, nl, q, _, _ in rows if nl == nl and q == q and q > 0]
    failed = len(rows) - len(ratios)
    nl_p50, nl_p95 = percentile(nls, 50), percentile(nls, 95)
    verdict = "met" if nl_p50 <= TARGET_MS else "NOT met"
    console.print("[b]Summary across questions[/] (of the per-question p50s):")
    console.print(f"  NL -> SQL   p50 {fmt_ms(nl_p50)}   p95 {fmt_ms(nl_p95)}   max {fmt_ms(max(nls))}")
    console.print(f"  query       p50 {fmt_ms(percentile(qs, 50))}   p95 {fmt_ms(percentile(qs, 95))}")
    console.print(f"  nl2sql/query p50 {percentile(ratios, 50):.3f}   p95 {percentile(ratios, 95):.3f}")
    console.print(
        f"  (query = executor.execute: SQL guard + DuckDB; the guard alone p50 "
        f"{fmt_ms(percentile(guards, 50))}, p95 {fmt_ms(percentile(guards, 95))})"
    )
    console.print(
        f"  Target: {TARGET}  ->  NL -> SQL {TARGET_MS:g} ms p50: {verdict}; NL -> SQL is "
        f"{100 * percentile(ratios, 50):.1f}% of the query time at p50"
    )
    if failed:
        console.print(f"  [red]{failed} question(s) produced no timed query; see the result column.[/]")


def in_process_turns(console: Any, settings: Any, runs: int) -> None:
    from genie_agent.factory import make_agent

    agent = make_agent(settings, progress=False)
    agent.ask(SINGLE_QUESTION)  # warm: vocabularies, router, DuckDB open
    lines = []
    for label, question in (("single-space", SINGLE_QUESTION), ("cross-space", CROSS_QUESTION)):
        statuses: set[str] = set()

        def turn(q: str = question, seen: set[str] = statuses) -> Any:
            r = agent.ask(q)
            seen.add(r.status)
            return r

        turn()
        ms, result = time_ms(turn, runs)
        spaces = ",".join(result.route.domains)
        lines.append(
            f"  {label:<13} p50 [b]{fmt_ms(p50(ms))}[/]  p95 {fmt_ms(percentile(ms, 95))}  "
            f"(spaces {spaces}; status {'/'.join(sorted(statuses))}; "
            f"route {fmt_ms(result.timings_ms.get('route', float('nan')))} of the last turn)"
        )
        lines.append(f"      {question}")
    console.print(f"[b]In-process agent.ask, warm[/] ({runs} turns each, each a new thread):")
    for line in lines:
        console.print(line)


def cli_wall_time(console: Any, home: Path, runs: int) -> None:
    from rich.table import Table

    py = sys.executable
    exe = Path(py).parent / "genie-agent"
    cli = [str(exe)] if exe.exists() else [shutil.which("genie-agent") or "genie-agent"]
    env = clean_env(home)
    commands: dict[str, Callable[[int], list[str]]] = {
        'python -c "pass"': lambda i: [py, "-c", "pass"],
        'python -c "import genie_agent"': lambda i: [py, "-c", "import genie_agent"],
        'python -c "import genie_agent_cli.main"': lambda i: [py, "-c", "import genie_agent_cli.main"],
        "python -c <import SDK ask path>": lambda i: [py, "-c", SDK_IMPORTS],
        "genie-agent ask --json Q": lambda i: [*cli, "ask", "--json", CLI_QUESTIONS[i % len(CLI_QUESTIONS)]],
    }
    times: dict[str, list[float]] = defaultdict(list)
    problems: list[str] = []
    for cmd in commands.values():  # one untimed run each: warm the OS cache and .pyc files
        subprocess.run(cmd(0), env=env, capture_output=True, check=False)
    for i in range(runs):  # interleaved, so drift in machine load hits every row alike
        for label, cmd in commands.items():
            t0 = time.perf_counter_ns()
            proc = subprocess.run(cmd(i), env=env, capture_output=True, text=True, check=False)
            times[label].append((time.perf_counter_ns() - t0) / 1e6)
            if proc.returncode != 0:
                problems.append(f"{label} (run {i}): exit {proc.returncode}: {proc.stderr.strip()[:200]}")
            elif label.startswith("genie-agent"):
                status = json.loads(proc.stdout).get("status")
                if status not in ("ok", "partial"):
                    problems.append(f"{CLI_QUESTIONS[i % len(CLI_QUESTIONS)]!r}: status {status}")

    cli_label = "genie-agent ask --json Q"
    base_pass = p50(times['python -c "pass"'])
    base_import = p50(times['python -c "import genie_agent"'])
    table = Table(
        title=f"Subprocess wall time ({runs} runs each, interleaved; Q cycles over "
        f"{len(CLI_QUESTIONS)} questions)",
        title_justify="left",
    )
    for col, just in (
        ("command", "left"),
        ("p50", "right"),
        ("p95", "right"),
        ("/ python pass", "right"),
        ("/ import genie_agent", "right"),
    ):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for label, ms in times.items():
        m = p50(ms)
        table.add_row(
            label, fmt_ms(m), fmt_ms(percentile(ms, 95)), f"{m / base_pass:.1f}x", f"{m / base_import:.1f}x"
        )
    console.print(table)
    cli_p50 = p50(times[cli_label])
    console.print(
        f"  genie-agent ask p50 minus interpreter start-up: {fmt_ms(cli_p50 - base_pass)} "
        f"(interpreter start-up is {100 * base_pass / cli_p50:.0f}% of the CLI's wall time)"
    )
    for q in CLI_QUESTIONS:
        console.print(f"  Q: {q}")
    for p in problems:
        console.print(f"  [red]{p}[/]")


SDK_IMPORTS = (
    "import genie_agent_cli.main, genie_agent_cli.render, genie_agent.factory, "
    "genie_agent.spaces.local.engine, duckdb"
)

# Run in a subprocess: the phases of one `genie-agent ask --json` as the CLI does them, timed.
_PHASES = """
import time, sys
t0 = t = time.perf_counter(); out = {}
def lap(name):
    global t
    now = time.perf_counter(); out[name] = (now - t) * 1000; t = now
import genie_agent_cli.main, genie_agent_cli.render, genie_agent.config, genie_agent.factory
import genie_agent.spaces.local.engine, duckdb, json
lap("imports")
settings = genie_agent.config.load_settings(); lap("load_settings")
agent = genie_agent.factory.make_agent(settings); lap("make_agent")
result = agent.ask(sys.argv[1]); lap("agent.ask")
json.dumps(result.to_dict(), default=str); lap("to_json")
out["of which route (vocabulary, router)"] = result.timings_ms["route"]
print(json.dumps(out))
"""


def cli_phases(console: Any, home: Path, runs: int = 3) -> None:
    phases: dict[str, list[float]] = defaultdict(list)
    for _ in range(runs):
        proc = subprocess.run(
            [sys.executable, "-c", _PHASES, CLI_QUESTIONS[0]],
            env=clean_env(home),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            console.print(f"  [red]phase run failed: {proc.stderr.strip()[:300]}[/]")
            return
        for k, v in json.loads(proc.stdout).items():
            phases[k].append(v)
    console.print(
        f"[b]Where one `ask --json` goes[/] (the CLI's steps timed inside a subprocess, p50 of {runs}; "
        f"add interpreter start-up):"
    )
    console.print("  " + ";  ".join(f"{k} {fmt_ms(p50(v))}" for k, v in phases.items()))


_IMPORTTIME = re.compile(r"import time:\s+(\d+)\s*\|\s*(\d+)\s*\|(\s*)(\S+)")


def import_costs(console: Any, home: Path, top: int = 12) -> None:
    """One ``-X importtime`` run of the whole `ask --json` path; self time summed per top-level package."""
    code = (
        "import sys; from genie_agent_cli.main import cli; "
        f"sys.argv = ['genie-agent', 'ask', '--json', {CLI_QUESTIONS[0]!r}]; cli()"
    )
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        env=clean_env(home),
        capture_output=True,
        text=True,
        check=False,
    )
    by_root: dict[str, int] = defaultdict(int)
    for line in proc.stderr.splitlines():
        m = _IMPORTTIME.match(line)
        if m:
            by_root[m.group(4).split(".")[0]] += int(m.group(1))
    total = sum(by_root.values())
    ranked = sorted(by_root.items(), key=lambda kv: -kv[1])[:top]
    console.print(
        f"[b]Imports on the `ask --json` path[/] (one run of python -X importtime; self time summed "
        f"per top-level package; total {total / 1000:.0f} ms over {len(by_root)} packages):"
    )
    console.print("  " + ", ".join(f"{name} {us / 1000:.0f} ms" for name, us in ranked))


# --------------------------------------------------------------------------------------------------
# NL -> SQL and routing, this checkout vs. the base commit
# --------------------------------------------------------------------------------------------------
def question_sets() -> dict[str, tuple[list[tuple[str, str]], list[str]]]:
    """Per set, the (space, question) pairs timed for NL -> SQL and the questions timed for routing.

    *examples*: the single-space cases of examples/tpch/questions.yaml (NL -> SQL, as in section 3)
    and the first question of every case (routing). *bank*: the same from the TPC-H question banks,
    which ask every shape issue 12 added. Both commits are timed on these same questions.
    """
    import yaml

    def first_question(case: dict[str, Any]) -> str:
        return str(case["question"] if "question" in case else case["turns"][0]["question"])

    out = {}
    for name, files in (("examples", (QUESTIONS,)), ("bank", BANK_FILES)):
        cases = [c for f in files for c in yaml.safe_load(f.read_text()) or []]
        single = [(c["spaces"][0], c["question"]) for c in cases if c["kind"] == "single"]
        out[name] = (single, [first_question(c) for c in cases])
    return out


def measure_core(settings: Any, runs: int) -> dict[str, Any]:
    """Per-question p50s of NL -> SQL (``parse_question`` + ``compile_plan``) and of ``Router.route``.

    Runs in a subprocess per commit (``--measure-core``), so only what both commits have is used. A
    question the compiler refuses is timed up to the refusal and counted in ``refused``.
    """
    import genie_agent
    from genie_agent.factory import make_agent
    from genie_agent.spaces.local.parser import parse_question
    from genie_agent.spaces.local.sqlgen import compile_plan

    agent = make_agent(settings, progress=False)
    spaces: dict[str, Any] = dict(agent.spaces)
    for space in spaces.values():  # index vocabularies and build the router before timing
        _ = space.vocabulary
    router = agent.router

    def nl_to_sql(space: Any, question: str) -> str | None:
        try:
            return str(compile_plan(space.definition, parse_question(question, space.vocabulary).plan).sql)
        except Exception:
            return None

    out: dict[str, Any] = {"genie_agent": genie_agent.__file__, "sets": {}}
    for name, (single, routed) in question_sets().items():
        nl, route, refused = [], [], 0
        for sid, question in single:
            space = spaces[sid]
            refused += nl_to_sql(space, question) is None  # warm-up
            gc.collect()
            ms, _ = time_ms(partial(nl_to_sql, space, question), runs)
            nl.append(p50(ms))
        for question in routed:
            router.route(question)
            ms, _ = time_ms(partial(router.route, question), runs)
            route.append(p50(ms))
        out["sets"][name] = {"nl_sql": nl, "route": route, "refused": refused}
    return out


def _git(*args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def _child_figures(tree: Path, home: Path, runs: int) -> dict[str, Any]:
    """``measure_core`` in a subprocess that imports genie_agent from ``tree``/sdk, with ``tree``'s
    example catalog; fails when the import came from anywhere else."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        env = {**clean_env(home), "PYTHONPATH": str(tree / "sdk")}
        command = [sys.executable, str(Path(__file__).resolve()), "--measure-core", out.name]
        command += ["--home", str(home), "--catalog", str(tree / "examples" / "tpch" / "catalog.yaml")]
        command += ["--compare-runs", str(runs)]
        proc = subprocess.run(command, env=env, cwd=home, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"the bench at {tree} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
        figures: dict[str, Any] = json.loads(Path(out.name).read_text())
    if not Path(figures["genie_agent"]).resolve().is_relative_to((tree / "sdk").resolve()):
        raise SystemExit(f"the bench for {tree} imported genie_agent from {figures['genie_agent']}")
    return figures


def compare_with_base(console: Any, home: Path, base: str, runs: int) -> None:
    """Time this checkout and ``base`` (a temporary git worktree, removed afterwards) one after the
    other, each in a subprocess of its own, on the same questions and the same TPC-H file."""
    head_rev = _git("rev-parse", "--short", "HEAD")
    base_rev = _git("rev-parse", "--short", f"{base}^{{commit}}")
    dirty = " + uncommitted changes" if _git("status", "--porcelain", "--", "sdk", "examples") else ""
    with tempfile.TemporaryDirectory(prefix="bench-base-") as tmp:
        tree = Path(tmp) / "tree"
        _git("worktree", "add", "--detach", "--quiet", str(tree), base_rev)
        try:
            base_home = Path(tmp) / "home"  # its own home (value caches), the same TPC-H file
            (base_home / "data").mkdir(parents=True)
            for data in (home / "data").glob("*.duckdb"):
                (base_home / "data" / data.name).symlink_to(data)
            head = _child_figures(REPO, home, runs)
            old = _child_figures(tree, base_home, runs)
        finally:
            _git("worktree", "remove", "--force", str(tree))
    console.print(
        f"[b]NL -> SQL and routing[/]: this checkout (HEAD {head_rev}{dirty}) vs. base {base_rev} "
        f"(git worktree), each in a subprocess; p50 / p95 of the per-question p50s of {runs} runs"
    )
    console.print(f"  genie_agent from {head['genie_agent']} and {old['genie_agent']}")
    _print_comparison(console, head, old)


def _print_comparison(console: Any, head: dict[str, Any], base: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title_justify="left")
    for col, just in (("figure", "left"), ("questions", "right"), ("head p50", "right"), ("base p50", "right"),
                      ("head/base", "right"), ("head p95", "right"), ("base p95", "right"), ("head/base ", "right")):  # fmt: skip
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    verdicts = []
    for name in head["sets"]:
        h, b = head["sets"][name], base["sets"][name]
        for key, label in (("nl_sql", "NL -> SQL"), ("route", "routing")):
            hp50, bp50 = percentile(h[key], 50), percentile(b[key], 50)
            hp95, bp95 = percentile(h[key], 95), percentile(b[key], 95)
            table.add_row(
                f"{label} ({name})",
                str(len(h[key])),
                fmt_ms(hp50),
                fmt_ms(bp50),
                f"{hp50 / bp50:.2f}x",
                fmt_ms(hp95),
                fmt_ms(bp95),
                f"{hp95 / bp95:.2f}x",
            )
            verdicts.append(f"{label} ({name}) {'met' if hp50 <= TARGET_MS else 'NOT met'}")
        refused = f"compiler refused {h['refused']} (head) / {b['refused']} (base) of {len(h['nl_sql'])}"
        table.add_row(f"  ({name}: {refused})", "", "", "", "", "", "", "")
    console.print(table)
    console.print(f"  Target: {TARGET_MS:g} ms p50 for each on this checkout -> " + "; ".join(verdicts))


# --------------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--home",
        type=Path,
        help="genie-agent home to use and keep (default: a temporary "
        "directory under .bench-home/, deleted afterwards)",
    )
    parser.add_argument(
        "--runs", type=int, default=50, help="NL -> SQL repetitions per question (default 50)"
    )
    parser.add_argument("--query-runs", type=int, default=5, help="query executions per question (default 5)")
    parser.add_argument(
        "--cli-runs", type=int, default=10, help="runs of each subprocess command (default 10)"
    )
    parser.add_argument(
        "--ask-runs", type=int, default=20, help="warm in-process agent.ask turns (default 20)"
    )
    parser.add_argument(
        "--base",
        default=DEFAULT_BASE,
        help=f"commit to time NL -> SQL and routing against, from a temporary git worktree "
        f"(default {DEFAULT_BASE}: where issue 12's work began)",
    )
    parser.add_argument("--no-base", action="store_true", help="skip the comparison with the base commit")
    parser.add_argument(
        "--compare-only", action="store_true", help="only the example data and the comparison with the base"
    )
    parser.add_argument(
        "--compare-runs", type=int, default=20, help="repetitions per question in the comparison (default 20)"
    )
    # Internal: the comparison's subprocesses (one per commit) write their figures as JSON here.
    parser.add_argument("--measure-core", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--catalog", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure_core:
        return _measure_core_main(args)

    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 180, highlight=False)
    temporary = args.home is None
    if temporary:
        (REPO / ".bench-home").mkdir(exist_ok=True)
        home = Path(tempfile.mkdtemp(prefix="run-", dir=REPO / ".bench-home"))
    else:
        home = args.home.expanduser().resolve()
        home.mkdir(parents=True, exist_ok=True)
    # Settings read the environment (and a config file found through it): use a clean, pinned one.
    for key in [k for k in os.environ if k.startswith("GENIE_AGENT_")]:
        del os.environ[key]
    os.environ.update({k: v for k, v in clean_env(home).items() if k.startswith("GENIE_AGENT_")})

    # Imported up front so no in-process figure pays for imports (section 5 shows what they cost).
    import duckdb  # noqa: F401

    import genie_agent.factory
    import genie_agent.spaces.local.engine  # noqa: F401
    from genie_agent.config import load_settings

    settings = load_settings(home=home, verified_queries=False, tpch_scale_factor=SCALE_FACTOR)
    started = time.perf_counter()
    console.rule("genie-agent ask benchmark")
    console.print(
        f"home {home}{' (temporary)' if temporary else ''}; python {sys.version.split()[0]}; "
        f"{os.cpu_count()} CPUs; verified queries off"
    )
    try:
        console.rule("1. Example data")
        generate_data(console, settings)
        if not args.compare_only:
            console.rule("2. Cold start (in-process)")
            cold_start(console, settings)
            console.rule("3. NL -> SQL vs. query, per question")
            per_question(console, settings, args.runs, args.query_runs)
            console.rule("4. In-process turns")
            in_process_turns(console, settings, args.ask_runs)
            console.rule("5. CLI wall time")
            cli_wall_time(console, home, args.cli_runs)
            cli_phases(console, home)
            import_costs(console, home)
        if not args.no_base:
            console.rule("6. NL -> SQL and routing: this checkout vs. the base commit")
            compare_with_base(console, home, args.base, args.compare_runs)
    finally:
        if temporary:
            shutil.rmtree(home, ignore_errors=True)
    console.rule(f"done in {time.perf_counter() - started:.1f} s")
    return 0


def _measure_core_main(args: argparse.Namespace) -> int:
    """The comparison's subprocess: ``measure_core`` on the genie_agent PYTHONPATH gives, as JSON."""
    from genie_agent.config import load_settings

    home = args.home.expanduser().resolve()
    settings = load_settings(
        home=home, verified_queries=False, tpch_scale_factor=SCALE_FACTOR, catalog=args.catalog
    )
    args.measure_core.write_text(json.dumps(measure_core(settings, args.compare_runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
