"""The agent with LLM synthesis: whole turns over the session's TPC-H file, the real ``openai`` client
against the scripted OpenAI-compatible server, grounding of what the model wrote, and its MLflow trace."""

from __future__ import annotations

import json
import time

import pytest

from genie_agent.formatting import format_value
from genie_agent.identity import Identity
from genie_agent.synthesis_llm import LlmSynthesizer
from genie_agent.turn import SpaceAnswered, TextDelta, TurnDone, jsonable
from tests.fakes.openai_server import FakeOpenAIServer, Reply, fake_openai, split_deltas

__all__ = ["fake_openai"]  # the fixture, imported for this module

pytestmark = pytest.mark.usefixtures("tpch_db")

QUESTION = "Revenue by region in 1995"
INVENTED = "**Sales**: revenue came to about 1.2M across 22,715 orders, led by AFRICA."
NUMBER_RULE = "Never write a number that is not in the results"


@pytest.fixture
def llm_agent(make_test_agent, fake_openai: FakeOpenAIServer):
    def build(**overrides):
        return make_test_agent(
            llm_base_url=fake_openai.base_url, llm_model="scripted", llm_api_key="k", **overrides
        )

    return build


def region_rows(agent) -> tuple[tuple, ...]:
    """The sales space's rows for QUESTION as the turn result carries them, asked directly (no LLM)."""
    answer = agent.spaces["sales"].ask(QUESTION)
    assert answer.status == "completed" and answer.row_count == 5
    return tuple(tuple(jsonable(v) for v in r) for r in answer.rows)


def faithful(rows) -> str:
    parts = "; ".join(f"{region} {format_value(revenue)}" for region, revenue in rows)
    return f"**Sales**: revenue in 1995 by region was {parts}."


def run(agent, question: str = QUESTION, **kwargs):
    events, arrivals = [], []
    for event in agent.stream(question, **kwargs):
        events.append(event)
        if isinstance(event, TextDelta):
            arrivals.append(time.monotonic())
    assert isinstance(events[-1], TurnDone)
    return events, arrivals, events[-1].result


def test_the_synthesizer_is_the_llm(llm_agent, make_test_agent):
    assert isinstance(llm_agent().synthesizer, LlmSynthesizer)
    assert not isinstance(make_test_agent().synthesizer, LlmSynthesizer)


def test_text_streams_as_several_deltas_and_is_the_replys_text(llm_agent, fake_openai):
    agent = llm_agent()
    text = faithful(region_rows(agent))
    fake_openai.script(Reply(text, chunk_delay_s=0.03))
    events, arrivals, result = run(agent)
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert deltas == split_deltas(text) and len(deltas) > 10
    assert result.text == text == "".join(deltas)
    # Streamed as the model writes: the first delta arrived well before the last.
    assert arrivals[-1] - arrivals[0] > 0.2
    # The space's answer came before any text, the text before the end.
    kinds = [type(e) for e in events]
    assert kinds.index(SpaceAnswered) < kinds.index(TextDelta)
    assert result.status == "ok" and result.grounding == {"ok": True, "unsupported_numbers": []}
    assert agent.synthesizer.last_fallback_reason is None
    assert result.to_dict()["text"] == text


def test_invented_numbers_are_flagged_in_the_turn_result(llm_agent, fake_openai):
    agent = llm_agent()
    rows = region_rows(agent)
    assert not any("22715" in json.dumps(r) or "1200000" in json.dumps(r) for r in rows)
    fake_openai.script(Reply(INVENTED))
    result = agent.ask(QUESTION)
    assert result.status == "ok" and result.text == INVENTED
    assert result.grounding["ok"] is False
    assert result.grounding["unsupported_numbers"] == ["1.2M", "22,715"]
    data = result.to_dict()
    assert data["grounding"] == {"ok": False, "unsupported_numbers": ["1.2M", "22,715"]}
    assert data["text"] == INVENTED
    json.dumps(data)


