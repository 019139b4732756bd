"""Memories found by an LLM beside the deterministic extractor: whole turns against the scripted
OpenAI-compatible server, checked against the spaces' vocabulary before anything is stored."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from genie_agent.tracing import NoopTracer
from genie_agent.understanding.llm_extraction import LlmMemoryExtractor
from tests.fakes.openai_server import FakeOpenAIServer, RecordedRequest, Reply

pytestmark = pytest.mark.usefixtures("tpch_db")

UNDERSTOOD_BY_LLM_ONLY = "I look after the German market"
GERMANY = [{"kind": "filter", "dimension": "nation", "values": ["GERMANY"], "sentence": 1}]
SYNTHESIS = "**Customers**: the results are shown below."


def _is_extraction(request: RecordedRequest) -> bool:
    return "standing preferences" in request.content("system")


class Scripted:
    """The scripted server answering memory extraction with ``extraction``, synthesis with text."""

    def __init__(self) -> None:
        self.extraction = Reply("[]")
        self.server = FakeOpenAIServer(
            [Reply(SYNTHESIS)], responder=lambda r: self.extraction if _is_extraction(r) else None
        )

    def extraction_requests(self) -> list[RecordedRequest]:
        return [r for r in self.server.requests if _is_extraction(r)]


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    s = Scripted()
    with s.server:
        yield s


@pytest.fixture
def agent(make_test_agent, scripted: Scripted):
    return make_test_agent(
        # 3 s: enough for a loaded CI machine to answer a scripted reply, short enough for the hang test.
        llm_base_url=scripted.server.base_url,
        llm_model="scripted",
        llm_api_key="k",
        llm_timeout_s=3,
    )


def preferences(agent, user: str = "ann") -> dict[str, list[str]]:
    return {m.id: m.data["values"] for m in agent.memories.list(user) if m.kind == "preference"}


class RecordingTracer(NoopTracer):
    """Keeps each span's outputs by name (the last one wins)."""

    def __init__(self) -> None:
        self.outputs: dict[str, Any] = {}

    @contextmanager
    def span(self, name: str, kind: str, inputs: Any = None) -> Iterator[Any]:
        tracer = self

        class _Span:
            def set_outputs(self, outputs: Any) -> None:
                tracer.outputs[name] = outputs

            def set_attributes(self, attributes: Any) -> None:
                pass

        yield _Span()


def test_the_deterministic_extractor_does_not_understand_the_statement(make_test_agent):
    agent = make_test_agent()
    assert agent.memory_llm is None  # no LLM configured: the deterministic extractor alone
    assert not agent.extractor.extract(UNDERSTOOD_BY_LLM_ONLY).remembers
    assert agent.extractor.candidates(UNDERSTOOD_BY_LLM_ONLY) == [(UNDERSTOOD_BY_LLM_ONLY, False)]


def test_a_statement_only_the_llm_understands_is_remembered_and_applied(agent, scripted):
    assert isinstance(agent.memory_llm, LlmMemoryExtractor)
    scripted.extraction = Reply(json.dumps(GERMANY))
    ack = agent.ask(UNDERSTOOD_BY_LLM_ONLY, user="ann")
    assert ack.status == "ok" and ack.results == () and "GERMANY" in ack.text
    assert ack.memory_status == "saved"
    assert preferences(agent) == {"pref-filter-nation": ["GERMANY"]}
    (request,) = scripted.extraction_requests()
    assert "1. " + UNDERSTOOD_BY_LLM_ONLY in request.content("user")
    assert "GERMANY" in request.content("system")  # the spaces' values, for the model to pick from
    result = agent.ask("How many customers are there?", user="ann")
    assert "GERMANY" in result.results[0].sql
    assert len(scripted.extraction_requests()) == 1  # a data question is not sent to the extractor
    agent.ask("Show tables, not charts", user="ann")  # understood deterministically: no LLM call
    assert len(scripted.extraction_requests()) == 1


def test_the_deterministic_result_wins_on_a_conflict(agent, scripted):
    scripted.extraction = Reply(
        json.dumps([{"kind": "scale", "value": "billions", "sentence": 1}, {**GERMANY[0], "sentence": 2}])
    )
    agent.ask(f"Numbers in millions. {UNDERSTOOD_BY_LLM_ONLY}", user="ann")
    assert preferences(agent) == {"pref-scale": ["millions"], "pref-filter-nation": ["GERMANY"]}


@pytest.mark.parametrize(
    "reply",
    [
        json.dumps([{"kind": "filter", "dimension": "nation", "values": ["ATLANTIS"], "sentence": 1}]),
        json.dumps([{"kind": "filter", "dimension": "region", "values": ["GERMANY"], "sentence": 1}]),
        json.dumps([{"kind": "scale", "value": "trillions", "sentence": 1}]),
        json.dumps([{"kind": "favourite_colour", "value": "blue", "sentence": 1}]),
        json.dumps([{**GERMANY[0], "sentence": 7}]),
        json.dumps(GERMANY[0]),  # an object, not a list
        '[{"kind": "filter", "dimension": "nation", "values": ["GERMANY"]',  # cut off
        "Sure! The user cares about Germany.",
    ],
    ids=[
        "unknown-value",
        "wrong-dimension",
        "unknown-scale",
        "unknown-kind",
        "no-such-sentence",
        "not-a-list",
        "truncated",
        "prose",
    ],
)
def test_invalid_replies_store_nothing(agent, scripted, reply):
    scripted.extraction = Reply(reply)
    result = agent.ask(UNDERSTOOD_BY_LLM_ONLY, user="ann")
    # Answered as the deterministic extractor alone would (here: not a question the spaces cover).
    assert result.status == "out_of_scope" and result.text and result.memory_status == "saved"
    assert preferences(agent) == {}
    assert [m for m in agent.memories.list("ann") if m.kind == "note"] == []


@pytest.mark.parametrize("failure", [Reply(status=500), Reply(hang=True)], ids=["http-500", "hang"])
def test_a_failing_llm_leaves_the_turn_answered(agent, scripted, failure):
    scripted.extraction = failure
    tracer = RecordingTracer()
    agent.tracer = tracer
    started = time.monotonic()
    result = agent.ask(f"{UNDERSTOOD_BY_LLM_ONLY}. Numbers in millions", user="ann")
    assert time.monotonic() - started < 8  # the 3 s LLM limit, twice at most, plus the turn
    # Answered as the deterministic extractor alone would (here: not a question the spaces cover).
    assert result.status == "out_of_scope" and result.text and result.memory_status == "saved"
    assert preferences(agent) == {"pref-scale": ["millions"]}  # the deterministic extraction stands
    status = tracer.outputs["memory.recall"]["llm_extraction"]["status"]
    assert status.startswith("failed: ") and ("500" in status or "did not answer" in status)
