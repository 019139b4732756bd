"""One conformance suite for the GenieSpace protocol, run by every backend.

``local``: the embedded engine, called directly. ``databricks``: :class:`DatabricksGenieSpace`
through the real ``databricks.sdk.WorkspaceClient(host=..., token=...)`` against the Genie API
server (``build_genie_api``) over the same local spaces, served by uvicorn in a thread. Both must
give the same typed results, follow-ups, declines, refusals and failures. The Genie-only terminal
statuses (FAILED, CANCELLED, QUERY_RESULT_EXPIRED, a starting warehouse, HTTP 429, time limits) are
scripted on the server and checked at the end for the databricks backend.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from genie_agent.errors import (
    BackendError,
    BackendTimeoutError,
    ConfigError,
    UnsafeRequestError,
    UserInputError,
)
from genie_agent.genie_api import GenieApi, build_genie_api, serve_in_background
from genie_agent.identity import Identity, TokenIdentityProvider, UserConfig
from genie_agent.spaces.base import GenieSpace, SpaceAnswer
from genie_agent.spaces.databricks import (
    DatabricksGenieSpace,
    GenieSpaceConfig,
    default_client_factory,
)
from genie_agent.spaces.local.conversations import ConversationStore
from genie_agent.spaces.local.engine import LocalGenieSpace
from genie_agent.spaces.local.executor import ReadOnlyExecutor
from genie_agent.spaces.semantic_model import SpaceDefinition
from tests.conftest import open_readonly
from tests.question_set import load_cases, same_result

ANN, BOB = "ann-conformance-token", "bob-conformance-token"
USERS = {
    "ann": UserConfig.model_validate({"token": ANN}),
    "bob": UserConfig.model_validate(
        {"token": BOB, "spaces": ["sales"], "row_filters": {"sales": {"region": ["EUROPE"]}}}
    ),
}
IDENTITIES = TokenIdentityProvider(USERS)
TOKENS = {"ann": ANN, "bob": BOB}

# Two spaces beside TPC-H's: one whose SQL fails in the database, one whose doubles are big and tiny
# (Genie prints those in scientific notation: '5.5531602E8', '8.8177E-7').
BROKEN = {
    "id": "broken",
    "title": "Broken",
    "description": "Orders, with a misconfigured measure.",
    "database": "tpch",
    "tables": [{"name": "orders"}],
    "dimensions": [{"name": "priority", "expr": "orders.o_orderpriority", "index_values": False}],
    "measures": [{"name": "revenue", "expr": "SUM(orders.o_no_such_column)", "table": "orders"}],
    "sample_questions": ["Revenue by priority"],
}
DOUBLES = {
    "id": "doubles",
    "title": "Doubles",
    "description": "Order totals as doubles.",
    "database": "tpch",
    "tables": [{"name": "orders"}],
    "dimensions": [{"name": "priority", "expr": "orders.o_orderpriority"}],
    "measures": [
        # MAX and MIN, not SUM: a parallel SUM of doubles differs in its last bits from run to run.
        {"name": "largest", "expr": "MAX(CAST(orders.o_totalprice AS DOUBLE)) * 1000", "table": "orders"},
        {"name": "tiny", "expr": "MIN(CAST(orders.o_totalprice AS DOUBLE)) / 1e9", "table": "orders"},
    ],
    "sample_questions": ["Largest by priority"],
}
# Every third single-space question of the example set, across the three TPC-H spaces.
CASES = load_cases("single")[::3]


def who(user: str) -> Identity:
    return IDENTITIES.authenticate(f"Bearer {TOKENS[user]}")


@pytest.fixture(scope="module")
def local_spaces(tpch_catalog, tpch_db: Path, tmp_path_factory) -> dict[str, LocalGenieSpace]:
    executor = ReadOnlyExecutor(tpch_db)
    conversations = ConversationStore(tmp_path_factory.mktemp("conformance") / "conversations.sqlite")
    definitions = [*tpch_catalog.spaces, SpaceDefinition.model_validate(BROKEN)]
    definitions.append(SpaceDefinition.model_validate(DOUBLES))
    return {d.id: LocalGenieSpace(d, executor, conversations) for d in definitions}


@pytest.fixture(scope="module")
def genie(local_spaces) -> Iterator[tuple[GenieApi, str]]:
    spaces: dict[str, GenieSpace] = {**local_spaces, "slow": local_spaces["sales"]}
    api = build_genie_api(spaces, IDENTITIES, latency_s={"slow": 3.0})
    with serve_in_background(api) as url:
        yield api, url


def _client(url: str, token: str, retry_timeout_s: int = 30) -> Any:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config

    return WorkspaceClient(config=Config(host=url, token=token, retry_timeout_seconds=retry_timeout_s))


@pytest.fixture(scope="module")
def sdk_env() -> Iterator[pytest.MonkeyPatch]:
    """databricks-sdk reads DATABRICKS_* and ~/.databrickscfg: nothing of the machine's may leak in."""
    import os

    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith(("DATABRICKS_", "ARM_", "AZURE_", "GOOGLE_"))]:
            mp.delenv(name)
        mp.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/databrickscfg")
        yield mp


