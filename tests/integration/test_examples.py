"""The examples under examples/scripts/ run as a new user runs them: `python examples/scripts/NN_name.py`,
each in a fresh process (this venv's python, no PYTHONPATH, a temp working directory, a home of its own
whose example TPC-H database is the session's one file), all at once, and each says what it should.

The example for any target runs against the agent in-process, a real `genie-agent serve` and an address
nobody answers; the Databricks notebook runs its cells against `genie-agent genie-server` (the stand-in
workspace: Genie API and SCIM Me), its `%pip` and `dbutils` aside. The README's shortest script runs
the same way, and once more in a fresh virtual environment after installing the wheel (the slowest
test here: that install is most of its minute).
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.servers import CLI, free_port, start_server

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "examples" / "scripts"
NOTEBOOK = SCRIPTS / "07_databricks_notebook.py"
NEEDS_A_WORKSPACE = {NOTEBOOK.name}
TOKEN = "ann-examples-token"
USERS = f"users:\n  ann: {{token: {TOKEN}}}\n"
_CLEARED = ("GENIE_AGENT_", "MLFLOW_", "DATABRICKS_")


@dataclass
class Run:
    """One example's process: what it printed and how long it took."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def says(self, *lines: str) -> list[str]:
        """What is wrong: the exit code, and each expected text missing from stdout."""
        problems = [] if self.returncode == 0 else [f"exit {self.returncode}"]
        return problems + [f"missing {line!r}" for line in lines if line not in self.stdout]


@dataclass
class Example:
    """An example to run: its script and arguments, extra environment, and what it must print."""

    name: str
    argv: list[str]
    expect: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    check: Callable[[Run, Path], list[str]] | None = None
    server: str | None = None  # "serve" or "genie-server": started first, its URL in env as {url}


def _home(base: Path, tpch_db: Path) -> Path:
    home = base / "home"
    (home / "data").mkdir(parents=True)
    (home / "data" / "tpch-sf0.1.duckdb").symlink_to(tpch_db)
    return home


def _env(home: Path, workdir: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CLEARED) and k != "PYTHONPATH"}
    env.update(GENIE_AGENT_HOME=str(home), TMPDIR=str(workdir / "tmp"), **extra)
    (workdir / "tmp").mkdir(exist_ok=True)
    return env


