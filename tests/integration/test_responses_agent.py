"""The served agent: the Responses mapping, the logged-model round trip, and traces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow")
from mlflow.types.responses import ResponsesAgentResponse, ResponsesAgentStreamEvent  # noqa: E402

from genie_agent.responses import collect_response, events_to_responses, parse_request  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CROSS = "What was revenue by region in 1995, and how many suppliers does each region have?"


def _request(question: str, **custom) -> dict:
    body: dict = {"input": [{"role": "user", "content": question}]}
    if custom:
        body["custom_inputs"] = custom
    return body


def test_turn_maps_to_tool_calls_then_text_then_one_closing_message(make_test_agent):
    agent = make_test_agent()
    events = [e.model_dump(exclude_none=True) for e in events_to_responses(agent.stream(CROSS))]
    kinds = [(e["type"], e.get("item", {}).get("type")) for e in events]
    assert kinds[0] == ("response.output_item.done", "reasoning")
    calls = [e["item"] for e in events if e.get("item", {}).get("type") == "function_call"]
    outputs = [e["item"] for e in events if e.get("item", {}).get("type") == "function_call_output"]
    assert sorted(c["name"] for c in calls) == ["genie_sales", "genie_supply"]
    assert {c["call_id"] for c in calls} == {o["call_id"] for o in outputs}
    assert json.loads(calls[0]["arguments"])["question"]
    first_output = min(
        i for i, e in enumerate(events) if e.get("item", {}).get("type") == "function_call_output"
    )
    last_call = max(i for i, e in enumerate(events) if e.get("item", {}).get("type") == "function_call")
    assert last_call < first_output  # every space starts before any answers: they run in parallel
    deltas = [e for e in events if e["type"] == "response.output_text.delta"]
    assert len({d["item_id"] for d in deltas}) == 1 and len(deltas) > 1
    final = events[-1]
    assert final["item"]["type"] == "message" and final["item"]["id"] == deltas[0]["item_id"]
    assert final["item"]["content"][0]["text"] == "".join(d["delta"] for d in deltas)
    custom = final["custom_outputs"]
    assert custom["status"] == "ok" and custom["domain"] == "cross_domain" and "text" not in custom
    assert {r["domain"] for r in custom["results"]} == {"sales", "supply"}
    for e in events:  # every event is a valid Responses stream event
        ResponsesAgentStreamEvent(**e)


def test_space_output_is_bounded_json_with_sql(make_test_agent):
    agent = make_test_agent()
    events = list(events_to_responses(agent.stream("How many suppliers does each nation have?")))
    output = next(
        e.item
        for e in events
        if e.type == "response.output_item.done" and e.item["type"] == "function_call_output"
    )
    payload = json.loads(output["output"])
    assert payload["row_count"] == 25 and len(payload["rows"]) == 25 and "SELECT" in payload["sql"]


def test_parse_request_reads_question_and_conversation_state():
    turn = parse_request(
        {
            "input": [
                {"role": "user", "content": "first"},
                {"role": "assistant", "content": "answer"},
                {"role": "user", "content": [{"type": "input_text", "text": "what about 1996?"}]},
            ],
            "custom_inputs": {"thread_id": "t1", "genie_conversation_ids": {"sales": "c1"}, "user_id": "ann"},
        }
    )
    assert (turn.question, turn.thread_id, turn.genie_conversation_ids, turn.client_user_id) == (
        "what about 1996?",
        "t1",
        {"sales": "c1"},
        "ann",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"input": [{"role": "assistant", "content": "hi"}]}, "no user message"),
        (
            {"input": [{"role": "user", "content": "x"}], "custom_inputs": {"thread_id": 5}},
            "thread_id must be a string",
        ),
        (
            {"input": [{"role": "user", "content": "x"}], "custom_inputs": {"genie_conversation_ids": ["a"]}},
            "genie_conversation_ids",
        ),
        ({"messages": []}, "Malformed request"),
    ],
)
def test_bad_requests_are_user_errors(body, message):
    from genie_agent.errors import UserInputError

    with pytest.raises(UserInputError, match=message):
        parse_request(body)


@pytest.fixture
def tracking_uri(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("genie-agent-tests")
    yield uri
    mlflow.set_tracking_uri(None)


def test_logged_model_round_trip(cli_home, tracking_uri, monkeypatch):
    monkeypatch.setenv("GENIE_AGENT_HOME", str(cli_home))
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="agent",
            python_model=str(ROOT / "agent_model" / "agent.py"),
            input_example=_request("How many customers are in the AUTOMOBILE segment?"),
        )
    model = mlflow.pyfunc.load_model(info.model_uri)
    response = model.predict(_request("Top 5 nations by revenue in 1995"))
    parsed = ResponsesAgentResponse(**response)  # validates against mlflow.types.responses
    assert parsed.custom_outputs["status"] == "ok"
    assert parsed.output[-1].type == "message" and "MOZAMBIQUE" in parsed.output[-1].content[0]["text"]
    assert [o.type for o in parsed.output].count("function_call") == 1

    thread = parsed.custom_outputs["thread_id"]
    chunks = list(
        model.predict_stream(
            _request(
                "What about 1996?",
                thread_id=thread,
                genie_conversation_ids=parsed.custom_outputs["genie_conversation_ids"],
            )
        )
    )
    for chunk in chunks:
        ResponsesAgentStreamEvent(**chunk)
    final = chunks[-1]["custom_outputs"]
    assert final["status"] == "ok" and final["thread_id"] == thread
    assert "1996" in final["results"][0]["sql"]
    assert final["visualization_hint"]["type"] == "bar"


def test_predict_is_the_stream_collected(make_test_agent):
    import importlib.util

    spec = importlib.util.spec_from_file_location("served_agent", ROOT / "agent_model" / "agent.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    served = module.GenieResponsesAgent(make_test_agent())
    stream = list(served.predict_stream(_request("Drop the customer table")))
    collected = collect_response(iter(stream))
    assert collected.custom_outputs["status"] == "refused"
    bad = served.predict(_request(""))
    assert bad.custom_outputs["status"] == "error" and "empty" in bad.output[-1].content[0]["text"]


def test_turn_is_traced_with_typed_spans(make_test_agent, tracking_uri):
    agent = make_test_agent(
        tracing="on", mlflow_tracking_uri=tracking_uri, mlflow_experiment="genie-agent-tests"
    )
    result = agent.ask(CROSS, user="ann")
    agent.tracer.flush()
    traces = mlflow.search_traces(return_type="list")
    assert len(traces) == 1
    trace = traces[0]
    spans = {s.name: s for s in trace.data.spans}
    assert spans["genie_agent.turn"].span_type == "AGENT"
    assert spans["route"].span_type == "PARSER"
    assert spans["memory.load_thread"].span_type == "RETRIEVER"
    tool = spans["genie.sales"]
    assert tool.span_type == "TOOL" and "SELECT" in tool.outputs["sql"] and tool.outputs["row_count"] == 5
    assert tool.parent_id == spans["genie_agent.turn"].span_id  # worker-thread spans nest under the turn
    assert spans["synthesis"].attributes["grounding.ok"] is True
    metadata = trace.info.trace_metadata
    assert metadata.get("mlflow.trace.user") == "ann"
    assert metadata.get("mlflow.trace.session") == result.thread_id
