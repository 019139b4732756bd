"""The LLM boundary: any OpenAI-compatible chat endpoint, streamed.

Databricks Foundation Model (and other Model Serving) endpoints are one: base URL
``https://HOST/serving-endpoints``, model = the serving endpoint's name, key = a Databricks token, or
no key: then each request carries the workspace's credentials (:mod:`.workspace_auth`).
The official ``openai`` client does the HTTP; it is imported on the first call, never at import
time. Every failure leaves this module as :class:`BackendError` (or :class:`BackendTimeoutError`)
with a hint naming the endpoint and what to check; no ``openai`` or ``httpx`` exception escapes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from .errors import BackendError, BackendTimeoutError, ConfigError

if TYPE_CHECKING:
    from .config import Settings
    from .workspace_auth import WorkspaceAuth

__all__ = ["NO_API_KEY", "OpenAICompatibleChat", "from_settings"]

NO_API_KEY = "unused"
"""Sent as the key when none is configured: the ``openai`` client refuses to run without one and would
otherwise read ``OPENAI_API_KEY`` from the environment (and send that key to this endpoint)."""

_KEY_HINT = (
    "check GENIE_AGENT_LLM_API_KEY (the API key or Databricks token for this endpoint; unset, a "
    ".../serving-endpoints URL gets the workspace credentials of DATABRICKS_HOST/DATABRICKS_TOKEN or a profile)"
)
_URL_HINT = (
    "check GENIE_AGENT_LLM_BASE_URL (the API root the client appends /chat/completions to, e.g. "
    "https://HOST/serving-endpoints or http://localhost:8000/v1)"
)
_MODEL_HINT = "check GENIE_AGENT_LLM_MODEL (the model or serving-endpoint name)"


class OpenAICompatibleChat:
    """A chat-completions endpoint. Constructing one makes no network call.

    ``api_key`` None sends the placeholder :data:`NO_API_KEY` (for local servers that need no key).
    ``auth`` (a :class:`~genie_agent.workspace_auth.WorkspaceAuth`) sets each request's credentials
    instead, over the placeholder.
    ``timeout_s`` bounds the call: each read waits at most ``timeout_s``, and a stream still running
    after ``timeout_s`` is cut when its next chunk arrives (so at worst about twice ``timeout_s``). ``max_retries`` is the openai client's own retries of
    connection errors, 408/409/429 and 5xx before the first byte; 0 by default, so a failure
    surfaces at once and the caller decides (``BackendError.retryable``).
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None,
        timeout_s: float,
        max_retries: int = 0,
        auth: WorkspaceAuth | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"LLM base URL {base_url!r} is not an http(s) URL.", _URL_HINT)
        if not model:
            raise ConfigError("No LLM model name given.", _MODEL_HINT)
        if timeout_s <= 0:
            raise ConfigError(
                f"LLM timeout must be positive, got {timeout_s}.", "Set GENIE_AGENT_LLM_TIMEOUT_S."
            )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self._api_key = api_key or NO_API_KEY
        self.auth = auth
        self._client: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAICompatibleChat | None:
        """The configured endpoint, or None when ``llm_base_url`` is unset (deterministic synthesis).
        With no ``llm_api_key``, a ``.../serving-endpoints`` base URL gets the workspace's credentials."""
        from .workspace_auth import workspace_auth_for

        if not settings.llm_base_url:
            return None
        if not settings.llm_model:
            raise ConfigError(
                "GENIE_AGENT_LLM_BASE_URL is set but GENIE_AGENT_LLM_MODEL is not.",
                "Set both for LLM synthesis, or neither for deterministic synthesis.",
            )
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key is not None else None
        return cls(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=key,
            timeout_s=settings.llm_timeout_s,
            auth=workspace_auth_for(settings.llm_base_url, key, key_setting="GENIE_AGENT_LLM_API_KEY"),
        )

    def __repr__(self) -> str:
        return f"OpenAICompatibleChat(base_url={self.base_url!r}, model={self.model!r})"

    @property
    def endpoint(self) -> str:
        """What the errors call the endpoint: model at URL."""
        return f"model {self.model!r} at {self.base_url}"

    def _openai(self) -> Any:
        with self._lock:
            if self._client is None:
                import openai

                self._client = openai.OpenAI(
                    base_url=self.base_url,
                    api_key=self._api_key,
                    timeout=self.timeout_s,
                    max_retries=self.max_retries,
                    # httpx runs the auth flow after openai set its headers: the flow's Authorization wins.
                    http_client=openai.DefaultHttpxClient(auth=self.auth) if self.auth else None,
                )
            return self._client

    def stream_chat(
        self, messages: list[dict[str, str]], *, temperature: float = 0.0, max_tokens: int = 800
    ) -> Generator[str, None, None]:
        """Stream the reply's text deltas (empty deltas skipped). The request is sent on the first
        ``next()``; closing the iterator early closes the HTTP response."""
        import httpx
        import openai

        started = time.monotonic()
        try:
            stream = self._openai().chat.completions.create(
                model=self.model,
                messages=messages,
                temperature=temperature,
                max_tokens=max_tokens,
                stream=True,
            )
        except openai.OpenAIError as exc:
            raise self._translate(exc) from exc
        try:
            for chunk in stream:
                if time.monotonic() - started > self.timeout_s:
                    raise self._timeout()
                for choice in chunk.choices or ():
                    content = choice.delta.content if choice.delta is not None else None
                    if content:
                        yield content
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            raise self._translate(exc, mid_stream=True) from exc
        finally:
            stream.close()

    def _timeout(self) -> BackendTimeoutError:
        return BackendTimeoutError(
            f"The LLM endpoint ({self.endpoint}) did not answer within {self.timeout_s:g} s.",
            f"Check the endpoint is up and not overloaded; raise GENIE_AGENT_LLM_TIMEOUT_S for a slow model; {_URL_HINT}.",
        )

    def _translate(self, exc: Exception, *, mid_stream: bool = False) -> BackendError:
        import httpx
        import openai

        if isinstance(exc.__cause__, BackendError):  # the workspace auth failed; openai wrapped it
            return exc.__cause__
        if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
            return self._timeout()
        where = f"The LLM endpoint ({self.endpoint})"
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            detail = _server_message(exc)
            message = f"{where} answered HTTP {status}: {detail}"
            if status == 401:
                return BackendError(message, f"The endpoint rejected the API key: {_KEY_HINT}.")
            if status == 403:
                return BackendError(
                    message, f"The key is not allowed to query this model: {_KEY_HINT}; {_MODEL_HINT}."
                )
            if status == 404:
                return BackendError(message, f"No such endpoint or model: {_URL_HINT}; {_MODEL_HINT}.")
            if status == 429:
                return BackendError(
                    message,
                    "The endpoint is rate limiting requests: try again shortly, or raise the endpoint's "
                    "rate limit / provisioned throughput.",
                    retryable=True,
                )
            if status >= 500 or status in (408, 409):
                return BackendError(
                    message,
                    f"The endpoint failed on its side; try again. If it persists, {_URL_HINT}.",
                    retryable=True,
                )
            return BackendError(
                message, f"The endpoint refused the request: {_MODEL_HINT}; {_URL_HINT}; {_KEY_HINT}."
            )
        if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
            return BackendError(
                f"{where} could not be reached{' (the stream broke off)' if mid_stream else ''}: {exc}",
                f"Check the endpoint is up and reachable from here; {_URL_HINT}.",
                retryable=True,
            )
        if isinstance(exc, openai.APIError):
            return BackendError(
                f"{where} reported an error{' mid-stream' if mid_stream else ''}: {exc.message}",
                f"Try again; if it persists, {_MODEL_HINT}; {_URL_HINT}.",
                retryable=True,
            )
        return BackendError(
            f"{where} failed: {type(exc).__name__}: {exc}", f"{_URL_HINT}; {_MODEL_HINT}; {_KEY_HINT}."
        )


def _server_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, dict) else error
        if message:
            return str(message)[:300]
    return str(getattr(exc, "message", exc))[:300]


def from_settings(settings: Settings) -> OpenAICompatibleChat | None:
    """The configured endpoint, or None when ``llm_base_url`` is unset (deterministic synthesis)."""
    return OpenAICompatibleChat.from_settings(settings)
