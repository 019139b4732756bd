"""The embedded default's memory down: the SQLite file cannot be opened (a directory in its place,
a home the process may not write). The turn is still answered, memory_status says what failed, and
memory works again once the file can be opened, without a restart."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("tpch_db")

CLI = str(Path(sys.executable).parent / "genie-agent")


def _block(home: Path) -> Path:
    """Put a directory where the memory file goes: SQLite cannot open it."""
    blocker = home / "memory.sqlite"
    blocker.mkdir(parents=True)
    (blocker / "not-a-database").write_text("x")
    return blocker


def test_an_unopenable_memory_file_does_not_stop_the_agent(make_test_agent, tmp_path):
    home = tmp_path / "home"
    blocker = _block(home)
    agent = make_test_agent(home=home, memory_backend="sqlite", memory_retry_s=1)

    down = agent.ask("my region is EUROPE", user="ann")
    assert down.status == "ok"
    assert down.memory_status.startswith("failed: ") and "SQLite memory" in down.memory_status
    assert "couldn't save" in down.text  # the user is told the preference was not kept

    answered = agent.ask("How many customers are there?", user="ann")
    assert answered.status == "ok" and answered.results[0].row_count == 1
    assert answered.memory_status.startswith("failed: ")

    shutil.rmtree(blocker)
    time.sleep(1.2)  # the retry window
    assert agent.ask("my region is EUROPE", user="ann").memory_status == "saved"
    back = agent.ask("How many customers are there?", user="ann")
    assert back.memory_status == "saved" and "'EUROPE'" in back.results[0].sql
    follow = agent.ask("What about the BUILDING segment?", user="ann", thread_id=back.thread_id)
    assert follow.route.kind == "follow_up" and follow.memory_status == "saved"


def test_ask_answers_and_says_memory_failed_when_the_file_cannot_be_opened(cli_home):
    _block(cli_home)
    env = {**os.environ, "GENIE_AGENT_HOME": str(cli_home)}
    proc = subprocess.run(
        [CLI, "ask", "--json", "How many customers are there?"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "ok" and result["results"][0]["row_count"] == 1
    assert result["memory_status"].startswith("failed: ") and "SQLite" in result["memory_status"]
