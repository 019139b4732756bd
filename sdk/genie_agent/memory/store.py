"""Long-term memory: what a user asked us to remember, on LangGraph stores.

Each user has a namespace ``("genie_agent", <user>)`` with three parts: ``preferences`` (one item
per slot: a new statement on a slot replaces the old one), ``notes`` ("remember ..." statements
with nothing structured in them) and ``stats`` (how often each domain was asked). An item's value
is ``{kind, text, data, terms}``; ``terms`` are the stems recall searches.

LangGraph stores ignore ``query`` without an embedding index, so recall without embeddings is a
keyword search we write: SQLite FTS5 kept in step with the store's table by triggers, Postgres full
text search over an expression GIN index. :class:`MemoryStore` is built on two abstract methods,
:meth:`~MemoryStore.store` and :meth:`~MemoryStore.keyword_search`; implementations:
:class:`InMemoryMemoryStore` here (tests), ``SqliteMemoryStore`` in :mod:`.sqlite` (the embedded
default), ``PostgresMemoryStore`` in :mod:`.postgres` (any Postgres, and Lakebase, through a
connection pool). With embeddings (:mod:`.embeddings`) a store recalls notes by meaning instead
(:meth:`~MemoryStore.search_notes`): pgvector on Postgres, a vector side table on SQLite.
"""

from __future__ import annotations

import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeVar, cast
from urllib.parse import quote, unquote

from ..understanding.lexicon import tokenize
from .errors import MemoryUnavailableError
from .health import Health

if TYPE_CHECKING:
    from langgraph.store.base import BaseStore, Item

__all__ = [
    "InMemoryMemoryStore",
    "MemoryItem",
    "MemoryKind",
    "MemoryStore",
    "MemoryWrite",
    "Recall",
    "domain_counts",
    "memory_namespace",
    "search_terms",
    "user_label",
]

T = TypeVar("T")
MemoryKind = Literal["preference", "note", "domains"]
_PART: dict[MemoryKind, str] = {"preference": "preferences", "note": "notes", "domains": "stats"}
_ID_PREFIX: dict[MemoryKind, str] = {"preference": "pref-", "note": "note-", "domains": "domains"}
DOMAINS_ID = "domains"
PREFERENCES_RECALLED = 100
"""At most this many preferences are recalled (the most recently updated)."""
_STOPWORDS = frozenset(
    "a an the and or but of to in on at by for with from as is are was were be been it its this that these "
    "those what which who whom how when where why do does did i me my we our you your they their he she "
    "please show give tell get can could would should will shall may might must about into than then so "
    "if not no yes all any each per there here have has had just only also very much many".split()
)


def user_label(user: str) -> str:
    """A user name as one namespace label (LangGraph labels may not contain '.')."""
    return quote(user, safe="").replace(".", "%2E") or "%00"


def label_user(label: str) -> str:
    return unquote(label)


def memory_namespace(user: str, kind: MemoryKind) -> tuple[str, ...]:
    """Where ``user``'s memories of ``kind`` live."""
    return ("genie_agent", user_label(user), _PART[kind])


def _kind_of(memory_id: str) -> MemoryKind | None:
    for kind, prefix in _ID_PREFIX.items():
        if memory_id == prefix or (prefix.endswith("-") and memory_id.startswith(prefix)):
            return kind
    return None


def search_terms(text: str, *, limit: int = 32) -> list[str]:
    """The stems recall matches on: words of ``text`` without stop words, each once."""
    out: dict[str, None] = {}
    for t in tokenize(text):
        term = t.stem.lower()
        if not term.isalnum():
            term = "".join(ch for ch in term if ch.isalnum())
        if len(term) >= 2 and term not in _STOPWORDS:
            out[term] = None
    return list(out)[:limit]


def domain_counts(value: Mapping[str, Any] | None) -> dict[str, int]:
    """How often each domain was asked, from the value of the domains item (None: no item yet)."""
    counts = value.get("data", {}) if value is not None else {}
    return {str(k): int(v) for k, v in dict(counts).items()}


@dataclass(frozen=True)
class MemoryItem:
    """One memory. ``id`` is what ``genie-agent memory forget ID`` takes."""

    id: str
    kind: MemoryKind
    text: str
    data: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    updated_at: str = ""
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "text": self.text,
            "data": self.data,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_item(cls, item: Item, score: float | None = None) -> MemoryItem:
        return cls.of(item.key, item.value, item.created_at, item.updated_at, score)

    @classmethod
    def of(
        cls,
        key: str,
        value: Mapping[str, Any],
        created_at: datetime | None,
        updated_at: datetime | None,
        score: float | None = None,
    ) -> MemoryItem:
        """The memory of a store item's parts (as LangGraph's ``Item`` holds them)."""
        return cls(
            key,
            cast(MemoryKind, value.get("kind") or _kind_of(key) or "note"),
            str(value.get("text") or ""),
            dict(value.get("data") or {}),
            created_at.isoformat() if created_at else "",
            updated_at.isoformat() if updated_at else "",
            score,
        )


