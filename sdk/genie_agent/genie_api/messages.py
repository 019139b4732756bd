"""The Genie message service: conversations and messages, and how a message moves through Genie's
statuses over its space's latency.

A message starts SUBMITTED; ASKING_AI begins at 5% of the latency; EXECUTING_QUERY (the query
attachment appears, its result still RUNNING) at 75%, once the space has answered; COMPLETED at 100%.
A fault (:mod:`.faults`) turns that into FAILED, CANCELLED, QUERY_RESULT_EXPIRED or an extra
PENDING_WAREHOUSE phase.

While its latency elapses a message holds no thread: each one is a task on the event loop that
sleeps until its next status is due. The space's answer (the local engine's NL -> SQL and DuckDB
query: CPU work) is computed from submission on in one bounded thread pool, :attr:`GenieService.engine`,
of :func:`engine_workers` threads, whatever the number of messages in flight; the rest waits its turn
in that pool's queue.

The service takes plain arguments (the caller's identity, ids, the question) and knows nothing of
HTTP; lookups raise :class:`~.errors.ApiError`, which the server answers as Databricks does.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import random
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..errors import BackendError, GenieAgentError, UnsafeRequestError
from ..identity import AuthenticationError, Identity, TokenIdentityProvider
from ..spaces.base import GenieSpace, SpaceAnswer
from .errors import ApiError
from .faults import GenieFaults, QuestionLimit

__all__ = [
    "FEEDBACK_RATINGS",
    "TERMINAL",
    "Conversation",
    "GenieService",
    "Message",
    "MessageRef",
    "MessageTrace",
    "ServiceStats",
    "engine_workers",
    "new_id",
    "now_ms",
    "user_id",
]

TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED", "QUERY_RESULT_EXPIRED"})
FEEDBACK_RATINGS = ("POSITIVE", "NEGATIVE", "NONE")
# Where in a space's latency each status begins (the rest is ASKING_AI), as fractions of it.
_ASKING_AT, _EXECUTING_AT = 0.05, 0.75


def engine_workers() -> int:
    """Threads the spaces answer in: one per core, at most 4 (the engine holds the GIL for its
    Python part; more threads would only queue on it and starve the event loop)."""
    return max(1, min(4, os.cpu_count() or 1))


def new_id() -> str:
    return uuid.uuid4().hex


def now_ms() -> int:
    return int(time.time() * 1000)


def user_id(user: str) -> int:
    return int(hashlib.sha256(user.encode()).hexdigest()[:12], 16)


@dataclass(frozen=True)
class MessageRef:
    """The ids that address one message: its space, its conversation and its own."""

    space_id: str
    conversation_id: str
    message_id: str


@dataclass(frozen=True)
class MessageTrace:
    """What the server recorded of one message: each status with the wall-clock time it began,
    and how many times a client fetched the message (polls)."""

    message_id: str
    space_id: str
    status: str
    timeline: tuple[tuple[str, float], ...]
    polls: int
    feedback: str | None = None
    """The rating the message's user gave it (send-message-feedback): POSITIVE, NEGATIVE or NONE."""

    @property
    def finished_at(self) -> float | None:
        """When the message reached its first terminal status (``time.time()``), if it has."""
        return next((t for s, t in self.timeline if s in TERMINAL), None)


@dataclass
class ServiceStats:
    """The emulator's own counters since it started (no Genie API has them): what clients asked and
    how often they polled, for benchmarks (``GET /_genie_server/stats``)."""

    questions: int = 0
    """Questions admitted (start-conversation, create-message)."""
    refused: int = 0
    """Questions answered with HTTP 429 (the question limit or a scripted rate limit)."""
    polls: int = 0
    """Get-message requests (a client polling a message)."""
    messages_ended: int = 0
    """Messages that reached a terminal status."""
    message_seconds: float = 0.0
    """Their seconds from SUBMITTED to that status, summed: ``polls / message_seconds`` is the polls
    per second per question in flight (the polls of messages still running count in ``polls`` only)."""
    in_flight: int = 0
    """Messages not ended yet."""


