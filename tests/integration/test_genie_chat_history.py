"""databricks-langchain ``GenieAgent``'s chat-history message, answered by the local Genie engine.

``GenieAgent`` sends Genie a preamble and the whole conversation as one message. The engine answers
the last user question, with the earlier user turns as follow-up context, and never takes a question
or data from an assistant turn. The messages here are built by the library's own code
(``_query_genie_as_agent``) and, over ``genie-server``, by a real ``GenieAgent``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from databricks_ai_bridge.genie import GenieResponse
from databricks_langchain.genie import GenieAgent, _query_genie_as_agent
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from genie_agent.errors import UnsafeRequestError, UserInputError
from genie_agent.genie_api import build_genie_api, serve_in_background
from genie_agent.identity import TokenIdentityProvider, UserConfig
from genie_agent.spaces.local.chat_history import user_questions
from genie_agent.spaces.local.conversations import ConversationStore
from genie_agent.spaces.local.engine import LocalGenieSpace
from genie_agent.spaces.local.executor import ReadOnlyExecutor
from tests.conftest import open_readonly

Q1996 = "How many orders were placed in 1996?"
Q1995 = "what about 1995?"
TOKEN = "ann-chat-history-token"
T = TypeVar("T")


def untraced(call: Callable[[], T]) -> T:
    """Run ``call`` with MLflow tracing off: the library traces its calls, these tests need no traces."""
    from mlflow.tracing.provider import trace_disabled

    return trace_disabled(call)()


class _Recorder:
    """Stands in for databricks_ai_bridge's ``Genie``: keeps the message GenieAgent's code builds."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def ask_question(self, question: str, conversation_id: str | None = None) -> GenieResponse:
        self.sent.append(question)
        return GenieResponse(result="", conversation_id="c")


def built_by_genie_agent(messages: list[Any], name: str = "Genie") -> str:
    """The text GenieAgent sends Genie for ``messages``, made by the library's own message building."""
    recorder = _Recorder()
    untraced(lambda: _query_genie_as_agent({"messages": messages}, genie=recorder, genie_agent_name=name))
    (sent,) = recorder.sent
    return sent


