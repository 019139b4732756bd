"""A Genie answer read in full, up to the row limit, through both transports (databricks-sdk and httpx)
against the Genie API emulator: the first chunk from ``query-result``, the rest from a full-result
download (signed external links fetched without credentials, the next chunk at each link's
``next_chunk_internal_link``); cut at ``row_limit`` with ``truncated``; the first chunk kept when the
download fails. "Revenue by customer" on TPC-H SF0.1 has 10,000 rows; the emulator cuts results into
chunks of 1,000.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from genie_agent.genie_api import GenieApi, build_genie_api, serve_in_background
from genie_agent.identity import TokenIdentityProvider, UserConfig
from genie_agent.spaces.base import SpaceAnswer
from genie_agent.spaces.databricks import DatabricksGenieSpace, GenieSpaceConfig
from genie_agent.spaces.genie_connections import aclose_connections
from genie_agent.spaces.local.conversations import ConversationStore
from genie_agent.spaces.local.engine import LocalGenieSpace
from genie_agent.spaces.local.executor import ReadOnlyExecutor

ANN, BOB = "ann-full-token", "bob-full-token"
IDENTITIES = TokenIdentityProvider(
    {"ann": UserConfig.model_validate({"token": ANN}), "bob": UserConfig.model_validate({"token": BOB})}
)
QUESTION = "Revenue by customer"
ROWS = 10_000


class Edge:
    """In front of the emulator (the network edge): records the headers of every request to a stored
    file, and answers ``POST .../downloads`` with 404 while ``refuse_downloads`` is set."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.file_headers: list[dict[str, str]] = []
        self.refuse_downloads = False
        self.paths: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            self.paths.append(f"{scope['method']} {path}")
            if path.startswith("/_storage/"):
                self.file_headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
            if self.refuse_downloads and scope["method"] == "POST" and path.endswith("/downloads"):
                body = b'{"error_code": "ENDPOINT_NOT_FOUND", "message": "No API found."}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 404,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def local(tpch_catalog, tpch_db: Path, tmp_path_factory) -> LocalGenieSpace:
    executor = ReadOnlyExecutor(tpch_db, row_limit=100_000)
    conversations = ConversationStore(tmp_path_factory.mktemp("full") / "conversations.sqlite")
    (sales,) = [s for s in tpch_catalog.spaces if s.id == "sales"]
    return LocalGenieSpace(sales, executor, conversations)


@pytest.fixture(scope="module")
def expected(local) -> SpaceAnswer:
    answer = local.ask(QUESTION)
    assert answer.row_count == ROWS and not answer.truncated
    return answer


@pytest.fixture(scope="module", params=["JSON_ARRAY", "ARROW_STREAM"])
def genie(request, local) -> Iterator[tuple[GenieApi, Edge, str]]:
    api = build_genie_api(
        {"sales": local}, IDENTITIES, latency_s={"*": 0.1}, chunk_rows=1000, download_format=request.param
    )
    edge = Edge(api)
    with serve_in_background(edge) as url:
        yield api, edge, url
    api.close()


@pytest.fixture(scope="module")
def sdk_env() -> Iterator[None]:
    """databricks-sdk reads DATABRICKS_* and ~/.databrickscfg: nothing of the machine's may leak in."""
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith(("DATABRICKS_", "ARM_", "AZURE_", "GOOGLE_"))]:
            mp.delenv(name)
        mp.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/databrickscfg")
        yield


def client_for(url: str, token: str = ANN) -> Any:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config

    return WorkspaceClient(config=Config(host=url, token=token, retry_timeout_seconds=30))


@pytest.fixture(autouse=True)
def edge(genie) -> Edge:
    """The edge, with nothing recorded and nothing refused."""
    front = genie[1]
    front.file_headers.clear()
    front.paths.clear()
    front.refuse_downloads = False
    return front


@pytest.fixture
def make_space(genie, sdk_env) -> Callable[[int], DatabricksGenieSpace]:
    client = client_for(genie[2])

    def make(row_limit: int) -> DatabricksGenieSpace:
        config = GenieSpaceConfig(space_id="sales", title="Sales")
        return DatabricksGenieSpace("sales", config, lambda _: client, timeout_s=60, row_limit=row_limit)

    return make


def both(space: DatabricksGenieSpace, question: str = QUESTION) -> tuple[SpaceAnswer, SpaceAnswer]:
    """The answer through databricks-sdk (``ask``) and through httpx (``aask``)."""

    async def awaited() -> SpaceAnswer:
        try:
            return await space.aask(question)
        finally:
            await aclose_connections()

    return space.ask(question), asyncio.run(awaited())


def typed(rows: tuple[tuple[Any, ...], ...]) -> list[list[tuple[type, Any]]]:
    return [[(type(v), v) for v in row] for row in rows]


def downloads(edge: Edge) -> int:
    return sum(p.startswith("POST ") and p.endswith("/downloads") for p in edge.paths)