@dataclass
class Conversation:
    """A conversation: its owner, and the space's own conversation id once the space has answered."""

    conversation_id: str
    space_id: str
    user: str
    title: str
    created_ms: int
    backend_id: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    message_ids: list[str] = field(default_factory=list)


@dataclass
class Message:
    """A message, its status and what Genie shows of it (attachments appear as the status advances)."""

    message_id: str
    conversation_id: str
    space_id: str
    user: str
    content: str
    created_ms: int
    started: float = field(default_factory=time.monotonic)
    status: str = "SUBMITTED"
    updated_ms: int = 0
    answer: SpaceAnswer | None = None
    query_visible: bool = False
    text: str | None = None
    suggested: tuple[str, ...] = ()
    error: tuple[str, str] | None = None
    statement_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    result_expired: bool = False
    completed_mono: float | None = None
    polls: int = 0
    feedback: str | None = None
    timeline: list[tuple[str, float]] = field(default_factory=list)
    ids: dict[str, str] = field(
        default_factory=lambda: {k: new_id() for k in ("query", "text", "suggested", "viz")}
    )
    visualize: bool = False
    """The question was sent with ``enable_visualization`` (:mod:`.visualizations`)."""
    chart: tuple[Any, ...] | None = None
    """The chart of the answer once worked out (:func:`.visualizations.chart_of`); () for none."""

    def set(self, status: str) -> None:
        self.status, self.updated_ms = status, now_ms()
        self.timeline.append((status, time.time()))


