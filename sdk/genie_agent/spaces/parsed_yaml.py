"""The catalog's YAML files, parsed once: their data kept as JSON beside the engine's value caches.

Importing PyYAML and parsing the example catalog costs about 12 ms of CPU in every process that
builds the agent; reading the same data back from JSON costs a tenth of a millisecond. An entry is
keyed by the file's resolved path, size, modification time and inode, so an edited file is parsed
again. Data JSON cannot hold exactly (a date, a set) is never kept: such a file is parsed every time,
as before.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

__all__ = ["ParsedYaml"]

_FILE = "parsed-yaml.json"
_LIMIT = 256  # files kept (the oldest go first)


def _identity(path: Path) -> list[int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns, stat.st_ino]


_ITEMS = "__items__"  # a mapping with keys that are not text (YAML reads `on:` as True), as pairs


def _encode(value: object) -> object:
    """``value`` in JSON's types; raises TypeError for what JSON cannot hold (dates, sets, ...)."""
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and _ITEMS not in value:
            return {k: _encode(v) for k, v in value.items()}
        return {_ITEMS: [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"not kept as JSON: {type(value).__name__}")


def _decode(value: object) -> object:
    if isinstance(value, dict):
        if set(value) == {_ITEMS}:
            return {_decode(k): _decode(v) for k, v in value[_ITEMS]}
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _exact_json(data: object) -> str | None:
    """``data`` as JSON, when it reads back equal (else None)."""
    try:
        text = json.dumps(_encode(data), allow_nan=False)
    except (TypeError, ValueError):
        return None
    return text if _decode(json.loads(text)) == data else None


class ParsedYaml:
    """Reads files through ``parse`` unless their data is kept in ``directory`` (None: always parse)."""

    def __init__(self, directory: Path | None) -> None:
        self.path = directory / _FILE if directory is not None else None
        self._kept: dict[str, dict[str, object]] | None = None
        self._new: dict[str, dict[str, object]] = {}

    def read(self, path: Path, parse: Callable[[Path], object]) -> object:
        """The data of ``path``: kept, or ``parse(path)`` (whose errors pass through)."""
        identity = _identity(path) if self.path is not None else None
        if identity is None:  # no cache, or no such file: parse reports it
            return parse(path)
        key = str(path.resolve())
        entry = self._load().get(key, {})
        text = entry.get("json")
        if entry.get("file") == identity and isinstance(text, str):
            with contextlib.suppress(ValueError, TypeError):
                return _decode(json.loads(text))
        data = parse(path)
        exact = _exact_json(data)
        if exact is not None:
            self._new[key] = {"file": identity, "json": exact}
        return data

    def save(self) -> None:
        """Keep what was parsed (merged with what other processes kept since)."""
        if self.path is None or not self._new:
            return
        self._kept = None
        entries = {**self._load(), **self._new}
        kept = dict(list(entries.items())[-_LIMIT:])
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(kept))
            os.replace(tmp, self.path)
        except OSError:  # a read-only home: parsed again next time
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        self._kept, self._new = kept, {}

    def _load(self) -> dict[str, dict[str, object]]:
        if self._kept is None:
            self._kept = {}
            if self.path is not None:
                try:
                    data = json.loads(self.path.read_text())
                except (OSError, ValueError):
                    data = {}  # none yet, or damaged: rebuilt
                if isinstance(data, dict):
                    self._kept = {k: v for k, v in data.items() if isinstance(v, dict) and "json" in v}
        return self._kept
