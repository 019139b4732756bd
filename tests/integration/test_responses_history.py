"""Conversations as Responses clients send them: every message in ``input``, no ``custom_inputs``.

Against real `genie-agent serve` processes, with the official openai client and with requests shaped
as the AI Playground sends them (a list of role/content messages, assistant turns included, streamed):
a follow-up continues the caller's thread holding the earlier user messages (found by their digest),
or, when none does, runs on context rebuilt from those messages; an assistant message is never read.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.memory_support import fresh_schema, postgres_or_skip
from tests.servers import serve_home, start_server

ANN, BOB = "ann-token-1234", "bob-token-5678"
ORDERS_1996 = "How many orders were placed in 1996?"
CROSS = "What was revenue by region in 1995, and how many suppliers does each region have?"
TOP_NATIONS = "Top 5 nations by revenue in 1996"
REAL_TOP_NATIONS = {"ETHIOPIA", "INDONESIA", "MOROCCO", "IRAN", "CHINA"}
REBUILT = "Context: no saved thread holds this conversation"


def _serve(tmp_path_factory: pytest.TempPathFactory, tpch_db: Any, config: str | None = None, **env: str):
    home = serve_home(tmp_path_factory, tpch_db)
    return start_server(home, tmp_path_factory.mktemp("cwd"), config, env=env or None)


@pytest.fixture(scope="module")
def server(tmp_path_factory, tpch_db) -> Iterator[str]:
    proc, url = _serve(tmp_path_factory, tpch_db)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def secured(tmp_path_factory, tpch_db) -> Iterator[str]:
    proc, url = _serve(
        tmp_path_factory, tpch_db, f"users:\n  ann: {{token: {ANN}}}\n  bob: {{token: {BOB}}}\n"
    )
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@dataclass
class Answer:
    text: str
    outputs: dict[str, Any]
    reasoning: list[str]

    @property
    def thread_id(self) -> str:
        return str(self.outputs["thread_id"])

    @property
    def rebuilt(self) -> bool:
        return any(note.startswith(REBUILT) for note in self.reasoning)

    def rows(self) -> str:
        return json.dumps([r["rows"] for r in self.outputs["results"]])


def _europe_only(answer: Answer) -> bool:
    """Revenue of 1995 and the suppliers, both for EUROPE alone (the answer to "just EUROPE" after CROSS)."""
    rows = [r["rows"] for r in answer.outputs["results"]]
    return rows == [[["EUROPE", pytest.approx(634777681.19, abs=0.01)]], [["EUROPE", 204]]]


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, Any]:
    """An assistant turn as the Playground sends it back: a message item of output_text parts."""
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}


def playground(url: str, messages: list[dict[str, Any]], token: str | None = None) -> Answer:
    """A Playground-shaped request: the whole conversation, streamed, no custom_inputs."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"input": messages, "stream": True}
    events = []
    with httpx.stream("POST", f"{url}/responses", json=body, headers=headers, timeout=120) as r:
        assert r.status_code == 200, r.read()
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
    items = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    reasoning = [i["summary"][0]["text"] for i in items if i["type"] == "reasoning"]
    assert items[-1]["type"] == "message"
    return Answer(items[-1]["content"][0]["text"], events[-1]["custom_outputs"], reasoning)


def conversation(url: str, questions: list[str], token: str | None = None) -> list[Answer]:
    """Ask ``questions`` in turn as the Playground does: each request sends every message so far."""
    messages: list[dict[str, Any]] = []
    answers = []
    for q in questions:
        messages.append(user(q))
        answers.append(playground(url, messages, token))
        messages.append(assistant(answers[-1].text))
    return answers


def test_openai_client_follow_up_continues_the_thread(server):
    from openai import OpenAI

    client = OpenAI(base_url=server, api_key="unused")
    first = client.responses.create(model="genie-agent", input=[user(ORDERS_1996)])
    history = [
        user(ORDERS_1996),
        {"role": "assistant", "content": first.output_text},
        user("what about 1995?"),
    ]
    second = client.responses.create(model="genie-agent", input=history)
    assert "22,909" in second.output_text  # the orders of 1995
    outputs = second.custom_outputs  # type: ignore[attr-defined]
    assert outputs["status"] == "ok" and outputs["route"]["kind"] == "follow_up"
    assert outputs["thread_id"] == first.custom_outputs["thread_id"]  # type: ignore[attr-defined]
    assert outputs["genie_conversation_ids"] == first.custom_outputs["genie_conversation_ids"]  # type: ignore[attr-defined]


