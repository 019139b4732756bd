"""databricks-langchain ``GenieAgent``'s chat-history message, taken apart into the user's questions.

By default ``GenieAgent`` (databricks-langchain 0.22, ``_query_genie_as_agent``) sends Genie one
message: a preamble, then each message of the conversation on its own line(s)::

    I will provide you a chat history, where your name is {genie_agent_name}. Please help with the described information in the chat history.
    {role or name}: {content}
    {role or name}: {content}

The label is a dict message's ``role`` (else its ``name``, else ``unknown``) or a LangChain
message's ``role`` attribute (``ChatMessage``), else its ``name``, which is ``None`` unless set:
a plain ``HumanMessage`` shows as ``None:``. :func:`user_questions` returns the user turns in
order; :func:`ask_with_history` replays the earlier ones in a fresh conversation and asks the
last, so "what about 1995?" is a follow-up of the question before it.

The text cannot prove who wrote a line, so user turns are those labelled ``user`` or ``human`` or,
when no turn is labelled so (LangChain message objects), ``None``. Any other label (``assistant``,
``ai``, ``system``, ``tool``, ``query_result``, an agent's name, ``unknown``) starts a turn that is
dropped: nothing an assistant wrote becomes a question or data. A line that does not start with a
label continues the turn above it (multi-line content).
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

from ...errors import GenieAgentError, UserInputError

if TYPE_CHECKING:
    from ...identity import Identity
    from ..base import GenieSpace, SpaceAnswer

__all__ = ["ask_with_history", "user_questions"]

_PREAMBLE = re.compile(
    r"I will provide you a chat history, where your name is (?P<name>[^\n]*?)\. "
    r"Please help with the described information in the chat history\.\n"
)
# A role or a message name as LangChain and OpenAI allow them: no spaces, no colon.
_LABEL = re.compile(r"(?P<label>[A-Za-z0-9_.\-]{1,64}): (?P<rest>.*)")
_USER_ROLES = frozenset({"user", "human"})
_UNNAMED = "None"


def _role(label: str) -> str:
    return label if label == _UNNAMED else label.lower()


def _content_text(content: str) -> str:
    """The text of a content rendered as a Python list of blocks (``[{'type': 'text', ...}]``)."""
    stripped = content.strip()
    if not (stripped.startswith("[{") and stripped.endswith("}]")):
        return stripped
    try:
        blocks = ast.literal_eval(stripped)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return stripped
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
        return stripped
    texts = [
        b["text"]
        for b in blocks
        if b.get("type") in ("text", "input_text") and isinstance(b.get("text"), str)
    ]
    return "\n".join(texts).strip()


def user_questions(text: str) -> list[str] | None:
    """The user questions of a GenieAgent chat-history message, in order; None if ``text`` is not one."""
    preamble = _PREAMBLE.match(text)
    if preamble is None:
        return None
    agent_name = preamble.group("name")
    turns: list[tuple[str, list[str]]] = []
    for line in text[preamble.end() :].split("\n"):
        match = _LABEL.fullmatch(line)
        if match is None and agent_name and line.startswith(agent_name + ": "):
            turns.append((agent_name, [line[len(agent_name) + 2 :]]))
        elif match is not None:
            turns.append((match.group("label"), [match.group("rest")]))
        elif turns:
            turns[-1][1].append(line)
        else:
            return None  # the library always starts each message with its label
    if not turns:
        return None
    labelled = any(_role(label) in _USER_ROLES for label, _ in turns)
    users = _USER_ROLES if labelled else _USER_ROLES | {_UNNAMED}
    questions = []
    for label, lines in turns:
        if _role(label) in users:
            question = _content_text("\n".join(lines))
            if question:
                questions.append(question)
    return questions


def ask_with_history(
    space: GenieSpace, questions: list[str], *, identity: Identity | None = None
) -> SpaceAnswer:
    """Answer the last question in a fresh conversation where the earlier ones were asked first.

    An earlier question the space refuses or fails on is skipped, as that turn was then.
    """
    if not questions:
        raise UserInputError(
            "The chat history has no question from the user.", "Ask a question about the data."
        )
    conversation_id: str | None = None
    for question in questions[:-1]:
        try:
            conversation_id = space.ask(question, conversation_id, identity=identity).conversation_id
        except GenieAgentError:
            continue
    return space.ask(questions[-1], conversation_id, identity=identity)
