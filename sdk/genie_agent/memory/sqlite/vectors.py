"""Note vectors in this process: a namespace's vectors as one unit-length matrix, ranked against a
question exactly, and the cache of the namespaces recalled last."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["NoteVectors", "VectorCache"]


@dataclass(frozen=True)
class NoteVectors:
    """A namespace's note vectors as of its ``generation``: keys and their rows scaled to unit length."""

    generation: int | None
    keys: tuple[str, ...]
    matrix: Any  # numpy float32, one row per key

    @classmethod
    def of(cls, generation: int | None, vectors: Sequence[tuple[str, bytes]]) -> NoteVectors:
        """The vectors of ``(key, float32 bytes)`` pairs, each scaled to unit length (a zero vector stays zero)."""
        import numpy as np

        matrix = np.frombuffer(b"".join(b for _, b in vectors), dtype=np.float32).reshape(len(vectors), -1)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return cls(
            generation,
            tuple(k for k, _ in vectors),
            (matrix / np.where(norms == 0, 1.0, norms)).astype(np.float32),
        )

    def nearest(self, query: Sequence[float], limit: int, min_score: float) -> list[tuple[str, float]]:
        """The ``limit`` keys most similar to ``query`` (cosine), best first, those scoring at least ``min_score``."""
        import numpy as np

        q = np.asarray(query, dtype=np.float32)
        scores = self.matrix @ (q / (np.linalg.norm(q) or 1.0))
        keys = self.keys
        candidates = np.arange(len(keys))
        if len(keys) > limit:  # every note scoring at least the limit-th best (ties included), then in order
            candidates = np.flatnonzero(scores >= np.partition(scores, len(keys) - limit)[len(keys) - limit])
        ranked = candidates[np.argsort(-scores[candidates], kind="stable")][:limit]
        return [(keys[i], float(scores[i])) for i in ranked if scores[i] >= min_score]

    @property
    def nbytes(self) -> int:
        return int(self.matrix.nbytes) + sum(len(k) + 56 for k in self.keys)


class VectorCache:
    """The note vectors of the namespaces recalled last, at most ``max_bytes`` of them: the least
    recently used go first; a namespace larger than the whole budget is not kept."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, str], NoteVectors] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> NoteVectors | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple[str, str], entry: NoteVectors) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            if entry.nbytes > self.max_bytes:
                return
            self._entries[key] = entry
            self._bytes += entry.nbytes
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.nbytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
