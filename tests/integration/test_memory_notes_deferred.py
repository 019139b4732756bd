"""Notes are searched while the spaces work (after the preferences): the answer still mentions them,
a note stated in a turn is not recalled in that turn, and a failed notes search keeps the preferences."""

from __future__ import annotations

from genie_agent.memory.errors import MemoryUnavailableError
from genie_agent.memory.store import InMemoryMemoryStore, MemoryChange, Recall
from genie_agent.turn_memory import TurnMemory
from genie_agent.understanding.lexicon import tokenize

NOTE = "revenue by region goes to the board every quarter"
QUESTION = "What was revenue by region in 1995?"


def test_a_remembered_note_is_mentioned_in_a_later_answer(make_test_agent):
    agent = make_test_agent()
    stated = agent.ask(f"remember that {NOTE}", user="ann")
    assert stated.memory_status == "saved" and "You asked me to remember" not in stated.text
    answered = agent.ask(QUESTION, user="ann")
    assert answered.status == "ok" and answered.memory_status == "saved"
    assert f"You asked me to remember: {NOTE}." in answered.text
    assert f"You asked me to remember: {NOTE}." not in agent.ask(QUESTION, user="bob").text


def test_split_recall_returns_what_recall_returns():
    store = InMemoryMemoryStore()
    store.apply("ann", [MemoryChange.note(NOTE), MemoryChange("preference", "pref-scale", "millions")])
    whole = store.recall("ann", QUESTION)
    first, notes = store.recall_preferences("ann"), store.recall_notes("ann", QUESTION)
    assert whole.notes and whole.preferences
    assert first.notes == () and first.preferences == whole.preferences and first.domains == whole.domains
    assert notes.notes == whole.notes and notes.preferences == ()


class _NotesDown(InMemoryMemoryStore):
    def recall_notes(self, user: str, question: str, *, limit: int = 5) -> Recall:
        raise MemoryUnavailableError("recall memories: in-memory memory failed: gone")


def test_a_failed_notes_search_keeps_the_preferences_and_says_so(make_test_agent):
    extractor = make_test_agent().extractor
    store = _NotesDown()
    store.apply("ann", [MemoryChange.note(NOTE)])
    memory = TurnMemory.begin(store, extractor, "ann", QUESTION, notes=False)
    assert memory.failures == [] and memory.notes_for == QUESTION
    memory.recall_notes(store, "ann")
    memory.recall_notes(store, "ann")  # once a turn
    assert memory.failures == ["recall memories: in-memory memory failed: gone"]
    assert memory.recall.notes == () and memory.notes_for is None


def test_tokenize_memo_hands_out_lists_of_their_own():
    first = tokenize(QUESTION)
    first.clear()
    again = tokenize(QUESTION)
    assert [t.text for t in again] == ["What", "was", "revenue", "by", "region", "in", "1995"]
    assert again is not tokenize(QUESTION)
