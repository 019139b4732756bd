"""The wire contract: one definition, its schema in docs/, the README's table, lenient reading."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from genie_agent import contract

ROOT = Path(__file__).resolve().parents[2]


def test_the_schema_in_docs_is_the_contracts():
    written = json.loads((ROOT / "docs" / "turn-result.schema.json").read_text())
    assert written == json.loads(json.dumps(contract.json_schema())), (
        "docs/turn-result.schema.json is stale: python -m genie_agent.contract > docs/turn-result.schema.json"
    )


def test_the_readme_table_names_every_key_of_the_turn_result_and_no_other():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## The turn result", 1)[1].split("\n## ", 1)[0]
    keys = {k for row in re.findall(r"^\| (`.+?`) \|", section, re.M) for k in re.findall(r"`(\w+)`", row)}
    assert keys == set(contract.json_schema()["properties"])


def test_reading_never_raises_and_keeps_what_it_can():
    payload = {
        "status": "clarify",
        "text": 42,  # wrong type: default
        "route": {"kind": "cross_domain", "domains": ["sales", "supply"], "confidence": "high"},
        "results": [
            {"domain": "sales", "columns": ["region", "revenue"], "rows": [["ASIA", 1.5]], "row_count": 1},
            "not a result",
            {"domain": "supply", "rows": "nope", "error": "no such data"},
        ],
        "visualization_hint": {"type": "sparkline", "x": "region", "y": "revenue"},
        "grounding": None,
        "from_a_newer_server": {"anything": True},
    }
    result = contract.TurnResult.read(payload)
    assert result.status == "clarify" and result.text == ""
    assert result.route is not None and result.route.domains == ("sales", "supply")
    assert result.route.confidence is None
    assert [r.domain for r in result.results] == ["sales", "supply"]
    assert result.results[0].rows == (("ASIA", 1.5),) and result.results[1].rows == ()
    assert result.primary is result.results[0]
    assert result.visualization_hint is not None and result.visualization_hint.type == "table"
    assert result.grounding.ok


@pytest.mark.parametrize(
    "garbage", [None, 3, "not json", "[1, 2]", [], {"results": {"a": 1}}, {"status": "maybe"}]
)
def test_garbage_reads_as_an_empty_result(garbage):
    result = contract.TurnResult.read(garbage)
    assert result.results == () and result.status == "ok"


def test_what_the_agent_writes_reads_back_the_same(make_test_agent):
    result = make_test_agent().ask("revenue and suppliers by region excl. europe")
    written = result.to_dict()
    read = contract.TurnResult.read(json.loads(json.dumps(written)))
    assert read.model_dump(mode="json") == written
    assert read.combined is not None and read.primary is read.combined
    assert read.results[0].column_types and read.turn_id == result.turn_id


def test_a_spaces_progress_reaches_the_chat_as_progress_not_as_the_route():
    from genie_agent.responses import events_to_responses
    from genie_agent.turn import SpaceProgress
    from genie_agent_tui.stream import RouteInfo, TurnReader

    (event,) = events_to_responses([SpaceProgress("sales", "waiting for Genie capacity (3 ahead)")])
    (update,) = TurnReader().read(event.model_dump())
    assert isinstance(update, contract.Progress) and not isinstance(update, RouteInfo)
    assert (update.domain, update.message) == ("sales", "waiting for Genie capacity (3 ahead)")


def test_the_note_on_a_rebuilt_conversation_is_not_read_as_the_route():
    from genie_agent.client.reader import ResponsesReader
    from genie_agent.responses import rebuilding_event

    reader = ResponsesReader()
    assert reader.read(rebuilding_event(2).model_dump()) == []
