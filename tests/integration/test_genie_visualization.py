"""Genie's own chart of an answer, through the Genie API emulator with the real databricks-sdk (the
blocking transport) and httpx (``aask``): a question sent with ``enable_visualization`` whose result
has a chartable shape finishes with a ``viz`` attachment (title, query attachment); its PNG downloads
as the asker and is a valid PNG; a result with no chartable shape has none; refusals are named."""

from __future__ import annotations

import asyncio
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from genie_agent.genie_api import GenieApi, build_genie_api, serve_in_background
from genie_agent.identity import TokenIdentityProvider, UserConfig
from genie_agent.spaces.base import SpaceAnswer
from genie_agent.spaces.databricks import DatabricksGenieSpace, GenieSpaceConfig
from genie_agent.spaces.genie_connections import aclose_connections
from genie_agent.spaces.genie_visualization import (
    VisualizationUnavailableError,
    adownload_space_visualization,
    adownload_visualization,
)
from genie_agent.spaces.local.conversations import ConversationStore
from genie_agent.spaces.local.engine import LocalGenieSpace
from genie_agent.spaces.local.executor import ReadOnlyExecutor

ANN, BOB = "ann-viz-token", "bob-viz-token"
IDENTITIES = TokenIdentityProvider(
    {"ann": UserConfig.model_validate({"token": ANN}), "bob": UserConfig.model_validate({"token": BOB})}
)
CHARTED = "Revenue by region"
NOT_CHARTED = "How many orders are there?"


@pytest.fixture(scope="module")
def genie(tpch_catalog, tpch_db: Path, tmp_path_factory) -> Iterator[tuple[GenieApi, str]]:
    executor = ReadOnlyExecutor(tpch_db)
    conversations = ConversationStore(tmp_path_factory.mktemp("viz") / "conversations.sqlite")
    (sales,) = [s for s in tpch_catalog.spaces if s.id == "sales"]
    api = build_genie_api(
        {"sales": LocalGenieSpace(sales, executor, conversations)}, IDENTITIES, latency_s={"*": 0.05}
    )
    with serve_in_background(api) as url:
        yield api, url
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


@pytest.fixture
def space(genie, sdk_env) -> DatabricksGenieSpace:
    client = client_for(genie[1])
    return DatabricksGenieSpace("sales", GenieSpaceConfig(space_id="sales", title="Sales"), lambda _: client)


def run(coro: Any) -> Any:
    async def awaited() -> Any:
        try:
            return await coro
        finally:
            await aclose_connections()

    return asyncio.run(awaited())


