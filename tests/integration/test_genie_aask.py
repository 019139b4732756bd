"""``DatabricksGenieSpace.aask`` (httpx, awaited polls) against the Genie API emulator, beside ``ask``
(databricks-sdk) on the same questions: the same answers, follow-ups and errors; what only the async
path does (HTTP 429 on sending a question raised unsent, 429 on polls retried after Retry-After, a
workspace that does not answer reported within seconds).

The emulator (``build_genie_api``) serves the local TPC-H spaces with uvicorn in a thread; a 429 on
polls, which it cannot script, comes from a small ASGI layer in front of it (the network edge).
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from genie_agent.errors import BackendError, BackendTimeoutError, RateLimitedError
from genie_agent.genie_api import GenieApi, build_genie_api, serve_in_background
from genie_agent.identity import Identity, TokenIdentityProvider, UserConfig
from genie_agent.spaces.base import AsyncGenieSpace, GenieSpace, SpaceAnswer
from genie_agent.spaces.databricks import DatabricksGenieSpace, GenieSpaceConfig
from genie_agent.spaces.genie_connections import aclose_connections
from genie_agent.spaces.genie_http import UNREACHABLE_WITHIN_S
from genie_agent.spaces.local.conversations import ConversationStore
from genie_agent.spaces.local.engine import LocalGenieSpace
from genie_agent.spaces.local.executor import ReadOnlyExecutor
from tests.question_set import load_cases

ANN, BOB = "ann-aask-token", "bob-aask-token"
USERS = {
    "ann": UserConfig.model_validate({"token": ANN}),
    "bob": UserConfig.model_validate(
        {"token": BOB, "spaces": ["sales"], "row_filters": {"sales": {"region": ["EUROPE"]}}}
    ),
}
IDENTITIES = TokenIdentityProvider(USERS)
TOKENS = {"ann": ANN, "bob": BOB}
CASES = load_cases("single")[::4]
T = TypeVar("T")


def who(user: str) -> Identity:
    return IDENTITIES.authenticate(f"Bearer {TOKENS[user]}")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run on a fresh event loop, closing that loop's HTTP connections after."""

    async def main() -> T:
        try:
            return await coro
        finally:
            await aclose_connections()

    return asyncio.run(main())


class ThrottledPolls:
    """In front of the emulator: answers the next ``times`` GETs whose path ends with ``suffix`` (a
    message poll, a query result) with HTTP 429 and ``Retry-After``; passes everything else on."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.times, self.retry_after, self.suffix, self.served = 0, "1", "", 0

    def throttle(self, times: int, retry_after: str, suffix: str) -> None:
        self.times, self.retry_after, self.suffix, self.served = times, retry_after, suffix, 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        hit = scope["type"] == "http" and scope["method"] == "GET" and "/messages/" in path
        if hit and self.times > 0 and path.endswith(self.suffix):
            self.times -= 1
            self.served += 1
            body = b'{"error_code": "RESOURCE_EXHAUSTED", "message": "Too many requests."}'
            headers = [(b"content-type", b"application/json"), (b"retry-after", self.retry_after.encode())]
            await send({"type": "http.response.start", "status": 429, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def local_spaces(tpch_catalog, tpch_db: Path, tmp_path_factory) -> dict[str, GenieSpace]:
    executor = ReadOnlyExecutor(tpch_db)
    conversations = ConversationStore(tmp_path_factory.mktemp("aask") / "conversations.sqlite")
    spaces: dict[str, GenieSpace] = {
        d.id: LocalGenieSpace(d, executor, conversations) for d in tpch_catalog.spaces
    }
    return {**spaces, "slow": spaces["sales"]}


@pytest.fixture(scope="module")
def genie(local_spaces) -> Iterator[tuple[GenieApi, ThrottledPolls, str]]:
    api = build_genie_api(local_spaces, IDENTITIES, latency_s={"slow": 3.0, "*": 0.2})
    edge = ThrottledPolls(api)
    with serve_in_background(edge) as url:
        yield api, edge, url


@pytest.fixture(scope="module")
def sdk_env() -> Iterator[None]:
    """databricks-sdk reads DATABRICKS_* and ~/.databrickscfg: nothing of the machine's may leak in."""
    import os

    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith(("DATABRICKS_", "ARM_", "AZURE_", "GOOGLE_"))]:
            mp.delenv(name)
        mp.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/databrickscfg")
        yield


def client_for(url: str, token: str) -> Any:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config

    return WorkspaceClient(config=Config(host=url, token=token, retry_timeout_seconds=30))


@pytest.fixture(scope="module")
def factory(genie, sdk_env) -> Callable[[Identity | None], Any]:
    _, _, url = genie
    clients = {user: client_for(url, token) for user, token in TOKENS.items()}
    return lambda identity: clients["bob" if identity is not None and identity.user == "bob" else "ann"]


def space(
    domain: str, factory: Callable[[Identity | None], Any], timeout_s: float = 30.0, space_id: str = ""
) -> DatabricksGenieSpace:
    config = GenieSpaceConfig(space_id=space_id or domain, title=domain.title(), sample_questions=("Q?",))
    return DatabricksGenieSpace(domain, config, factory, timeout_s=timeout_s)


