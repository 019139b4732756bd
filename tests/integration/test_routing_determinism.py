"""Routing and the local engine's SQL do not depend on Python's per-process string hash order.

Sets of strings iterate in an order that changes with PYTHONHASHSEED, so a tie broken by such an
iteration routes the same question to different spaces in different processes. Each seed runs in its
own subprocess (hash randomization is fixed at interpreter start) and prints the route and SQL of
every question; all seeds must print the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SEEDS = ("0", "1", "3", "6", "13")
"""Seeds that, before the fix, sent 'revenue per region next to the supplier count' to different spaces."""

QUESTIONS = (
    # Two measures of different spaces in one clause: a tie the router must break the same way every time.
    "revenue per region next to the supplier count",
    "revenue by region alongside the number of customers",
    "supplier count alongside revenue per region",
    "average account balance by region",
    "account balance per nation",
    # Cross-domain questions split into clauses.
    "How many customers and suppliers are there in PERU?",
    "How many customers and suppliers are there by order priority?",
    "Compare revenue and supplier counts per region",
    "suppliers and customers per nation",
    "inventory value vs revenue by region in 1995",
    # The cross questions of examples/tpch/questions.yaml.
    "What was revenue by region in 1995, and how many suppliers does each region have?",
    "How many customers and how many suppliers are there in each nation?",
    "What was total revenue in 1996, and how many customers do we have?",
    "How many orders were placed in Germany in 1997, and how many suppliers are in Germany?",
    "Compare the average account balance of customers with the average account balance of suppliers, by region.",
)

JOIN_ORDER_QUESTION = "available quantity by supplier and brand"
"""Joins partsupp to part and to supplier, two tables at the same depth: their JOINs must not come in
the order a set of aliases iterates."""

_SCRIPT = """
import json, sys
from pathlib import Path

from genie_agent.config import EXAMPLE_CATALOG, load_settings
from genie_agent.factory import make_agent
from genie_agent.spaces.catalog import DatabaseSpec, load_catalog

db, home, questions = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
catalog = load_catalog(EXAMPLE_CATALOG)
catalog = catalog.model_copy(update={"databases": {"tpch": DatabaseSpec(path=db)}})
agent = make_agent(load_settings(home=home, tracing="off"), catalog=catalog, progress=False)
out = {}
for q in questions:
    d = agent.router.route(q)
    sql = {}
    for space, text in d.questions.items():
        answer = agent.spaces[space].ask(text)
        sql[space] = answer.sql if answer.status == "completed" else answer.status + ": " + answer.text
    out[q] = {
        "kind": d.kind,
        "domains": list(d.domains),
        "questions": list(d.questions.items()),
        "reason": d.reason,
        "sql": sorted(sql.items()),
    }
print(json.dumps(out))
"""


def _run(seed: str, db: Path, home: Path, questions: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONHASHSEED": seed, "GENIE_AGENT_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-c", _SCRIPT, str(db), str(home), json.dumps(questions)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def by_seed(tpch_db: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Seed -> question -> route and SQL, each seed in its own interpreter."""
    questions = [*QUESTIONS, JOIN_ORDER_QUESTION]
    # One home per seed (threads, conversations); the indexed values are cached once and shared, so
    # every process reads the same vocabulary whatever order DuckDB returns distinct values in.
    cache = tmp_path_factory.mktemp("values-cache")
    homes = {seed: tmp_path_factory.mktemp(f"home-seed-{seed}") for seed in SEEDS}
    for home in homes.values():
        (home / "cache").symlink_to(cache, target_is_directory=True)
    first, *rest = SEEDS
    procs = {first: _run(first, tpch_db, homes[first], questions)}
    procs[first].wait(timeout=120)  # fills the shared cache
    procs.update({seed: _run(seed, tpch_db, homes[seed], questions) for seed in rest})
    out = {}
    for seed, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        if proc.returncode:
            pytest.fail(f"PYTHONHASHSEED={seed}:\n{stderr}")
        out[seed] = json.loads(stdout)
    return out


def _differences(by_seed: dict[str, dict], questions: tuple[str, ...]) -> list[str]:
    first, *rest = SEEDS
    return [
        f"{question!r}: PYTHONHASHSEED={first} gives {by_seed[first][question]}, "
        f"PYTHONHASHSEED={seed} gives {by_seed[seed][question]}"
        for seed in rest
        for question in questions
        if by_seed[seed][question] != by_seed[first][question]
    ]


def test_route_and_sql_are_the_same_under_every_hash_seed(by_seed: dict[str, dict]) -> None:
    assert not _differences(by_seed, QUESTIONS)


def test_the_spaces_come_in_the_order_the_question_names_them(by_seed: dict[str, dict]) -> None:
    routes = by_seed[SEEDS[0]]
    assert routes["revenue per region next to the supplier count"]["domains"] == ["sales", "supply"]
    assert routes["supplier count alongside revenue per region"]["domains"] == ["supply", "sales"]
    assert routes["revenue by region alongside the number of customers"]["domains"] == ["sales", "customers"]


def test_the_cross_questions_stay_cross_domain(by_seed: dict[str, dict]) -> None:
    routes = by_seed[SEEDS[0]]
    assert routes["How many customers and suppliers are there in PERU?"]["domains"] == ["customers", "supply"]
    assert routes["Compare revenue and supplier counts per region"]["domains"] == ["sales", "supply"]
    for question in QUESTIONS[10:]:
        assert routes[question]["kind"] == "cross_domain", question


def test_joins_at_the_same_depth_come_in_the_same_order(by_seed: dict[str, dict]) -> None:
    assert not _differences(by_seed, (JOIN_ORDER_QUESTION,))
