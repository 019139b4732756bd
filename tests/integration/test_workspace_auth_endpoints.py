"""LLM and embedding endpoints on a workspace with no key: databricks-sdk's unified auth signs each request.

The real ``openai`` client and the real databricks-sdk ``Config`` against the scripted
OpenAI-compatible server, served under ``/serving-endpoints`` (a Databricks-style base URL). The
server records every request's headers, so each test reads the ``Authorization`` that arrived.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from databricks.sdk.credentials_provider import CredentialsStrategy

from genie_agent.config import Settings, load_settings
from genie_agent.errors import BackendError
from genie_agent.llm import NO_API_KEY, OpenAICompatibleChat, from_settings
from genie_agent.memory.embeddings import EndpointEmbedder, embedder_from_settings
from genie_agent.memory.errors import MemoryUnavailableError
from genie_agent.synthesis_llm import LlmSynthesizer
from genie_agent.turn import ResultTable
from genie_agent.workspace_auth import WorkspaceAuth, is_serving_endpoints_url
from tests.fakes.openai_server import FakeOpenAIServer, Reply, fake_openai

__all__ = ["fake_openai"]  # the fixture, imported for this module

QUESTION = "What was revenue by nation?"
RESULTS = [
    ResultTable(
        "sales",
        "SELECT nation, revenue FROM x",
        ("nation", "revenue"),
        (("FRANCE", 1034567.25),),
        1,
        False,
        "conv-1",
    )
]
ANSWER = "FRANCE had revenue of 1,034,567.25."
HI = [{"role": "user", "content": "hi"}]
_DATABRICKS_ENV = (
    "DATABRICKS_HOST",
    "DATABRICKS_TOKEN",
    "DATABRICKS_CLIENT_ID",
    "DATABRICKS_CLIENT_SECRET",
    "DATABRICKS_CONFIG_PROFILE",
    "DATABRICKS_AUTH_TYPE",
    "DATABRICKS_USERNAME",
    "DATABRICKS_PASSWORD",
    "DATABRICKS_ACCOUNT_ID",
    "DATABRICKS_MODEL_SERVING_HOST_URL",
    "IS_IN_DB_MODEL_SERVING_ENV",
    "IS_IN_DATABRICKS_MODEL_SERVING_ENV",
    "DATABRICKS_RUNTIME_VERSION",
    "OPENAI_API_KEY",
)


@pytest.fixture(autouse=True)
def _no_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No Databricks credentials unless a test sets them: no variables, no ~/.databrickscfg."""
    for name in _DATABRICKS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "no-databrickscfg"))


def settings_for(server: FakeOpenAIServer, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "llm_base_url": server.databricks_base_url,
        "llm_model": "databricks-claude",
        "memory_embeddings": "endpoint",
        "memory_embedding_model": "databricks-gte-large-en",
        "memory_embedding_dims": 64,
    }
    return load_settings(**(values | overrides))


def synthesize_once(chat: OpenAICompatibleChat | None) -> tuple[str, str | None]:
    assert chat is not None
    synth = LlmSynthesizer(chat)
    text = "".join(synth.stream(QUESTION, RESULTS, {}, {"sales": "Sales"}))
    return text, synth.last_fallback_reason


def auth_of(server: FakeOpenAIServer, suffix: str) -> list[str | None]:
    return [r.authorization for r in server.requests if r.path.endswith(suffix)]


class RotatingToken(CredentialsStrategy):
    """A credentials provider whose token changes on every call, as an expiring OAuth token does;
    ``fail`` makes the next calls raise (a refresh that fails)."""

    def __init__(self) -> None:
        self.issued = 0
        self.fail = False
        self._lock = threading.Lock()

    def auth_type(self) -> str:
        return "rotating-test"

    def __call__(self, cfg: object) -> Callable[[], dict[str, str]]:
        def headers() -> dict[str, str]:
            if self.fail:
                raise RuntimeError("token refresh failed: invalid_grant")
            with self._lock:
                self.issued += 1
                return {"Authorization": f"Bearer tok-{self.issued}", "X-Databricks-Test": str(self.issued)}

        return headers


# --- which endpoints get workspace credentials -----------------------------------------------------


def test_serving_endpoint_urls():
    assert is_serving_endpoints_url("https://adb-1.azuredatabricks.net/serving-endpoints")
    assert is_serving_endpoints_url("https://h.cloud.databricks.com/serving-endpoints/")
    assert not is_serving_endpoints_url("http://localhost:8000/v1")
    assert not is_serving_endpoints_url("https://h/serving-endpoints/x/invocations")
    assert not is_serving_endpoints_url(None)