def png_size(data: bytes) -> tuple[int, int]:
    """A PNG's width and height, after checking its signature, its IHDR chunk (CRC included) and that
    its IDAT data inflates to one filtered RGB scanline per row."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    ihdr = data[16:29]
    (crc,) = struct.unpack(">I", data[29:33])
    assert crc == zlib.crc32(b"IHDR" + ihdr)
    width, height, depth, colour = struct.unpack(">IIBB", ihdr[:10])
    assert (depth, colour) == (8, 2)
    at, idat = 33, b""
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        if kind == b"IDAT":
            idat += data[at + 8 : at + 8 + length]
        at += 12 + length
    assert len(zlib.decompress(idat)) == height * (1 + 3 * width)
    return width, height


def test_a_chartable_answer_carries_genies_chart_through_both_transports(space, genie):
    for answer in (space.ask(CHARTED), run(space.aask(CHARTED))):
        viz = answer.visualization
        assert viz is not None, answer
        assert viz.title == "Revenue by region"
        assert viz.query_attachment_id == answer.attachment_id and viz.attachment_id != answer.attachment_id
        data = run(
            adownload_space_visualization(space, answer.conversation_id, answer.message_id, viz.attachment_id)
        )
        assert png_size(data) == (640, 360)


def test_the_question_asked_for_it_and_genie_server_answered_the_real_shape(genie, sdk_env):
    url = genie[1]
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ANN}"}) as http:
        plain = http.post("/api/2.0/genie/spaces/sales/start-conversation", json={"content": CHARTED}).json()
        asked = http.post(
            "/api/2.0/genie/spaces/sales/start-conversation",
            json={"content": CHARTED, "enable_visualization": True},
        ).json()
        finished = [_finished(http, started) for started in (plain, asked)]
    assert not any("viz" in a for a in finished[0]["attachments"])  # not asked: none
    (viz,) = [a for a in finished[1]["attachments"] if "viz" in a]
    (query,) = [a for a in finished[1]["attachments"] if "query" in a]
    assert set(viz) == {"attachment_id", "viz"}
    assert viz["viz"] == {"title": "Revenue by region", "query_attachment_id": query["attachment_id"]}


def _finished(http: httpx.Client, started: dict[str, Any]) -> dict[str, Any]:
    path = f"/api/2.0/genie/spaces/sales/conversations/{started['conversation_id']}/messages/{started['message_id']}"
    for _ in range(200):
        message = http.get(path).json()
        if message["status"] == "COMPLETED":
            return message
        asyncio.run(asyncio.sleep(0.02))
    raise AssertionError(f"not COMPLETED: {message['status']}")


def test_an_answer_without_a_chartable_result_has_no_chart(space):
    answer: SpaceAnswer = run(space.aask(NOT_CHARTED))
    assert answer.status == "completed" and answer.row_count == 1
    assert answer.visualization is None


def test_refusals_are_named(space, genie, sdk_env):
    answer = run(space.aask(CHARTED))
    assert answer.visualization is not None
    ids = (answer.conversation_id, answer.message_id)
    config = client_for(genie[1]).config

    def refused(attachment_id: str, token: str = ANN) -> VisualizationUnavailableError:
        cfg = config if token == ANN else client_for(genie[1], token).config
        with pytest.raises(VisualizationUnavailableError) as caught:
            run(adownload_visualization(cfg, "sales", *ids, attachment_id, title="Sales"))
        return caught.value

    assert refused(answer.attachment_id or "").reason == "not_a_visualization"  # the query attachment
    assert refused("no-such-attachment").reason == "not_found"
    other = refused(answer.visualization.attachment_id, BOB)  # bob did not ask it
    assert other.reason == "not_found" and "only its asker" in other.hint


# --- through the SDK client: each target's way to the image -----------------------------------------


def _result(answer: SpaceAnswer) -> Any:
    from genie_agent.turn import ResultTable

    return ResultTable.from_answer(answer).to_wire()


def test_the_turn_result_carries_the_chart_and_a_serving_client_downloads_it_as_its_user(space, genie):
    from genie_agent.client import ServingClient
    from genie_agent.contract import TurnResult

    answer = run(space.aask(CHARTED))
    wire = TurnResult.read({"results": [_result(answer).model_dump(mode="json")]})  # as a client reads it
    (result,) = wire.results
    chart = result.genie_visualization
    assert chart is not None and chart.title == "Revenue by region" and chart.space_id == "sales"
    assert chart.attachment_id == answer.visualization.attachment_id

    asker = ServingClient("agent", workspace_client=client_for(genie[1]))
    assert png_size(asker.genie_image(result)) == (640, 360)
    other = ServingClient("agent", workspace_client=client_for(genie[1], BOB))
    with pytest.raises(VisualizationUnavailableError) as caught:
        other.genie_image(result)
    assert caught.value.reason == "not_found"


def test_a_served_url_says_it_cannot_download_and_a_result_without_a_chart_says_so(space):
    from genie_agent.client import HttpClient

    answer = run(space.aask(CHARTED))
    with pytest.raises(VisualizationUnavailableError) as caught:
        HttpClient("http://127.0.0.1:9").genie_image(_result(answer))
    assert caught.value.reason == "unsupported" and "does not pass Genie's images on" in caught.value.message
    plain = run(space.aask(NOT_CHARTED))
    with pytest.raises(VisualizationUnavailableError) as caught:
        HttpClient("http://127.0.0.1:9").genie_image(_result(plain))
    assert caught.value.reason == "none"