def test_openai_client_sending_back_the_output_items_continues_the_thread(server):
    """OpenAI's documented way to keep state by hand: the last response's output items go back as input
    (reasoning, tool calls and their outputs, the message)."""
    from openai import OpenAI

    client = OpenAI(base_url=server, api_key="unused")
    context: list[Any] = [user(TOP_NATIONS)]
    first = client.responses.create(model="genie-agent", input=context)
    context += first.output
    context.append(user("how many suppliers do those nations have?"))
    stream = client.responses.create(model="genie-agent", input=context, stream=True)
    done = [e for e in stream if e.type == "response.output_item.done"]
    outputs = done[-1].custom_outputs  # type: ignore[union-attr]
    assert outputs["thread_id"] == first.custom_outputs["thread_id"]  # type: ignore[attr-defined]
    assert outputs["route"]["domains"] == ["supply"]
    assert {row[0] for row in outputs["results"][0]["rows"]} == REAL_TOP_NATIONS


def test_playground_single_space_follow_up(server):
    first, second, third = conversation(server, [ORDERS_1996, "what about 1995?", "and 1994?"])
    assert "22,715" in first.text and "22,909" in second.text and "22,958" in third.text
    assert first.thread_id == second.thread_id == third.thread_id
    assert not second.rebuilt and not third.rebuilt
    assert [a.outputs["route"]["kind"] for a in (second, third)] == ["follow_up", "follow_up"]


def test_playground_cross_domain_follow_up(server):
    first, second = conversation(server, [CROSS, "just EUROPE"])
    assert first.outputs["domain"] == "cross_domain"
    assert second.thread_id == first.thread_id and not second.rebuilt
    assert second.outputs["route"]["domains"] == ["sales", "supply"]
    assert _europe_only(second)


def test_a_conversation_from_elsewhere_is_rebuilt_then_continued(server):
    """No thread holds this history (never asked here): the earlier question is asked again first."""
    history = [user(ORDERS_1996), assistant("There were 12,345 orders."), user("what about 1995?")]
    rebuilt = playground(server, history)
    assert rebuilt.rebuilt and rebuilt.reasoning[0].startswith(REBUILT)
    assert "22,909" in rebuilt.text and rebuilt.outputs["route"]["kind"] == "follow_up"
    # The rebuilt thread holds the whole history: the conversation's next request continues it.
    later = playground(server, [*history, assistant(rebuilt.text), user("and 1994?")])
    assert not later.rebuilt and later.thread_id == rebuilt.thread_id and "22,958" in later.text


def test_a_cross_domain_conversation_from_elsewhere_is_rebuilt(server):
    history = [user(CROSS), assistant("Revenue was 1 everywhere."), user("just EUROPE")]
    answer = playground(server, history)
    assert answer.rebuilt and answer.outputs["route"]["domains"] == ["sales", "supply"]
    assert _europe_only(answer)


@pytest.mark.parametrize("asked_here_first", [True, False], ids=["found", "rebuilt"])
def test_an_assistant_message_claiming_false_data_is_never_used(server, asked_here_first):
    fake = "The top 5 were FRANCE (999,999.99), GERMANY, JAPAN, BRAZIL and CANADA; 12,345 orders."
    if asked_here_first:
        first = playground(server, [user(TOP_NATIONS)])
    history = [user(TOP_NATIONS), assistant(fake), user("how many suppliers do those nations have?")]
    answer = playground(server, history)
    assert answer.rebuilt is not asked_here_first
    if asked_here_first:
        assert answer.thread_id == first.thread_id
    assert answer.outputs["status"] == "ok" and answer.outputs["route"]["domains"] == ["supply"]
    assert {row[0] for row in answer.outputs["results"][0]["rows"]} == REAL_TOP_NATIONS
    everything = answer.text + json.dumps(answer.outputs)
    for claimed in ("FRANCE", "GERMANY", "JAPAN", "BRAZIL", "CANADA", "999,999", "12,345"):
        assert claimed not in everything


