"""Routing vocabulary read from the Genie spaces themselves, so ``keywords`` are optional overrides.

Each configured space is read once per process (and again every ``refresh_s``) as the process's own
identity, never a caller's: ``GET /api/2.0/genie/spaces/{id}?include_serialized_space=true`` gives its
title, description and serialized definition (which needs CAN EDIT: with CAN RUN only, the plain GET
gives the title and description). The definition's SQL snippets name the space's measures, filters
and computed dimensions with their synonyms; its column configs the columns people group and filter by;
its descriptions, instructions and questions the subjects it is about (:func:`definition_terms`).

What is read stays in the router's vocabulary: every discovered term names only itself (the question's
own words), a space's title and description shown to users are the configured ones, and none of the
definition's SQL, instructions or column names reaches a user. A space that cannot be read (no access,
gone, the workspace unreachable or slow) routes by its configured keywords, and says why
(:attr:`Discovered.error`; ``genie-agent spaces list``).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..understanding.lexicon import stem, tokenize
from .base import RoutingTerm

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

    from ..workspace_spaces.serialized import SerializedSpace
    from .databricks import ClientFactory, GenieSpaceConfig

__all__ = ["READ_TIMEOUT_S", "Discovered", "SpaceDiscovery", "definition_terms", "topic_terms"]

log = logging.getLogger("genie_agent.genie")

READ_TIMEOUT_S = 5.0
"""How long the spaces are read, all at once, before those not yet read route by their keywords."""
RETRY_S = 300.0
"""A space that could not be read is tried again this soon (or at the refresh interval, if sooner)."""

TOPIC_STOP = frozenset(
    "what which show many much with from that this have each their there about over under into than "
    "does were when where list give tell total number".split()
)
"""Words that say nothing of a subject: never a topic."""
_AGGREGATE_WORDS = frozenset(
    "average mean median count sum minimum maximum highest lowest most least largest smallest biggest "
    "share percent percentage ratio compare monthly yearly quarterly weekly daily".split()
)
"""Words of how a question aggregates, which any space's questions use: not a topic of the one whose
sample questions happen to say them."""
_UNREADABLE = frozenset({"NotFound", "ResourceDoesNotExist", "Unauthenticated", "Unreachable"})
"""Errors that say the space itself cannot be read, so reading it without its definition would not help."""
_GENERIC_COLUMNS = frozenset("name id key code comment description value".split())
_TIME_WORDS = frozenset("date time timestamp datetime day month year week quarter".split())
_TIME_SQL = re.compile(
    r"\b(?:year|month|quarter|week|day|dayofweek|date|to_date|date_trunc|date_format|trunc)\s*\(", re.I
)


@dataclass(frozen=True)
class Discovered:
    """What was read of one space: its routing terms, and why it (or its definition) could not be read."""

    terms: tuple[RoutingTerm, ...] = ()
    read: bool = False
    """The space answered (its title and description were read)."""
    definition: bool = False
    """Its serialized definition was read too."""
    error: str | None = None

    def status(self, keywords: int = 0) -> str:
        """How the space routes, in one line (``spaces list``); ``keywords``: how many are configured."""
        if not self.read:
            some = f"its {keywords} configured keyword(s)" if keywords else "its configured keywords (none)"
            return f"routes by {some} only: {self.error}"
        source = "its definition" if self.definition else "its title and description"
        line = f"{len(self.terms)} routing terms discovered from {source}"
        line += f", plus {keywords} configured keyword(s)" if keywords else ""
        return f"{line} ({self.error})" if self.error else line


def _humanized(name: str, *, column: bool = False) -> str:
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", name).replace("_", " ").replace("-", " ").lower().split()
    if column and len(words) > 1 and len(words[0]) <= 2:  # TPC-H style prefixes: c_mktsegment, o_orderdate
        words = words[1:]
    return " ".join(words)


def topic_terms(texts: Iterable[str], known: Iterable[str] = ()) -> list[RoutingTerm]:
    """Content words of ``texts`` (four letters or more, not a stop word, not one of ``known``'s words)."""
    skip = {stem(w) for phrase in known for w in phrase.split()}
    words = dict.fromkeys(
        t.lower for text in texts for t in tokenize(text) if t.text.isalpha() and len(t.text) >= 4
    )
    stop = TOPIC_STOP | _AGGREGATE_WORDS
    return [RoutingTerm(w, "topic", w) for w in words if w not in stop and stem(w) not in skip]


def _phrases(*names: str, synonyms: Iterable[str] = ()) -> list[str]:
    return [p for p in dict.fromkeys(n.strip() for n in (*names, *synonyms)) if len(p) >= 2]


def definition_terms(space: SerializedSpace) -> list[RoutingTerm]:
    """Routing terms of a serialized space: its measures, filters, computed dimensions and configured
    columns (of its tables and metric views), each phrase naming itself; then the content words of what
    it says about itself."""
    from ..workspace_spaces.serialized import text_of

    snippets = space.instructions.sql_snippets
    terms = [
        RoutingTerm(p, "measure", p)
        for m in snippets.measures
        for p in _phrases(m.display_name, _humanized(m.alias), synonyms=m.synonyms)
    ]
    terms += [
        RoutingTerm(p, "filter", p)
        for f in snippets.filters
        for p in _phrases(f.display_name, synonyms=f.synonyms)
    ]
    for e in snippets.expressions:
        phrases = _phrases(e.display_name, _humanized(e.alias), synonyms=e.synonyms)
        timely = _TIME_SQL.search(text_of(e.sql)) is not None
        terms += [RoutingTerm(p, "time_dimension" if timely else "dimension", p) for p in phrases]
    texts: list[str] = []
    for table in (*space.data_sources.tables, *space.data_sources.metric_views):
        texts.append(text_of(table.description))
        for column in table.column_configs:
            if column.exclude:
                continue
            name = _humanized(column.column_name, column=True)
            phrases = _phrases(*([name] if name not in _GENERIC_COLUMNS else []), synonyms=column.synonyms)
            timely = name.endswith((" at", " ts", " dt")) or any(
                w in _TIME_WORDS for p in [name, *column.synonyms] for w in p.lower().split()
            )
            terms += [RoutingTerm(p, "time_dimension" if timely else "dimension", p) for p in phrases]
            texts.append(text_of(column.description))
    texts += [space.instructions_text, *space.sample_questions]
    texts += [text_of(e.question) for e in space.instructions.example_question_sqls]
    return terms + topic_terms(texts, known=[t.phrase for t in terms])


def _message(exc: BaseException) -> str:
    return str(getattr(exc, "message", "") or exc) or type(exc).__name__


def read_space(client: WorkspaceClient, space_id: str, name: str) -> Discovered:
    """One space as ``client`` may read it: with its definition, else its title and description only."""
    from ..workspace_spaces.api import SpaceApiError, WorkspaceSpaces
    from ..workspace_spaces.serialized import SerializedSpace

    api = WorkspaceSpaces(client)
    try:
        remote = api.get(space_id, definition=True, name=name)
    except SpaceApiError as exc:
        if exc.kind in _UNREADABLE:
            return Discovered(error=exc.message)
        # Refused for the definition only (PermissionDenied: CAN RUN, not CAN EDIT): the plain read.
        try:
            remote = api.get(space_id, name=name)
        except SpaceApiError as again:
            return Discovered(error=again.message)
        terms = topic_terms([remote.title, remote.description])
        return Discovered(tuple(terms), True, False, f"its definition could not be read: {exc.message}")
    about = [remote.title, remote.description]
    try:
        serialized = SerializedSpace.parse(remote.serialized_space or "")
    except ValueError as exc:
        why = f"its definition could not be read as a serialized space ({type(exc).__name__})"
        return Discovered(tuple(topic_terms(about)), True, False, why)
    terms = definition_terms(serialized)
    terms += topic_terms(about, known=[t.phrase for t in terms])
    return Discovered(tuple(terms), True, True)


class SpaceDiscovery:
    """The configured spaces' discovered vocabulary, read on first use and cached for the process.

    :meth:`get` reads every space at once the first time (bounded by ``timeout_s``); after
    ``refresh_s`` (0: never), :meth:`refresh_in_background` reads them again on a thread of its own and
    then calls back, so no turn waits for it. ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        spaces: Mapping[str, GenieSpaceConfig],
        client: ClientFactory,
        *,
        refresh_s: float = 3600.0,
        timeout_s: float = READ_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spaces = dict(spaces)
        self._client = client
        self.refresh_s, self.timeout_s, self._clock = refresh_s, timeout_s, clock
        self._lock = threading.Lock()
        self._found: dict[str, Discovered] | None = None
        self._read_at = 0.0
        self._refreshing = False
        self.reads = 0
        """How many times the spaces were read (tests, ``spaces list``)."""

    def get(self, domain: str) -> Discovered:
        """What was discovered of ``domain``'s space; the first call reads them all (as the process)."""
        with self._lock:
            if self._found is None:
                self._found, self._read_at = self.read_all(), self._clock()
            return self._found.get(domain, Discovered(error="not a configured space"))

    def due(self) -> bool:
        """A refresh is due: the spaces were read and the interval (shorter after a failure) has passed."""
        if self._found is None or self._refreshing or self.refresh_s <= 0:
            return False
        failed = any(not d.read for d in self._found.values())
        interval = min(self.refresh_s, RETRY_S) if failed else self.refresh_s
        return self._clock() - self._read_at >= interval

    def refresh_in_background(self, then: Callable[[], None]) -> bool:
        """When a refresh is due, read the spaces again on a thread and call ``then`` once they are in
        the cache; whether one was started. Cheap when none is due (once per turn)."""
        if not self.due():
            return False
        with self._lock:
            if not self.due():
                return False
            self._refreshing = True
        threading.Thread(target=self._refresh, args=(then,), name="genie-discovery", daemon=True).start()
        return True

    def _refresh(self, then: Callable[[], None]) -> None:
        try:
            fresh = self.read_all()
            with self._lock:
                old = self._found or {}
                for domain, found in fresh.items():
                    before = old.get(domain)
                    if not found.read and before is not None and before.read:  # keep what was known
                        fresh[domain] = Discovered(
                            before.terms, True, before.definition, f"kept from the last read: {found.error}"
                        )
                self._found, self._read_at = fresh, self._clock()
            then()
        except Exception:
            log.exception("Refreshing the Genie spaces' routing vocabulary failed")
        finally:
            self._refreshing = False

    def read_all(self) -> dict[str, Discovered]:
        """Every configured space read now, in parallel, as the process's own identity; a space not read
        within ``timeout_s`` routes by its keywords (and is read again at the next refresh)."""
        self.reads += 1
        try:
            client = self._client(None)  # the deployment's own identity, never a caller's
        except Exception as exc:
            found = {d: Discovered(error=f"no workspace client: {_message(exc)}") for d in self.spaces}
            return self._logged(found)
        pool = ThreadPoolExecutor(
            max_workers=min(8, max(1, len(self.spaces))), thread_name_prefix="discovery"
        )
        futures = {
            d: pool.submit(read_space, client, c.space_id, c.title or d) for d, c in self.spaces.items()
        }
        done, _ = wait(futures.values(), timeout=self.timeout_s)
        pool.shutdown(wait=False, cancel_futures=True)
        found = {}
        for domain, future in futures.items():
            if future not in done:
                found[domain] = Discovered(error=f"the workspace did not answer within {self.timeout_s:g} s")
            elif future.exception() is not None:
                found[domain] = Discovered(error=_message(future.exception()))  # type: ignore[arg-type]
            else:
                found[domain] = future.result()
        return self._logged(found)

    @staticmethod
    def _logged(found: dict[str, Discovered]) -> dict[str, Discovered]:
        for domain, d in found.items():
            if not d.read:
                log.warning("Genie space %s routes by its configured keywords only: %s", domain, d.error)
            elif d.error:
                log.info("Genie space %s: %s", domain, d.status())
        return found
