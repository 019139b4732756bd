"""The SQL guard's accepted texts, remembered across processes.

:func:`~genie_agent.spaces.local.sql_guard.check_select` is a pure function of the SQL text, the
space's tables, its own code and sqlglot's version, and importing sqlglot costs about 0.1 s of CPU, a
sixth of a one-question ``genie-agent ask``. So the texts it accepted are kept in a file beside the
engine's value caches: a process that runs SQL the guard accepted before (a verified query, a question
asked again) does not import sqlglot. Only acceptances are kept: anything refused, or new, goes through
the guard, and its refusal message comes from it. The key covers the exact text, the allowed tables,
the guard's source and sqlglot's version, so a change to any of them asks the guard again.

What a hit skips is the sqlglot parse only: DuckDB's own parser still has to see one SELECT, and the
connection is still read-only without file, network or extension access (see
:mod:`~genie_agent.spaces.local.executor`). The file is as trusted as the rest of ``GENIE_AGENT_HOME``
(its config file names the catalog whose verified SQL runs).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import threading
from collections.abc import Callable, Collection
from pathlib import Path

__all__ = ["AcceptedSql", "trimmed"]

_LIMIT = 4096  # texts kept (the oldest go first); about 150 KB of JSON
_FILE = "sql-guard-accepted.json"


def trimmed(sql: str) -> str:
    """The text the guard returns for SQL it accepts: stripped, trailing semicolons removed."""
    text = sql.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    return text


def _fingerprint() -> str | None:
    """The guard's source and sqlglot's version, read without importing either; None when either
    cannot be read (a build without sources): then nothing is remembered."""
    spec = importlib.util.find_spec("sqlglot")
    if spec is None or spec.origin is None:
        return None
    try:
        guard = Path(__file__).with_name("sql_guard.py").read_bytes()
        version = Path(spec.origin).with_name("_version.py").read_bytes()
    except OSError:
        return None
    return hashlib.sha256(guard + b"\0" + version).hexdigest()[:32]


class AcceptedSql:
    """Texts the guard accepted, per allowed tables; loaded from ``directory`` on first use."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / _FILE
        self._lock = threading.Lock()
        self._fingerprint: str | None = None
        self._accepted: dict[str, None] | None = None  # digests, oldest first

    def check(
        self, sql: str, allowed_tables: Collection[str], guard: Callable[[str, Collection[str]], str]
    ) -> str:
        """``guard(sql, allowed_tables)``, unless it accepted this text with these tables before."""
        with self._lock:
            accepted = self._load()
            key = self._key(sql, allowed_tables) if self._fingerprint is not None else None
            if key in accepted:
                return trimmed(sql)
        checked = guard(sql, allowed_tables)  # raises for SQL it refuses: nothing is kept
        if key is not None:
            with self._lock:
                self._save({**self._load(), key: None})
        return checked

    def _key(self, sql: str, allowed_tables: Collection[str]) -> str:
        tables = sorted({t.lower() for t in allowed_tables})
        return hashlib.sha256(json.dumps([self._fingerprint, tables, sql]).encode()).hexdigest()[:32]

    def _load(self) -> dict[str, None]:
        if self._accepted is None:
            self._fingerprint = _fingerprint()
            self._accepted = dict.fromkeys(self._read())
        return self._accepted

    def _read(self) -> list[str]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []  # none yet, or damaged: rebuilt as the guard accepts texts
        if not isinstance(data, dict) or data.get("guard") != self._fingerprint:
            return []
        keys = data.get("accepted")
        return [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else []

    def _save(self, accepted: dict[str, None]) -> None:
        """Merge with what other processes saved since, keep the newest ``_LIMIT``, replace the file."""
        merged = dict.fromkeys([*self._read(), *accepted])
        keys = list(merged)[-_LIMIT:]
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"guard": self._fingerprint, "accepted": keys}))
            os.replace(tmp, self.path)
        except OSError:  # a read-only home: the guard runs again next time
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        self._accepted = dict.fromkeys(keys)