class GenieService:
    """The emulator's conversations and messages (all on the event loop's thread)."""

    def __init__(
        self,
        spaces: Mapping[str, GenieSpace],
        identities: TokenIdentityProvider,
        latency_s: Mapping[str, float],
        latency_jitter: float,
        result_ttl_s: float | None,
        max_messages: int,
        seed: int | None,
        *,
        question_limit: QuestionLimit | None = None,
        workers: int | None = None,
    ) -> None:
        self.spaces = dict(spaces)
        self.identities = identities
        self.latency_s = dict(latency_s)
        self.jitter = latency_jitter
        self.result_ttl_s = result_ttl_s
        self.max_messages = max_messages
        self.random = random.Random(seed)
        self.faults = GenieFaults(question_limit)
        self.engine = ThreadPoolExecutor(workers or engine_workers(), thread_name_prefix="genie-engine")
        """Where every space answers (threads start on demand, up to its size)."""
        self.conversations: OrderedDict[str, Conversation] = OrderedDict()
        self.messages: OrderedDict[str, Message] = OrderedDict()
        self.tasks: set[asyncio.Task[None]] = set()
        self._counts = ServiceStats()

    # --- lookups, each raising the error Genie answers ----------------------------------------------

    def authenticate(self, authorization: str | None) -> Identity:
        """The caller named by an ``Authorization`` header value."""
        try:
            return self.identities.authenticate(authorization)
        except AuthenticationError as exc:
            raise ApiError(401, "UNAUTHENTICATED", exc.message) from None

    def visible_spaces(self, who: Identity) -> list[str]:
        return [k for k in self.spaces if who.may_use(k)]

    def space(self, space_id: str, who: Identity) -> GenieSpace:
        space = self.spaces.get(space_id)
        if space is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Genie space {space_id} does not exist.")
        if not who.may_use(space_id):
            raise ApiError(
                403, "PERMISSION_DENIED", f"User {who.user} does not have access to Genie space {space_id}."
            )
        return space

    def conversation(self, who: Identity, space_id: str, conversation_id: str) -> Conversation:
        self.space(space_id, who)
        conv = self.conversations.get(conversation_id)
        if conv is None or conv.space_id != space_id or conv.user != who.user:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Conversation {conversation_id} does not exist.")
        return conv

    def message(self, who: Identity, ref: MessageRef) -> Message:
        conv = self.conversation(who, ref.space_id, ref.conversation_id)
        msg = self.messages.get(ref.message_id)
        if msg is None or msg.conversation_id != conv.conversation_id:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Message {ref.message_id} does not exist.")
        if (
            self.result_ttl_s is not None
            and msg.completed_mono is not None
            and not msg.result_expired
            and time.monotonic() - msg.completed_mono > self.result_ttl_s
        ):
            msg.result_expired = True
            msg.set("QUERY_RESULT_EXPIRED")
        return msg

    def query_message(self, who: Identity, ref: MessageRef, attachment_id: str | None) -> Message:
        """The message whose query attachment ``attachment_id`` (None: its only one) is asked for."""
        msg = self.message(who, ref)
        if msg.answer is None or msg.answer.sql is None or not msg.query_visible:
            raise ApiError(
                400, "INVALID_PARAMETER_VALUE", f"Message {msg.message_id} has no query attachment."
            )
        if attachment_id is not None and attachment_id != msg.ids["query"]:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Attachment {attachment_id} does not exist.")
        return msg

    # --- what clients do ---------------------------------------------------------------------------

    def start_conversation(
        self, who: Identity, space_id: str, content: str, *, visualize: bool = False
    ) -> tuple[Conversation, Message]:
        """A new conversation in a space the caller may use (see :meth:`space`), asking ``content``
        (``visualize``: with ``enable_visualization``)."""
        self._admit_question()
        conv = Conversation(new_id(), space_id, who.user, content[:100], now_ms())
        self.conversations[conv.conversation_id] = conv
        return conv, self._add_message(conv, content, who, visualize)

    def create_message(
        self, who: Identity, conv: Conversation, content: str, *, visualize: bool = False
    ) -> Message:
        """Ask ``content`` in the caller's conversation (see :meth:`conversation`)."""
        self._admit_question()
        return self._add_message(conv, content, who, visualize)

    def conversation_messages(self, conv: Conversation) -> list[Message]:
        return [self.messages[m] for m in conv.message_ids if m in self.messages]

    def poll(self, who: Identity, ref: MessageRef) -> Message:
        """The message as a client fetches it; the fetch is counted."""
        msg = self.message(who, ref)
        msg.polls += 1
        self._counts.polls += 1
        return msg

    def execute_query(self, who: Identity, ref: MessageRef, attachment_id: str | None) -> Message:
        """Run a finished message's query again: a new statement, its result no longer expired."""
        msg = self.query_message(who, ref, attachment_id)
        if msg.status not in ("COMPLETED", "QUERY_RESULT_EXPIRED"):
            raise ApiError(400, "INVALID_STATE", f"Message {msg.message_id} is still {msg.status}.")
        msg.statement_id, msg.result_expired, msg.completed_mono = str(uuid.uuid4()), False, time.monotonic()
        if msg.status == "QUERY_RESULT_EXPIRED":
            msg.set("COMPLETED")
        return msg

    def send_feedback(self, who: Identity, ref: MessageRef, rating: object) -> Message:
        """Rate the caller's message (see :meth:`message`): POSITIVE, NEGATIVE or NONE; a later rating
        replaces it."""
        if rating not in FEEDBACK_RATINGS:
            raise ApiError(
                400, "INVALID_PARAMETER_VALUE", f"rating must be one of {', '.join(FEEDBACK_RATINGS)}."
            )
        msg = self.message(who, ref)
        msg.feedback = str(rating)
        return msg

    def close(self) -> None:
        """Stop the engine's threads (a message still answering there finishes first)."""
        self.engine.shutdown(wait=False, cancel_futures=True)

    # --- what tests look at --------------------------------------------------------------------------

    def stats(self) -> ServiceStats:
        c = self._counts
        return ServiceStats(
            c.questions, self.faults.refused, c.polls, c.messages_ended, c.message_seconds, len(self.tasks)
        )

    def trace(self, message_id: str) -> MessageTrace | None:
        msg = self.messages.get(message_id)
        if msg is None:
            return None
        return MessageTrace(
            msg.message_id, msg.space_id, msg.status, tuple(msg.timeline), msg.polls, msg.feedback
        )

    def expire(self, message_id: str) -> None:
        msg = self.messages[message_id]
        if msg.status == "COMPLETED":
            msg.result_expired = True
            msg.set("QUERY_RESULT_EXPIRED")

    # --- a message's life ----------------------------------------------------------------------------

    def _admit_question(self) -> None:
        retry_after = self.faults.take_rate_limit()
        if retry_after is not None:
            raise ApiError(
                429,
                "RESOURCE_EXHAUSTED",
                "Too many requests: the Genie question rate limit for this workspace was exceeded. "
                f"Retry after {retry_after} s, or ask fewer questions per minute.",
                {"Retry-After": str(retry_after)},
            )
        self._counts.questions += 1

    def _add_message(self, conv: Conversation, content: str, who: Identity, visualize: bool) -> Message:
        msg = Message(new_id(), conv.conversation_id, conv.space_id, who.user, content, now_ms())
        msg.visualize = visualize
        msg.set("SUBMITTED")
        conv.message_ids.append(msg.message_id)
        self.messages[msg.message_id] = msg
        while len(self.messages) > self.max_messages:
            self.messages.popitem(last=False)
        while len(self.conversations) > self.max_messages:
            self.conversations.popitem(last=False)
        task = asyncio.get_running_loop().create_task(self._process(msg, conv, who))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(lambda _: self._ended(msg))
        return msg

    def _ended(self, msg: Message) -> None:
        if msg.status in TERMINAL:
            self._counts.messages_ended += 1
            self._counts.message_seconds += msg.timeline[-1][1] - msg.timeline[0][1]

    def _latency(self, space_id: str) -> float:
        base = self.latency_s.get(space_id, self.latency_s.get("*", 0.0))
        return max(0.0, base * (1 + self.jitter * self.random.uniform(-1, 1)))

    async def _process(self, msg: Message, conv: Conversation, who: Identity) -> None:
        latency = self._latency(msg.space_id)
        fault = self.faults.take(msg.space_id)

        async def until(fraction: float) -> None:
            await asyncio.sleep(max(0.0, msg.started + fraction * latency - time.monotonic()))

        answering = None
        if fault is None or fault.kind not in ("failed", "cancelled"):
            answering = asyncio.ensure_future(self._answer(msg, conv, who))  # queued for the engine now
        await until(_ASKING_AT)
        msg.set("ASKING_AI")
        if fault is not None and fault.kind == "cancelled":
            await until(0.5)
            msg.set("CANCELLED")
            return
        if answering is not None:
            await answering
        if fault is not None and fault.kind == "pending_warehouse":
            msg.set("PENDING_WAREHOUSE")
            await asyncio.sleep(fault.seconds)
            msg.started += fault.seconds
        if msg.error is None and msg.answer is not None and msg.answer.sql is not None:
            await until(_EXECUTING_AT)
            msg.query_visible = True
            msg.set("EXECUTING_QUERY")
        await until(1.0)
        if fault is not None and fault.kind == "failed":
            msg.error = (fault.error, fault.error_type)
        if msg.error is not None:
            msg.set("FAILED")
            return
        msg.completed_mono = time.monotonic()
        if fault is not None and fault.kind in ("expired", "expired_on_fetch"):
            msg.result_expired = True
        msg.set("QUERY_RESULT_EXPIRED" if fault is not None and fault.kind == "expired" else "COMPLETED")

    async def _answer(self, msg: Message, conv: Conversation, who: Identity) -> None:
        space = self.spaces[msg.space_id]
        async with conv.lock:  # one message of a conversation at a time, in order
            try:
                ask = functools.partial(space.ask, msg.content, conv.backend_id, identity=who)
                answer = await asyncio.get_running_loop().run_in_executor(self.engine, ask)
            except UnsafeRequestError as exc:
                msg.text = f"I can't do that: {exc.message} I can only answer questions about the data."
                return
            except BackendError as exc:
                msg.error = (exc.message, "SQL_EXECUTION_EXCEPTION")
                return
            except GenieAgentError as exc:
                msg.error = (exc.message, "UNEXPECTED_REPLY_PROCESS_EXCEPTION")
                return
            except Exception as exc:  # a bug in a space must fail the message, not the server
                msg.error = (f"{type(exc).__name__}: {exc}", "UNEXPECTED_REPLY_PROCESS_EXCEPTION")
                return
            conv.backend_id = answer.conversation_id
        msg.answer, msg.text, msg.suggested = answer, answer.text, answer.suggested_questions