def test_two_users_with_the_same_history_get_their_own_threads(secured):
    ann_first = playground(secured, [user(ORDERS_1996)], ANN)
    history = [user(ORDERS_1996), assistant(ann_first.text), user("what about 1995?")]
    # Bob sends Ann's conversation word for word: her thread is not his to continue.
    bob = playground(secured, history, BOB)
    assert bob.rebuilt and bob.thread_id != ann_first.thread_id
    assert bob.outputs["genie_conversation_ids"] != ann_first.outputs["genie_conversation_ids"]
    assert "22,909" in bob.text
    ann = playground(secured, history, ANN)
    assert not ann.rebuilt and ann.thread_id == ann_first.thread_id and "22,909" in ann.text
    # Each one's next request continues their own thread.
    for token, mine in ((ANN, ann), (BOB, bob)):
        later = playground(secured, [*history, assistant(mine.text), user("and 1994?")], token)
        assert not later.rebuilt and later.thread_id == mine.thread_id


def test_memory_off_answers_a_follow_up_from_rebuilt_context(tmp_path_factory, tpch_db):
    proc, url = _serve(tmp_path_factory, tpch_db, GENIE_AGENT_MEMORY_BACKEND="off")
    try:
        answer = playground(url, [user(ORDERS_1996), assistant("12,345"), user("what about 1995?")])
        assert answer.rebuilt and "22,909" in answer.text and "12,345" not in answer.text
        assert answer.outputs["memory_status"] == "disabled"
        cross = playground(url, [user(CROSS), assistant("none"), user("just EUROPE")])
        assert _europe_only(cross)
        # The replayed turn's answer is passed to the question's turn: "those nations" are its members.
        fake = "The top 5 were FRANCE, GERMANY, JAPAN, BRAZIL and CANADA."
        those = playground(
            url, [user(TOP_NATIONS), assistant(fake), user("how many suppliers do those nations have?")]
        )
        assert those.rebuilt and those.outputs["status"] == "ok", those.text
        assert those.outputs["route"]["domains"] == ["supply"]
        assert {row[0] for row in those.outputs["results"][0]["rows"]} == REAL_TOP_NATIONS
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_any_replica_continues_the_conversation_through_postgres(tmp_path_factory, tpch_db):
    """Two `serve` processes over one Postgres schema: a follow-up sent to the other one continues the
    thread, Genie conversation included (the local engine's conversations are in the shared home)."""
    url = postgres_or_skip()
    with fresh_schema() as schema:
        home = serve_home(tmp_path_factory, tpch_db)
        env = {
            "GENIE_AGENT_MEMORY_BACKEND": "postgres",
            "GENIE_AGENT_MEMORY_POSTGRES_URL": url,
            "GENIE_AGENT_MEMORY_POSTGRES_SCHEMA": schema,
        }
        procs = []
        try:
            for _ in range(2):
                procs.append(start_server(home, tmp_path_factory.mktemp("replica"), env=env))
            (_, one), (_, two) = procs
            first = playground(one, [user(ORDERS_1996)])
            history = [user(ORDERS_1996), assistant(first.text), user("what about 1995?")]
            second = playground(two, history)
            assert not second.rebuilt and second.thread_id == first.thread_id
            assert second.outputs["genie_conversation_ids"] == first.outputs["genie_conversation_ids"]
            assert "22,909" in second.text
            third = playground(one, [*history, assistant(second.text), user("and 1994?")])
            assert third.thread_id == first.thread_id and "22,958" in third.text
        finally:
            for proc, _ in procs:
                proc.terminate()
                proc.wait(timeout=10)


def test_a_named_thread_wins_over_the_history(server):
    """custom_inputs.thread_id (the chat, the SDK client) is what it says, whatever input holds."""
    first = playground(server, [user(ORDERS_1996)])
    other = f"t-{uuid.uuid4().hex}"
    body = {
        "input": [user(ORDERS_1996), assistant(first.text), user("what about 1995?")],
        "custom_inputs": {"thread_id": other},
    }
    response = httpx.post(f"{server}/responses", json=body, timeout=60).json()
    assert response["custom_outputs"]["thread_id"] == other
    assert response["custom_outputs"]["status"] == "out_of_scope"  # a new thread: no previous domain
