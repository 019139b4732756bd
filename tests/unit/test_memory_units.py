"""Small parts of memory: the failure guard, number scales with grounding, labels and search terms, turn locks."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest

from genie_agent.formatting import format_measure, format_value, number_scale
from genie_agent.grounding import check_grounding
from genie_agent.memory.errors import MemoryUnavailableError
from genie_agent.memory.health import Health
from genie_agent.memory.store import search_terms, user_label
from genie_agent.memory.threads import TurnLocks


def test_backend_errors_become_memory_unavailable_and_fail_fast_until_the_retry_window_ends():
    health = Health("SQLite", (sqlite3.OperationalError,), retry_s=0.3)
    failed = "save thread: SQLite memory failed: OperationalError: disk"
    with pytest.raises(MemoryUnavailableError, match=failed), health.guard("save thread"):
        raise sqlite3.OperationalError("disk I/O error\nmore detail")
    assert health.last_failure == "OperationalError: disk I/O error"
    ran = []
    with pytest.raises(MemoryUnavailableError, match=r"unavailable .* trying again in"), health.guard("x"):
        ran.append(True)  # not reached: the backend is not even tried
    assert ran == []
    time.sleep(0.35)
    with health.guard("load thread"):
        ran.append(True)
    assert ran == [True] and health.last_failure is None


def test_other_errors_are_bugs_and_propagate():
    health = Health("SQLite", (sqlite3.OperationalError,))
    with pytest.raises(KeyError), health.guard("load thread"):
        raise KeyError("bug")
    assert health.last_failure is None


def test_numbers_in_a_scale_stay_grounded():
    rows = [("ROMANIA", 133_304_213.78), ("GERMANY", 130_582_256.66), ("small", 512.5)]
    with number_scale("millions"):
        shown = [format_measure(v) for _, v in rows]
    assert shown == ["133.30M", "130.58M", "512.50"]  # below the unit: unchanged
    assert format_measure(133_304_213.78) == format_value(133_304_213.78)  # outside the block: as before
    text = f"ROMANIA: {shown[0]}; GERMANY: {shown[1]}; small: {shown[2]}"
    assert check_grounding(text, [rows]) == {"ok": True, "unsupported_numbers": []}
    with number_scale("thousands"):
        assert format_measure(2968) == "2.97K"
    with number_scale("billions"):
        assert format_measure(2_500_000_000) == "2.50B"
    assert not check_grounding("ROMANIA: 140.00M", [rows])["ok"]


def test_user_labels_are_one_namespace_label_each():
    labels = {user_label(u) for u in ["ann", "ann.b", "ann@x.example", "a/b", "ann b", ""]}
    assert len(labels) == 6 and not any("." in label or not label for label in labels)


def test_search_terms_are_stems_without_stop_words():
    assert search_terms("What was the Revenue by regions in 1995?") == ["revenue", "region", "1995"]


def test_turn_locks_serialize_one_thread_and_not_others():
    locks = TurnLocks()
    order: list[str] = []

    async def turn(thread_id: str, name: str, hold: float, after: float = 0.0) -> None:
        await asyncio.sleep(after)
        async with locks.hold(thread_id):
            order.append(f"{name}+")
            await asyncio.sleep(hold)
            order.append(f"{name}-")

    async def main() -> None:
        await asyncio.gather(turn("t1", "a", 0.2), turn("t1", "b", 0.0, 0.05), turn("t2", "c", 0.0, 0.05))

    asyncio.run(main())
    assert order.index("a-") < order.index("b+")  # same thread: one after the other
    assert order.index("c-") < order.index("a-")  # another thread: did not wait
    assert locks._held == {}


def test_backends_say_what_they_need(tmp_path):
    from genie_agent.config import load_settings
    from genie_agent.errors import ConfigError
    from genie_agent.memory import open_memory

    with pytest.raises(ConfigError) as info:
        load_settings(home=tmp_path, memory_backend="postgres")
    assert "GENIE_AGENT_MEMORY_POSTGRES_URL" in info.value.problems[0]
    with pytest.raises(ConfigError) as info:
        load_settings(home=tmp_path, memory_backend="postgres", memory_postgres_url="postgresql://x/y",
                      memory_postgres_schema="Bad-Name")  # fmt: skip
    assert "memory_postgres_schema" in info.value.problems[0]
    import importlib.util

    if importlib.util.find_spec("databricks_langchain") is None:  # installed, it would reach a workspace
        lakebase = load_settings(home=tmp_path, memory_backend="lakebase", lakebase_instance="prod-memory")
        with pytest.raises(ConfigError, match="databricks-langchain") as error:
            open_memory(lakebase)
        assert "GENIE_AGENT_MEMORY_BACKEND=sqlite" in error.value.hint
    off = open_memory(load_settings(home=tmp_path, memory_backend="off"))
    assert (off.threads, off.memories, off.setup()) == (None, None, [])
