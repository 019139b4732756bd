"""The :class:`GenieSpace` protocol over the Genie Conversation API, blocking (:meth:`DatabricksGenieSpace.ask`,
databricks-sdk's ``WorkspaceClient.genie``) or awaited (:meth:`DatabricksGenieSpace.aask`, httpx).

A question starts a conversation (or continues one by ``conversation_id``); the message is polled
with ``get_message`` until COMPLETED, FAILED, CANCELLED or QUERY_RESULT_EXPIRED, then the query
attachment's result is fetched (re-executed when it expired) and typed from its manifest, read in
full up to ``row_limit`` (the rest of a large one from Genie's full-result download). That
course is written once (:mod:`.genie_flow`); each method drives it with its own transport.

We poll ourselves rather than use the SDK's ``*_and_wait``: that waits only for COMPLETED or
FAILED (it polls a CANCELLED message for its whole 20-minute timeout), raises on FAILED without
Genie's error text, and sleeps up to 10 s between polls. :class:`~.genie_client.Pacer` explains our schedule.

Nothing touches the network until a question is asked: the client comes from a factory called per
question with the caller's identity (the seam for on-behalf-of credentials; :meth:`aask` takes its
``Config``), and ``import databricks.sdk`` (~1.5 s) happens on first use.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import BackendError, ConfigError, UnsafeRequestError, UserInputError
from ..identity import Identity
from ..understanding.write_intent import write_intent
from .base import RoutingTerm, SpaceAnswer, SpaceInfo
from .discovery import Discovered, SpaceDiscovery, topic_terms
from .genie_client import GenieCall, Pacer

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

    from .genie_flow import GenieQuestion

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

UNREACHABLE_RETRY_S = 6
"""databricks-sdk's ``retry_timeout_seconds`` for the default client: it retries a refused connection
after 1, 2, 3 ... s (plus up to 1 s each) until then, so a workspace that stopped answering is
reported within about 6 to 10 s instead of after a minute."""


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
        default=(),
        description="Measures and subjects that send a question here (routing), beside what is read from "
        "the space itself (genie_discovery_refresh_s); optional.",
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
        row_limit: int = 1000,
        pacer: Callable[[tuple[float, float] | None], Pacer] = Pacer,
        discovery: SpaceDiscovery | None = None,
    ) -> None:
        self.domain = domain
        self.discovery = discovery
        self.config = config
        self._client = client
        self._timeout_s = timeout_s
        self._row_limit = row_limit
        self._pacer = pacer
        self._history_lock = threading.Lock()
        self._expected: tuple[float, float] | None = None  # recent answer time: mean, mean deviation

    def close(self) -> None:
        """Nothing of its own to close: its HTTP connections are the event loop's
        (:func:`~.genie_connections.aclose_connections`, which :meth:`Agent.close` calls)."""

    @property
    def info(self) -> SpaceInfo:
        c = self.config
        title = c.title or self.domain.title()
        return SpaceInfo(self.domain, title, c.description, c.sample_questions, knows_values=False)

    def routing_terms(self) -> Sequence[RoutingTerm]:
        """Configured keywords as measures; what discovery read of the space (its measures, filters,
        dimensions and subjects: :mod:`.discovery`), the first call reading every space; content words
        of the configured description and sample questions as topics. Each names itself. Configured
        keywords override: they are then the space's measures (the discovered ones are left out, so an
        operator decides which words claim a question), and a discovered term of the same phrase."""
        c = self.config
        terms = [RoutingTerm(k, "measure", k) for k in c.keywords]
        found = self.discovered()
        if found is not None:
            keywords = {k.lower() for k in c.keywords}
            terms += [
                t
                for t in found.terms
                if t.phrase.lower() not in keywords and not (keywords and t.kind == "measure")
            ]
        have = {(t.phrase.lower(), t.kind) for t in terms}
        configured = topic_terms([c.description, *c.sample_questions])
        return terms + [t for t in configured if (t.phrase, t.kind) not in have]

    def discovered(self) -> Discovered | None:
        """What discovery read of this space (None without discovery: its keywords only)."""
        return self.discovery.get(self.domain) if self.discovery is not None else None

    def ask(
        self, question: str, conversation_id: str | None = None, *, identity: Identity | None = None
    ) -> SpaceAnswer:
        from .genie_flow import drive

        self._check(question)
        client = self._make_client(identity)
        asked = self._question(question, conversation_id)
        call = GenieCall(client, self.info.title, identity, asked.deadline, self.config.space_id)
        return drive(asked.steps(), call)

    async def aask(
        self, question: str, conversation_id: str | None = None, *, identity: Identity | None = None
    ) -> SpaceAnswer:
        """:meth:`ask` without a thread: polls are ``await``ed over one pooled ``httpx.AsyncClient``
        (:mod:`.genie_http`), as the same credentials. Raises as :meth:`ask`, except that a question
        the workspace refused with HTTP 429 raises :class:`~genie_agent.errors.RateLimitedError` at
        once, unsent, and an unreachable workspace is reported within about 10 s."""
        from .genie_flow import adrive

        self._check(question)
        config = self._make_client(identity).config  # databricks-sdk missing: a ConfigError here
        from .genie_http import AsyncGenieCall

        asked = self._question(question, conversation_id)
        call = AsyncGenieCall(config, self.info.title, identity, self.config.space_id, asked.deadline)
        return await adrive(asked.steps(), call)

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

    def _check(self, question: str) -> None:
        """Refuse, before anything is sent, an empty question or a request to change data."""
        if not question.strip():
            raise UserInputError("The question is empty.", "Ask something like: " + self._example())
        verb = write_intent(question)
        if verb:
            raise UnsafeRequestError(
                f"The {self.info.title} space is read-only: it will not {verb} data.",
                "Ask a question about the data instead.",
            )

    def _question(self, question: str, conversation_id: str | None) -> GenieQuestion:
        """The question's course, its deadline counted from now (it is sent next)."""
        from .genie_answer import AskedSpace
        from .genie_flow import GenieQuestion

        info, config = self.info, self.config
        space = AskedSpace(
            self.domain,
            info.title,
            config.space_id,
            config.sample_questions,
            self._timeout_s,
            self._row_limit,
        )
        with self._history_lock:
            pacer = self._pacer(self._expected)
        return GenieQuestion(space, question, conversation_id, pacer=pacer, learn=self._learn)

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

    # --- helpers ---------------------------------------------------------------------------------

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


