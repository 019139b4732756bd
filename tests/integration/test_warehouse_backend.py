"""``genie_backend: warehouse`` against genie-server's SQL warehouse (the Statement Execution API over
the local TPC-H DuckDB file), through databricks-sdk (``ask``) and the pooled httpx client (``aask``).

Conformance: every question of the TPC-H bank the local engine answers, the warehouse backend
answers with the same rows, value for value and type for type. Then what only a warehouse has: the
caller's own credentials (on-behalf-of: the statement runs as them, their grants hold), the time
limit (the statement is cancelled on the warehouse), the row limit over several result chunks, and
the errors a workspace gives (a table not found, no SELECT, no such warehouse).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from genie_agent.errors import BackendError, BackendTimeoutError, ConfigError, UnsafeRequestError
from genie_agent.genie_api import GenieApi, build_genie_api, serve_in_background
from genie_agent.identity import Identity, TokenIdentityProvider, UserConfig
from genie_agent.spaces.base import AsyncGenieSpace, SpaceAnswer
from genie_agent.spaces.databricks import default_client_factory
from genie_agent.spaces.genie_connections import aclose_connections
from genie_agent.spaces.local.conversations import ConversationStore
from genie_agent.spaces.local.engine import LocalGenieSpace
from genie_agent.spaces.local.executor import ReadOnlyExecutor
from genie_agent.spaces.warehouse import WarehouseGenieSpace, WarehouseRunner
from genie_agent.spaces.warehouse_sql import WarehouseTarget
from tests.bank.harness import load_bank

ANN, BOB = "ann-warehouse-token", "bob-warehouse-token"
USERS = {
    "ann": UserConfig.model_validate({"token": ANN}),
    "bob": UserConfig.model_validate(
        {"token": BOB, "spaces": ["sales"], "row_filters": {"sales": {"region": ["EUROPE"]}}}
    ),
}
IDENTITIES = TokenIdentityProvider(USERS)
WAREHOUSE = "0123456789abcdef"
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run on a fresh event loop, closing that loop's HTTP connections after."""

    async def main() -> T:
        try:
            return await coro
        finally:
            await aclose_connections()

    return asyncio.run(main())


@pytest.fixture(scope="module")
def local(tpch_catalog, tpch_db: Path, tmp_path_factory) -> dict[str, LocalGenieSpace]:
    executor = ReadOnlyExecutor(tpch_db)
    conversations = ConversationStore(tmp_path_factory.mktemp("local") / "conversations.sqlite")
    return {d.id: LocalGenieSpace(d, executor, conversations) for d in tpch_catalog.spaces}


@pytest.fixture(scope="module")
def server(local) -> Iterator[tuple[GenieApi, str]]:
    api = build_genie_api(local, IDENTITIES)
    with serve_in_background(api) as url:
        yield api, url
    api.close()


@pytest.fixture(scope="module")
def workspace(server) -> Iterator[str]:
    """databricks-sdk's unified auth sees the server as the workspace, with ann's token as the
    process's own credentials; nothing of the machine's DATABRICKS_* leaks in."""
    _, url = server
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith(("DATABRICKS_", "ARM_", "AZURE_", "GOOGLE_"))]:
            mp.delenv(name)
        mp.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/databrickscfg")
        mp.setenv("DATABRICKS_HOST", url)
        mp.setenv("DATABRICKS_TOKEN", ANN)
        yield url


def caller(user: str, url: str) -> Identity:
    """``user`` as a served agent sees them: their limits, and their own workspace client (on-behalf-of)."""
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config

    token = {"ann": ANN, "bob": BOB}[user]
    client = WorkspaceClient(config=Config(host=url, token=token, retry_timeout_seconds=10))
    return dataclasses.replace(IDENTITIES.authenticate(f"Bearer {token}"), workspace_client=client)