@pytest.fixture
def faults(genie) -> Iterator[Any]:
    api, edge, _ = genie
    yield api.faults
    api.faults.clear()
    edge.throttle(0, "1", "")


def typed(rows: tuple[tuple[Any, ...], ...]) -> list[list[tuple[type, Any]]]:
    return [[(type(v), v) for v in row] for row in rows]


def comparable(answer: SpaceAnswer) -> SpaceAnswer:
    """The answer without what differs between two askings (ids, timings); Genie's chart by its title."""
    viz = answer.visualization
    if viz is not None:
        viz = dataclasses.replace(viz, attachment_id="", query_attachment_id=None)
    return dataclasses.replace(
        answer, conversation_id="", message_id="", attachment_id=None, elapsed_ms={}, visualization=viz
    )


# --- the same answers -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_aask_answers_exactly_as_ask(factory, case):
    (domain,) = case["spaces"]
    remote = space(domain, factory)
    assert isinstance(remote, AsyncGenieSpace)
    sync = remote.ask(case["question"], identity=who("ann"))
    awaited = run(remote.aask(case["question"], identity=who("ann")))
    assert awaited.status == "completed" and awaited.rows and awaited.sql
    assert comparable(awaited) == comparable(sync)
    assert typed(awaited.rows) == typed(sync.rows)
    assert (awaited.columns, awaited.column_types) == (sync.columns, sync.column_types)
    assert awaited.conversation_id != sync.conversation_id  # asked anew, not read back


def test_a_follow_up_continues_the_conversation(factory):
    sales = space("sales", factory)

    async def conversation() -> tuple[SpaceAnswer, SpaceAnswer, SpaceAnswer]:
        first = await sales.aask("Top 5 nations by revenue in 1995", identity=who("ann"))
        second = await sales.aask("Show the top 3 instead", first.conversation_id, identity=who("ann"))
        third = await sales.aask("What about 1996?", first.conversation_id, identity=who("ann"))
        return first, second, third

    first, second, third = run(conversation())
    assert first.row_count == 5
    assert second.conversation_id == third.conversation_id == first.conversation_id
    assert second.row_count == 3 and [r[0] for r in second.rows] == [r[0] for r in first.rows[:3]]
    assert third.row_count == 3 and "1996" in (third.sql or "")


def test_another_users_conversation_is_not_continued_and_row_filters_hold(factory):
    sales = space("sales", factory)
    ann = run(sales.aask("Revenue by region in 1995", identity=who("ann")))
    bob = run(sales.aask("Revenue by region in 1995", ann.conversation_id, identity=who("bob")))
    assert bob.conversation_id != ann.conversation_id
    assert [row[0] for row in bob.rows] == ["EUROPE"] and len(ann.rows) == 5


def test_a_question_with_no_query_keeps_the_text_and_suggestions(factory):
    answer = run(space("sales", factory).aask("What is the mood of the sales team?"))
    assert answer.status == "no_answer" and "mood" in answer.text
    assert answer.suggested_questions and not answer.rows and answer.sql is None


@pytest.mark.parametrize("on_fetch", [False, True], ids=["status-expired", "statement-closed"])
def test_expired_results_are_re_executed(genie, factory, faults, on_fetch):
    api, _, _ = genie
    faults.expire_next("sales", on_fetch=on_fetch)
    answer = run(space("sales", factory).aask("Revenue by region in 1995", identity=who("ann")))
    assert answer.row_count == 5
    trace = api.trace(answer.message_id)
    assert trace is not None and trace.status == "COMPLETED"
    assert ("QUERY_RESULT_EXPIRED" in [s for s, _ in trace.timeline]) is not on_fetch


# --- the same errors ----------------------------------------------------------------------------------

FAILURES: dict[str, tuple[str, str, Callable[[Any], None], str]] = {
    "failed": (
        "sales",
        "ann",
        lambda f: f.fail_next("sales", "[TABLE_OR_VIEW_NOT_FOUND] main.tpch.orders"),
        r"TABLE_OR_VIEW_NOT_FOUND\] main\.tpch\.orders",
    ),
    "warehouse": (
        "sales",
        "ann",
        lambda f: f.fail_next("sales", "Warehouse 4b9f is stopped.", "WAREHOUSE_NOT_FOUND_EXCEPTION"),
        "cannot run its SQL warehouse",
    ),
    "cancelled": ("sales", "ann", lambda f: f.cancel_next("sales"), "cancelled in Genie"),
    "no-access": ("supply", "bob", lambda f: None, r"Databricks user 'bob' \(auth: pat\) has no access"),
    "no-such-space": ("nowhere", "ann", lambda f: None, "was not found on http://127.0.0.1"),
}


