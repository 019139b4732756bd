"""A scripted OpenAI-compatible chat server on 127.0.0.1, for tests of the LLM boundary.

It serves ``POST .../chat/completions`` under any prefix (``/v1``, ``/serving-endpoints``), so both
an OpenAI-style and a Databricks-style base URL work. Each request takes the next scripted
:class:`Reply` (the last one repeats when the script runs out): a streamed SSE answer in the exact
``chat.completion.chunk`` shape (the text split into word deltas), a plain ``chat.completion`` JSON
answer when ``stream`` is false, an HTTP error with an OpenAI error body, a hang (no response until
the server stops) or an error event after some deltas. Every request is recorded.

``POST .../embeddings`` answers deterministic bag-of-words vectors (:func:`fake_embedding`, where
listed synonyms share a dimension), or an error while ``fail_embeddings`` says so.

A reply may also call tools (``tool_calls``: the non-streamed answer is an assistant message with
``tool_calls`` and ``finish_reason: "tool_calls"``), and a ``responder`` may choose each reply from
the request itself (when callers run concurrently, as MLflow's judges do, a fixed script's order is
not theirs to rely on).

    with FakeOpenAIServer([Reply("The answer.")]) as server:
        client = OpenAI(base_url=server.base_url, api_key="k")
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

__all__ = [
    "FakeOpenAIServer",
    "RecordedRequest",
    "Reply",
    "ToolCall",
    "fake_embedding",
    "fake_openai",
    "split_deltas",
]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}


def split_deltas(text: str) -> list[str]:
    """The text as the deltas the server streams: each word with its following whitespace."""
    return re.findall(r"\s*\S+\s*", text) or [text]


@dataclass(frozen=True)
class ToolCall:
    """A function call the model asks for; ``arguments`` is sent JSON-encoded."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str = ""


@dataclass(frozen=True)
class Reply:
    """One scripted answer.

    ``status`` != 200 answers that HTTP error (``error_message`` in an OpenAI error body). ``hang``
    sends nothing until the server stops. ``chunk_delay_s`` sleeps before each streamed delta.
    ``error_after`` sends an SSE error event after that many deltas (a mid-stream failure).
    """

    text: str = ""
    status: int = 200
    error_message: str = "scripted error"
    hang: bool = False
    chunk_delay_s: float = 0.0
    error_after: int | None = None
    deltas: tuple[str, ...] | None = None
    tool_calls: tuple[ToolCall, ...] = ()

    def pieces(self) -> list[str]:
        return list(self.deltas) if self.deltas is not None else split_deltas(self.text)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    def content(self, role: str) -> str:
        return "\n".join(str(m.get("content", "")) for m in self.messages if m.get("role") == role)

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