def make_spaces(
    tpch_catalog,
    cache: Path,
    *,
    target: WarehouseTarget | None = None,
    timeout_s: float = 30.0,
    row_limit: int = 1000,
) -> dict[str, WarehouseGenieSpace]:
    target = target or WarehouseTarget(WAREHOUSE, "samples", "tpch")
    factory = default_client_factory()
    conversations = ConversationStore(cache / "conversations.sqlite")
    return {
        d.id: WarehouseGenieSpace(
            d,
            WarehouseRunner(d.title, target, factory, row_limit=row_limit, timeout_s=timeout_s),
            conversations,
            cache_dir=cache,
        )
        for d in tpch_catalog.spaces
    }


@pytest.fixture(scope="module")
def remote(tpch_catalog, workspace, tmp_path_factory) -> dict[str, WarehouseGenieSpace]:
    return make_spaces(tpch_catalog, tmp_path_factory.mktemp("warehouse"))


@pytest.fixture
def statements(server) -> Iterator[Any]:
    api, _ = server
    yield api.statements
    api.statements.latency_s = 0.0


def typed(rows: tuple[tuple[Any, ...], ...], ordered: bool) -> list[list[tuple[type, Any]]]:
    out = [[(type(v), v) for v in row] for row in rows]
    return out if ordered else sorted(out, key=repr)


# --- conformance: the same questions, the same rows ----------------------------------------------

BANK = [c for c in load_bank("tpch_single") if c["kind"] == "single"]


def test_the_warehouse_answers_the_bank_as_the_local_engine_does(local, remote, workspace):
    """Every single-space question of the TPC-H bank, asked of both backends (the warehouse's awaited,
    eight at a time): the same status, SQL columns, and rows value for value."""
    who = caller("ann", workspace)

    async def ask_all() -> list[SpaceAnswer | Exception]:
        gate = asyncio.Semaphore(8)

        async def one(case: dict[str, Any]) -> SpaceAnswer | Exception:
            async with gate:
                try:
                    return await remote[case["spaces"][0]].aask(case["question"], identity=who)
                except Exception as exc:  # compared with the local engine's own
                    return exc

        return await asyncio.gather(*(one(c) for c in BANK))

    answers = run(ask_all())
    compared = 0
    for case, warehouse in zip(BANK, answers, strict=True):
        try:
            expected: SpaceAnswer | Exception = local[case["spaces"][0]].ask(case["question"])
        except Exception as exc:
            expected = exc
        if isinstance(expected, Exception):
            assert type(warehouse) is type(expected), case["id"]
            continue
        assert isinstance(warehouse, SpaceAnswer), (case["id"], warehouse)
        assert warehouse.status == expected.status, case["id"]
        if expected.status != "completed":
            assert warehouse.text == expected.text, case["id"]
            continue
        compared += 1
        assert warehouse.columns == expected.columns, case["id"]
        # Cut at the row limit only where the answer has more rows (6,948 of part type and part size).
        assert warehouse.truncated is expected.truncated, case["id"]
        assert typed(warehouse.rows, case["ordered"]) == typed(expected.rows, case["ordered"]), case["id"]
        assert "samples.tpch." in (warehouse.sql or ""), case["id"]
    assert compared >= 0.7 * len(BANK), f"only {compared} of {len(BANK)} questions were answered"


@pytest.mark.parametrize("case", BANK[::25], ids=[c["id"] for c in BANK[::25]])
def test_ask_over_databricks_sdk_answers_as_aask(remote, workspace, case):
    space = remote[case["spaces"][0]]
    assert isinstance(space, AsyncGenieSpace)
    who = caller("ann", workspace)
    blocking = space.ask(case["question"], identity=who)
    awaited = run(space.aask(case["question"], identity=who))
    assert blocking.status == awaited.status and blocking.sql == awaited.sql
    assert typed(blocking.rows, True) == typed(awaited.rows, True)
    assert (blocking.columns, blocking.column_types) == (awaited.columns, awaited.column_types)


