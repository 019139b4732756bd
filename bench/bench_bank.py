"""Question banks: correct / declined / wrong per shape, on every catalog, in process.

    .venv/bin/python bench/bench_bank.py [--wrong] [--declined] [--bank tpch|bikes|retail] [--case ID]

Builds each catalog once under .bench-home/ (TPC-H SF 0.1, the bike-rental and TPC-DS retail
catalogs of tests/bank/catalogs), runs every case through the agent with verified queries off,
and prints the figures. ``--wrong`` / ``--declined`` list those cases with the reason.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.bank.harness import judge_case, load_bank, summarize  # noqa: E402

HOME = ROOT / ".bench-home"
BANKS = {"tpch": ("tpch_single", "tpch_conversations"), "bikes": ("bikes",), "retail": ("retail",)}


def _catalog(name: str):
    from genie_agent.config import EXAMPLE_CATALOG
    from genie_agent.data.tpch import ensure_tpch_database
    from genie_agent.spaces.catalog import DatabaseSpec, load_catalog

    if name == "tpch":
        db = ensure_tpch_database(HOME / "data" / "tpch_sf0.1.duckdb", scale_factor=0.1, progress=False)
        catalog = load_catalog(EXAMPLE_CATALOG)
        return catalog.model_copy(update={"databases": {"tpch": DatabaseSpec(path=db)}})
    from tests.bank.catalogs import bikes, retail

    return (bikes if name == "bikes" else retail).load(HOME / "catalogs" / name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bank", choices=sorted(BANKS), action="append")
    parser.add_argument("--wrong", action="store_true")
    parser.add_argument("--declined", action="store_true")
    parser.add_argument("--case")
    args = parser.parse_args()
    from genie_agent.config import load_settings
    from genie_agent.factory import make_agent
    from genie_agent.spaces.local.executor import ReadOnlyExecutor

    outcomes = []
    for name in args.bank or list(BANKS):
        catalog = _catalog(name)
        home = HOME / "agent" / name
        settings = load_settings(home=home, tracing="off", verified_queries=False)
        agent = make_agent(settings, catalog=catalog, progress=False)
        executor = ReadOnlyExecutor(next(iter(catalog.databases.values())).path, row_limit=10_000_000)
        cases = [c for c in load_bank(*BANKS[name]) if not args.case or c["id"] == args.case]
        started = time.perf_counter()
        for case in cases:
            o = judge_case(
                lambda q, thread_id=None, a=agent: a.ask(q, thread_id=thread_id),
                case,
                lambda sql, x=executor: x._execute_unchecked(sql).rows,
            )
            outcomes.append((name, case, o))
        print(f"{name}: {len(cases)} cases in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    for name, case, o in outcomes:
        if (args.wrong and o.verdict == "wrong") or (args.declined and o.verdict == "declined") or args.case:
            question = case.get("question") or " / ".join(t["question"] for t in case["turns"])
            print(f"[{o.verdict}] {name}/{o.case_id} ({o.shape}): {question}\n    {o.detail}\n")
    for name in dict.fromkeys(n for n, _, _ in outcomes):
        table = summarize(o for n, _, o in outcomes if n == name)
        print(f"\n{name}: {'shape':<22} {'correct':>8} {'declined':>9} {'wrong':>6}")
        for shape, counts in sorted(table.items(), key=lambda kv: (kv[0] == "all", kv[0])):
            print(
                f"{'':>{len(name) + 2}}{shape:<22} {counts['correct']:>8} {counts['declined']:>9} {counts['wrong']:>6}"
            )


if __name__ == "__main__":
    main()
