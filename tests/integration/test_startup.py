"""What one `genie-agent ask --json` process loads and leaves behind (bench/bench_startup.py times it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

QUESTION = "What was total revenue in 1996?"  # a verified query: the same SQL every time
# The CLI as its console script runs it, then the packages it loaded, as JSON on stderr.
_ASK = (
    "import sys, json, atexit\n"
    "from genie_agent_cli.main import cli\n"
    "atexit.register(lambda: sys.stderr.write(json.dumps(sorted({m.split('.')[0] for m in sys.modules}))))\n"
    "sys.argv = ['genie-agent', 'ask', '--json', sys.argv[1]]\n"
    "cli()"
)


def ask(home: Path, question: str = QUESTION) -> tuple[dict, set[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENIE_AGENT_")}
    env["GENIE_AGENT_HOME"] = str(home)
    proc = subprocess.run(
        [sys.executable, "-c", _ASK, question], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), set(json.loads(proc.stderr.splitlines()[-1]))


def test_sql_the_guard_accepted_before_is_run_without_importing_sqlglot(cli_home: Path) -> None:
    first, loaded_first = ask(cli_home)
    second, loaded_second = ask(cli_home)
    assert first["status"] == second["status"] == "ok"
    assert first["results"][0]["rows"] == second["results"][0]["rows"]
    assert "sqlglot" in loaded_first
    assert "sqlglot" not in loaded_second
    assert "duckdb" in loaded_second  # the query still ran


def test_the_catalog_parsed_before_is_read_without_importing_yaml(cli_home: Path) -> None:
    assert "yaml" in ask(cli_home)[1]
    assert "yaml" not in ask(cli_home)[1]


def test_sql_refused_once_is_refused_again(cli_home: Path) -> None:
    for _ in range(2):
        result, _ = ask(cli_home, "Drop the customer table.")
        assert result["status"] == "refused"


def test_ask_json_loads_no_terminal_ui_tracing_or_workspace_client(cli_home: Path) -> None:
    _, loaded = ask(cli_home)
    assert loaded.isdisjoint({"rich", "textual", "mlflow", "databricks", "httpx", "openai"}), loaded


def test_the_process_closes_its_databases_at_exit(cli_home: Path) -> None:
    ask(cli_home)
    assert {p.name for p in cli_home.glob("*.sqlite")} == {"genie_conversations.sqlite", "memory.sqlite"}
    # SQLite removes a WAL file when its last connection closes: none was left open.
    assert [p.name for p in cli_home.glob("*.sqlite-*")] == []


def test_a_memory_file_set_up_before_is_used_without_importing_langgraph(cli_home: Path) -> None:
    assert "langgraph" in ask(cli_home)[1]  # a new file: LangGraph sets its tables up
    loaded = ask(cli_home)[1]
    assert loaded.isdisjoint({"langgraph", "langchain_core", "numpy", "requests"}), loaded


# An object that says when it is deleted (the teardown of a process that exits as Python does clears
# sys.modules), and an exit hook registered before the CLI's when argv[2] says so, which must still run.
_TEARDOWN = (
    "import sys, atexit\n"
    "class Said:\n"
    "    def __del__(self, err=sys.stderr): err.write('torn down\\n')\n"
    "sys.modules['_said'] = Said()\n"
    "if sys.argv[2] == 'hook-first': atexit.register(lambda: sys.stderr.write('earlier hook ran\\n'))\n"
    "from genie_agent_cli.main import cli\n"
    "sys.argv = ['genie-agent', 'ask', '--json', sys.argv[1]]\n"
    "cli()"
)


def _run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENIE_AGENT_")}
    env["GENIE_AGENT_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-c", _TEARDOWN, *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_an_ask_that_closed_everything_leaves_without_collecting_or_tearing_down(cli_home: Path) -> None:
    done = _run(cli_home, QUESTION, "cli-first")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "ok"  # flushed before leaving
    assert "torn down" not in done.stderr
    assert [p.name for p in cli_home.glob("*.sqlite-*")] == []  # closed, not collected


def test_an_exit_hook_registered_before_the_cli_still_runs(cli_home: Path) -> None:
    done = _run(cli_home, QUESTION, "hook-first")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "ok"
    assert "earlier hook ran" in done.stderr
    assert [p.name for p in cli_home.glob("*.sqlite-*")] == []


def test_an_ask_in_process_gives_the_collector_back(cli_home: Path, monkeypatch) -> None:
    import gc

    from click.testing import CliRunner

    from genie_agent_cli import process_exit
    from genie_agent_cli.main import cli

    monkeypatch.setenv("GENIE_AGENT_HOME", str(cli_home))
    result = CliRunner().invoke(cli, ["ask", "--json", QUESTION])
    assert result.exit_code == 0, result.output
    assert gc.isenabled()
    assert process_exit._closed_exit == []  # not this process's command line: it exits as before


def test_a_process_started_to_ask_imports_the_cli_with_the_collector_off() -> None:
    probe = "import gc, genie_agent_cli.main; print(gc.isenabled())"
    for command, enabled in (("ask", "False"), ("config", "True")):
        done = subprocess.run(
            [sys.executable, "-c", probe, command], capture_output=True, text=True, timeout=60
        )
        assert done.stdout.strip() == enabled, (command, done.stderr)