@dataclass
class _State:
    script: list[Reply]
    responder: Callable[[RecordedRequest], Reply | None] | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    embedding_dims: int = 64
    synonyms: dict[str, str] | None = None
    embedding_failure: Reply | None = None

    def next_reply(self, request: RecordedRequest | None = None) -> Reply:
        if self.responder is not None and request is not None:
            chosen = self.responder(request)
            if chosen is not None:
                return chosen
        with self.lock:
            if len(self.script) > 1:
                return self.script.pop(0)
            return self.script[0] if self.script else Reply("ok")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found_error"}})

    def do_POST(self) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = {"_raw": raw.decode(errors="replace")}
        recorded = RecordedRequest("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        with state.lock:
            state.requests.append(recorded)
        if self.path.rstrip("/").endswith("/embeddings"):
            self._embeddings(state, body)
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found_error"}})
            return
        reply = state.next_reply(recorded)
        if reply.hang:
            state.stopping.wait(60)
            return
        if reply.status != 200:
            self._send_json(
                reply.status,
                {
                    "error": {
                        "message": reply.error_message,
                        "type": _ERROR_TYPES.get(reply.status, "server_error"),
                        "param": None,
                        "code": None,
                    }
                },
            )
            return
        model = str(body.get("model", "fake-model"))
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        if not body.get("stream"):
            self._send_json(200, _completion(completion_id, created, model, reply.text, reply.tool_calls))
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        try:
            for event in _chunks(completion_id, created, model, reply, include_usage):
                if event is None:
                    time.sleep(reply.chunk_delay_s)
                    continue
                self.wfile.write(b"data: " + event.encode() + b"\n\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # the client went away (timeout, close)
            return

    def _embeddings(self, state: _State, body: dict[str, Any]) -> None:
        with state.lock:
            failure, dims, synonyms = state.embedding_failure, state.embedding_dims, state.synonyms
        if failure is not None and failure.hang:
            state.stopping.wait(60)
            return
        if failure is not None:
            self._send_json(
                failure.status,
                {
                    "error": {
                        "message": failure.error_message,
                        "type": "server_error",
                        "param": None,
                        "code": None,
                    }
                },
            )
            return
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else list(texts or [])
        self._send_json(
            200,
            {
                "object": "list",
                "data": [
                    {"object": "embedding", "index": i, "embedding": fake_embedding(str(t), dims, synonyms)}
                    for i, t in enumerate(texts)
                ],
                "model": str(body.get("model", "fake-embedding")),
                "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)},
            },
        )


FAKE_SYNONYMS: dict[str, str] = {
    "european": "europe",
    "eu": "europe",
    "emea": "europe",
    "financial": "fiscal",
    "budget": "fiscal",
    "periods": "fiscal",
    "quarter": "fiscal",
    "clients": "customer",
    "client": "customer",
    "customers": "customer",
    "buyers": "customer",
}
"""Words the fake embeds as one: texts that share only synonyms are close, with no word in common."""


def fake_embedding(text: str, dims: int = 64, synonyms: dict[str, str] | None = None) -> list[float]:
    """A deterministic bag-of-words vector: each word (after ``synonyms``) adds 1 to a dimension
    chosen by its hash; normalized. Texts sharing words (or synonyms) are close, others orthogonal-ish."""
    import hashlib
    import math

    table = FAKE_SYNONYMS if synonyms is None else synonyms
    vector = [0.0] * dims
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        if len(word) < 3 or word in {"the", "and", "that", "our", "for", "with", "remember", "what", "are"}:
            continue
        word = table.get(word, word)
        vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % dims] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def _chunk(completion_id: str, created: int, model: str, delta: dict[str, Any], finish: str | None) -> str:
    return json.dumps(
        {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
    )


def _chunks(
    completion_id: str, created: int, model: str, reply: Reply, include_usage: bool
) -> Iterator[str | None]:
    """The SSE data payloads; None means "sleep chunk_delay_s here"."""
    yield _chunk(completion_id, created, model, {"role": "assistant", "content": ""}, None)
    pieces = reply.pieces()
    for i, piece in enumerate(pieces):
        if reply.error_after is not None and i == reply.error_after:
            yield json.dumps(
                {"error": {"message": reply.error_message, "type": "server_error", "code": None}}
            )
            return
        if reply.chunk_delay_s:
            yield None
        yield _chunk(completion_id, created, model, {"content": piece}, None)
    yield _chunk(completion_id, created, model, {}, "stop")
    if include_usage:
        yield json.dumps(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": {
                    "prompt_tokens": 10,
                    "completion_tokens": len(pieces),
                    "total_tokens": 10 + len(pieces),
                },
            }
        )
    yield "[DONE]"


def _completion(
    completion_id: str, created: int, model: str, text: str, tool_calls: tuple[ToolCall, ...] = ()
) -> dict[str, Any]:
    tokens = len(split_deltas(text))
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    if tool_calls:
        message["content"] = text or None
        message["tool_calls"] = [
            {
                "id": call.id or f"call_{uuid.uuid4().hex[:12]}",
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for call in tool_calls
        ]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": tokens, "total_tokens": 10 + tokens},
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, state: _State) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


class FakeOpenAIServer:
    """The scripted server; a context manager (``start``/``stop`` also work)."""

    def __init__(
        self,
        script: list[Reply] | None = None,
        *,
        responder: Callable[[RecordedRequest], Reply | None] | None = None,
    ) -> None:
        """``responder`` (optional) picks the reply for each request; when it returns None the script does."""
        self._state = _State(list(script or []), responder)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FakeOpenAIServer:
        self._server = _Server(self._state)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._state.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """An OpenAI-style base URL (``/v1``)."""
        return f"{self.url}/v1"

    @property
    def databricks_base_url(self) -> str:
        """A Databricks-style base URL (``/serving-endpoints``)."""
        return f"{self.url}/serving-endpoints"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._state.lock:
            return list(self._state.requests)

    def fail_embeddings(self, reply: Reply | None) -> None:
        """Answer ``/embeddings`` with ``reply``'s HTTP error (or hang); None: vectors again."""
        with self._state.lock:
            self._state.embedding_failure = reply

    def embeddings(self, dims: int, synonyms: dict[str, str] | None = None) -> None:
        """Vectors of ``dims`` floats from ``/embeddings`` (:func:`fake_embedding`), with ``synonyms``."""
        with self._state.lock:
            self._state.embedding_dims, self._state.synonyms = dims, synonyms

    def script(self, *replies: Reply) -> None:
        """Replace the script: the next requests get these replies, the last one repeating."""
        with self._state.lock:
            self._state.script[:] = list(replies)


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    """A started scripted server (script it with ``fake_openai.script(Reply(...))``)."""
    with FakeOpenAIServer() as server:
        yield server