def test_follow_ups_continue_the_conversation(remote, workspace):
    sales, who = remote["sales"], caller("ann", workspace)

    async def conversation() -> tuple[SpaceAnswer, SpaceAnswer, SpaceAnswer]:
        first = await sales.aask("Top 5 nations by revenue in 1995", identity=who)
        second = await sales.aask("Show the top 3 instead", first.conversation_id, identity=who)
        third = await sales.aask("What about 1996?", first.conversation_id, identity=who)
        return first, second, third

    first, second, third = run(conversation())
    assert first.row_count == 5 and second.conversation_id == third.conversation_id == first.conversation_id
    assert [r[0] for r in second.rows] == [r[0] for r in first.rows[:3]]
    assert third.row_count == 3 and "1996" in (third.sql or "")


# --- identity: on-behalf-of ------------------------------------------------------------------------


def test_statements_run_as_the_caller_with_their_row_filters(server, remote, workspace):
    api, _ = server
    before = len(api.statements.records())
    ann = run(remote["sales"].aask("Revenue by region in 1995", identity=caller("ann", workspace)))
    bob = run(
        remote["sales"].aask(
            "Revenue by region in 1995", ann.conversation_id, identity=caller("bob", workspace)
        )
    )
    assert [r.user for r in api.statements.records()[before:]] == ["ann", "bob"]
    assert len(ann.rows) == 5 and [row[0] for row in bob.rows] == ["EUROPE"]
    assert bob.conversation_id != ann.conversation_id  # another user's conversation is not continued


def test_a_table_the_caller_may_not_read_is_refused_with_who_and_what_to_grant(remote, workspace):
    """bob may use the sales space only: the warehouse refuses him the supply space's tables."""
    question = "How many suppliers are there per region?"
    with pytest.raises(BackendError, match=r"Databricks user 'bob' \(auth: pat\) may not read") as blocking:
        remote["supply"].ask(question, identity=caller("bob", workspace))
    with pytest.raises(BackendError) as awaited:
        run(remote["supply"].aask(question, identity=caller("bob", workspace)))
    assert "INSUFFICIENT_PERMISSIONS" in blocking.value.message and "grant SELECT" in blocking.value.hint
    assert (awaited.value.message, awaited.value.hint) == (blocking.value.message, blocking.value.hint)


# --- limits ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("awaited", [False, True], ids=["ask", "aask"])
def test_a_statement_past_its_time_limit_is_cancelled_on_the_warehouse(
    tpch_catalog, workspace, statements, tmp_path, awaited
):
    spaces = make_spaces(tpch_catalog, tmp_path, timeout_s=1.5)
    assert spaces["sales"].vocabulary.values  # indexed before the warehouse slows down
    statements.latency_s = 4.0  # statements stay PENDING, as on a warehouse that is starting
    question, who = "Revenue by region in 1995", caller("ann", workspace)
    started = time.monotonic()
    with pytest.raises(BackendTimeoutError, match=r"did not start .* within 1.5 s \(still PENDING") as err:
        if awaited:
            run(spaces["sales"].aask(question, identity=who))
        else:
            spaces["sales"].ask(question, identity=who)
    assert time.monotonic() - started < 3.5
    assert "GENIE_AGENT_QUERY_TIMEOUT_S" in err.value.hint
    last = statements.records()[-1]
    assert last.cancel_requested and last.state == "CANCELED"


def test_a_running_query_past_its_time_limit_is_interrupted(workspace, statements):
    runner = WarehouseRunner(
        "Sales",
        WarehouseTarget(WAREHOUSE, "samples", "tpch"),
        default_client_factory(),
        row_limit=10,
        timeout_s=1.0,
    )
    endless = "SELECT COUNT(*) FROM lineitem a, lineitem b WHERE a.l_quantity + b.l_quantity > 0"
    with pytest.raises(BackendTimeoutError, match="ran longer than the 1 s time limit"):
        run(runner.arun(runner.translate(endless, {"lineitem"}), None))
    last = statements.records()[-1]
    assert last.state == "CANCELED" and last.statement.count("samples.tpch.") == 2


