"""Routing vocabulary discovered from the Genie spaces themselves (issue 16, item 2), against
genie-server through databricks-sdk.

The three example spaces are created the way ``genie-agent spaces create`` creates them
(:func:`plan_spaces` and :func:`provision`), then configured by their ids alone (no keywords, title,
description or sample questions): the agent reads each as the deployment's own identity. The
measurement is the issue's acceptance: every question of the team's bank (tpch_single's answerable
cases; tpch_conversations' cross-domain questions and each follow-up's first turn) routed through the
remote spaces and through the local ones, by the router alone, against each case's ``spaces``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from genie_agent.agent import Agent
from genie_agent.genie_api import LOCAL_WAREHOUSE_ID, build_genie_api, serve_in_background
from genie_agent.identity import Identity, TokenIdentityProvider, UserConfig
from genie_agent.spaces.databricks import DatabricksGenieSpace, GenieSpaceConfig
from genie_agent.spaces.discovery import SpaceDiscovery
from genie_agent.spaces.local.conversations import ConversationStore
from genie_agent.spaces.local.engine import LocalGenieSpace
from genie_agent.spaces.local.executor import ReadOnlyExecutor
from tests.bank.harness import load_bank
from tests.servers import CLI

ANN, RUNNER = "discovery-ann-token", "discovery-runner-token"
"""ann may edit every space; runner may only run the server's own ``sales`` space (CAN RUN)."""
BASE = "/api/2.0/genie/spaces"
MARKERS = ("WOMBAT", "PLATYPUS", "NARWHAL", "zebra")
"""Words only a space's definition holds (instructions, a column's description, a filter's SQL, a
measure's name): no user may ever see them."""


def bank_cases() -> list[tuple[str, str, frozenset[str]]]:
    """(id, question, spaces) of every case whose first question routes somewhere."""
    cases = []
    for case in load_bank("tpch_single"):
        if case["kind"] == "single":
            cases.append((case["id"], case["question"], frozenset(case["spaces"])))
    for case in load_bank("tpch_conversations"):
        if case["kind"] == "cross":
            cases.append((case["id"], case["question"], frozenset(case["spaces"])))
        elif case["kind"] == "followup":
            first = case["turns"][0]
            cases.append((case["id"], first["question"], frozenset(first["spaces"])))
    return cases


@pytest.fixture(scope="module")
def server(tpch_catalog, tpch_db, tmp_path_factory) -> Iterator[tuple[str, dict[str, str]]]:
    """genie-server over the local spaces (ids ``sales``, ``supply``, ``customers``), and the example
    spaces created on it as ``spaces create`` creates them: its URL and domain -> created space id."""
    from dataclasses import replace

    from databricks.sdk import WorkspaceClient

    from genie_agent.workspace_spaces import WorkspaceSpaces, plan_spaces, provision

    executor = ReadOnlyExecutor(tpch_db)
    conversations = ConversationStore(tmp_path_factory.mktemp("discovery") / "conversations.sqlite")
    spaces = {d.id: LocalGenieSpace(d, executor, conversations) for d in tpch_catalog.spaces}
    users = {
        "ann": UserConfig.model_validate({"token": ANN}),
        "runner": UserConfig.model_validate({"token": RUNNER, "spaces": ["sales"]}),
    }
    api = build_genie_api(spaces, TokenIdentityProvider(users))
    with serve_in_background(api) as url:
        plans = plan_spaces(tpch_catalog.spaces, catalog="samples", schema="tpch")
        plans = [replace(p, title=f"{p.title} (discovered)") for p in plans]
        workspace = WorkspaceSpaces(WorkspaceClient(host=url, token=ANN))
        created = {o.domain: o.space.space_id for o in provision(workspace, plans, LOCAL_WAREHOUSE_ID)}
        yield url, created
    api.close()