@pytest.mark.parametrize("kind", list(FAILURES))
def test_failures_raise_the_same_errors_as_ask(factory, faults, kind):
    domain, user, script, pattern = FAILURES[kind]
    remote = space(domain, factory)
    script(faults)
    with pytest.raises(BackendError, match=pattern) as sync:
        remote.ask("Revenue by region in 1995", identity=who(user))
    script(faults)
    with pytest.raises(BackendError, match=pattern) as awaited:
        run(remote.aask("Revenue by region in 1995", identity=who(user)))
    assert type(awaited.value) is type(sync.value)
    assert (awaited.value.message, awaited.value.hint) == (sync.value.message, sync.value.hint)
    assert awaited.value.retryable == sync.value.retryable


def test_a_rejected_token_says_what_to_fix(genie, sdk_env):
    _, _, url = genie
    stranger = client_for(url, "not-a-token")
    with pytest.raises(BackendError, match="rejected the credentials") as rejected:
        run(space("sales", lambda _: stranger).aask("Revenue by region in 1995"))
    assert "DATABRICKS_TOKEN" in rejected.value.hint and not rejected.value.retryable


def test_no_answer_in_time_is_a_timeout_with_the_last_status(factory):
    slow = space("slow", factory, timeout_s=0.4)
    with pytest.raises(BackendTimeoutError, match=r"within 0.4 s \(last status: ASKING_AI\)"):
        run(slow.aask("Revenue by region in 1995", identity=who("ann")))


def test_the_deadline_counts_from_when_the_question_is_sent(factory):
    """Time spent before sending (building the caller's client) is not the question's."""

    def slow_factory(identity: Identity | None) -> Any:
        time.sleep(2.0)
        return factory(identity)

    answer = run(space("sales", slow_factory, timeout_s=1.5).aask("Revenue by region in 1995"))
    assert answer.row_count == 5 and answer.elapsed_ms["total"] < 1500


# --- rate limits ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("follow_up", [False, True], ids=["start-conversation", "create-message"])
def test_a_429_on_sending_raises_rate_limited_at_once_unsent(factory, faults, follow_up):
    sales = space("sales", factory)
    conversation = sales.ask("Revenue by region in 1995").conversation_id if follow_up else None
    faults.rate_limit(2, retry_after_s=7)
    started = time.monotonic()
    with pytest.raises(RateLimitedError) as limited:
        run(sales.aask("Top 3 regions by revenue", conversation))
    assert time.monotonic() - started < 2.0  # not retried after the 7 s it was told to wait
    assert limited.value.retry_after_s == 7 and limited.value.retryable
    assert "not asked" in limited.value.message and "7 s" in limited.value.hint
    assert faults.take_rate_limit() == 7 and faults.take_rate_limit() is None  # one send, one 429


@pytest.mark.parametrize(
    ("suffix", "times"), [("", 2), ("/query-result", 1)], ids=["message-poll", "query-result"]
)
def test_a_429_on_polls_is_retried_after_retry_after(genie, factory, faults, suffix, times):
    _, edge, _ = genie
    edge.throttle(times, "1", suffix)
    started = time.monotonic()
    answer = run(space("sales", factory).aask("Revenue by region in 1995", identity=who("ann")))
    assert answer.row_count == 5 and edge.served == times
    assert time.monotonic() - started >= times  # waited Retry-After each time


def test_a_429_on_polls_that_persists_gives_up_and_says_so(genie, factory, faults):
    _, edge, _ = genie
    edge.throttle(1000, "0", "")
    with pytest.raises(
        BackendError, match=r"rate-limiting requests in the Sales space; retried 4 times"
    ) as e:
        run(space("sales", factory).aask("Revenue by region in 1995"))
    assert e.value.retryable and "per minute" in e.value.hint and edge.served == 5


def test_a_rate_limited_message_is_asked_again(factory, faults, caplog):
    faults.fail_next("sales", "Too many questions", "RATE_LIMIT_EXCEEDED_GENERIC_EXCEPTION")
    with caplog.at_level("WARNING", logger="genie_agent.genie"):
        answer = run(space("sales", factory).aask("Revenue by region in 1995"))
    assert answer.row_count == 5
    assert any("rate-limited" in r.getMessage() and "retrying" in r.getMessage() for r in caplog.records)


# --- a workspace that does not answer ----------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed once the block ends: nothing listens there


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        (f"http://127.0.0.1:{closed_port()}", "connection was refused"),
        ("https://genie.invalid", "not resolve"),
    ],
    ids=["refused", "no-such-host"],
)
def test_an_unreachable_workspace_is_reported_within_seconds(sdk_env, host, reason):
    client = client_for(host, ANN)
    started = time.monotonic()
    with pytest.raises(BackendError) as unreachable:
        run(space("sales", lambda _: client, timeout_s=100).aask("Revenue by region in 1995"))
    elapsed = time.monotonic() - started
    assert 2.0 < elapsed <= UNREACHABLE_WITHIN_S + 2.0  # retried a few times, then gave up
    error = unreachable.value
    assert error.message.startswith(f"Cannot reach the Databricks workspace at {host}: ")
    assert reason in error.message and "workspace is up" in error.hint and error.retryable
    assert "urllib3" not in error.message and "httpcore" not in error.message