def _run(python: str, argv: list[str], workdir: Path, env: dict[str, str], timeout: float = 180) -> Run:
    started = time.monotonic()
    done = subprocess.run(
        [python, *argv], cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return Run(argv, done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def _run_example(example: Example, base: Path, tpch_db: Path) -> Run:
    workdir = base / example.name
    workdir.mkdir()
    env = dict(example.env)
    proc = None
    if example.server is not None:
        command = [CLI, example.server] if example.server == "genie-server" else None
        server_home = _home(workdir / "server", tpch_db)
        proc, url = start_server(server_home, workdir / "server", USERS, command=command)
        env = {k: v.format(url=url) for k, v in env.items()}
    try:
        return _run(sys.executable, example.argv, workdir, _env(_home(workdir, tpch_db), workdir, env))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)


def readme_script() -> str:
    """The shortest working script of the README's "Use it from Python": its first Python block."""
    section = (ROOT / "README.md").read_text().split("\n## Use it from Python\n", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, "README's 'Use it from Python' has no Python block"
    return match.group(1)


# Runs the notebook's cells in order in one namespace, as Databricks does (its %pip and markdown cells
# are comments to Python; dbutils and display are the notebook's globals), and prints what they made.
_NOTEBOOK_RUNNER = """
import sys, types
source = open(sys.argv[1]).read()
scope = {
    "__name__": "__main__",
    "dbutils": types.SimpleNamespace(library=types.SimpleNamespace(restartPython=lambda: None)),
    "display": lambda frame: print(frame.to_string(index=False)),
}
for cell in source.split("# COMMAND ----------"):
    exec(compile(cell, sys.argv[1], "exec"), scope)
for name in ("result", "follow_up"):
    turn = scope[name]
    print(f"{name}: {turn.status} {turn.source} {','.join(turn.domains)} {turn.route.kind}")
"""


def _chart(run: Run, workdir: Path) -> list[str]:
    png = (
        workdir
        / "03_dataframes_and_chart"
        / "tmp"
        / "genie-agent-examples"
        / "revenue_and_suppliers_by_region.png"
    )
    if not png.is_file() or png.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
        return [f"no PNG at {png}"]
    return [] if str(png) in run.stdout else ["the chart's path is not printed"]


def _examples(no_matplotlib: Path) -> list[Example]:
    script = lambda name: str(SCRIPTS / f"{name}.py")  # noqa: E731
    return [
        # the longest first: the others run beside it
        Example(
            "06_evaluate",
            [script("06_evaluate"), "--quick"],
            (
                "Evaluating 5 case(s) of eval.yaml",
                "PASS  followup",
                "ok    result_correctness",
                "gate PASSED",
            ),
        ),
        Example(
            "01_ask_and_follow_up",
            [script("01_ask_and_follow_up")],
            (
                "Q: How many orders were placed in 1996?\nA: **Sales**",
                "orders: 22,715",
                "orders: 22,909",
                "route follow_up",
            ),
        ),
        Example(
            "02_stream_progress",
            [script("02_stream_progress")],
            (
                "route: sales, supply (cross_domain)",
                "sales: asking 'What was revenue by region in 1995'",
                "supply: 5 row(s)",
                "answer:\n**Sales** — revenue by region (1995)",
                "chart: bar of revenue (sales) by region",
                "done: ok, 2 space result(s)",
            ),
        ),
        Example(
            "03_dataframes_and_chart",
            [script("03_dataframes_and_chart")],
            (
                "sales (5 rows; region: string, revenue: float64)",
                "supply (5 rows; region: string, suppliers: Int64)",
                "combined (5 rows; region: string, revenue (sales): float64, suppliers (supply): Int64)",
                "     AFRICA   639,835,184.38                 179",
                "Suggested chart: bar of 'revenue (sales)' by 'region'",
            ),
            check=_chart,
        ),
        Example(  # without matplotlib: the tables all the same, and a word instead of the chart
            "03_without_matplotlib",
            [script("03_dataframes_and_chart")],
            ("combined (5 rows;", "matplotlib is not installed, so no chart is drawn"),
            env={"PYTHONPATH": str(no_matplotlib)},
        ),
        Example(
            "04_any_target_local",
            [script("04_any_target")],
            ("target: embedded", "source: local", " ETHIOPIA 137,674,338.27", "follow-up (follow_up):"),
        ),
        Example(
            "04_any_target_serve",
            [script("04_any_target")],
            ("target: http://127.0.0.1:", " ETHIOPIA 137,674,338.27", "follow-up (follow_up): **Sales**"),
            env={"GENIE_AGENT_TARGET": "{url}", "GENIE_AGENT_TOKEN": TOKEN},
            server="serve",
        ),
        Example(
            "04_any_target_unreachable",
            [script("04_any_target")],
            env={"GENIE_AGENT_TARGET": f"http://127.0.0.1:{free_port()}"},
            check=lambda run, _: (
                []
                if run.returncode == 1 and "Start the server" in run.stderr
                else [f"exit {run.returncode}, not 1 with the hint: {run.stderr[-300:]}"]
            ),
        ),
        Example(
            "05_memories",
            [script("05_memories")],
            (
                "memories (0):",
                "(memory: saved)",
                "  - [preference] Only region EUROPE  (id pref-filter-region)",
                "customers by nation (region = EUROPE)",
                "forget pref-filter-region: True",
                "memories (0):\n  (none)\n",
            ),
        ),
        Example("readme_script", ["-c", readme_script()], ("orders: 22,715",)),
        Example(
            "07_databricks_notebook",
            ["-c", _NOTEBOOK_RUNNER, str(NOTEBOOK)],
            ("result: ok genie sales,supply cross_domain", "follow_up: ok genie sales,supply follow_up"),
            env={
                "DATABRICKS_HOST": "{url}",
                "DATABRICKS_TOKEN": TOKEN,
                "DATABRICKS_CONFIG_FILE": "/nonexistent/.databrickscfg",
            },
            server="genie-server",
        ),
    ]


def test_every_example_runs_as_a_new_user_runs_it(tpch_db, tmp_path):
    no_matplotlib = tmp_path / "no-matplotlib"
    (no_matplotlib / "matplotlib").mkdir(parents=True)
    (no_matplotlib / "matplotlib" / "__init__.py").write_text("raise ImportError('no matplotlib here')\n")
    examples = _examples(no_matplotlib)
    scripts = {Path(arg).name for e in examples for arg in e.argv if arg.startswith(str(SCRIPTS))}
    assert scripts | NEEDS_A_WORKSPACE == {p.name for p in SCRIPTS.glob("*.py")}, "an example no test runs"

    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = list(
            zip(examples, pool.map(lambda e: _run_example(e, tmp_path, tpch_db), examples), strict=True)
        )
    problems = {}
    for example, run in runs:
        wrong = example.check(run, tmp_path) if example.check else []
        if example.check is None or example.expect:
            wrong += run.says(*example.expect)
        if wrong:
            problems[example.name] = (
                f"{'; '.join(wrong)}\n--- stdout\n{run.stdout[-2000:]}\n--- stderr\n{run.stderr[-2000:]}"
            )
    timings = ", ".join(f"{e.name} {r.seconds:.1f} s" for e, r in runs)
    assert not problems, "\n\n".join(f"== {name}: {text}" for name, text in problems.items()) + f"\n{timings}"


def test_the_notebook_is_a_databricks_source_notebook():
    source = NOTEBOOK.read_text()
    assert source.startswith("# Databricks notebook source\n")
    cells = source.split("\n# COMMAND ----------\n")
    assert len(cells) >= 6 and all(cell.strip() for cell in cells)
    (pip,) = [cell for cell in cells if "# MAGIC %pip" in cell]
    assert re.fullmatch(r'\s*# MAGIC %pip install "[^"]+\.whl\[databricks\]"\s*', pip), pip
    assert "dbutils.library.restartPython()" in cells[cells.index(pip) + 1]
    ast.parse(source, str(NOTEBOOK))  # every cell is Python (the magics are comments)


# What a checkout needs to install: the packaging files and the package directories (pyproject's package-dir).
_CHECKOUT = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "constraints.txt")
_PACKAGE_DIRS = ("sdk", "deploy_scripts", "tui", "examples", "agent_model")


def test_the_readme_script_works_in_a_fresh_virtual_environment(tmp_path):
    """The README's install command (`pip install -c constraints.txt -e .`, what `make demo` runs) into a
    new virtual environment — no system site-packages, nothing of this one's — then its shortest script.

    The checkout is copied, so the install builds nothing in this tree. pip is this venv's, pointed at
    the new one (`--python`), with the repository's pip cache (the Makefile's .cache/pip) and the
    machine's pip configuration; `--no-compile` skips byte-compiling ~100 packages nobody runs here.
    The example data is generated by the new environment's own DuckDB, as on a first run.
    """
    checkout = tmp_path / "checkout"
    for name in _CHECKOUT:
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        (checkout / name).write_bytes((ROOT / name).read_bytes())
    for name in _PACKAGE_DIRS:
        shutil.copytree(ROOT / name, checkout / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("PIP_CACHE")}
    env.update(PIP_CACHE_DIR=str(ROOT / ".cache" / "pip"), PIP_DISABLE_PIP_VERSION_CHECK="1")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-compile"]
    install = subprocess.run(
        [*pip, "-c", "constraints.txt", "-e", "."],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-3000:]

    workdir = tmp_path / "work"
    workdir.mkdir()
    script = readme_script() + "\nprint('genie_agent from', genie_agent.__file__)\n"
    run = _run(str(python), ["-c", script], workdir, _env(tmp_path / "home", workdir, {}))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "orders: 22,715" in run.stdout
    assert f"genie_agent from {checkout}/sdk/genie_agent/__init__.py" in run.stdout  # the new install's
    assert (tmp_path / "home" / "data" / "tpch-sf0.1.duckdb").is_file()