@pytest.fixture(scope="module")
def remote(genie, local_spaces, sdk_env) -> dict[str, DatabricksGenieSpace]:
    _, url = genie
    clients = {user: _client(url, token) for user, token in TOKENS.items()}

    def factory(identity: Identity | None) -> Any:
        return clients["bob" if identity is not None and identity.user == "bob" else "ann"]

    return {
        domain: _remote_space(domain, space, factory)
        for domain, space in {**local_spaces, "slow": local_spaces["sales"]}.items()
    }


def _remote_space(
    domain: str, local: GenieSpace, factory: Any, timeout_s: float = 30.0
) -> DatabricksGenieSpace:
    info = local.info
    config = GenieSpaceConfig(
        space_id=domain,
        title=info.title,
        description=info.description,
        sample_questions=info.sample_questions,
    )
    return DatabricksGenieSpace(domain, config, factory, timeout_s=timeout_s)


@dataclass
class Backend:
    name: str
    spaces: dict[str, Any]

    def ask(
        self, domain: str, question: str, conversation_id: str | None = None, user: str = "ann"
    ) -> SpaceAnswer:
        return self.spaces[domain].ask(question, conversation_id, identity=who(user))


@pytest.fixture(params=["local", "databricks"])
def backend(request, local_spaces, remote) -> Backend:
    return Backend(request.param, local_spaces if request.param == "local" else remote)


@pytest.fixture
def faults(genie) -> Iterator[Any]:
    api, _ = genie
    yield api.faults
    api.faults.clear()


def typed(rows: tuple[tuple[Any, ...], ...]) -> list[list[tuple[type, Any]]]:
    """Rows with each value's type: Decimal('1.5') == 1.5 in Python, but not here."""
    return [[(type(v), v) for v in row] for row in rows]


def expected_rows(tpch_db: Path, sql: str) -> list[tuple[Any, ...]]:
    with open_readonly(tpch_db) as con:
        return con.execute(sql).fetchall()


# --- shared behaviour --------------------------------------------------------------------------------


def test_info_names_the_space_and_gives_routing_terms(backend):
    for domain in ("sales", "supply", "customers"):
        space = backend.spaces[domain]
        assert isinstance(space, GenieSpace)
        assert space.info.id == domain and space.info.title and space.info.sample_questions
        terms = space.routing_terms()
        assert terms and all(t.phrase.strip() for t in terms)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_same_questions_same_results(backend, local_spaces, tpch_db, case):
    (domain,) = case["spaces"]
    answer = backend.ask(domain, case["question"])
    assert answer.status == "completed" and answer.domain == domain and answer.conversation_id
    assert same_result(answer.rows, expected_rows(tpch_db, case["expected_sql"][domain]), case["ordered"])
    reference = local_spaces[domain].ask(case["question"], identity=who("ann"))
    assert typed(answer.rows) == typed(reference.rows)
    assert (
        answer.columns == reference.columns and answer.sql == reference.sql and answer.text == reference.text
    )
    assert (answer.row_count, answer.truncated) == (reference.row_count, reference.truncated)
    assert len(answer.column_types) == len(answer.columns)


def test_big_and_tiny_doubles_come_back_exactly(backend, local_spaces):
    for question in ("Largest by priority", "tiny by priority"):
        answer = backend.ask("doubles", question)
        reference = local_spaces["doubles"].ask(question, identity=who("ann"))
        assert typed(answer.rows) == typed(reference.rows) and answer.rows
        assert all(isinstance(v, float) for _, v in answer.rows)


def test_follow_up_continues_the_conversation(backend):
    first = backend.ask("sales", "Top 5 nations by revenue in 1995")
    assert first.row_count == 5
    second = backend.ask("sales", "Show the top 3 instead", first.conversation_id)
    assert second.conversation_id == first.conversation_id
    assert second.row_count == 3 and [r[0] for r in second.rows] == [r[0] for r in first.rows[:3]]
    third = backend.ask("sales", "What about 1996?", first.conversation_id)
    assert third.row_count == 3 and "1996" in (third.sql or "")