def orders_in(tpch_db: Path, year: int) -> int:
    with open_readonly(tpch_db) as con:
        row = con.execute(
            "SELECT count(*) FROM orders WHERE o_orderdate >= make_date(?, 1, 1)"
            " AND o_orderdate < make_date(?, 1, 1)",
            [year, year + 1],
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture(scope="module")
def spaces(tpch_catalog, tpch_db, tmp_path_factory) -> dict[str, LocalGenieSpace]:
    executor = ReadOnlyExecutor(tpch_db)
    conversations = ConversationStore(tmp_path_factory.mktemp("chat-history") / "conversations.sqlite")
    return {d.id: LocalGenieSpace(d, executor, conversations) for d in tpch_catalog.spaces}


@pytest.fixture(scope="module")
def first_answer_table(spaces) -> str:
    """What GenieAgent hands back for the first question: its result as a markdown table."""
    answer = spaces["sales"].ask(Q1996)
    header = "| " + " | ".join(answer.columns) + " |"
    return "\n".join([header, "|---|", *("| " + " | ".join(map(str, r)) + " |" for r in answer.rows)])


# --- (a) the library's message, answered in process ------------------------------------------------


def test_the_two_turn_message_of_langchain_messages_answers_the_last_question(
    spaces, tpch_db, first_answer_table
):
    text = built_by_genie_agent(
        [HumanMessage(Q1996), AIMessage(first_answer_table, name="query_result"), HumanMessage(Q1995)]
    )
    assert text.startswith("I will provide you a chat history, where your name is Genie.")
    assert user_questions(text) == [Q1996, Q1995]

    answer = spaces["sales"].ask(text)
    assert answer.status == "completed", answer.text
    assert answer.rows == ((orders_in(tpch_db, 1995),),)
    assert orders_in(tpch_db, 1995) != orders_in(tpch_db, 1996)
    assert "DATE '1995-01-01'" in (answer.sql or "")


def test_dict_messages_and_a_misleading_assistant_turn_are_not_taken_as_questions(spaces, tpch_db):
    # Were the assistant's words a question, "what about 1995?" would follow revenue by region.
    misleading = "Revenue by region in 1994: EUROPE 12.\nuser was happy"
    messages = [
        {"role": "system", "content": "Revenue by region in 1993"},
        {"role": "user", "content": Q1996},
        {"role": "assistant", "content": misleading},
        {"role": "user", "content": Q1995},
    ]
    text = built_by_genie_agent(messages, name="Sales Genie")
    assert user_questions(text) == [Q1996, Q1995]
    answer = spaces["sales"].ask(text)
    assert answer.status == "completed" and answer.rows == ((orders_in(tpch_db, 1995),),)
    # The assistant turn alone, as a follow-up, would have changed the question.
    control = spaces["sales"].ask(Q1995, spaces["sales"].ask("Revenue by region in 1994").conversation_id)
    assert control.row_count > 1


def test_the_library_renderings_of_other_messages(first_answer_table):
    multi_line = "How many orders were placed\nin 1996?"
    blocks = HumanMessage(content=[{"type": "text", "text": Q1995}])
    text = built_by_genie_agent(
        [
            SystemMessage("You route questions.", name="router"),
            HumanMessage(multi_line),
            AIMessage(first_answer_table, name="query_result"),
            AIMessage("", name="supervisor"),
            blocks,
        ]
    )
    assert user_questions(text) == [multi_line, Q1995]
    # One user question, and none at all.
    assert user_questions(built_by_genie_agent([HumanMessage(Q1995)])) == [Q1995]
    assert user_questions(built_by_genie_agent([{"role": "assistant", "content": Q1995}])) == []
    # Unnamed, any LangChain message shows as "None:", as a HumanMessage does: the text cannot tell
    # them apart. With one turn labelled "user", "None" turns are not taken as the user's.
    unnamed = [SystemMessage("Revenue by region"), HumanMessage(Q1995)]
    assert user_questions(built_by_genie_agent(unnamed)) == ["Revenue by region", Q1995]
    mixed = [AIMessage("Revenue by region"), {"role": "user", "content": Q1995}]
    assert user_questions(built_by_genie_agent(mixed)) == [Q1995]


def test_earlier_turns_the_engine_refuses_are_skipped_but_the_last_question_is_checked(spaces, tpch_db):
    sales = spaces["sales"]
    earlier = built_by_genie_agent([HumanMessage("Delete all orders"), HumanMessage(Q1996)])
    assert sales.ask(earlier).rows == ((orders_in(tpch_db, 1996),),)
    with pytest.raises(UnsafeRequestError):
        sales.ask(built_by_genie_agent([HumanMessage(Q1996), HumanMessage("Delete all orders")]))
    with pytest.raises(UserInputError):
        sales.ask(built_by_genie_agent([{"role": "assistant", "content": Q1996}]))


# --- (c) anything else is untouched ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        Q1995,
        "I will provide you a chat history of orders",
        # The preamble without the library's line break, or a first line that is no message.
        "I will provide you a chat history, where your name is Genie. Please help with the described"
        " information in the chat history. user: How many orders?",
        "I will provide you a chat history, where your name is Genie. Please help with the described"
        " information in the chat history.\nHow many orders were placed in 1995?",
    ],
)
def test_other_text_is_not_a_chat_history(text):
    assert user_questions(text) is None


def test_a_normal_question_and_its_follow_up_are_answered_as_before(spaces, tpch_db):
    sales = spaces["sales"]
    first = sales.ask(Q1996)
    assert first.rows == ((orders_in(tpch_db, 1996),),)
    follow = sales.ask(Q1995, first.conversation_id)
    assert follow.conversation_id == first.conversation_id
    assert follow.rows == ((orders_in(tpch_db, 1995),),)


# --- (b) a real GenieAgent against genie-server ------------------------------------------------------


@pytest.fixture(scope="module")
def genie_server(spaces) -> Iterator[str]:
    users = {"ann": UserConfig.model_validate({"token": TOKEN})}
    api = build_genie_api(spaces, TokenIdentityProvider(users))
    with serve_in_background(api) as url:
        yield url


def test_genie_agent_against_genie_server_answers_the_follow_up(genie_server, tpch_db):
    from databricks.sdk import WorkspaceClient

    client = WorkspaceClient(host=genie_server, token=TOKEN)
    agent = untraced(lambda: GenieAgent("sales", client=client, include_context=True, return_pandas=True))

    first = untraced(lambda: agent.invoke({"messages": [HumanMessage(Q1996)]}))
    assert first["dataframe"].iloc[0, 0] == orders_in(tpch_db, 1996)

    history = [HumanMessage(Q1996), *first["messages"], HumanMessage(Q1995)]
    second = untraced(
        lambda: agent.invoke({"messages": history, "conversation_id": first["conversation_id"]})
    )
    assert second["dataframe"].iloc[0, 0] == orders_in(tpch_db, 1995)
    sql = next(m.content for m in second["messages"] if m.name == "query_sql")
    assert "DATE '1995-01-01'" in sql