def test_a_large_result_is_read_in_full_through_both_transports(make_space, edge, expected):
    for answer in both(make_space(100_000)):
        assert answer.row_count == ROWS and len(answer.rows) == ROWS and not answer.truncated
        assert typed(answer.rows) == typed(expected.rows)  # every row, typed as the engine typed it
        assert answer.columns == expected.columns
    assert downloads(edge) == 2
    chunk_requests = [p for p in edge.paths if p.startswith("GET /api/2.0/sql/statements/")]
    assert len(chunk_requests) == 2 * 9  # chunks 1..9 at each link's next_chunk_internal_link
    assert len(edge.file_headers) == 2 * 10
    assert all("authorization" not in h for h in edge.file_headers)  # signed URLs: no credentials


def test_a_result_is_cut_at_the_row_limit(make_space, edge, expected):
    for answer in both(make_space(2_500)):
        assert answer.row_count == 2_500 and answer.truncated
        assert typed(answer.rows) == typed(expected.rows[:2_500])
    assert len(edge.file_headers) == 2 * 3  # reading stops once the limit is reached


def test_a_limit_within_the_first_chunk_needs_no_download(make_space, edge, expected):
    for answer in both(make_space(600)):
        assert answer.row_count == 600 and answer.truncated
        assert typed(answer.rows) == typed(expected.rows[:600])
    assert downloads(edge) == 0


def test_a_small_result_is_the_first_chunk_alone(make_space, edge):
    for answer in both(make_space(100_000), "Revenue by region in 1995"):
        assert answer.row_count == 5 and not answer.truncated
    assert downloads(edge) == 0


def test_when_the_download_fails_the_first_chunk_is_kept(make_space, edge, expected, caplog):
    edge.refuse_downloads = True
    with caplog.at_level(logging.WARNING, logger="genie_agent.genie"):
        answers = both(make_space(100_000))
    for answer in answers:
        assert answer.row_count == 1_000 and answer.truncated
        assert typed(answer.rows) == typed(expected.rows[:1_000])
    assert sum("could not be read" in r.getMessage() for r in caplog.records) == 2


def test_a_statements_later_chunks_are_its_users_only(genie, sdk_env, expected):
    """get-result-chunk-n (databricks-sdk's StatementExecutionAPI) on a Genie query's statement."""
    from databricks.sdk.errors import NotFound, PermissionDenied

    _, _, url = genie
    ann = client_for(url)
    message = ann.genie.start_conversation_and_wait("sales", QUESTION)
    (attachment,) = [a for a in message.attachments or [] if a.query is not None]
    first = ann.genie.get_message_attachment_query_result(
        "sales", message.conversation_id, message.message_id, attachment.attachment_id
    ).statement_response
    assert first.manifest.total_row_count == ROWS and first.manifest.total_chunk_count == 10
    assert len(first.result.data_array) == 1000 and first.result.next_chunk_index == 1
    chunk = ann.statement_execution.get_statement_result_chunk_n(first.statement_id, 1)
    assert (chunk.chunk_index, chunk.row_offset, chunk.row_count, chunk.next_chunk_index) == (
        1,
        1000,
        1000,
        2,
    )
    assert chunk.data_array[0][0] == expected.rows[1000][0]
    last = ann.statement_execution.get_statement_result_chunk_n(first.statement_id, 9)
    assert last.next_chunk_index is None and last.next_chunk_internal_link is None
    with pytest.raises(NotFound):
        client_for(url, BOB).statement_execution.get_statement_result_chunk_n(first.statement_id, 1)
    started = ann.genie.generate_download_full_query_result(
        "sales", message.conversation_id, message.message_id, attachment.attachment_id
    )
    with pytest.raises(PermissionDenied):
        ann.genie.get_download_full_query_result(
            space_id="sales",
            conversation_id=message.conversation_id,
            message_id=message.message_id,
            attachment_id=attachment.attachment_id,
            download_id=started.download_id,
            download_id_signature="0" * 64,
        )


def test_a_stored_file_refuses_credentials_and_a_bad_signature(genie, sdk_env):
    from databricks.sdk.service.dashboards import GenieGetDownloadFullQueryResultResponse

    _, _, url = genie
    ann = client_for(url)
    message = ann.genie.start_conversation_and_wait("sales", "Revenue by region in 1995")
    (attachment,) = [a for a in message.attachments or [] if a.query is not None]
    ids = ("sales", message.conversation_id, message.message_id, attachment.attachment_id)
    started = ann.genie.generate_download_full_query_result(*ids)
    response = GenieGetDownloadFullQueryResultResponse()
    for _ in range(50):
        response = ann.genie.get_download_full_query_result(
            *ids, download_id=started.download_id, download_id_signature=started.download_id_signature
        )
        if response.statement_response.status.state.value == "SUCCEEDED":
            break
        time.sleep(0.05)
    (link,) = response.statement_response.result.external_links
    assert link.next_chunk_index is None and link.row_count == 5
    assert httpx.get(link.external_link).status_code == 200
    refused = httpx.get(link.external_link, headers={"Authorization": f"Bearer {ANN}"})
    assert refused.status_code == 400 and "Only one auth mechanism" in refused.text
    tampered = link.external_link.replace("signature=", "signature=0")
    assert httpx.get(tampered).status_code == 403
