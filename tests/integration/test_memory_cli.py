"""Memory across processes, as users run it: `genie-agent ask`, `memory list|forget`, `setup-memory`,
on SQLite and on real PostgreSQL. Each command is a fresh process."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.integration.test_cli import run
from tests.memory_support import POSTGRES_URL, fresh_schema


@pytest.fixture(params=["sqlite", "postgres"])
def memory_env(request) -> Iterator[dict[str, str]]:
    if request.param == "sqlite":
        yield {}
        return
    with fresh_schema() as schema:
        yield {
            "GENIE_AGENT_MEMORY_BACKEND": "postgres",
            "GENIE_AGENT_MEMORY_POSTGRES_URL": POSTGRES_URL,
            "GENIE_AGENT_MEMORY_POSTGRES_SCHEMA": schema,
        }


def _ask(home, env, *args: str) -> dict:
    proc = run("ask", "--json", *args, home=home, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _memories(home, env, user: str) -> list[dict]:
    proc = run("memory", "list", "--json", "--user", user, home=home, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["memories"]


@pytest.mark.slow
def test_preferences_stated_in_one_process_change_answers_in_fresh_ones(cli_home, memory_env):
    proc = run("setup-memory", home=cli_home, env=memory_env)
    assert proc.returncode == 0 and "ready: threads" in proc.stdout, proc.stderr
    assert run("setup-memory", home=cli_home, env=memory_env).returncode == 0  # idempotent

    stated = _ask(
        cli_home,
        memory_env,
        "--user",
        "ann",
        "These days I look after JAPAN and BRAZIL. Charts don't help me, give me tables. "
        "Express money in millions from now on.",
    )
    assert stated["status"] == "ok" and stated["memory_status"] == "saved" and stated["results"] == []

    question = "What was revenue by market segment in 1996?"
    ann = _ask(cli_home, memory_env, "--user", "ann", question)
    sql = ann["results"][0]["sql"]
    assert "n_name IN ('BRAZIL', 'JAPAN')" in sql
    assert ann["visualization_hint"]["type"] == "table"
    assert "M;" in ann["text"] and "Applied your saved preferences" in ann["text"]
    assert ann["grounding"]["ok"], ann["grounding"]

    bob = _ask(cli_home, memory_env, "--user", "bob", question)  # another user: none of it
    assert "JAPAN" not in bob["results"][0]["sql"] and bob["visualization_hint"]["type"] == "bar"

    ids = {m["id"] for m in _memories(cli_home, memory_env, "ann")}
    assert {"pref-filter-nation", "pref-chart", "pref-scale", "domains"} <= ids
    assert [m["kind"] for m in _memories(cli_home, memory_env, "bob")] == ["domains"]

    proc = run("memory", "forget", "pref-filter-nation", "--user", "ann", home=cli_home, env=memory_env)
    assert proc.returncode == 0 and "Forgotten" in proc.stdout
    unfiltered = _ask(cli_home, memory_env, "--user", "ann", question)
    assert "JAPAN" not in unfiltered["results"][0]["sql"]
    assert unfiltered["visualization_hint"]["type"] == "table"  # the rest still applies

    missing = run("memory", "forget", "pref-filter-nation", "--user", "ann", home=cli_home, env=memory_env)
    assert missing.returncode == 2 and "no memory" in missing.stdout
    proc = run("memory", "forget", "--all", "--user", "ann", home=cli_home, env=memory_env)
    assert proc.returncode == 0 and _memories(cli_home, memory_env, "ann") == []


@pytest.mark.slow
def test_a_thread_continues_in_another_process(cli_home, memory_env):
    first = _ask(cli_home, memory_env, "--user", "ann", "Top 5 nations by revenue in 1996")
    second = _ask(
        cli_home, memory_env, "--user", "ann", "--thread-id", first["thread_id"], "What about 1997?"
    )
    assert second["route"]["kind"] == "follow_up" and "1997" in second["results"][0]["sql"]
    other = run("ask", "--json", "--user", "bob", "--thread-id", first["thread_id"], "What about 1998?",
                home=cli_home, env=memory_env)  # fmt: skip
    assert other.returncode == 2 and "not available" in other.stderr


def test_forget_needs_an_id_or_all(cli_home):
    proc = run("memory", "forget", home=cli_home)
    assert proc.returncode == 2 and "MEMORY_ID or --all" in proc.stderr
