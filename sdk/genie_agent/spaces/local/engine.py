"""The local Genie engine: a space answered by deterministic NL -> SQL over DuckDB."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ...errors import UnsafeRequestError, UserInputError
from ...identity import LOCAL_USER, Identity
from ...understanding.lexicon import tokenize
from ...understanding.write_intent import write_intent
from ..base import RoutingTerm, SpaceAnswer, SpaceInfo
from ..semantic_model import SpaceDefinition, referenced_aliases
from .chat_history import ask_with_history, user_questions
from .conversations import ConversationStore
from .executor import QueryResult, ReadOnlyExecutor
from .parser import ParsedQuestion, merge_followup, parse_question
from .plan import QueryPlan
from .sqlgen import PlanError, compile_plan, describe, quote_ident
from .vocabulary import MAX_INDEXED_VALUES, Vocabulary

__all__ = ["LocalGenieSpace", "PlannedQuery", "QueryRunner"]

_STOP = frozenset(
    {"the", "a", "an", "of", "what", "was", "is", "are", "were", "me", "show", "give", "for", "in"}
)


def _normalized(question: str) -> tuple[str, ...]:
    return tuple(t.stem for t in tokenize(question) if t.lower not in _STOP)


class QueryRunner(Protocol):
    """What runs the engine's SQL: :class:`ReadOnlyExecutor` on DuckDB, or a SQL warehouse
    (:mod:`genie_agent.spaces.warehouse`). Raises as :meth:`ReadOnlyExecutor.execute`."""

    def execute(self, sql: str, allowed_tables: Collection[str]) -> QueryResult: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class PlannedQuery:
    """A question the space can answer and the SQL that answers it, before the SQL runs."""

    conversation_id: str
    question: str
    plan: QueryPlan | None
    """None for a verified query's SQL."""
    sql: str
    text: str
    started: float
    user: str
    nl_to_sql_ms: float | None = None


