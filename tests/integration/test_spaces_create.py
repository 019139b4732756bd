"""From a bare workspace to Genie spaces: ``genie-agent spaces create|list|export|import`` as processes
against genie-server, and the server's space management API as a workspace answers it.

The README's "From a bare workspace" commands run as written, in order, against ``genie-agent
genie-server --bare`` started as that section says (a process): spaces create, a cross-domain question
routed with no keywords (the local engine's rows), a metric view export, the warehouse backend (Genie's
rows, value for value) and a 6,948-row answer read in full into a CSV (DuckDB's rows). The other tests
share an in-process bare server, each with spaces of its own.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from genie_agent.genie_api import LOCAL_WAREHOUSE_ID, GenieApi, build_genie_api, serve_in_background
from genie_agent.identity import TokenIdentityProvider, UserConfig
from genie_agent.spaces.local.conversations import ConversationStore
from genie_agent.spaces.local.engine import LocalGenieSpace
from genie_agent.spaces.local.executor import ReadOnlyExecutor
from tests.conftest import open_readonly
from tests.servers import CLI, serve_home, start_server

ANN, BOB = "ann-spaces-token", "bob-spaces-token"
BASE = "/api/2.0/genie/spaces"
README = Path(__file__).resolve().parents[2] / "README.md"
USER_CONFIG = """# my settings: keep this comment
row_limit: 5000   # and this one
"""


def auth(token: str = ANN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def readme_section() -> str:
    """The README's "From a bare workspace", up to the next section."""
    text = README.read_text()
    section = text[text.index("## From a bare workspace\n") :]
    return section[: section.index("\n## ", 3)]