def test_a_faithful_reply_is_grounded(llm_agent, fake_openai):
    agent = llm_agent()
    text = faithful(region_rows(agent))
    fake_openai.script(Reply(text))
    result = agent.ask(QUESTION)
    assert result.text == text
    assert result.grounding == {"ok": True, "unsupported_numbers": []}
    assert result.to_dict()["grounding"] == {"ok": True, "unsupported_numbers": []}
    for row in result.results[0].rows:
        assert format_value(row[1]) in result.text


def test_a_500_before_any_token_falls_back_to_the_deterministic_answer(
    llm_agent, make_test_agent, fake_openai
):
    fake_openai.script(Reply(status=500, error_message="model crashed"))
    agent = llm_agent()
    events, _, result = run(agent)
    assert len(fake_openai.requests) == 1  # tried once, no retries
    assert "500" in (agent.synthesizer.last_fallback_reason or "")
    assert "model crashed" in agent.synthesizer.last_fallback_reason
    expected = make_test_agent().ask(QUESTION).text
    assert result.text == expected and "".join(e.text for e in events if isinstance(e, TextDelta)) == expected
    assert result.status == "ok"
    assert result.grounding == {"ok": True, "unsupported_numbers": []}
    for row in result.results[0].rows:
        assert format_value(row[1]) in result.text
    # The next turn uses the LLM again.
    fake_openai.script(Reply(INVENTED))
    assert agent.ask(QUESTION).text == INVENTED and agent.synthesizer.last_fallback_reason is None


def test_the_request_carries_the_question_the_rows_and_the_rule_about_numbers(llm_agent, fake_openai):
    agent = llm_agent()
    fake_openai.script(Reply(INVENTED))
    result = agent.ask(QUESTION)
    (request,) = fake_openai.requests
    assert request.path == "/v1/chat/completions"
    assert request.authorization == "Bearer k"
    assert request.body["model"] == "scripted" and request.body["stream"] is True
    system, user = request.content("system"), request.content("user")
    assert NUMBER_RULE in system
    assert QUESTION in user and QUESTION not in system
    (table,) = result.results
    assert f"Columns: {json.dumps(list(table.columns))}" in user
    for row in table.rows:
        line = json.dumps(list(row), ensure_ascii=False)
        assert line in user and line not in system


def test_a_restricted_users_rows_are_all_the_llm_sees(llm_agent, fake_openai):
    agent = llm_agent()
    everyone = region_rows(agent)
    fake_openai.script(Reply("**Sales**: see the table."))
    eve = Identity("eve", row_filters={"sales": {"region": ("EUROPE",)}})
    result = agent.ask(QUESTION, identity=eve)
    assert [r[0] for r in result.results[0].rows] == ["EUROPE"]
    user = fake_openai.requests[-1].content("user")
    assert json.dumps(list(result.results[0].rows[0])) in user
    for region, revenue in everyone:
        if region != "EUROPE":
            assert region not in user and json.dumps(revenue) not in user


def test_the_synthesis_span_records_grounding(llm_agent, fake_openai, tmp_path):
    import mlflow

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    agent = llm_agent(tracing="on", mlflow_tracking_uri=uri, mlflow_experiment="t")
    fake_openai.script(Reply(INVENTED))
    try:
        result = agent.ask(QUESTION)
        assert result.grounding["ok"] is False
        agent.tracer.flush()
        mlflow.set_tracking_uri(uri)
        traces = mlflow.search_traces(return_type="list")
        assert len(traces) == 1
        spans = {s.name: s for s in traces[0].data.spans}
        synthesis = spans["synthesis"]
        assert synthesis.span_type == "LLM"
        assert synthesis.attributes["grounding.ok"] is False
        assert synthesis.attributes["grounding.unsupported_numbers"] == ["1.2M", "22,715"]
        assert synthesis.outputs == INVENTED
        assert synthesis.inputs["question"] == QUESTION and synthesis.inputs["synthesizer"] == "llm"
        assert synthesis.parent_id == spans["genie_agent.turn"].span_id
        assert spans["genie_agent.turn"].outputs["grounding"] == result.grounding
    finally:
        mlflow.set_tracking_uri(None)