@pytest.mark.parametrize("host_from", ["DATABRICKS_HOST", "base URL"])
def test_no_key_sends_the_workspace_token(
    fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, host_from: str
):
    fake_openai.script(Reply(ANSWER))
    if host_from == "DATABRICKS_HOST":
        monkeypatch.setenv("DATABRICKS_HOST", fake_openai.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", "t1")
    settings = settings_for(fake_openai)
    chat = from_settings(settings)
    embedder = embedder_from_settings(settings)
    assert chat is not None and embedder is not None
    assert fake_openai.requests == []  # building them calls nothing

    assert synthesize_once(chat) == (ANSWER, None)
    assert len(embedder.embed_query("revenue by nation")) == 64
    assert auth_of(fake_openai, "/serving-endpoints/chat/completions") == ["Bearer t1"]
    assert auth_of(fake_openai, "/serving-endpoints/embeddings") == ["Bearer t1"]


def test_each_request_asks_for_fresh_credentials(fake_openai: FakeOpenAIServer):
    fake_openai.script(Reply(ANSWER))
    strategy = RotatingToken()
    chat = OpenAICompatibleChat(
        base_url=fake_openai.databricks_base_url,
        model="databricks-claude",
        api_key=None,
        timeout_s=10,
        auth=WorkspaceAuth(fake_openai.databricks_base_url, credentials_strategy=strategy),
    )
    embedder = EndpointEmbedder(
        base_url=fake_openai.databricks_base_url,
        model="databricks-gte-large-en",
        dims=64,
        auth=WorkspaceAuth(fake_openai.databricks_base_url, credentials_strategy=strategy),
    )
    assert strategy.issued == 0  # nothing is resolved before the first request
    assert "".join(chat.stream_chat(HI)) == ANSWER
    embedder.embed_query("one")
    assert "".join(chat.stream_chat(HI)) == ANSWER
    embedder.embed_query("two")
    assert auth_of(fake_openai, "/chat/completions") == ["Bearer tok-1", "Bearer tok-3"]
    assert auth_of(fake_openai, "/embeddings") == ["Bearer tok-2", "Bearer tok-4"]
    # Every header the provider gives is sent, not only Authorization.
    assert [r.headers.get("x-databricks-test") for r in fake_openai.requests] == ["1", "2", "3", "4"]

    strategy.fail = True
    with pytest.raises(BackendError) as err:
        list(chat.stream_chat(HI))
    assert "Could not get workspace credentials" in err.value.message and "invalid_grant" in err.value.message
    assert "databricks auth login" in err.value.hint and err.value.retryable
    with pytest.raises(BackendError, match="invalid_grant"):
        embedder.embed_query("three")
    assert len(fake_openai.requests) == 4  # nothing was sent without credentials


# --- a key, or another endpoint: unchanged ---------------------------------------------------------


def test_a_configured_key_is_sent_as_before(fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch):
    fake_openai.script(Reply(ANSWER))
    monkeypatch.setenv("DATABRICKS_HOST", fake_openai.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", "t1")
    settings = settings_for(fake_openai, llm_api_key="dapi-key")
    chat, embedder = from_settings(settings), embedder_from_settings(settings)
    assert chat is not None and chat.auth is None and embedder is not None
    assert synthesize_once(chat) == (ANSWER, None)
    embedder.embed_query("x")
    # The embedding key defaults to the LLM's; its own key wins when set.
    separate = embedder_from_settings(settings_for(fake_openai, memory_embedding_api_key="emb-key"))
    assert separate is not None
    separate.embed_query("y")
    assert auth_of(fake_openai, "/chat/completions") == ["Bearer dapi-key"]
    assert auth_of(fake_openai, "/embeddings") == ["Bearer dapi-key", "Bearer emb-key"]


def test_other_endpoints_never_get_workspace_credentials(
    fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
):
    fake_openai.script(Reply(ANSWER))
    monkeypatch.setenv("DATABRICKS_HOST", fake_openai.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", "t1")
    settings = settings_for(fake_openai, llm_base_url=fake_openai.base_url)  # .../v1
    chat, embedder = from_settings(settings), embedder_from_settings(settings)
    assert chat is not None and chat.auth is None and embedder is not None
    assert synthesize_once(chat) == (ANSWER, None)
    embedder.embed_query("x")
    assert [r.authorization for r in fake_openai.requests] == [f"Bearer {NO_API_KEY}"] * 2


def test_credentials_of_another_workspace_are_not_sent(
    fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DATABRICKS_HOST", "https://other-workspace.cloud.databricks.com")
    monkeypatch.setenv("DATABRICKS_TOKEN", "t1")
    chat = from_settings(settings_for(fake_openai))
    assert chat is not None
    with pytest.raises(BackendError) as err:
        list(chat.stream_chat(HI))
    assert "another workspace (https://other-workspace.cloud.databricks.com)" in err.value.message
    assert "GENIE_AGENT_LLM_API_KEY" in err.value.hint and fake_openai.url in err.value.hint
    assert fake_openai.requests == []


# --- no credentials at all -------------------------------------------------------------------------


def test_no_key_and_no_workspace_credentials_is_a_clear_error(fake_openai: FakeOpenAIServer):
    fake_openai.script(Reply(ANSWER))
    settings = settings_for(fake_openai)
    chat, embedder = from_settings(settings), embedder_from_settings(settings)  # no error yet
    assert chat is not None and embedder is not None

    with pytest.raises(BackendError) as err:
        list(chat.stream_chat(HI))
    assert "has no key, and no Databricks credentials are configured" in err.value.message
    hint = err.value.hint
    assert "GENIE_AGENT_LLM_API_KEY" in hint and "DATABRICKS_HOST" in hint and "DATABRICKS_TOKEN" in hint
    assert not err.value.retryable

    # A turn is still answered: the synthesizer falls back to the deterministic text and says why.
    text, reason = synthesize_once(chat)
    assert "1,034,567.25" in text and reason is not None and "GENIE_AGENT_LLM_API_KEY" in reason

    # Memory recall degrades the same way (a memory failure, not a failed turn).
    with pytest.raises(MemoryUnavailableError) as mem:
        embedder.embed_query("x")
    assert "GENIE_AGENT_MEMORY_EMBEDDING_API_KEY" in mem.value.hint
    assert fake_openai.requests == []
