"""Memory actions over the endpoint: custom_inputs.memory_action is answered in custom_outputs
without running a turn, for the caller's own identity (a token wins over custom_inputs.user_id)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import httpx
import pytest

pytest.importorskip("mlflow")

from genie_agent.errors import UserInputError
from genie_agent.identity import Identity
from genie_agent.responses import parse_request

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("tpch_db")


@pytest.fixture
def served(make_test_agent):
    spec = importlib.util.spec_from_file_location("served_agent", ROOT / "agent_model" / "agent.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.GenieResponsesAgent(make_test_agent())


def _body(question: str | None = None, **custom) -> dict:
    return {
        "input": [{"role": "user", "content": question}] if question else [],
        "custom_inputs": custom,
    }


def test_parse_request_reads_memory_actions():
    turn = parse_request(_body(memory_action="forget", memory_id="pref-chart"))
    assert turn.memory_action is not None and turn.memory_action.memory_id == "pref-chart"
    assert parse_request(_body("hi", memory_action="list")).memory_action.action == "list"  # type: ignore[union-attr]
    with pytest.raises(UserInputError, match="memory_id is required"):
        parse_request(_body(memory_action="forget"))
    with pytest.raises(UserInputError, match="must be one of"):
        parse_request(_body(memory_action="erase"))


def test_list_and_forget_memories_through_predict(served):
    said = served.predict(_body("I only care about the AUTOMOBILE segment", user_id="ann"))
    assert said.custom_outputs["status"] == "ok" and said.custom_outputs["memory_status"] == "saved"

    listed = served.predict(_body(memory_action="list", user_id="ann"))
    outputs = listed.custom_outputs
    assert outputs["memory_action"] == "list" and outputs["user"] == "ann"
    assert [m["id"] for m in outputs["memories"]] == ["pref-filter-market-segment"]
    assert "AUTOMOBILE" in listed.output[-1].content[0]["text"]
    assert "thread_id" not in outputs  # no turn ran

    assert served.predict(_body(memory_action="list", user_id="bob")).custom_outputs["memories"] == []
    forgot = served.predict(
        _body(memory_action="forget", memory_id="pref-filter-market-segment", user_id="ann")
    )
    assert forgot.custom_outputs["forgotten"] == 1
    assert served.predict(_body(memory_action="forget_all", user_id="ann")).custom_outputs["forgotten"] == 0


def test_an_authenticated_identity_wins_over_custom_inputs(served):
    served.predict(_body("numbers in millions", user_id="ann"))
    events = list(served.stream_events(_body(memory_action="list", user_id="ann"), Identity("bob", True)))
    outputs = events[-1].custom_outputs
    assert outputs["user"] == "bob" and outputs["memories"] == []


def test_memory_actions_through_serve(tmp_path_factory, tpch_db):
    from tests.integration.test_serve import ANN, BOB, _sse
    from tests.servers import start_server

    home = tmp_path_factory.mktemp("memory-serve-home")
    (home / "data").mkdir()
    (home / "data" / "tpch-sf0.1.duckdb").symlink_to(tpch_db)
    config = f"users:\n  ann: {{token: {ANN}}}\n  bob: {{token: {BOB}}}\n"
    proc, url = start_server(home, tmp_path_factory.mktemp("memory-serve"), config)
    try:
        said = _sse(url, {"input": "I'd like tables rather than charts"}, ANN)
        assert said[-1]["custom_outputs"]["memory_status"] == "saved"
        body = {"input": [], "custom_inputs": {"memory_action": "list", "user_id": "ann"}}
        assert _sse(url, body, BOB)[-1]["custom_outputs"]["memories"] == []  # the token decides
        listed = _sse(url, body, ANN)[-1]["custom_outputs"]
        assert [m["id"] for m in listed["memories"]] == ["pref-chart"]
        bad = httpx.post(
            f"{url}/responses",
            json={"input": [], "custom_inputs": {"memory_action": "forget"}},
            headers={"Authorization": f"Bearer {ANN}"},
            timeout=30,
        )
        assert bad.status_code == 400 and "memory_id" in bad.json()["error"]["message"]
        forget = {"input": [], "custom_inputs": {"memory_action": "forget_all"}}
        assert _sse(url, forget, ANN)[-1]["custom_outputs"]["forgotten"] == 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)
