"""Ask a question, then a follow-up that continues it.

    python examples/scripts/01_ask_and_follow_up.py

The agent runs in this process over the example TPC-H data (generated on the first run, a few
seconds). Nothing reaches a workspace or the network.
"""

import genie_agent


def show(question: str, result: genie_agent.contract.TurnResult) -> None:
    print(f"Q: {question}")
    print(f"A: {result.text}")
    route = result.route.kind if result.route else "-"
    print(f"   status {result.status}, route {route}, spaces {', '.join(result.domains)}")
    for table in result.results:
        sql = " ".join((table.sql or "").split())
        print(f"   {table.domain} SQL: {sql}")
    print()


with genie_agent.connect() as client:
    question = "How many orders were placed in 1996?"
    show(question, client.ask(question))

    # The client keeps the thread (and each Genie conversation) and sends it with the next question,
    # so "what about 1995?" means "how many orders were placed in 1995?".
    show("what about 1995?", client.ask("what about 1995?"))
    print(f"thread: {client.thread.thread_id}")

    client.new_thread()  # the next question starts afresh
