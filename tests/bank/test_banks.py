"""The question banks, through the agent (routing, the local engine, synthesis): wrong must be 0.

Every case is judged correct, declined or wrong (tests/bank/README.md). A declined case passes —
an honest decline is allowed — but a wrong one fails. ``bench/bench_bank.py`` prints the figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.bank.harness import judge_case, load_bank

TPCH = load_bank("tpch_single", "tpch_conversations")
BIKES = load_bank("bikes")
RETAIL = load_bank("retail")


class _Bench:
    """One agent over a catalog, and the truth SQL run on the same data."""

    def __init__(self, catalog: Any, home: Path) -> None:
        from genie_agent.config import load_settings
        from genie_agent.factory import make_agent
        from genie_agent.spaces.local.executor import ReadOnlyExecutor

        settings = load_settings(home=home, tracing="off", verified_queries=False)
        self.agent = make_agent(settings, catalog=catalog, progress=False)
        database = next(iter(catalog.databases.values())).path
        # The truth is never cut off: an answer cut at the row limit is judged on the rows it has.
        self._executor = ReadOnlyExecutor(database, row_limit=10_000_000)

    def ask(self, question: str, thread_id: str | None = None) -> Any:
        return self.agent.ask(question, thread_id=thread_id)

    def truth(self, sql: str) -> list[tuple[Any, ...]]:
        return list(self._executor._execute_unchecked(sql).rows)


@pytest.fixture(scope="module")
def tpch_bench(tpch_catalog, tmp_path_factory) -> _Bench:
    return _Bench(tpch_catalog, tmp_path_factory.mktemp("bank-tpch-home"))


@pytest.fixture(scope="module")
def bikes_bench(tmp_path_factory) -> _Bench:
    from tests.bank.catalogs import bikes

    root = tmp_path_factory.mktemp("bank-bikes")
    return _Bench(bikes.load(root), root / "home")


@pytest.fixture(scope="module")
def retail_bench(tmp_path_factory) -> _Bench:
    from tests.bank.catalogs import retail

    base = tmp_path_factory.getbasetemp()
    root = (base.parent if "PYTEST_XDIST_WORKER" in __import__("os").environ else base) / "bank-retail"
    return _Bench(retail.load(root), tmp_path_factory.mktemp("bank-retail-home"))


# Cases still answered wrong, each a defect to fix (issue 12 stays open until this is empty). A
# strict xfail: when one becomes correct or declined, its test fails until it is taken off the list.
KNOWN_WRONG = frozenset(
    """
    """.split()
)


def _check(bench: _Bench, case: dict[str, Any]) -> None:
    outcome = judge_case(bench.ask, case, bench.truth)
    if case["id"] in KNOWN_WRONG:
        if outcome.verdict == "wrong":
            pytest.xfail(f"known wrong answer (issue 12): {outcome.detail[:200]}")
        pytest.fail(f"{case['id']} is no longer wrong ({outcome.verdict}): take it off KNOWN_WRONG")
    assert outcome.verdict != "wrong", f"{case['id']} ({outcome.shape}): {outcome.detail}"


@pytest.mark.parametrize("case", TPCH, ids=lambda c: c["id"])
def test_tpch_bank(tpch_bench: _Bench, case: dict[str, Any]) -> None:
    _check(tpch_bench, case)


@pytest.mark.parametrize("case", BIKES, ids=lambda c: c["id"])
def test_bikes_bank(bikes_bench: _Bench, case: dict[str, Any]) -> None:
    _check(bikes_bench, case)


@pytest.mark.parametrize("case", RETAIL, ids=lambda c: c["id"])
def test_retail_bank(retail_bench: _Bench, case: dict[str, Any]) -> None:
    _check(retail_bench, case)


def test_banks_are_as_large_as_promised() -> None:
    """>= 200 TPC-H questions, >= 40 on each other catalog, >= 30 inexpressible in all."""
    assert len(TPCH) >= 200 and len(BIKES) >= 40 and len(RETAIL) >= 40
    declines = [c for c in TPCH + BIKES + RETAIL if c["kind"] == "decline"]
    assert len(declines) >= 30