def test_a_caller_who_gives_up_cancels_the_statement(tpch_catalog, workspace, statements, tmp_path):
    """Under 5 s of time limit the statement is sent without waiting (``wait_timeout`` 0s), so its id
    is known at once: the caller giving up cancels it."""
    spaces = make_spaces(tpch_catalog, tmp_path, timeout_s=4.0)
    assert spaces["sales"].vocabulary.values
    statements.latency_s = 3.0

    async def give_up() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(spaces["sales"].aask("How many orders per order priority?"), 0.7)
        await asyncio.sleep(0.5)  # the cancel is sent after the caller gave up

    run(give_up())
    last = statements.records()[-1]
    assert last.cancel_requested and last.state == "CANCELED"


@pytest.mark.parametrize("limit", [40, 200])
def test_the_row_limit_reads_every_chunk_up_to_it(tpch_db, workspace, statements, limit):
    """Seven rows a chunk: a result of 150 rows is read across its chunks, cut at the row limit."""
    from tests.conftest import open_readonly

    statements.chunk_rows = 7
    try:
        runner = WarehouseRunner(
            "Customers",
            WarehouseTarget(WAREHOUSE, "samples", "tpch"),
            default_client_factory(),
            row_limit=limit,
            timeout_s=30,
        )
        sql = "SELECT c_custkey, c_name, c_acctbal FROM customer WHERE c_custkey <= 150 ORDER BY c_custkey"
        blocking = runner.run(runner.translate(sql, {"customer"}), None)
        awaited = run(runner.arun(runner.translate(sql, {"customer"}), None))
    finally:
        statements.chunk_rows = 4096
    with open_readonly(tpch_db) as db:
        truth = db.execute(sql).fetchall()
    assert blocking.rows == awaited.rows == tuple(truth[:limit])
    assert blocking.truncated is awaited.truncated is (limit < 150)
    assert blocking.column_types == ("BIGINT", "STRING", "DECIMAL(15,2)")


def test_the_guard_refuses_before_anything_is_sent(remote, server, workspace):
    api, _ = server
    before = len(api.statements.records())
    runner = remote["sales"].runner
    with pytest.raises(UnsafeRequestError):
        remote["sales"].ask("Delete all orders from 1995")
    with pytest.raises(UnsafeRequestError, match="not part of this space"):
        runner.translate("SELECT * FROM partsupp", remote["sales"].definition.physical_tables)
    with pytest.raises(UnsafeRequestError, match="single SELECT"):
        runner.translate("DROP TABLE orders", remote["sales"].definition.physical_tables)
    assert len(api.statements.records()) == before


# --- a workspace's errors --------------------------------------------------------------------------


def test_tables_in_another_schema_say_which_settings_to_fix(tpch_catalog, workspace, tmp_path):
    spaces = make_spaces(tpch_catalog, tmp_path, target=WarehouseTarget(WAREHOUSE, "main", "tpch"))
    with pytest.raises(BackendError, match=r"cannot find the Sales space's tables in main\.tpch") as err:
        run(spaces["sales"].aask("Revenue by region in 1995"))
    assert "TABLE_OR_VIEW_NOT_FOUND" in err.value.message and "GENIE_AGENT_WAREHOUSE_SCHEMA" in err.value.hint


def test_an_unknown_warehouse_says_where_to_find_its_id(tpch_catalog, workspace, tmp_path):
    spaces = make_spaces(tpch_catalog, tmp_path, target=WarehouseTarget("nosuchwarehouse", "samples", "tpch"))
    with pytest.raises(BackendError, match="SQL warehouse nosuchwarehouse was not found") as err:
        spaces["sales"].ask("Revenue by region in 1995")
    assert "GENIE_AGENT_WAREHOUSE_ID" in err.value.hint


