"""A conversation sent whole continues where it left off.

The AI Playground and OpenAI-style clients send every message of the conversation in ``input`` and
no ``custom_inputs``: no thread id. Before the turn runs, the served agent works out which thread
the question continues, from the request's earlier *user* messages only (nothing an assistant
message says is read: a client may send any text as an assistant's):

:func:`find_conversation`
    The asking user's thread whose questions so far are those messages: each saved turn records
    the digest of its thread's questions (:mod:`genie_agent.memory.digests`), looked up in the shared
    store (one indexed statement), so the thread state and Genie conversation ids carry over on any
    replica. Another user's thread is never found, whatever its questions.
:func:`rebuild_conversation`
    When no thread holds them (the history came from elsewhere, its thread was saved before digests
    or deleted, memory is off or down): the earlier questions are asked again, in order, as turns of
    a new thread, so routing knows the previous domains, each space has its conversation and "those
    nations" means the last answer's members, all from the data. Only the last :data:`MAX_REPLAYED`
    are asked; those before are recorded unasked, so the new thread carries the whole history's
    digest and the conversation's next request finds it. With memory off, the context travels in the
    call instead: the last replayed turn's state (:func:`state_after`: its domains, Genie
    conversations and answer's members) is passed to the question's turn as ``previous``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import GenieAgentError
from .memory.digests import history_digest
from .memory.errors import MemoryUnavailableError
from .memory.threads import ThreadState, ThreadStore, TurnRecord
from .understanding.references import result_members

if TYPE_CHECKING:
    from .agent import Agent
    from .identity import Identity
    from .turn import TurnResult

__all__ = [
    "MAX_RECORDED",
    "MAX_REPLAYED",
    "NOT_ASKED",
    "Continuation",
    "askable",
    "find_conversation",
    "rebuild_conversation",
    "state_after",
]

MAX_REPLAYED = 4
"""Earlier questions asked again to rebuild a conversation's context (each is a turn: its spaces' queries)."""
MAX_RECORDED = 200
"""Earlier questions before those recorded unasked in a rebuilt thread; a longer history is not
recorded (its thread then does not carry the history's digest: each request rebuilds it)."""
NOT_ASKED = "not_asked"
"""The status of an earlier question recorded in a rebuilt thread without being asked again."""


@dataclass(frozen=True)
class Continuation:
    """How the question continues its conversation: in a thread, or with the context passed along."""

    thread_id: str | None = None
    genie_conversation_ids: dict[str, str] = field(default_factory=dict)
    replayed: int = 0
    """Earlier questions asked again to rebuild the context."""
    previous: ThreadState | None = None
    """Memory off: the state the rebuilt conversation ends in, for the question's turn."""


def askable(agent: Agent, earlier: Sequence[str]) -> list[str]:
    """The earlier user messages a turn ran for: those the agent takes as questions (a rejected one,
    empty or too long, was never a turn of the thread)."""
    kept = []
    for message in earlier:
        try:
            kept.append(agent.validate_question(message))
        except GenieAgentError:
            continue
    return kept


def find_conversation(agent: Agent, user: str, earlier: Sequence[str]) -> str | None:
    """The id of ``user``'s thread whose questions so far are ``earlier``; None when none is (or
    memory is off or down)."""
    if agent.threads is None or not earlier:
        return None
    try:
        return agent.threads.find_by_history(history_digest(earlier), user)
    except MemoryUnavailableError:
        return None


def rebuild_conversation(agent: Agent, who: Identity, question: str, earlier: Sequence[str]) -> Continuation:
    """Ask the last :data:`MAX_REPLAYED` of ``earlier`` again, in order, as turns of a new thread of
    ``who`` (with memory off, of no thread), and say how ``question`` continues them."""
    keep = agent.threads is not None
    older, recent = list(earlier[:-MAX_REPLAYED]), list(earlier[-MAX_REPLAYED:])
    thread_id = _record_unasked(agent.threads, who.user, older) if agent.threads is not None else None
    state = ThreadState(uuid.uuid4().hex, who.user)  # the context as the replies leave it
    saved = False
    for asked in recent:
        try:
            result = agent.ask(asked, identity=who, thread_id=thread_id, previous=None if keep else state)
        except GenieAgentError:
            continue  # it fails again as it did then: the questions after go on without it
        state = state_after(state, result)
        if keep:
            thread_id, saved = result.thread_id, result.memory_status == "saved"
    if thread_id is not None and saved:
        return Continuation(thread_id, replayed=len(recent))  # the thread holds the context
    return Continuation(None, dict(state.genie_conversation_ids), len(recent), state)


def state_after(state: ThreadState, result: TurnResult) -> ThreadState:
    """The thread state after ``result``'s turn, as a saved turn would leave it (memory off)."""
    members = result_members(result.results) if result.status in ("ok", "partial") else {}
    return ThreadState(
        state.thread_id,
        state.user,
        result.route.domains or state.last_domains,
        {**state.genie_conversation_ids, **result.genie_conversation_ids},
        state.turns + 1,
        last_members=members or state.last_members,
    )


def _record_unasked(threads: ThreadStore, user: str, older: Sequence[str]) -> str | None:
    """A new thread of ``user`` holding ``older`` as turns not asked again; its id (None: nothing to
    record, too much, or memory is down)."""
    if not older or len(older) > MAX_RECORDED:
        return None
    try:
        state = threads.load(None, user)
        for asked in older:
            threads.append(state, TurnRecord(asked, NOT_ASKED, "", (), {}, {}))
            state = threads.load(state.thread_id, user)
    except MemoryUnavailableError:
        return None
    return state.thread_id
