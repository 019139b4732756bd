"""The one function that reads an answer's text out of serialized outputs (the seed's warning), and
the turns the scorers see."""

from __future__ import annotations

import json

import pytest

from genie_agent.evaluation.extract import question_text, response_text, turns_of

ANSWER = "Revenue in 1996 was **1,234.50**."
MESSAGE = {
    "type": "message",
    "id": "msg_1",
    "role": "assistant",
    "content": [{"type": "output_text", "text": ANSWER, "annotations": []}],
}
TOOL_ITEMS = [
    {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Route: sales"}]},
    {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "genie_sales", "arguments": "{}"},
    {"type": "function_call_output", "call_id": "c1", "output": '{"rows": [[1234.5]]}'},
]
TURN_RESULT = {
    "status": "ok",
    "domains": ["sales"],
    "route": {"kind": "single", "domains": ["sales"], "confidence": 1.0, "reason": "r"},
    "results": [{"domain": "sales", "sql": "SELECT 1", "columns": ["revenue"], "rows": [[1234.5]]}],
    "grounding": {"ok": True, "unsupported_numbers": []},
    "timings_ms": {"total": 42.0},
}
RESPONSES = {"output": [*TOOL_ITEMS, MESSAGE], "custom_outputs": TURN_RESULT}


def _responses_object():
    from mlflow.types.responses import ResponsesAgentResponse

    return ResponsesAgentResponse(output=[*TOOL_ITEMS, MESSAGE], custom_outputs=TURN_RESULT)


@pytest.mark.parametrize(
    "outputs",
    [
        pytest.param(ANSWER, id="plain string"),
        pytest.param(RESPONSES, id="Responses dict (predict_fn, served model)"),
        pytest.param(json.dumps(RESPONSES), id="Responses as a JSON string (trace read back)"),
        pytest.param([RESPONSES], id="pyfunc list-wrapped"),
        pytest.param(_responses_object, id="ResponsesAgentResponse object"),
        pytest.param({"output": [*TOOL_ITEMS, {**MESSAGE, "content": ANSWER}]}, id="string content"),
        pytest.param(
            {"choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER}}]},
            id="chat completion",
        ),
        pytest.param(
            {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": ANSWER}]},
            id="chat messages",
        ),
        pytest.param({**TURN_RESULT, "text": ANSWER}, id="turn result (ask --json)"),
        pytest.param(
            {"status": "ok", "text": ANSWER, "grounding": {"ok": True}}, id="genie_agent.turn span outputs"
        ),
        pytest.param(
            {
                "output": [MESSAGE],
                "turns": [{"question": "q", "text": ANSWER, "custom_outputs": TURN_RESULT}],
            },
            id="evaluation predict_fn outputs",
        ),
        pytest.param({"predictions": [RESPONSES]}, id="serving endpoint wrapper"),
    ],
)
def test_response_text_finds_the_answer_in_every_shape(outputs):
    if callable(outputs):
        outputs = outputs()
    assert response_text(outputs) == ANSWER


@pytest.mark.parametrize(
    "outputs",
    [None, "", {}, [], {"output": []}, {"output": TOOL_ITEMS}, 42, {"choices": []}, object(), "{not json"],
)
def test_response_text_is_empty_not_an_exception_when_there_is_no_answer(outputs):
    assert response_text(outputs) in ("", "{not json")


def test_the_last_assistant_message_wins_and_parts_join():
    outputs = {
        "output": [
            {**MESSAGE, "content": [{"type": "output_text", "text": "old"}]},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "a"}, {"type": "output_text", "text": "b"}],
            },
        ]
    }
    assert response_text(outputs) == "ab"


def test_question_text_reads_messages_and_keeps_earlier_turns_as_context():
    assert (
        question_text({"messages": [{"role": "user", "content": "Revenue in 1995?"}]}) == "Revenue in 1995?"
    )
    both = question_text(
        {
            "messages": [
                {"role": "user", "content": "Revenue in 1995?"},
                {"role": "user", "content": "And 1996?"},
            ]
        }
    )
    assert both.startswith("And 1996?") and "Revenue in 1995?" in both
    assert question_text({"question": "q", "user": "ann"}) == "q"
    assert question_text('{"input": [{"role": "user", "content": "x"}]}') == "x"


def test_turns_of_reads_each_turn_or_the_one_a_response_holds():
    turns = turns_of(
        {
            "output": [MESSAGE],
            "turns": [
                {"question": "a", "text": "one", "custom_outputs": TURN_RESULT, "latency_ms": 1500},
                {"question": "b", "text": ANSWER, "custom_outputs": {**TURN_RESULT, "status": "partial"}},
            ],
        }
    )
    assert [t.text for t in turns] == ["one", ANSWER]
    assert turns[0].seconds == 1.5 and turns[1].seconds == 0.042  # timings_ms when no wall time
    assert turns[1].status == "partial" and turns[1].domains == ["sales"]
    (served,) = turns_of(json.dumps(RESPONSES))
    assert served.text == ANSWER and served.results[0]["rows"] == [[1234.5]]
    (span,) = turns_of({"status": "refused", "text": "no", "grounding": {"ok": True}})
    assert span.status == "refused" and span.domains == []
    (plain,) = turns_of("just text")
    assert plain.status == "unknown" and plain.text == "just text"
    assert turns_of(None) == []
