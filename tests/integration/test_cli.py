"""`genie-agent` as users run it: real processes, exit codes, one JSON object, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import open_readonly

CLI = str(Path(sys.executable).parent / "genie-agent")


def run(
    *args: str, home: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GENIE_AGENT_")}
    environ.update({"GENIE_AGENT_HOME": str(home), **(env or {})})
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=environ, timeout=timeout)


def test_ask_json_prints_one_turn_result(cli_home):
    proc = run("ask", "--json", "How many customers are in the AUTOMOBILE segment?", home=cli_home)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)  # the whole stdout is exactly one JSON object
    assert result["status"] == "ok" and result["domain"] == "customers"
    (table,) = result["results"]
    assert table["columns"] == ["customers"] and isinstance(table["rows"][0][0], int)
    assert str(f"{table['rows'][0][0]:,}") in result["text"]


def test_ask_prints_answer_and_table_for_people(cli_home):
    proc = run("ask", "Top 3 nations by revenue in 1995", home=cli_home)
    assert proc.returncode == 0, proc.stderr
    assert "MOZAMBIQUE" in proc.stdout and "revenue" in proc.stdout
    assert "--thread-id" in proc.stdout


def test_followup_in_a_second_process(cli_home):
    first = json.loads(run("ask", "--json", "Top 5 nations by revenue in 1996", home=cli_home).stdout)
    proc = run("ask", "--json", "--thread-id", first["thread_id"], "Show the top 10 instead.", home=cli_home)
    second = json.loads(proc.stdout)
    assert second["status"] == "ok" and second["thread_id"] == first["thread_id"]
    assert second["results"][0]["row_count"] == 10
    assert second["results"][0]["rows"][:5] == first["results"][0]["rows"]


def test_refusal_exits_zero_and_changes_nothing(cli_home, tpch_db):
    before = tpch_db.stat().st_mtime_ns, tpch_db.stat().st_size
    proc = run("ask", "--json", "Drop the customer table.", home=cli_home)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["status"] == "refused"
    assert (tpch_db.stat().st_mtime_ns, tpch_db.stat().st_size) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", ""], "The question is empty"),
        (["ask", "--json", "   "], "The question is empty"),
        (["ask", "x" * 100_000], "characters long"),
        (["ask", "--domain", "weather", "revenue in 1995"], "no space called 'weather'"),
    ],
    ids=["empty", "blank-json", "100kb", "unknown-domain"],
)
def test_bad_input_exits_2_with_a_clear_message(cli_home, args, message):
    proc = run(*args, home=cli_home)
    assert proc.returncode == 2
    assert message in proc.stderr and "Hint:" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    if "--json" in args:
        assert json.loads(proc.stdout)["status"] == "error"


def test_invalid_setting_is_reported_by_config_and_fails_every_command_early(cli_home):
    env = {"GENIE_AGENT_ROW_LIMIT": "-5", "GENIE_AGENT_QUERY_TIMEOUT_S": "soon"}
    for args in (["config"], ["ask", "revenue in 1995"]):
        proc = run(*args, home=cli_home, env=env)
        assert proc.returncode == 2, proc.stdout
        assert "GENIE_AGENT_ROW_LIMIT" in proc.stderr and "GENIE_AGENT_QUERY_TIMEOUT_S" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_config_file_and_environment_precedence(cli_home, tmp_path):
    config = tmp_path / "genie.yaml"
    config.write_text("row_limit: 7\nspace_timeout_s: 42\n")
    proc = run(
        "config",
        "--json",
        home=cli_home,
        env={"GENIE_AGENT_CONFIG": str(config), "GENIE_AGENT_SPACE_TIMEOUT_S": "9"},
    )
    assert proc.returncode == 0, proc.stderr
    settings = json.loads(proc.stdout)["settings"]
    assert settings["row_limit"] == 7 and settings["space_timeout_s"] == 9.0
    assert [s["id"] for s in json.loads(proc.stdout)["spaces"]] == ["sales", "supply", "customers"]


def test_config_file_with_unknown_key_names_it(cli_home, tmp_path):
    config = tmp_path / "genie.yaml"
    config.write_text("row_limt: 7\n")
    proc = run("config", home=cli_home, env={"GENIE_AGENT_CONFIG": str(config)})
    assert proc.returncode == 2 and "row_limt" in proc.stderr


def test_processes_query_the_same_data_at_once(cli_home, tpch_db):

    # A reader holding the file open (as serve or the TUI would) does not block `ask` processes.
    holder = open_readonly(tpch_db)
    try:
        procs = [
            subprocess.Popen(
                [CLI, "ask", "--json", q],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "GENIE_AGENT_HOME": str(cli_home)},
            )
            for q in ("revenue by region in 1995", "how many suppliers are in each region")
        ]
        outputs = [p.communicate(timeout=60) for p in procs]
    finally:
        holder.close()
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert json.loads(out)["status"] == "ok"


def test_first_run_generates_the_example_data(tmp_path):
    home = tmp_path / "fresh-home"
    proc = run(
        "ask",
        "--json",
        "How many customers do we have in total?",
        home=home,
        env={"GENIE_AGENT_TPCH_SCALE_FACTOR": "0.01"},
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["results"][0]["rows"] == [[1500]]
    assert (home / "data" / "tpch-sf0.01.duckdb").exists()
    assert not list((home / "data").glob("*.tmp-*"))