class LocalGenieSpace:
    """A :class:`~genie_agent.spaces.base.GenieSpace` over a semantic model and a DuckDB file."""

    cpu_bound = True
    """Its questions are CPU work (parsing, DuckDB): the fan-out runs them in the pool sized to the machine."""

    def __init__(
        self,
        definition: SpaceDefinition,
        executor: QueryRunner,
        conversations: ConversationStore,
        *,
        use_verified_queries: bool = True,
        cache_dir: Path | None = None,
    ) -> None:
        self.definition = definition
        self._executor = executor
        self._conversations = conversations
        self._use_verified = use_verified_queries
        self._verified = {_normalized(v.question): v for v in definition.verified_queries}
        self._vocabulary: Vocabulary | None = None
        self._vocabulary_lock = threading.Lock()
        self._cache_dir = cache_dir

    def with_definition(self, definition: SpaceDefinition) -> LocalGenieSpace:
        """Another space over the same database connection and conversation store, with the same
        settings (genie-server builds a space created through its API so)."""
        return LocalGenieSpace(
            definition,
            self._executor,
            self._conversations,
            use_verified_queries=self._use_verified,
            cache_dir=self._cache_dir,
        )

    def close(self) -> None:
        """Close its DuckDB connection and its conversation store (spaces may share them: closing
        again does nothing); asking afterwards fails."""
        self._executor.close()
        self._conversations.close()

    @property
    def info(self) -> SpaceInfo:
        d = self.definition
        return SpaceInfo(d.id, d.title, d.description, d.sample_questions)

    @property
    def vocabulary(self) -> Vocabulary:
        """Built on first use: indexing dimension values costs a few small queries."""
        if self._vocabulary is None:
            with self._vocabulary_lock:
                if self._vocabulary is None:
                    self._vocabulary = Vocabulary.build(self.definition, self._index_values())
        return self._vocabulary

    def _index_values(self) -> dict[str, list[str]]:
        """Distinct values of indexed dimensions, cached per database file version and model."""
        cache = self._cache_path()
        if cache is not None and cache.exists():
            try:
                cached: dict[str, list[str]] = json.loads(cache.read_text())
                return cached
            except (OSError, ValueError):
                pass  # rebuild a damaged cache
        values = self._query_values()
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(values))
            os.replace(tmp, cache)
        return values

    @property
    def database_file(self) -> Path | None:
        """The DuckDB file its SQL runs on; None when it runs elsewhere (a SQL warehouse)."""
        return self._executor.database_path if isinstance(self._executor, ReadOnlyExecutor) else None

    def _data_version(self) -> list[object] | None:
        """What names the data the values are read from and its version (a DuckDB file's path, time
        and size); None: the values are not cached."""
        db = self.database_file
        if db is None:
            return None
        try:
            stat = db.stat()
        except OSError:
            return None
        return [str(db.resolve()), stat.st_mtime_ns, stat.st_size]

    def _cache_path(self) -> Path | None:
        if self._cache_dir is None:
            return None
        version = self._data_version()
        if version is None:
            return None
        dims = [(d.name, d.expr, d.index_values) for d in self.definition.dimensions]
        key = json.dumps([*version, dims, MAX_INDEXED_VALUES])
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return self._cache_dir / f"values-{self.definition.id}-{digest}.json"

    def _query_values(self) -> dict[str, list[str]]:
        values: dict[str, list[str]] = {}
        for d in self.definition.dimensions:
            aliases = referenced_aliases(d.expr)
            if not d.index_values or len(aliases) != 1:
                continue
            alias = next(iter(aliases))
            table = self.definition.table_by_alias[alias]
            sql = (
                f"SELECT DISTINCT CAST({d.expr} AS VARCHAR) FROM {quote_ident(table.physical)} AS "
                f"{quote_ident(alias)} WHERE {d.expr} IS NOT NULL LIMIT {MAX_INDEXED_VALUES + 1}"
            )
            result = self._executor.execute(sql, self.definition.physical_tables)
            if result.row_count <= MAX_INDEXED_VALUES:
                values[d.name] = [row[0] for row in result.rows]
        return values

    def routing_terms(self) -> Sequence[RoutingTerm]:
        """Every phrase of the semantic model with the name it stands for; every indexed value and
        value synonym with its dimension."""
        d = self.definition
        terms = [RoutingTerm(p, "measure", m.name) for m in d.measures for p in m.phrases]
        terms += [RoutingTerm(p, "dimension", x.name) for x in d.dimensions for p in x.phrases]
        terms += [RoutingTerm(p, "time_dimension", x.name) for x in d.time_dimensions for p in x.phrases]
        terms += [RoutingTerm(p, "filter", x.name) for x in d.filters for p in x.phrases]
        indexed = self.vocabulary.values
        for x in d.dimensions:
            values = [v for v in indexed.get(x.name, ()) if len(v) >= 2 and not v.isdigit()]
            terms += [RoutingTerm(v, "value", v, x.name) for v in values]
            terms += [RoutingTerm(p, "value", v, x.name) for v, ps in x.value_synonyms.items() for p in ps]
        # "how many e-bikes" asks this space to count, as a measure would (it names no measure: no name).
        for value, _ in self.vocabulary.counted_values():
            if len(value) >= 2 and not value.isdigit():
                terms += [
                    RoutingTerm(f"how many {value}", "measure"),
                    RoutingTerm(f"number of {value}", "measure"),
                ]
        return terms

    def ask(
        self, question: str, conversation_id: str | None = None, *, identity: Identity | None = None
    ) -> SpaceAnswer:
        history = user_questions(question)  # databricks-langchain GenieAgent's chat-history message
        if history is not None:
            return ask_with_history(self, history, identity=identity)
        planned = self.plan(question, conversation_id, identity=identity)
        if isinstance(planned, SpaceAnswer):
            return planned
        return self.answered(planned, self._executor.execute(planned.sql, self.definition.physical_tables))

    def plan(
        self, question: str, conversation_id: str | None = None, *, identity: Identity | None = None
    ) -> PlannedQuery | SpaceAnswer:
        """The SQL that answers ``question`` (a verified query's, or the plan's compiled), or the
        space's answer when it cannot be answered (``no_answer``, recorded in the conversation).
        Raises as :meth:`ask` does for an empty question or a request to change data."""
        user = identity.user if identity is not None else LOCAL_USER
        row_filters = dict(identity.filters_for(self.definition.id)) if identity is not None else {}
        if not question.strip():
            raise UserInputError("The question is empty.", "Ask something like: " + self._example())
        verb = write_intent(question)
        if verb:
            raise UnsafeRequestError(
                f"The {self.definition.title} space is read-only: it will not {verb} data.",
                "Ask a question about the data instead.",
            )
        started = time.perf_counter()
        if conversation_id is not None and self._conversations.owner(conversation_id) not in (None, user):
            conversation_id = None  # another user's conversation: start a new one, reveal nothing
        conv_id = conversation_id or ConversationStore.new_id()
        # Verified SQL cannot be narrowed safely by row filters: restricted users get compiled SQL.
        verified = (
            self._verified.get(_normalized(question)) if self._use_verified and not row_filters else None
        )
        if verified is not None:
            text = f"Verified answer: {verified.question}"
            return PlannedQuery(conv_id, question, None, verified.sql, text, started, user)

        parsed = parse_question(question, self.vocabulary)
        previous = (
            self._conversations.last_plan(conv_id, self.definition.id, user) if conversation_id else None
        )
        plan: QueryPlan = parsed.plan
        if previous is not None and (not parsed.has_measure or parsed.followup_cue):
            plan = merge_followup(previous, parsed)
        declined = self._not_understood(parsed, plan)
        if declined is not None:
            return self._no_answer(conv_id, question, declined, user)
        try:
            compiled = compile_plan(self.definition, plan, row_filters=row_filters)
        except PlanError as exc:
            text = str(exc)
            if not plan.measures:
                measures = ", ".join(m.name for m in self.definition.measures)
                text = (
                    f"I couldn't match that question to the {self.definition.title} space. "
                    f"It answers questions about: {measures}."
                )
            return self._no_answer(conv_id, question, text, user)
        parse_ms = (time.perf_counter() - started) * 1000
        return PlannedQuery(
            conv_id, question, plan, compiled.sql, compiled.description, started, user, parse_ms
        )

    def _not_understood(self, parsed: ParsedQuestion, plan: QueryPlan) -> str | None:
        """Why the question cannot be answered as asked, naming what was not understood."""
        d = self.definition
        if parsed.unknown_words and not plan.unknown_groupings:
            words = ", ".join(repr(w) for w in parsed.unknown_words)
            measures = ", ".join(m.name for m in d.measures)
            return (
                f"The {d.title} space has no data about {words}, so I won't guess. "
                f"It answers questions about: {measures}."
            )
        if plan.unknown_groupings:
            known = ", ".join(x.name for x in d.dimensions)
            words = ", ".join(repr(w) for w in plan.unknown_groupings)
            return (
                f"The {d.title} space has nothing called {words} to break results down by. "
                f"It can group by: {known}, or by month, quarter or year."
            )
        for phrases, lead in (
            (parsed.unplaced, "I could not tell what {} means in this question"),
            (parsed.unused, "I did not understand how to use {} here"),
        ):
            if phrases:
                understood = describe(d, plan) if plan.measures else "no measure"
                words = ", ".join(repr(w) for w in phrases)
                return f"{lead.format(words)}, so I won't guess. What I understood: {understood}."
        if parsed.problems:
            return (
                "I can't answer that as asked: I could not tell "
                + "; ".join(parsed.problems)
                + ". Please rephrase."
            )
        return None

    def answered(self, planned: PlannedQuery, result: QueryResult) -> SpaceAnswer:
        """The answer of a planned query whose ``result`` came back, recorded in its conversation."""
        conv_id, plan, sql = planned.conversation_id, planned.plan, planned.sql
        message_id = self._conversations.add(
            conv_id, self.definition.id, planned.question, plan, sql, planned.user
        )
        elapsed = {"query": result.elapsed_ms, "total": (time.perf_counter() - planned.started) * 1000}
        if planned.nl_to_sql_ms is not None:
            elapsed["nl_to_sql"] = planned.nl_to_sql_ms
        return SpaceAnswer(
            domain=self.definition.id,
            status="completed",
            text=planned.text,
            conversation_id=conv_id,
            message_id=message_id,
            sql=sql,
            columns=result.columns,
            column_types=result.column_types,
            rows=result.rows,
            row_count=result.row_count,
            truncated=result.truncated,
            suggested_questions=(),
            elapsed_ms=elapsed,
            column_formats=self._column_formats(plan, result.columns),
        )

    def _column_formats(self, plan: QueryPlan | None, columns: Sequence[str]) -> tuple[str, ...]:
        """``key`` for a column the plan groups by, a measure's format for a column named as the
        measure; ``""`` for any other (the answer's writer then reads the column's name and values)."""
        keys = {*plan.group_by, plan.time_grain, plan.per_group} if plan is not None else set()
        formats = {m.name: m.format for m in self.definition.measures}
        return tuple("key" if c in keys else formats.get(c, "") for c in columns)

    def _no_answer(self, conv_id: str, question: str, text: str, user: str) -> SpaceAnswer:
        message_id = self._conversations.add(conv_id, self.definition.id, question, None, None, user)
        return SpaceAnswer(
            domain=self.definition.id,
            status="no_answer",
            text=text,
            conversation_id=conv_id,
            message_id=message_id,
            suggested_questions=self.definition.sample_questions[:4],
        )

    def _example(self) -> str:
        return self.definition.sample_questions[0] if self.definition.sample_questions else "a question"