@dataclass(frozen=True)
class Recall:
    """What a turn remembers about its user: every preference, the notes relevant to the question,
    and how often each domain was asked."""

    preferences: tuple[MemoryItem, ...] = ()
    notes: tuple[MemoryItem, ...] = ()
    domains: Mapping[str, int] = field(default_factory=dict)
    failures: tuple[str, ...] = ()
    """What could not be recalled while the rest was (the notes, when the embedding endpoint is down)."""


class MemoryWrite(NamedTuple):
    """One item to put (``value`` None: to delete), as a store's ``PutOp`` takes it."""

    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any] | None
    embed: Literal[False] | None
    """PutOp's ``index``: None embeds the store's fields (when it has an embedding index), False nothing."""


@dataclass(frozen=True)
class MemoryChange:
    """One write: ``text``/``data`` set the item; ``text`` None deletes it."""

    kind: MemoryKind
    key: str
    text: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    terms: str = ""

    @classmethod
    def note(cls, text: str) -> MemoryChange:
        return cls("note", f"note-{uuid.uuid4().hex[:10]}", text, {}, " ".join(search_terms(text)))


class MemoryStore(ABC):
    """User memories on a LangGraph ``BaseStore``. Thread-safe; safe across processes.

    Subclasses provide :meth:`store` and :meth:`keyword_search`; everything else is built on them.
    Backend failures raise :class:`~genie_agent.memory.errors.MemoryUnavailableError`.
    """

    def __init__(self, health: Health) -> None:
        self.health = health

    @abstractmethod
    def store(self) -> AbstractContextManager[BaseStore]:
        """A LangGraph store to use for one call."""

    @abstractmethod
    def keyword_search(
        self, store: BaseStore, namespace: tuple[str, ...], terms: Sequence[str], limit: int
    ) -> list[MemoryItem]:
        """Items of ``namespace`` whose terms match any of ``terms`` (prefixes), best first."""

    def search_notes(
        self, store: BaseStore, namespace: tuple[str, ...], question: str, terms: Sequence[str], limit: int
    ) -> list[MemoryItem]:
        """The notes of ``namespace`` most relevant to ``question``: by keywords here; stores with
        embeddings rank them by meaning instead."""
        return self.keyword_search(store, namespace, terms, limit) if terms else []

    def setup(self) -> None:
        """Create tables and indexes (idempotent)."""

        def op() -> None:
            with self.store() as store:
                setup = getattr(store, "setup", None)
                if setup is not None:
                    setup()

        self._run("set up memories", op)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def _run(self, what: str, op: Callable[[], T]) -> T:
        with self.health.guard(what):
            return op()

    def _session(self) -> AbstractContextManager[BaseStore]:
        """What a turn's recall and save run on: :meth:`store`. (The SQLite store reads and writes its
        rows itself there, without importing LangGraph.)"""
        return self.store()

    # --- built on store/keyword_search ---------------------------------------------------------------

    def recall(self, user: str, question: str, *, limit: int = 5) -> Recall:
        """Every preference of ``user``, the notes most relevant to ``question``, the domain counts."""

        def op() -> Recall:
            with self._session() as store:
                prefs, counts = self._preferences(store, user)
                notes, failures = self._notes(store, user, question, limit)
            return Recall(prefs, notes, counts, failures)

        return self._run("recall memories", op)

    def recall_preferences(self, user: str) -> Recall:
        """Every preference of ``user`` and the domain counts, without notes (:meth:`recall_notes`):
        what a turn needs before its spaces are asked."""

        def op() -> Recall:
            with self._session() as store:
                prefs, counts = self._preferences(store, user)
            return Recall(prefs, (), counts)

        return self._run("recall memories", op)

    def recall_notes(self, user: str, question: str, *, limit: int = 5) -> Recall:
        """Only the notes of :meth:`recall` (an embedder's failure in ``failures``)."""

        def op() -> Recall:
            with self._session() as store:
                notes, failures = self._notes(store, user, question, limit)
            return Recall(notes=notes, failures=failures)

        return self._run("recall memories", op)

    def _preferences(self, store: BaseStore, user: str) -> tuple[tuple[MemoryItem, ...], dict[str, int]]:
        from langgraph.store.base import GetOp, SearchOp

        prefs, domains = store.batch(
            [
                SearchOp(memory_namespace(user, "preference"), None, PREFERENCES_RECALLED, 0, None, False),
                GetOp(memory_namespace(user, "domains"), DOMAINS_ID, False),
            ]
        )
        stats = cast("Item | None", domains)
        return (
            tuple(MemoryItem.from_item(i) for i in cast("list[Item]", prefs)),
            domain_counts(stats.value if stats is not None else None),
        )

    def _notes(
        self, store: BaseStore, user: str, question: str, limit: int
    ) -> tuple[tuple[MemoryItem, ...], tuple[str, ...]]:
        try:
            notes = self.search_notes(
                store, memory_namespace(user, "note"), question, search_terms(question), limit
            )
        except MemoryUnavailableError as exc:  # the embedder, not the store: keep the rest
            return (), (exc.message,)
        return tuple(notes), ()

    def apply(self, user: str, changes: Iterable[MemoryChange]) -> None:
        """Write several changes in one batch (one transaction where the backend has them)."""
        writes = []
        for c in changes:
            value = (
                None
                if c.text is None
                else {
                    "kind": c.kind,
                    "text": c.text,
                    "data": dict(c.data),
                    "terms": c.terms or " ".join(search_terms(c.text)),
                }
            )
            # Only notes are embedded (when the store has embeddings): every preference is recalled anyway.
            index: Literal[False] | None = None if value is None or c.kind == "note" else False
            writes.append(MemoryWrite(memory_namespace(user, c.kind), c.key, value, index))
        if not writes:
            return

        def op() -> None:
            with self._session() as store:
                self._write(store, writes)

        self._run("save memories", op)

    def _write(self, store: BaseStore, writes: Sequence[MemoryWrite]) -> None:
        """Put ``writes`` in one batch."""
        from langgraph.store.base import PutOp

        store.batch([PutOp(w.namespace, w.key, w.value, index=w.embed) for w in writes])

    def list(self, user: str, *, kind: MemoryKind | None = None) -> list[MemoryItem]:
        """Every memory of ``user`` (of one ``kind`` when given), preferences first."""
        prefix = memory_namespace(user, kind) if kind else ("genie_agent", user_label(user))

        def op() -> list[MemoryItem]:
            items: list[MemoryItem] = []
            with self.store() as store:
                while True:
                    page = store.search(prefix, limit=500, offset=len(items))
                    items += [MemoryItem.from_item(i) for i in page]
                    if len(page) < 500:
                        return items

        order = {"preference": 0, "domains": 1, "note": 2}
        return sorted(self._run("list memories", op), key=lambda m: (order[m.kind], m.created_at, m.id))

    def forget(self, user: str, memory_id: str) -> bool:
        """Forget one memory of ``user``; False when there is no such memory."""
        kind = _kind_of(memory_id)
        if kind is None:
            return False
        namespace = memory_namespace(user, kind)

        def op() -> bool:
            with self.store() as store:
                if store.get(namespace, memory_id, refresh_ttl=False) is None:
                    return False
                store.delete(namespace, memory_id)
                return True

        return self._run("forget memory", op)

    def forget_all(self, user: str) -> int:
        """Forget every memory of ``user``; how many there were."""
        from langgraph.store.base import PutOp

        items = self.list(user)
        if items:
            ops = [PutOp(memory_namespace(user, m.kind), m.id, None) for m in items]

            def op() -> None:
                with self.store() as store:
                    store.batch(ops)

            self._run("forget memories", op)
        return len(items)


class InMemoryMemoryStore(MemoryStore):
    """Memories in this process only (LangGraph's ``InMemoryStore``): for tests and throwaway agents."""

    def __init__(self) -> None:
        from langgraph.store.memory import InMemoryStore

        super().__init__(Health("in-memory", ()))
        self._store = InMemoryStore()
        self._lock = threading.RLock()

    @contextmanager
    def store(self) -> Iterator[BaseStore]:
        with self._lock:
            yield self._store

    def keyword_search(
        self, store: BaseStore, namespace: tuple[str, ...], terms: Sequence[str], limit: int
    ) -> list[MemoryItem]:
        scored = []
        for item in store.search(namespace, limit=1_000_000):
            have = str(item.value.get("terms", "")).split()
            score = sum(1 for t in terms if any(h.startswith(t) for h in have))
            if score:
                scored.append((score, item))
        scored.sort(key=lambda p: (-p[0], -p[1].updated_at.timestamp()))
        return [MemoryItem.from_item(i, float(s)) for s, i in scored[:limit]]