def test_another_users_conversation_is_not_continued(backend):
    ann = backend.ask("sales", "Top 5 nations by revenue in 1995", user="ann")
    bob = backend.ask("sales", "Show the top 3 instead", ann.conversation_id, user="bob")
    assert bob.conversation_id != ann.conversation_id
    assert bob.status == "no_answer" or bob.row_count != 3


def test_row_filters_of_the_identity_are_honoured(backend):
    answer = backend.ask("sales", "Revenue by region in 1995", user="bob")
    assert [row[0] for row in answer.rows] == ["EUROPE"]
    everyone = backend.ask("sales", "Revenue by region in 1995", user="ann")
    assert len(everyone.rows) == 5 and tuple(answer.rows[0]) in {tuple(r) for r in everyone.rows}


def test_no_answer_keeps_the_text_and_suggestions(backend):
    answer = backend.ask("sales", "What is the mood of the sales team?")
    assert answer.status == "no_answer" and "mood" in answer.text
    assert answer.suggested_questions and not answer.rows and answer.sql is None


def test_write_requests_are_refused(backend):
    with pytest.raises(UnsafeRequestError, match="read-only"):
        backend.ask("sales", "Delete all orders from 1995")


def test_an_empty_question_is_bad_input(backend):
    with pytest.raises(UserInputError):
        backend.ask("sales", "   ")


def test_a_failing_space_raises_with_the_database_error(backend):
    with pytest.raises(BackendError) as failed:
        backend.ask("broken", "Revenue by priority")
    assert "o_no_such_column" in failed.value.message and failed.value.hint
    assert not isinstance(failed.value, BackendTimeoutError)


# --- Genie's own terminal statuses and errors (the databricks backend) ------------------------------


def test_failed_message_raises_with_genies_error_text(remote, faults):
    faults.fail_next("sales", "[TABLE_OR_VIEW_NOT_FOUND] main.tpch.orders", "SQL_EXECUTION_EXCEPTION")
    with pytest.raises(BackendError, match=r"TABLE_OR_VIEW_NOT_FOUND\] main\.tpch\.orders") as failed:
        remote["sales"].ask("Revenue by region in 1995", identity=who("ann"))
    assert not failed.value.retryable


def test_cancelled_message_raises_retryable(remote, faults):
    faults.cancel_next("sales")
    with pytest.raises(BackendError, match="cancelled") as cancelled:
        remote["sales"].ask("Revenue by region in 1995", identity=who("ann"))
    assert cancelled.value.retryable


@pytest.mark.parametrize("on_fetch", [False, True], ids=["status-expired", "statement-closed"])
def test_expired_results_are_re_executed(remote, local_spaces, genie, faults, on_fetch):
    api, _ = genie
    faults.expire_next("sales", on_fetch=on_fetch)
    answer = remote["sales"].ask("Revenue by region in 1995", identity=who("ann"))
    reference = local_spaces["sales"].ask("Revenue by region in 1995", identity=who("ann"))
    assert typed(answer.rows) == typed(reference.rows)
    trace = api.trace(answer.message_id)
    assert trace is not None and trace.status == "COMPLETED"  # re-executing brought it back
    statuses = [s for s, _ in trace.timeline]
    assert ("QUERY_RESULT_EXPIRED" in statuses) is not on_fetch


def test_a_result_that_expires_later_is_re_executed_on_the_next_fetch(remote, genie):
    api, url = genie
    answer = remote["sales"].ask("Revenue by region in 1995", identity=who("ann"))
    api.expire(answer.message_id)
    client = _client(url, ANN)
    ids = ("sales", answer.conversation_id, answer.message_id)
    message = client.genie.get_message(*ids)
    assert message.status is not None and message.status.value == "QUERY_RESULT_EXPIRED"
    (query,) = [a for a in message.attachments or [] if a.query is not None]
    closed = client.genie.get_message_attachment_query_result(*ids, query.attachment_id)
    assert closed.statement_response.status.state.value == "CLOSED"
    again = client.genie.execute_message_attachment_query(*ids, query.attachment_id)
    assert again.statement_response.status.state.value == "SUCCEEDED"
    assert again.statement_response.statement_id != closed.statement_response.statement_id


def test_http_429_once_is_retried_transparently(remote, genie, faults):
    faults.rate_limit(1, retry_after_s=0)
    answer = remote["sales"].ask("Revenue by region in 1995", identity=who("ann"))
    assert answer.row_count == 5 and faults.take_rate_limit() is None  # the 429 was served