def test_the_indexed_values_are_read_once(tpch_catalog, server, workspace, tmp_path):
    api, _ = server
    first = make_spaces(tpch_catalog, tmp_path)
    before = len(api.statements.records())
    assert {"EUROPE", "BUILDING"} <= {t.phrase for t in first["sales"].routing_terms()}
    read = len(api.statements.records()) - before
    assert read >= 3
    again = make_spaces(tpch_catalog, tmp_path)  # a later process, the same cache
    assert {t.phrase for t in again["sales"].routing_terms()} == {
        t.phrase for t in first["sales"].routing_terms()
    }
    assert len(api.statements.records()) - before == read


# --- the agent -------------------------------------------------------------------------------------


def test_the_agent_on_the_warehouse_answers_as_on_the_local_engine(make_test_agent, workspace):
    question = "Top 5 nations by revenue in 1997"
    warehouse = make_test_agent(genie_backend="warehouse", warehouse_id=WAREHOUSE).ask(question)
    embedded = make_test_agent().ask(question)
    assert warehouse.status == embedded.status == "ok" and warehouse.source == "warehouse"
    assert warehouse.results[0].rows == embedded.results[0].rows
    assert warehouse.text == embedded.text


def test_closing_the_agent_closes_the_warehouse_connections_on_the_core_loop(make_test_agent, workspace):
    from genie_agent.aio import core
    from genie_agent.spaces import genie_connections

    agent = make_test_agent(genie_backend="warehouse", warehouse_id=WAREHOUSE)
    assert agent.source == "warehouse"
    assert agent.ask("Top 5 nations by revenue in 1997").status == "ok"
    pool = genie_connections._pools.get(id(core().loop))
    assert pool is not None, "the statements went over the core loop's pooled connections"
    clients = [lane.client for lane in pool.lanes]
    assert any(client._transport._pool.connections for client in clients), "a connection was open"
    assert agent.close() is True
    assert id(core().loop) not in genie_connections._pools
    assert all(client.is_closed for client in clients)
    assert not any(client._transport._pool.connections for client in clients), "no connection left open"


def test_the_warehouse_backend_needs_a_warehouse_id(make_test_agent):
    with pytest.raises(ConfigError) as err:
        make_test_agent(genie_backend="warehouse")
    assert any("GENIE_AGENT_WAREHOUSE_ID" in p for p in err.value.problems)


# --- the emulated Statement Execution API, through databricks-sdk ---------------------------------


def test_the_emulator_answers_the_statement_api_as_documented(workspace, statements):
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.errors import InvalidParameterValue, NotFound
    from databricks.sdk.service.sql import ExecuteStatementRequestOnWaitTimeout, StatementState

    ann = WorkspaceClient()
    bob = caller("bob", workspace).workspace_client
    api = ann.statement_execution
    sql = "SELECT n_name FROM nation ORDER BY n_name LIMIT 3"
    started = api.execute_statement(sql, WAREHOUSE, catalog="samples", schema="tpch", wait_timeout="0s")
    assert started.status.state in (StatementState.PENDING, StatementState.RUNNING, StatementState.SUCCEEDED)
    deadline = time.monotonic() + 10
    while (done := api.get_statement(started.statement_id)).status.state != StatementState.SUCCEEDED:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert done.result.data_array == [["ALGERIA"], ["ARGENTINA"], ["BRAZIL"]]
    assert [c.type_text for c in done.manifest.schema.columns] == ["STRING"]
    with pytest.raises(NotFound):
        bob.statement_execution.get_statement(started.statement_id)  # ann's statement
    with pytest.raises(InvalidParameterValue, match="wait_timeout"):
        api.execute_statement(sql, WAREHOUSE, wait_timeout="3s")
    statements.latency_s = 8.0
    cancelled = api.execute_statement(
        sql,
        WAREHOUSE,
        catalog="samples",
        schema="tpch",
        wait_timeout="5s",
        on_wait_timeout=ExecuteStatementRequestOnWaitTimeout.CANCEL,
    )
    assert cancelled.status.state == StatementState.CANCELED
