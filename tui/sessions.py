"""The chat's local state under ``$GENIE_AGENT_HOME/tui/``: sessions and prompt history.

A session is what one conversation looked like (each question, answer and turn result) plus the
conversation state to send back (``thread_id``, ``genie_conversation_ids``), so it can be listed and
reopened, on any target that keeps the thread. ``index.json`` lists them (newest first);
``sessions/<id>.json`` holds each. Results are stored bounded (:data:`STORED_ROWS` rows each). Every
file is written through a temporary file and a rename; an unreadable file is skipped, never fatal.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["STORED_ROWS", "PromptHistory", "Session", "SessionStore", "SessionSummary", "StoredTurn"]

STORED_ROWS = 200
"""Rows of each result kept in a stored session (the table shows what was kept)."""
MAX_SESSIONS = 200
MAX_HISTORY = 500


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@dataclass
class StoredTurn:
    question: str
    text: str
    outputs: dict[str, Any]
    rating: dict[str, Any] | None = None
    """The user's rating of the answer: ``{"rating": "up" | "down", "comment": ..., "text": ...}``."""


@dataclass
class Session:
    """One conversation: its turns and the state the next request sends back."""

    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    target: str = ""
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    thread_id: str | None = None
    genie_conversation_ids: dict[str, str] = field(default_factory=dict)
    turns: list[StoredTurn] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.turns[0].question if self.turns else "(empty)"

    def custom_inputs(self) -> dict[str, Any]:
        """What the next request's ``custom_inputs`` carries to continue this conversation."""
        inputs: dict[str, Any] = {}
        if self.thread_id:
            inputs["thread_id"] = self.thread_id
        if self.genie_conversation_ids:
            inputs["genie_conversation_ids"] = dict(self.genie_conversation_ids)
        return inputs

    def record(self, question: str, text: str, outputs: Mapping[str, Any]) -> None:
        """Add a finished turn and take its conversation state (when it returned any)."""
        thread_id = outputs.get("thread_id")
        if isinstance(thread_id, str) and thread_id:
            self.thread_id = thread_id
        ids = outputs.get("genie_conversation_ids")
        if isinstance(ids, Mapping):
            self.genie_conversation_ids = {str(k): str(v) for k, v in ids.items()}
        self.turns.append(StoredTurn(question, text, _bounded(outputs)))
        self.updated = time.time()

    def rate(self, turn_id: str, rating: Mapping[str, Any]) -> bool:
        """Keep a rating with the turn of that id; whether the session has it."""
        for turn in self.turns:
            if turn.outputs.get("turn_id") == turn_id:
                turn.rating = dict(rating)
                self.updated = time.time()
                return True
        return False


def _bounded(outputs: Mapping[str, Any]) -> dict[str, Any]:
    kept = dict(outputs)
    results = kept.get("results")
    if isinstance(results, list):
        kept["results"] = [
            {**r, "rows": r["rows"][:STORED_ROWS]}
            if isinstance(r, dict) and isinstance(r.get("rows"), list)
            else r
            for r in results
        ]
    kept.pop("data", None)  # a copy of the primary result's rows
    return kept


@dataclass(frozen=True)
class SessionSummary:
    id: str
    title: str
    target: str
    updated: float
    turns: int


class SessionStore:
    """Sessions on disk, listed newest first."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def _index_path(self) -> Path:
        return self.root / "index.json"

    def _session_path(self, session_id: str) -> Path:
        return self.root / "sessions" / f"{session_id}.json"

    def list(self) -> list[SessionSummary]:
        data = _read_json(self._index_path)
        if not isinstance(data, list):
            return []
        summaries = []
        for entry in data:
            try:
                summaries.append(SessionSummary(**entry))
            except TypeError:
                continue
        return sorted(summaries, key=lambda s: s.updated, reverse=True)

    def save(self, session: Session) -> None:
        if not session.turns:
            return
        _write_atomic(self._session_path(session.id), json.dumps(asdict(session), default=str))
        summary = SessionSummary(
            session.id, session.title, session.target, session.updated, len(session.turns)
        )
        others = [s for s in self.list() if s.id != session.id]
        kept = [summary, *others][:MAX_SESSIONS]
        for dropped in others[MAX_SESSIONS - 1 :]:
            self._session_path(dropped.id).unlink(missing_ok=True)
        _write_atomic(self._index_path, json.dumps([asdict(s) for s in kept]))

    def load(self, session_id: str) -> Session | None:
        data = _read_json(self._session_path(session_id))
        if not isinstance(data, dict):
            return None
        try:
            turns = [StoredTurn(**t) for t in data.pop("turns", [])]
            return Session(**data, turns=turns)
        except TypeError:
            return None


class PromptHistory:
    """Questions asked before (oldest first), kept across runs; walked with up/down."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: list[str] = []
        if path is not None:
            data = _read_json(path)
            if isinstance(data, list):
                self.entries = [e for e in data if isinstance(e, str)][-MAX_HISTORY:]

    def add(self, entry: str) -> None:
        entry = entry.strip()
        if not entry:
            return
        if entry in self.entries:
            self.entries.remove(entry)
        self.entries.append(entry)
        self.entries = self.entries[-MAX_HISTORY:]
        if self.path is not None:
            # History is a convenience: a read-only home must not stop the chat.
            with contextlib.suppress(OSError):
                _write_atomic(self.path, json.dumps(self.entries))
