"""The :class:`GenieSpace` protocol over the Genie Conversation API (databricks-sdk ``WorkspaceClient.genie``).

A question starts a conversation (or continues one by ``conversation_id``); the message is polled
with ``get_message`` until COMPLETED, FAILED, CANCELLED or QUERY_RESULT_EXPIRED, then the query
attachment's result is fetched (re-executed when it expired) and typed from its manifest.

We poll ourselves rather than use the SDK's ``*_and_wait``: that waits only for COMPLETED or
FAILED (it polls a CANCELLED message for its whole 20-minute timeout), raises on FAILED without
Genie's error text, and sleeps up to 10 s between polls. :class:`_Pacer` explains our schedule.

Nothing touches the network until :meth:`DatabricksGenieSpace.ask`: the client comes from a
factory called per question with the caller's identity (the seam for on-behalf-of credentials),
and ``import databricks.sdk`` (~1.5 s) happens on first use.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from pydantic import BaseModel, ConfigDict, Field

from ..errors import BackendError, BackendTimeoutError, ConfigError, UnsafeRequestError, UserInputError
from ..identity import Identity
from ..understanding.lexicon import tokenize
from ..understanding.write_intent import write_intent
from .base import RoutingTerm, SpaceAnswer, SpaceInfo
from .genie_client import GenieCall, Pacer, column_type_name, describe_caller

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service.dashboards import GenieAttachment, GenieMessage, GenieResultMetadata
    from databricks.sdk.service.sql import StatementResponse

__all__ = [
    "ClientFactory",
    "DatabricksGenieSpace",
    "GenieSpaceConfig",
    "databricks_spaces",
    "default_client_factory",
]

log = logging.getLogger("genie_agent.genie")

ClientFactory = Callable[[Identity | None], "WorkspaceClient"]
"""Returns the client to ask as ``identity`` (None: the process's own credentials)."""

_TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED", "QUERY_RESULT_EXPIRED"})
_RATE_LIMIT_ERRORS = frozenset(
    {"RATE_LIMIT_EXCEEDED_GENERIC_EXCEPTION", "RATE_LIMIT_EXCEEDED_SPECIFIED_WAIT_EXCEPTION"}
)
_WAREHOUSE_ERRORS = frozenset({"WAREHOUSE_ACCESS_MISSING_EXCEPTION", "WAREHOUSE_NOT_FOUND_EXCEPTION"})
_RETRYABLE_ERRORS = frozenset(
    {
        "RETRYABLE_PROCESSING_EXCEPTION",
        "REPLY_PROCESS_TIMEOUT_EXCEPTION",
        "CHAT_COMPLETION_CLIENT_TIMEOUT_EXCEPTION",
        "CHAT_COMPLETION_NETWORK_EXCEPTION",
        "GENERIC_CHAT_COMPLETION_SERVICE_EXCEPTION",
        "DESCRIBE_QUERY_TIMEOUT",
    }
)
_TOPIC_STOP = frozenset(
    "what which show many much with from that this have each their there about over under into than "
    "does were when where list give tell total number".split()
)


class GenieSpaceConfig(BaseModel):
    """A Databricks Genie space the agent may ask, and what the router should know about it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    space_id: str = Field(
        min_length=1, description="The Genie space id (from its URL: .../genie/rooms/<id>)."
    )
    title: str | None = Field(default=None, description="Shown to users; default: the domain name.")
    description: str = Field(default="", description="What the space answers (also routing vocabulary).")
    sample_questions: tuple[str, ...] = Field(default=(), description="Offered when a question is declined.")
    keywords: tuple[str, ...] = Field(
        default=(), description="Measures and subjects that send a question here (routing)."
    )
    warehouse_id: str | None = Field(
        default=None,
        description="The space's SQL warehouse id: declared as a resource of the logged model (deploy).",
    )


class DatabricksGenieSpace:
    """A :class:`~genie_agent.spaces.base.GenieSpace` answered by a Genie space on a workspace.

    Raises from :meth:`ask`: :class:`UnsafeRequestError` for a request to change data (never sent),
    :class:`UserInputError` for an empty question, :class:`BackendTimeoutError` when no answer came
    within ``timeout_s``, :class:`BackendError` for everything Genie or the workspace refused (no
    access, a stopped warehouse, rate limits after retrying, FAILED with Genie's own error text),
    and :class:`ConfigError` when databricks-sdk is missing or has no credentials.
    """

    def __init__(
        self,
        domain: str,
        config: GenieSpaceConfig,
        client: ClientFactory,
        *,
        timeout_s: float = 100.0,
        pacer: Callable[[tuple[float, float] | None], Pacer] = Pacer,
    ) -> None:
        self.domain = domain
        self.config = config
        self._client = client
        self._timeout_s = timeout_s
        self._pacer = pacer
        self._history_lock = threading.Lock()
        self._expected: tuple[float, float] | None = None  # recent answer time: mean, mean deviation

    @property
    def info(self) -> SpaceInfo:
        c = self.config
        title = c.title or self.domain.title()
        return SpaceInfo(self.domain, title, c.description, c.sample_questions, knows_values=False)

    def routing_terms(self) -> Sequence[RoutingTerm]:
        """Configured keywords as measures; content words of the description and sample questions as
        topics. Each names itself: the space's own names and values are not known here."""
        terms = [RoutingTerm(k, "measure", k) for k in self.config.keywords]
        text = " ".join([self.config.description, *self.config.sample_questions])
        words = dict.fromkeys(t.lower for t in tokenize(text) if t.text.isalpha() and len(t.text) >= 4)
        terms += [RoutingTerm(w, "topic", w) for w in words if w not in _TOPIC_STOP]
        return terms

    def ask(
        self, question: str, conversation_id: str | None = None, *, identity: Identity | None = None
    ) -> SpaceAnswer:
        if not question.strip():
            raise UserInputError("The question is empty.", "Ask something like: " + self._example())
        verb = write_intent(question)
        if verb:
            raise UnsafeRequestError(
                f"The {self.info.title} space is read-only: it will not {verb} data.",
                "Ask a question about the data instead.",
            )
        started = time.monotonic()
        call = GenieCall(self._make_client(identity), self.info.title, identity, started + self._timeout_s)
        rate_limited = 0
        while True:
            conv_id, message_id = self._send(call, question, conversation_id)
            sent = time.monotonic()
            message = self._wait(call, conv_id, message_id, sent)
            error = message.error
            kind = error.type.value if error is not None and error.type is not None else None
            if self._status(message) == "FAILED" and kind in _RATE_LIMIT_ERRORS:
                rate_limited += 1
                call.back_off(rate_limited, "Genie rate-limited the question")
                conversation_id = conv_id
                continue
            break
        return self._answer(call, message, started)

    def send_feedback(
        self,
        conversation_id: str,
        message_id: str,
        rating: Literal["up", "down"],
        *,
        identity: Identity | None = None,
    ) -> None:
        """Rate a message this space answered (Genie's send-message-feedback), as ``identity``: up is
        POSITIVE, down NEGATIVE; a later rating replaces it. Raises :class:`BackendError`."""
        from databricks.sdk.errors import NotFound
        from databricks.sdk.service.dashboards import GenieFeedbackRating

        value = GenieFeedbackRating.POSITIVE if rating == "up" else GenieFeedbackRating.NEGATIVE
        call = GenieCall(
            self._make_client(identity), self.info.title, identity, time.monotonic() + self._timeout_s
        )
        genie, space_id = call.client.genie, self.config.space_id
        try:
            call.run(
                lambda: genie.send_message_feedback(space_id, conversation_id, message_id, value),
                keep=(NotFound,),
            )
        except NotFound:
            raise BackendError(
                f"The {self.info.title} Genie space has no message {message_id} to rate: it is gone, or "
                "was asked with other credentials.",
                "Only the user who asked a Genie message can rate it there; the rating is kept in MLflow.",
            ) from None

    # --- one question ----------------------------------------------------------------------------

    def _make_client(self, identity: Identity | None) -> WorkspaceClient:
        try:
            return self._client(identity)
        except ImportError:
            raise ConfigError(
                "databricks-sdk is not installed: the Databricks Genie backend needs it.",
                "pip install 'genie-agent[databricks]', or set GENIE_AGENT_GENIE_BACKEND=local.",
            ) from None
        except ValueError as exc:  # databricks-sdk's unified auth found no usable credentials
            raise ConfigError(
                f"Databricks authentication is not configured: {exc}",
                "Set DATABRICKS_HOST and DATABRICKS_TOKEN, or DATABRICKS_CONFIG_PROFILE for a profile in "
                "~/.databrickscfg, or run `databricks auth login` (OAuth).",
            ) from None

    def _send(self, call: GenieCall, question: str, conversation_id: str | None) -> tuple[str, str]:
        from databricks.sdk.errors import NotFound, PermissionDenied

        genie, space_id = call.client.genie, self.config.space_id
        if conversation_id:
            try:
                wait = call.run(
                    lambda: genie.create_message(space_id, conversation_id, question),
                    keep=(NotFound, PermissionDenied),
                )
                return conversation_id, wait.message_id
            except (NotFound, PermissionDenied):
                pass  # gone, or another user's: start a new one and reveal nothing
        wait = call.run(lambda: genie.start_conversation(space_id, question))
        return wait.conversation_id, wait.message_id

    def _wait(self, call: GenieCall, conv_id: str, message_id: str, sent: float) -> GenieMessage:
        genie, space_id = call.client.genie, self.config.space_id
        with self._history_lock:
            pacer = self._pacer(self._expected)
        status: str | None = "SUBMITTED"
        while True:
            now = time.monotonic()
            if now >= call.deadline:
                self._timed_out(status)
            time.sleep(min(pacer.next_delay(now - sent, status), call.deadline - now))
            message = call.run(lambda: genie.get_message(space_id, conv_id, message_id))
            status = self._status(message)
            if status in _TERMINAL:
                break
        if status in ("COMPLETED", "QUERY_RESULT_EXPIRED"):
            self._learn(time.monotonic() - sent)
        return message

    def _answer(self, call: GenieCall, message: GenieMessage, started: float) -> SpaceAnswer:
        """The space's answer to a finished message: its query's result, or its text when it has no query."""
        status = self._status(message)
        if status == "CANCELLED":
            raise BackendError(
                f"The question to the {self.info.title} Genie space was cancelled in Genie.",
                "Someone cancelled it (or the space changed while it ran); ask again.",
                retryable=True,
            )
        if status == "FAILED":
            self._failed(call, message)
        attachments = message.attachments or []
        text = "\n\n".join(a.text.content for a in attachments if a.text is not None and a.text.content)
        suggested = tuple(
            q
            for a in attachments
            if a.suggested_questions is not None
            for q in a.suggested_questions.questions or ()
        )
        queries = [a for a in attachments if a.query is not None and a.attachment_id]
        if not queries:
            return SpaceAnswer(
                domain=self.domain,
                status="no_answer",
                text=text or f"The {self.info.title} space gave no answer to that question.",
                conversation_id=message.conversation_id,
                message_id=message.message_id,
                suggested_questions=suggested or self.config.sample_questions[:4],
                elapsed_ms={"total": (time.monotonic() - started) * 1000},
            )
        expired = status == "QUERY_RESULT_EXPIRED"
        return self._query_answer(call, message, queries[0], text, suggested, started, expired=expired)

    def _query_answer(
        self,
        call: GenieCall,
        message: GenieMessage,
        attachment: GenieAttachment,
        text: str,
        suggested: tuple[str, ...],
        started: float,
        *,
        expired: bool,
    ) -> SpaceAnswer:
        """The answer of a query attachment: its result fetched (re-executed when ``expired``) and typed."""
        query = attachment.query
        assert query is not None and attachment.attachment_id is not None
        fetch_started = time.monotonic()
        statement = call.statement(
            self.config.space_id,
            message.conversation_id,
            message.message_id,
            attachment.attachment_id,
            expired,
        )
        columns, column_types, rows, truncated = _typed_result(statement, query.query_result_metadata)
        now = time.monotonic()
        return SpaceAnswer(
            domain=self.domain,
            status="completed",
            text=text or query.description or query.title or "",
            conversation_id=message.conversation_id,
            message_id=message.message_id,
            attachment_id=attachment.attachment_id,
            sql=query.query,
            columns=columns,
            column_types=column_types,
            rows=rows,
            row_count=len(rows),
            truncated=truncated,
            suggested_questions=suggested,
            elapsed_ms={"result": (now - fetch_started) * 1000, "total": (now - started) * 1000},
        )

    # --- errors ----------------------------------------------------------------------------------

    def _failed(self, call: GenieCall, message: GenieMessage) -> NoReturn:
        error = message.error
        text = (error.error if error is not None else None) or "Genie gave no reason."
        kind = error.type.value if error is not None and error.type is not None else None
        title = self.info.title
        if kind in _WAREHOUSE_ERRORS:
            raise BackendError(
                f"The {title} Genie space cannot run its SQL warehouse: {text}",
                f"The warehouse is stopped, deleted or not shared: ask the space owner to start it and to grant "
                f"CAN USE on it to {describe_caller(call)}.",
            )
        raise BackendError(
            f"Genie could not answer in the {title} space: {text}",
            "Rephrase the question, or ask the space owner to check its instructions and tables."
            if kind not in _RETRYABLE_ERRORS
            else "This is usually temporary: ask again.",
            retryable=kind in _RETRYABLE_ERRORS,
        )

    def _timed_out(self, status: str | None) -> NoReturn:
        title, limit = self.info.title, f"{self._timeout_s:g}"
        if status == "PENDING_WAREHOUSE":
            raise BackendTimeoutError(
                f"The {title} Genie space did not answer within {limit} s: its SQL warehouse is still starting.",
                "A stopped warehouse takes a few minutes to start: ask again shortly, or keep it running "
                "(a serverless warehouse starts in seconds).",
            )
        raise BackendTimeoutError(
            f"The {title} Genie space did not answer within {limit} s (last status: {status or 'unknown'}).",
            "Genie may still be working on it: ask again later, or raise GENIE_AGENT_GENIE_POLL_TIMEOUT_S.",
        )

    # --- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _status(message: GenieMessage) -> str | None:
        # The SDK turns a status it does not know into None: keep polling those.
        return message.status.value if message.status is not None else None

    def _learn(self, seconds: float) -> None:
        with self._history_lock:
            if self._expected is None:
                self._expected = (seconds, 0.1 * seconds)
                return
            mean, dev = self._expected
            alpha = 0.25
            self._expected = (mean + alpha * (seconds - mean), dev + alpha * (abs(seconds - mean) - dev))

    def _example(self) -> str:
        return (
            self.config.sample_questions[0] if self.config.sample_questions else "a question about the data"
        )


def _typed_result(
    statement: StatementResponse, metadata: GenieResultMetadata | None
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[Any, ...], ...], bool]:
    """A statement's column names, column types, typed rows, and whether Genie gave only part of the result."""
    from .statement import typed_rows

    manifest = statement.manifest
    columns = (manifest.schema.columns or []) if manifest is not None and manifest.schema else []
    names = tuple(c.name or f"column_{i}" for i, c in enumerate(columns))
    type_names = [column_type_name(c) for c in columns]
    result = statement.result
    rows = typed_rows(result.data_array if result is not None else None, type_names)
    total = (
        manifest.total_row_count
        if manifest is not None and manifest.total_row_count is not None
        else len(rows)
    )
    truncated = bool(
        (manifest is not None and manifest.truncated)
        or (metadata is not None and metadata.is_truncated)
        or total > len(rows)  # Genie gives the first chunk only
    )
    column_types = tuple(c.type_text or n for c, n in zip(columns, type_names, strict=True))
    return names, column_types, rows, truncated


def default_client_factory(*, retry_timeout_s: float = 60.0) -> ClientFactory:
    """The caller's own client when their identity carries one (on-behalf-of credentials, built for
    the request: :mod:`genie_agent.workspace_identity`); otherwise one ``WorkspaceClient`` for every
    caller, built on first use by databricks-sdk's unified auth (``DATABRICKS_HOST``/``DATABRICKS_TOKEN``,
    ``DATABRICKS_CONFIG_PROFILE``, OAuth, ...).

    ``retry_timeout_s`` bounds the SDK's own retries of one request (429s, connection errors); its
    default of 300 s would outlast a question's time limit.
    """
    lock = threading.Lock()
    made: list[WorkspaceClient] = []

    def factory(identity: Identity | None) -> WorkspaceClient:
        if identity is not None and identity.workspace_client is not None:
            return identity.workspace_client
        with lock:
            if not made:
                from databricks.sdk import WorkspaceClient
                from databricks.sdk.core import Config

                made.append(
                    WorkspaceClient(config=Config(retry_timeout_seconds=max(1, int(retry_timeout_s))))
                )
            return made[0]

    return factory


def databricks_spaces(
    spaces: Mapping[str, GenieSpaceConfig], *, timeout_s: float, client: ClientFactory | None = None
) -> dict[str, DatabricksGenieSpace]:
    """The configured Genie spaces by domain, sharing one client factory."""
    factory = client or default_client_factory(retry_timeout_s=min(60.0, timeout_s))
    return {d: DatabricksGenieSpace(d, c, factory, timeout_s=timeout_s) for d, c in spaces.items()}