def readme_commands() -> list[str]:
    """The command lines of the first shell block of the README's "From a bare workspace"."""
    block = re.search(r"```bash\n(.*?)```", readme_section(), re.S)
    assert block is not None
    return [
        line for line in block.group(1).splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def readme_server_command() -> str:
    """The section's way to start the stand-in workspace: `[NAME=value ...] genie-agent genie-server --bare`."""
    found = re.findall(r"`((?:[A-Z_]+=\S+ )*genie-agent genie-server --bare)`", readme_section())
    assert len(found) == 1, found
    return str(found[0])


def split_line(line: str) -> tuple[dict[str, str], list[str]]:
    """A shell command line as written: its ``NAME=value`` prefixes and its words (``#`` starts a comment)."""
    words = shlex.split(line, comments=True)
    env: dict[str, str] = {}
    while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    assert words and words[0] == "genie-agent", line
    return env, words


def run(line: str, env: dict[str, str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """A shell command line as written (``NAME=value`` prefixes, ``genie-agent`` the venv's), no shell."""
    prefixes, words = split_line(line)
    return subprocess.run(
        [CLI, *words[1:]], env=env | prefixes, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def client_env(home: Path, config: Path, host: str, token: str = ANN) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("GENIE_AGENT_", "MLFLOW_", "DATABRICKS_"))
    }
    env |= {
        "GENIE_AGENT_HOME": str(home),
        "GENIE_AGENT_CONFIG": str(config),
        "GENIE_AGENT_TRACING": "off",
        "DATABRICKS_HOST": host,
        "DATABRICKS_TOKEN": token,
        "DATABRICKS_CONFIG_FILE": "/nonexistent/databrickscfg",
    }
    return env


def listed(host: str, token: str = ANN) -> list[dict[str, Any]]:
    r = httpx.get(f"{host}{BASE}", headers=auth(token), timeout=30)
    assert r.status_code == 200, r.text
    return list(r.json()["spaces"])


def rows_of(stdout: str) -> list[list[Any]]:
    result = json.loads(stdout)
    assert result["status"] == "ok", result["text"]
    return [row for r in result["results"] for row in r["rows"]]


# --- the README, literally, against `genie-agent genie-server --bare` -----------------------------------


@pytest.fixture
def bare_server(tmp_path_factory, tpch_db) -> Iterator[str]:
    """The stand-in workspace, started as the README's section says."""
    home = serve_home(tmp_path_factory, tpch_db, "bare-server-home")
    prefixes, words = split_line(readme_server_command())
    proc, url = start_server(home, home, command=[CLI, *words[1:]], env=prefixes, timeout_s=90)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def ask_line(line: str) -> tuple[dict[str, str], str, list[str]]:
    """An `ask` line of the README: its variables, its question and its options."""
    prefixes, words = split_line(line)
    assert words[:2] == ["genie-agent", "ask"], line
    questions = [w for w in words[2:] if not w.startswith("-")]
    options = [w for w in words[2:] if w not in questions[:1]]
    return prefixes, questions[0], options


def answer(line: str, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """The line's turn result: the line as written with ``--json``."""
    done = run(f"{line} --json", env, cwd)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    assert result["status"] == "ok", result["text"]
    return result


def parts(result: dict[str, Any]) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """Each space's columns and rows, and the joined table's (``combined``)."""
    out = {r["domain"]: (r["columns"], r["rows"]) for r in result["results"]}
    if result.get("combined"):
        out["combined"] = (result["combined"]["columns"], result["combined"]["rows"])
    return out


def test_from_a_bare_workspace_as_the_readme_says(bare_server, tpch_db, tmp_path, monkeypatch):
    lines = readme_commands()
    assert len(lines) == 5, lines
    create_line, genie_line, export_line, warehouse_line, csv_line = lines
    assert (
        create_line.startswith("genie-agent spaces create --warehouse-id ")
        and LOCAL_WAREHOUSE_ID in create_line
    )
    genie_env, question, genie_options = ask_line(genie_line)
    assert genie_env == {"GENIE_AGENT_GENIE_BACKEND": "databricks"} and genie_options == []
    assert split_line(export_line)[1][:4] == ["genie-agent", "spaces", "export", "--metric-view"]
    warehouse_env, warehouse_question, warehouse_options = ask_line(warehouse_line)
    assert warehouse_env == {
        "GENIE_AGENT_GENIE_BACKEND": "warehouse",
        "GENIE_AGENT_WAREHOUSE_ID": LOCAL_WAREHOUSE_ID,
    }
    assert warehouse_question == question and warehouse_options == []
    csv_env, _, csv_options = ask_line(csv_line)
    assert csv_env["GENIE_AGENT_GENIE_BACKEND"] == "databricks" and csv_options[:1] == ["--csv"]
    home = tmp_path / "client-home"
    (home / "data").mkdir(parents=True)
    (home / "data" / "tpch-sf0.1.duckdb").symlink_to(tpch_db)
    config = tmp_path / "config.yaml"
    config.write_text(USER_CONFIG)
    env = client_env(home, config, bare_server)
    assert listed(bare_server) == []

    # 1. spaces create: three spaces, their ids in the configuration file, no keywords.
    first = run(create_line, env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert [line.split()[:2] for line in first.stdout.splitlines() if line.startswith("created")] == [
        ["created", "sales"],
        ["created", "supply"],
        ["created", "customers"],
    ]
    spaces = {s["title"]: s for s in listed(bare_server)}
    assert sorted(spaces) == ["Customers", "Sales", "Supply"]
    written = config.read_text()
    assert written.startswith(USER_CONFIG)  # the comments and the unrelated key, as they were
    from genie_agent.config import load_settings

    monkeypatch.setenv("GENIE_AGENT_CONFIG", str(config))
    settings = load_settings()
    assert settings.row_limit == 5000
    assert {d: c.space_id for d, c in settings.genie_spaces.items()} == {
        "sales": spaces["Sales"]["space_id"],
        "supply": spaces["Supply"]["space_id"],
        "customers": spaces["Customers"]["space_id"],
    }
    assert settings.genie_spaces["sales"].warehouse_id == LOCAL_WAREHOUSE_ID
    assert "What was total revenue in 1996?" in settings.genie_spaces["sales"].sample_questions
    assert not any(c.keywords for c in settings.genie_spaces.values())
    assert "keywords" not in written

    again = run(create_line, env, tmp_path)
    assert again.returncode == 0, again.stderr
    assert sum(line.startswith("reused") for line in again.stdout.splitlines()) == 3
    assert len(listed(bare_server)) == 3  # no duplicates

    # Someone edits the sales space: --replace reads its etag and updates on top of that change.
    sales_id = spaces["Sales"]["space_id"]
    edited = httpx.patch(
        f"{bare_server}{BASE}/{sales_id}", json={"description": "edited by hand"}, headers=auth(), timeout=30
    )
    assert edited.status_code == 200 and edited.json()["etag"] == "2"
    replaced = run(create_line + " --replace", env, tmp_path)
    assert replaced.returncode == 0, replaced.stderr
    assert re.search(r"^replaced\s+sales\s+.*\(etag 2 -> 3\)", replaced.stdout, re.M), replaced.stdout
    current = httpx.get(
        f"{bare_server}{BASE}/{sales_id}",
        params={"include_serialized_space": "true"},
        headers=auth(),
        timeout=30,
    ).json()
    assert current["etag"] == "3" and current["description"] == settings.genie_spaces["sales"].description
    stale = httpx.patch(
        f"{bare_server}{BASE}/{sales_id}", json={"title": "Sales", "etag": "2"}, headers=auth(), timeout=30
    )
    assert stale.status_code == 409 and stale.json()["error_code"] == "ABORTED"
    assert len(listed(bare_server)) == 3
    assert "keywords" not in config.read_text()

    # 2. A question for two spaces, routed by what was read from the spaces (no keywords), each part
    # asked of its Genie space: the rows the local engine gives the same question.
    asked = run(genie_line, env, tmp_path)
    assert asked.returncode == 0, asked.stderr
    assert "Sales" in asked.stdout and "Supply" in asked.stdout and "joined on region" in asked.stdout
    genie = answer(genie_line, env, tmp_path)
    assert genie["source"] == "genie"
    assert genie["route"]["kind"] == "cross_domain" and genie["route"]["domains"] == ["sales", "supply"]
    local = answer(f'genie-agent ask "{question}"', env, tmp_path)
    assert local["source"] == "local" and local["route"]["domains"] == ["sales", "supply"]
    assert parts(genie) == parts(local)
    assert sorted(parts(genie)) == ["combined", "sales", "supply"]
    assert len(parts(genie)["combined"][1]) == 5  # the five regions

    # 3. The sales model as metric views: YAML files, their CREATE VIEW statements and the sidecar.
    exported = run(export_line, env, tmp_path)
    assert exported.returncode == 0, exported.stderr
    export_words = split_line(export_line)[1]
    out_dir = tmp_path / export_words[export_words.index("-o") + 1]
    views = sorted(out_dir.glob("*.metric_view.yaml"))
    assert [v.name for v in views] == ["sales_lineitem.metric_view.yaml", "sales_orders.metric_view.yaml"]
    for view in views:
        spec = yaml.safe_load(view.read_text())
        assert spec["source"].startswith("samples.tpch.") and spec["measures"] and spec["dimensions"]
        statement = view.with_name(view.name.replace(".metric_view.yaml", ".sql")).read_text()
        assert statement.startswith("CREATE OR REPLACE VIEW `samples`.`tpch`.`sales_")
        body = re.search(r"WITH METRICS\nLANGUAGE YAML\nAS \$\$\n(.*)\$\$", statement, re.S)
        assert body is not None and yaml.safe_load(body.group(1)) == spec
    sidecar = yaml.safe_load((out_dir / "sales.space.yaml").read_text())
    assert sidecar["id"] == "sales" and [m["file"] for m in sidecar["metric_views"]] == [
        v.name for v in views
    ]
    assert sorted(exported.stdout.split()[:5]) == sorted(
        f"{out_dir.name}/{name}"
        for name in [
            *(v.name for v in views),
            *(v.name.replace(".metric_view.yaml", ".sql") for v in views),
            "sales.space.yaml",
        ]
    )

    # 4. The warehouse backend, no Genie: the same rows as Genie's answer, value for value.
    on_warehouse = run(warehouse_line, env, tmp_path)
    assert on_warehouse.returncode == 0, on_warehouse.stderr
    assert "joined on region" in on_warehouse.stdout
    warehouse = answer(warehouse_line, env, tmp_path)
    assert warehouse["source"] == "warehouse" and warehouse["route"]["domains"] == ["sales", "supply"]
    assert parts(warehouse) == parts(genie)
    assert "FROM samples.tpch.`lineitem`" in {r["domain"]: r["sql"] for r in warehouse["results"]}["sales"]

    # 5. A large answer read in full: every row DuckDB counts, straight from the TPC-H file.
    with open_readonly(tpch_db) as db:
        truth = db.execute(
            "SELECT p.p_size, p.p_type, SUM(ps.ps_supplycost * ps.ps_availqty) FROM partsupp ps "
            "JOIN part p ON p.p_partkey = ps.ps_partkey GROUP BY p.p_size, p.p_type"
        ).fetchall()
    assert 5_000 <= len(truth) < int(csv_env["GENIE_AGENT_ROW_LIMIT"])
    big = run(csv_line, env, tmp_path)
    assert big.returncode == 0, big.stderr
    target = tmp_path / csv_options[1]
    assert f"Wrote {len(truth)} rows to {csv_options[1]}." in big.stderr
    assert "cut off" not in big.stderr + big.stdout and "truncated" not in big.stderr + big.stdout
    with target.open(newline="") as f:
        header, *rows = list(csv.reader(f))
    assert header == ["part size", "part type", "inventory value"]
    assert len(rows) == len(truth)
    got = {(int(size), kind): float(value) for size, kind, value in rows}
    assert got.keys() == {(size, kind) for size, kind, _ in truth}
    assert all(got[(size, kind)] == pytest.approx(float(value), abs=0.005) for size, kind, value in truth)

    shown = run("genie-agent spaces list", env, tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert len(re.findall(r"reachable .* may: ask it, read and edit its definition", shown.stdout)) == 3


# --- an in-process bare server: export/import, errors, the API as a workspace answers it ------------------


@pytest.fixture(scope="module")
def served(tpch_catalog, tpch_db, tmp_path_factory) -> Iterator[tuple[GenieApi, str]]:
    executor = ReadOnlyExecutor(tpch_db)
    conversations = ConversationStore(tmp_path_factory.mktemp("spaces-server") / "conversations.sqlite")
    spaces = {d.id: LocalGenieSpace(d, executor, conversations) for d in tpch_catalog.spaces}
    users = {
        "ann": UserConfig.model_validate({"token": ANN}),
        "bob": UserConfig.model_validate({"token": BOB, "spaces": ["sales"]}),
    }
    api = build_genie_api(spaces, TokenIdentityProvider(users), bare=True)
    with serve_in_background(api) as url:
        yield api, url
    api.close()


@pytest.fixture
def client(served, cli_home, tmp_path) -> dict[str, str]:
    config = tmp_path / "config.yaml"
    config.write_text(USER_CONFIG)
    return client_env(cli_home, config, served[1])


@pytest.fixture(autouse=True)
def _no_workspace_settings(monkeypatch) -> None:
    """In-process databricks-sdk clients see only the host and token each test gives them."""
    for name in [n for n in os.environ if n.startswith("DATABRICKS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/databrickscfg")


def workspace(url: str):
    from databricks.sdk import WorkspaceClient

    return WorkspaceClient(host=url, token=ANN)


def create_titled(url: str, suffix: str) -> dict[str, str]:
    """The example spaces created through the SDK under titles of their own: domain -> space id."""
    from dataclasses import replace

    from genie_agent.config import EXAMPLE_CATALOG
    from genie_agent.spaces.catalog import load_catalog
    from genie_agent.workspace_spaces import WorkspaceSpaces, plan_spaces, provision

    plans = plan_spaces(load_catalog(EXAMPLE_CATALOG).spaces, catalog="samples", schema="tpch")
    plans = [replace(p, title=f"{p.title} {suffix}") for p in plans]
    outcomes = provision(WorkspaceSpaces(workspace(url)), plans, LOCAL_WAREHOUSE_ID)
    return {o.domain: o.space.space_id for o in outcomes}


def definition(url: str, space_id: str) -> dict[str, Any]:
    r = httpx.get(
        f"{url}{BASE}/{space_id}", params={"include_serialized_space": "true"}, headers=auth(), timeout=30
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def ask_space(url: str, space_id: str, question: str) -> list[list[str]]:
    w = workspace(url)
    message = w.genie.start_conversation_and_wait(space_id, question)
    (query,) = [a for a in message.attachments or [] if a.query is not None]
    result = w.genie.get_message_attachment_query_result(
        space_id, message.conversation_id, message.message_id, query.attachment_id
    )
    assert result.statement_response is not None and result.statement_response.result is not None
    return result.statement_response.result.data_array or []


def test_export_then_import_gives_an_equivalent_space(served, client, tmp_path):
    _, url = served
    ids = create_titled(url, "(export)")
    file = tmp_path / "sales.json"
    exported = run(f"genie-agent spaces export {ids['sales']} -o {file}", client, tmp_path)
    assert exported.returncode == 0, exported.stderr
    content = json.loads(file.read_text())
    assert content["title"] == "Sales (export)" and content["serialized_space"]["version"] == 2
    taken = run(f"genie-agent spaces import {file}", client, tmp_path)
    assert taken.returncode == 2 and "already exists" in taken.stderr and "--title" in taken.stderr
    imported = run(f'genie-agent spaces import {file} --title "Sales (imported)"', client, tmp_path)
    assert imported.returncode == 0, imported.stderr
    new_id = re.search(r"\(([0-9a-f]{32})\)", imported.stdout)
    assert new_id is not None and new_id.group(1) != ids["sales"]
    original, copy = definition(url, ids["sales"]), definition(url, new_id.group(1))
    assert json.loads(copy["serialized_space"]) == json.loads(original["serialized_space"])
    assert (copy["title"], copy["description"], copy["warehouse_id"]) == (
        "Sales (imported)",
        original["description"],
        original["warehouse_id"],
    )
    for question in ("What was total revenue in 1996?", "Revenue by region in 1995"):
        assert ask_space(url, new_id.group(1), question) == ask_space(url, ids["sales"], question)


def test_errors_name_the_space_the_call_and_what_to_do(served, client, tmp_path):
    _, url = served
    before = len(listed(url))
    refused = run("genie-agent spaces create --warehouse-id feedfacecafebeef", client, tmp_path)
    assert refused.returncode == 1
    assert "Genie space 'Sales'" in refused.stderr and "POST /api/2.0/genie/spaces" in refused.stderr
    assert "feedfacecafebeef" in refused.stderr and "CAN USE" in refused.stderr
    unknown = run(
        f"genie-agent spaces create --warehouse-id {LOCAL_WAREHOUSE_ID} --schema tpch_sf1000",
        client,
        tmp_path,
    )
    assert unknown.returncode == 1
    assert "samples.tpch_sf1000.lineitem" in unknown.stderr and "SELECT" in unknown.stderr
    assert len(listed(url)) == before  # nothing was created
    assert "genie_spaces" not in Path(client["GENIE_AGENT_CONFIG"]).read_text()


def test_spaces_list_says_what_each_caller_may_do(served, client, tmp_path):
    _, url = served
    ids = create_titled(url, "(list)")
    config = Path(client["GENIE_AGENT_CONFIG"])
    entries = "".join(f"  {d}: {{space_id: {i}}}\n" for d, i in ids.items())
    config.write_text(USER_CONFIG + "genie_spaces:\n" + entries + '  gone: {space_id: "0000"}\n')
    ann = run("genie-agent spaces list --json", client, tmp_path)
    assert ann.returncode == 0, ann.stderr
    rows = {r["domain"]: r for r in json.loads(ann.stdout)["spaces"]}
    assert all(rows[d]["reachable"] and rows[d]["can_edit"] for d in ids)
    assert rows["sales"]["title"] == "Sales (list)"
    assert not rows["gone"]["reachable"] and "GET /api/2.0/genie/spaces/0000" in rows["gone"]["error"]
    bob = run("genie-agent spaces list", client | {"DATABRICKS_TOKEN": BOB}, tmp_path)
    assert bob.returncode == 0, bob.stderr
    assert bob.stdout.count("UNREACHABLE") == 4 and "does not have access" in bob.stdout


def test_the_server_checks_a_space_as_a_workspace_does(served):
    _, url = served
    from genie_agent.config import EXAMPLE_CATALOG
    from genie_agent.spaces.catalog import load_catalog
    from genie_agent.workspace_spaces import serialize_definition

    good = serialize_definition(
        load_catalog(EXAMPLE_CATALOG).space("customers"), catalog="samples", schema="tpch"
    )
    body = {
        "title": "Customers (api)",
        "warehouse_id": LOCAL_WAREHOUSE_ID,
        "serialized_space": json.dumps(good),
    }
    with httpx.Client(base_url=url, timeout=30, headers=auth()) as http:
        no_warehouse = http.post(BASE, json={k: v for k, v in body.items() if k != "warehouse_id"})
        assert (
            no_warehouse.status_code == 400 and "warehouse_id is required" in no_warehouse.json()["message"]
        )
        assert http.post(BASE, json={**body, "serialized_space": "{not json"}).status_code == 400
        unsorted = {
            **good,
            "config": {"sample_questions": list(reversed(good["config"]["sample_questions"]))},
        }
        bad_ids = {**good, "config": {"sample_questions": [{"id": "q1", "question": ["Hi?"]}]}}
        for wrong, said in (
            (unsorted, "config.sample_questions must be sorted by id"),
            (bad_ids, "id 'q1' is not 32 lowercase hex characters"),
            ({**good, "extra": 1}, "Cannot find field: extra"),
            (
                {**good, "data_sources": {"tables": [{"identifier": "customer"}]}},
                "is not catalog.schema.table",
            ),
        ):
            r = http.post(BASE, json={**body, "serialized_space": json.dumps(wrong)})
            assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
            assert said in r.json()["message"], r.json()["message"]
        refused = http.post(BASE, json=body, headers=auth(BOB))
        assert refused.status_code == 403 and "CAN EDIT" in refused.json()["message"]

        created = http.post(BASE, json=body)
        assert created.status_code == 200, created.text
        space = created.json()
        assert re.fullmatch(r"[0-9a-f]{32}", space["space_id"]) and space["etag"] == "1"
        assert space["parent_path"] == "/Users/ann"
        plain = http.get(f"{BASE}/{space['space_id']}").json()
        assert "etag" not in plain and "serialized_space" not in plain and plain["title"] == "Customers (api)"
        started = http.post(
            f"{BASE}/{space['space_id']}/start-conversation", json={"content": "How many customers?"}
        )
        assert started.status_code == 200  # a created space is asked at once
        assert http.get(f"{BASE}/{space['space_id']}", headers=auth(BOB)).status_code == 403

        trashed = http.delete(f"{BASE}/{space['space_id']}")
        assert trashed.status_code == 200
        assert http.get(f"{BASE}/{space['space_id']}").status_code == 404
        assert space["space_id"] not in {s["space_id"] for s in http.get(BASE).json()["spaces"]}
