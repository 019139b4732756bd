"""What the agent remembers about you, and forgetting it.

    python examples/scripts/05_memories.py

A preference you state ("my region is EUROPE") is remembered across threads and applied to later
questions until you forget it. This script asks as the user "example", so your own memories are
left alone, and forgets everything it taught the agent before it ends.
"""

import genie_agent


def show_memories(client: genie_agent.Client) -> None:
    memories = client.memories()
    print(f"memories ({len(memories)}):")
    for memory in memories:
        print(f"  - [{memory.kind}] {memory.text}  (id {memory.id})")
    if not memories:
        print("  (none)")


with genie_agent.connect(user="example") as client:
    show_memories(client)

    said = client.ask("my region is EUROPE")
    print(f"\n> my region is EUROPE\n{said.text}\n(memory: {said.memory_status})\n")
    show_memories(client)

    client.new_thread()  # a preference holds in every thread, not just this one
    question = "How many customers are there per nation?"
    print(f"\n> {question}\n{client.ask(question).text}\n")

    preference = next(m for m in client.memories() if m.kind == "preference")
    print(f"forget {preference.id}: {client.forget(preference.id)}")
    client.new_thread()
    print(f"\n> {question}\n{client.ask(question).text}\n")

    print(f"forget_all: {client.forget_all()} memories forgotten")
    show_memories(client)