def default_client_factory(*, retry_timeout_s: float = UNREACHABLE_RETRY_S) -> ClientFactory:
    """The caller's own client when their identity carries one (on-behalf-of credentials, built for
    the request: :mod:`genie_agent.workspace_identity`); otherwise one ``WorkspaceClient`` for every
    caller, built on first use by databricks-sdk's unified auth (``DATABRICKS_HOST``/``DATABRICKS_TOKEN``,
    ``DATABRICKS_CONFIG_PROFILE``, OAuth, ...).

    ``retry_timeout_s`` bounds the SDK's own retries of one request (429s, connection errors); its
    default of 300 s would outlast a question's time limit. Rate limits are retried on after it, up
    to the question's deadline (:class:`~.genie_client.GenieCall`).
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
    spaces: Mapping[str, GenieSpaceConfig],
    *,
    timeout_s: float,
    row_limit: int = 1000,
    client: ClientFactory | None = None,
    discovery_refresh_s: float | None = None,
) -> dict[str, DatabricksGenieSpace]:
    """The configured Genie spaces by domain, sharing one client factory; an answer holds at most
    ``row_limit`` rows of its result (read in full up to there). With ``discovery_refresh_s`` (0: read
    once) their routing vocabulary is also read from the spaces (one :class:`SpaceDiscovery`, each
    space's ``discovery``); without, they route by their configured keywords and descriptions."""
    factory = client or default_client_factory(retry_timeout_s=min(UNREACHABLE_RETRY_S, timeout_s))
    discovery = (
        SpaceDiscovery(spaces, factory, refresh_s=discovery_refresh_s)
        if discovery_refresh_s is not None
        else None
    )
    return {
        d: DatabricksGenieSpace(d, c, factory, timeout_s=timeout_s, row_limit=row_limit, discovery=discovery)
        for d, c in spaces.items()
    }