def test_rate_limit_failures_are_retried_with_backoff(remote, faults, caplog):
    faults.fail_next("sales", "Too many questions", "RATE_LIMIT_EXCEEDED_GENERIC_EXCEPTION")
    with caplog.at_level("WARNING", logger="genie_agent.genie"):
        answer = remote["sales"].ask("Revenue by region in 1995", identity=who("ann"))
    assert answer.row_count == 5
    assert any("rate-limited" in r.getMessage() and "retrying" in r.getMessage() for r in caplog.records)


def test_a_rate_limit_that_persists_gives_up_and_says_so(genie, local_spaces, faults, sdk_env):
    _, url = genie
    client = _client(url, ANN, retry_timeout_s=1)
    space = _remote_space("sales", local_spaces["sales"], lambda _: client, timeout_s=2.5)
    faults.rate_limit(1000, retry_after_s=0)
    with pytest.raises(BackendError, match=r"rate-limiting.*retried") as limited:
        space.ask("Revenue by region in 1995", identity=who("ann"))
    assert limited.value.retryable and "per minute" in limited.value.hint


def test_no_answer_in_time_is_a_timeout_with_the_last_status(genie, remote, local_spaces):
    space = _remote_space("slow", local_spaces["sales"], remote["slow"]._client, timeout_s=0.4)
    with pytest.raises(BackendTimeoutError, match=r"within 0.4 s \(last status: ASKING_AI\)"):
        space.ask("Revenue by region in 1995", identity=who("ann"))


def test_a_starting_warehouse_is_named_when_time_runs_out(remote, local_spaces, faults):
    faults.warehouse_starting_next("sales", 3.0)
    space = _remote_space("sales", local_spaces["sales"], remote["sales"]._client, timeout_s=0.5)
    with pytest.raises(BackendTimeoutError, match="warehouse is still starting") as timed_out:
        space.ask("Revenue by region in 1995", identity=who("ann"))
    assert "serverless" in timed_out.value.hint


def test_a_warehouse_failure_says_what_to_do_and_for_whom(remote, faults):
    faults.fail_next(
        "sales", "Warehouse 4b9f is stopped and cannot be started.", "WAREHOUSE_NOT_FOUND_EXCEPTION"
    )
    with pytest.raises(BackendError, match="cannot run its SQL warehouse: Warehouse 4b9f") as failed:
        remote["sales"].ask("Revenue by region in 1995", identity=who("ann"))
    assert "CAN USE" in failed.value.hint and "'ann'" in failed.value.hint


def test_no_access_names_the_identity_used(remote):
    with pytest.raises(
        BackendError, match=r"Databricks user 'bob' \(auth: pat\) has no access to the Supply"
    ):
        remote["supply"].ask("How many suppliers are in ASIA?", identity=who("bob"))


def test_unknown_space_and_bad_token_say_what_to_fix(genie, local_spaces, sdk_env):
    _, url = genie
    ann = _client(url, ANN)
    missing = DatabricksGenieSpace("nope", GenieSpaceConfig(space_id="01ef-missing"), lambda _: ann)
    with pytest.raises(BackendError, match="was not found") as not_found:
        missing.ask("Revenue by region in 1995")
    assert "space_id" in not_found.value.hint
    stranger = _client(url, "not-a-token")
    space = _remote_space("sales", local_spaces["sales"], lambda _: stranger)
    with pytest.raises(BackendError, match="rejected the credentials") as rejected:
        space.ask("Revenue by region in 1995")
    assert "DATABRICKS_TOKEN" in rejected.value.hint


def test_an_unreachable_workspace_is_a_retryable_backend_error(local_spaces, sdk_env):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    client = _client(f"http://127.0.0.1:{port}", ANN, retry_timeout_s=1)
    space = _remote_space("sales", local_spaces["sales"], lambda _: client, timeout_s=5)
    with pytest.raises(BackendError, match="Cannot reach the Databricks workspace") as unreachable:
        space.ask("Revenue by region in 1995")
    assert unreachable.value.retryable


def test_missing_credentials_are_a_config_error(local_spaces, sdk_env):
    config = GenieSpaceConfig(space_id="sales")
    space = DatabricksGenieSpace("sales", config, default_client_factory(retry_timeout_s=1), timeout_s=5)
    with pytest.raises(ConfigError, match="authentication is not configured") as missing:
        space.ask("Revenue by region in 1995")
    assert "DATABRICKS_HOST" in missing.value.hint


def test_rows_are_typed_from_the_manifest(remote):
    answer = remote["sales"].ask("Revenue by month in 1995", identity=who("ann"))
    month, revenue = answer.rows[0]
    assert isinstance(month, dt.date) and isinstance(revenue, Decimal)
    assert answer.column_types == ("DATE", "DECIMAL(38,4)")