@pytest.fixture(autouse=True)
def _workspace(server, monkeypatch) -> None:
    """databricks-sdk's unified auth sees genie-server as ann (the deployment's identity)."""
    for name in [n for n in os.environ if n.startswith("DATABRICKS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/databrickscfg")
    monkeypatch.setenv("DATABRICKS_HOST", server[0])
    monkeypatch.setenv("DATABRICKS_TOKEN", ANN)


def client_for(url: str, token: str):
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config

    made = WorkspaceClient(config=Config(host=url, token=token, retry_timeout_seconds=5))
    return lambda identity: made


def accuracy(router: Any, cases: list[tuple[str, str, frozenset[str]]]) -> tuple[float, list[str]]:
    missed = []
    for case_id, question, spaces in cases:
        decision = router.route(question)
        if frozenset(decision.domains) != spaces:
            missed.append(f"{case_id}: {question!r} -> {decision.kind} {list(decision.domains)}")
    return 1 - len(missed) / len(cases), missed


def test_routing_through_discovered_spaces_is_as_good_as_through_local_ones(server, make_test_agent):
    _, created = server
    genie_spaces = {d: {"space_id": i} for d, i in created.items()}  # ids only: nothing to route by
    remote = make_test_agent(genie_backend="databricks", genie_spaces=genie_spaces)
    local = make_test_agent()
    try:
        for domain, space in remote.spaces.items():
            assert isinstance(space, DatabricksGenieSpace)
            found = space.discovered()
            assert found is not None and found.definition and found.error is None, (domain, found)
        assert {info.knows_values for info in remote.vocabulary.spaces.values()} == {False}
        cases = bank_cases()
        assert len(cases) == 273
        remote_accuracy, remote_missed = accuracy(remote.router, cases)
        local_accuracy, local_missed = accuracy(local.router, cases)
        print(
            f"\nrouting accuracy over {len(cases)} bank questions (router only): "
            f"local spaces {local_accuracy:.1%}, remote spaces with no keywords {remote_accuracy:.1%}"
        )
        print("remote missed:\n  " + "\n  ".join(remote_missed))
        print("local missed:\n  " + "\n  ".join(local_missed))
        assert remote_accuracy >= 0.95
        assert remote_accuracy >= local_accuracy - 0.03
    finally:
        remote.close()
        local.close()


def test_the_vocabulary_is_read_again_in_the_background_and_no_turn_waits(server, tmp_path):
    url, created = server
    admin = client_for(url, ANN)(None)
    now = [1000.0]
    release, reading = threading.Event(), threading.Event()

    def factory(identity: Identity | None):
        assert identity is None, "discovery reads as the deployment, never as a caller"
        if discovery.reads > 1:  # the refresh: held until the test has run a turn
            reading.set()
            assert release.wait(20)
        return admin

    configs = {"sales": GenieSpaceConfig(space_id=created["sales"])}
    discovery = SpaceDiscovery(configs, factory, refresh_s=60, clock=lambda: now[0])
    spaces = {"sales": DatabricksGenieSpace("sales", configs["sales"], factory, discovery=discovery)}
    agent = Agent(spaces, None, discovery=discovery, source="genie")
    try:
        assert (
            discovery.reads == 1 and agent.router.route("What was the walrus tally?").kind == "out_of_scope"
        )
        # The space gains a measure phrase on the workspace.
        space = admin.api_client.do(
            "GET", f"{BASE}/{created['sales']}", query={"include_serialized_space": "true"}
        )
        serialized = json.loads(space["serialized_space"])
        revenue = next(
            m
            for m in serialized["instructions"]["sql_snippets"]["measures"]
            if m["display_name"] == "revenue"
        )
        revenue["synonyms"].append("walrus tally")
        admin.api_client.do(
            "PATCH",
            f"{BASE}/{created['sales']}",
            body={"serialized_space": json.dumps(serialized), "etag": space["etag"]},
        )
        now[0] += 59
        agent.ask("What is the weather in Paris?")
        assert discovery.reads == 1  # not due yet
        now[0] += 2
        started = time.monotonic()
        during = agent.ask("What was the walrus tally?")  # starts the refresh, held in its read
        assert reading.wait(10) and time.monotonic() - started < 5
        assert during.status == "out_of_scope"  # answered with the vocabulary it had
        assert agent.router.route("What was the walrus tally?").kind == "out_of_scope"
        release.set()
        deadline = time.monotonic() + 10
        while agent.router.route("What was the walrus tally?").kind == "out_of_scope":
            assert time.monotonic() < deadline, "the refreshed vocabulary never replaced the old one"
            time.sleep(0.05)
        assert agent.router.route("What was the walrus tally?").domains == ("sales",)
        assert "walrus tally" in {t.phrase for t in agent.vocabulary.routing_terms["sales"]}
        assert discovery.reads == 2 and not discovery.due()
    finally:
        release.set()
        agent.close()


def test_an_unreadable_space_routes_by_its_keywords_and_spaces_list_says_why(server, tmp_path, cli_home):
    url, created = server
    configs = {
        "sales": GenieSpaceConfig(space_id="sales"),  # runner may run it, not read its definition
        "supply": GenieSpaceConfig(space_id="supply", keywords=("suppliers",)),  # no access at all
        "customers": GenieSpaceConfig(space_id="0" * 32, keywords=("customers",)),  # does not exist
    }
    discovery = SpaceDiscovery(configs, client_for(url, RUNNER), refresh_s=0)
    sales, supply, customers = (discovery.get(d) for d in ("sales", "supply", "customers"))
    assert sales.read and not sales.definition and "CAN EDIT" in (sales.error or "")
    assert {t.kind for t in sales.terms} == {"topic"} and "revenue" in {t.phrase for t in sales.terms}
    assert not supply.read and "does not have access" in (supply.error or "")
    assert not customers.read and "does not exist" in (customers.error or "")
    assert discovery.reads == 1 and not discovery.due()  # 0: read once
    spaces = {
        d: DatabricksGenieSpace(d, c, client_for(url, RUNNER), discovery=discovery)
        for d, c in configs.items()
    }
    agent = Agent(spaces, None, discovery=discovery, source="genie")
    try:
        assert agent.router.route("How many suppliers are there?").domains == ("supply",)
        assert agent.router.route("How many customers do we have?").domains == ("customers",)
        assert agent.router.route("Revenue by region").domains == ("sales",)  # its description's words
    finally:
        agent.close()

    config = tmp_path / "config.yaml"
    entries = {d: c.model_dump(exclude_defaults=True) for d, c in configs.items()}
    entries["sales_edit"] = {"space_id": created["sales"]}
    config.write_text(json.dumps({"genie_spaces": entries}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENIE_AGENT_", "MLFLOW_"))}
    env |= {
        "GENIE_AGENT_HOME": str(cli_home),
        "GENIE_AGENT_CONFIG": str(config),
        "GENIE_AGENT_TRACING": "off",
    }

    def listed(token: str) -> dict[str, dict[str, Any]]:
        run = subprocess.run(
            [CLI, "spaces", "list", "--json"],
            env=env | {"DATABRICKS_TOKEN": token},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        return {r["domain"]: r["routing"] for r in json.loads(run.stdout)["spaces"]}

    runner = listed(RUNNER)
    assert runner["sales"]["definition_read"] is False
    assert re.match(
        r"\d+ routing terms discovered from its title and description \(its definition could not",
        runner["sales"]["status"],
    )
    assert runner["supply"]["status"].startswith("routes by its 1 configured keyword(s) only: ")
    assert "does not exist" in runner["customers"]["status"]
    assert runner["sales_edit"]["status"].startswith("routes by its configured keywords (none) only")
    ann = listed(ANN)
    assert ann["sales_edit"]["definition_read"] is True and ann["sales_edit"]["discovered_terms"] > 50
    plain = subprocess.run(
        [CLI, "spaces", "list"],
        env=env | {"DATABRICKS_TOKEN": ANN},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert re.search(r"routing: \d+ routing terms discovered from its definition", plain.stdout), plain.stdout


def test_a_workspace_that_does_not_answer_leaves_the_keywords(tmp_path):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    configs = {"sales": GenieSpaceConfig(space_id="x" * 32, keywords=("revenue",))}
    discovery = SpaceDiscovery(configs, client_for(f"http://127.0.0.1:{port}", ANN), timeout_s=1.0)
    started = time.monotonic()
    space = DatabricksGenieSpace(
        "sales", configs["sales"], client_for(f"http://127.0.0.1:{port}", ANN), discovery=discovery
    )
    terms = space.routing_terms()
    assert time.monotonic() - started < 4  # bounded, whatever the SDK's retries
    assert [(t.phrase, t.kind) for t in terms] == [("revenue", "measure")]
    found = space.discovered()
    assert found is not None and not found.read
    assert "did not answer within 1 s" in (found.error or "") or "did not answer" in (found.error or "")


def test_nothing_of_a_definition_reaches_a_user(server, make_test_agent):
    url, _ = server
    from databricks.sdk import WorkspaceClient

    from genie_agent.config import EXAMPLE_CATALOG
    from genie_agent.spaces.catalog import load_catalog
    from genie_agent.workspace_spaces import WorkspaceSpaces, serialize_definition

    serialized = serialize_definition(
        load_catalog(EXAMPLE_CATALOG).space("sales"), catalog="samples", schema="tpch"
    )
    instructions = serialized["instructions"]
    instructions["text_instructions"][0]["content"].append("\nApply the WOMBAT rule to every total.")
    tables = serialized["data_sources"]["tables"]
    column = next(
        c for t in tables for c in t.get("column_configs", []) if c["column_name"] == "c_mktsegment"
    )
    column["description"] = ["PLATYPUS grade of the customer."]
    snippets = instructions["sql_snippets"]
    snippets["filters"] = sorted(
        [
            *snippets["filters"],
            {"id": "f" * 32, "display_name": "narwhal lines", "sql": ["lineitem.l_comment = 'NARWHAL'"]},
        ],
        key=lambda f: f["id"],
    )
    snippets["measures"] = sorted(
        [
            *snippets["measures"],
            {"id": "e" * 32, "alias": "zebra_count", "display_name": "zebra count", "sql": ["COUNT(*)"]},
        ],
        key=lambda m: m["id"],
    )
    workspace = WorkspaceSpaces(WorkspaceClient(host=url, token=ANN))
    space = workspace.create(
        "Sales (private)", json.dumps(serialized), LOCAL_WAREHOUSE_ID, description="Orders and revenue."
    )
    agent = make_test_agent(genie_backend="databricks", genie_spaces={"sales": {"space_id": space.space_id}})
    try:
        found = agent.spaces["sales"].discovered()  # type: ignore[attr-defined]
        assert found.definition and "zebra count" in {t.phrase for t in found.terms}  # routing knows them
        questions = (
            "What was total revenue in 1996?",
            "What will the weather be in Paris tomorrow?",
            "How many orders by market segment in 1995?",
        )
        turns = [agent.ask(q) for q in questions]
        assert turns[0].status == "ok" and turns[0].route.domains == ("sales",), turns[0].text
        assert turns[1].status == "out_of_scope"
        for turn in turns:
            shown = json.dumps(turn.to_dict()).lower()
            assert not [m for m in MARKERS if m.lower() in shown], shown[:3000]
        assert all(m.lower() not in repr(agent.spaces["sales"].info).lower() for m in MARKERS)
    finally:
        agent.close()
