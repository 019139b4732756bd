"""The ``serialized_space`` of a Genie space: what ``POST /api/2.0/genie/spaces`` takes and
``GET .../spaces/{id}?include_serialized_space=true`` gives, as a JSON string.

Where the shape comes from (nothing here is invented):

- the REST reference, docs.databricks.com/api/genie/v1 (the GenieSpace object, create, get, update
  with ``etag``) and its example serialized space: ``version`` 2; ``config.sample_questions``
  (``id``, ``question``); ``data_sources.tables`` (``identifier``, ``description``,
  ``column_configs``); ``instructions.text_instructions`` (``id``, ``content``) and
  ``instructions.example_question_sqls`` (``id``, ``question``, ``sql``);
- "Use the Genie Spaces API", section "Understanding the serialized_space field"
  (docs.databricks.com/aws/en/genie/conversation-api), as public clients quote it: ids are 32
  lowercase hex characters; lists are sorted (tables by ``identifier``, column configs by
  ``column_name``, the rest by ``id``); at most one text instruction; a join specification's ``sql``
  is the condition over backticked aliases then the relationship annotation
  (``--rt=FROM_RELATIONSHIP_TYPE_MANY_TO_ONE--``); ``join_specs`` entries carry ``left``/``right``
  as ``{identifier, alias}``;
- column configs' ``synonyms`` and ``enable_entity_matching`` (version 2) as public clients that
  create and read spaces write them.

Text fields are lists of strings (lines, each but the last ending in a newline). Our measures have
no confirmed place in the format (``sql_snippets`` shapes differ between public sources), so they
are not sent: a space's own ``instructions`` are where it says how its main figures are computed.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..spaces.semantic_model import Dimension, SpaceDefinition, TimeDimension
from .sql_names import backticked_condition, qualified_sql

__all__ = [
    "MANY_TO_ONE",
    "SERIALIZED_VERSION",
    "ColumnConfig",
    "ExampleQuestionSql",
    "JoinSide",
    "JoinSpec",
    "SampleQuestion",
    "SerializedSpace",
    "TableSource",
    "TextInstruction",
    "serialize_definition",
    "text_of",
]

SERIALIZED_VERSION = 2
MANY_TO_ONE = "--rt=FROM_RELATIONSHIP_TYPE_MANY_TO_ONE--"
_COLUMN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)")


class _Part(BaseModel):
    # Reading is lenient (a workspace may add fields); genie-server validates what it accepts.
    model_config = ConfigDict(extra="ignore", frozen=True)


class SampleQuestion(_Part):
    id: str
    question: list[str]


class ColumnConfig(_Part):
    column_name: str
    description: list[str] = []
    synonyms: list[str] = []


class TableSource(_Part):
    identifier: str
    description: list[str] = []
    column_configs: list[ColumnConfig] = []


class TextInstruction(_Part):
    id: str
    content: list[str]


class ExampleQuestionSql(_Part):
    id: str
    question: list[str]
    sql: list[str]


class JoinSide(_Part):
    identifier: str
    alias: str


class JoinSpec(_Part):
    id: str
    left: JoinSide
    right: JoinSide
    sql: list[str]


class _Config(_Part):
    sample_questions: list[SampleQuestion] = []


class _DataSources(_Part):
    tables: list[TableSource] = []


class _Instructions(_Part):
    text_instructions: list[TextInstruction] = []
    example_question_sqls: list[ExampleQuestionSql] = []
    join_specs: list[JoinSpec] = []


class SerializedSpace(_Part):
    """The parts of a serialized space this package reads."""

    version: int
    config: _Config = _Config()
    data_sources: _DataSources = _DataSources()
    instructions: _Instructions = _Instructions()

    @classmethod
    def parse(cls, text: str) -> SerializedSpace:
        """Raises ValueError (pydantic's ValidationError is one) for text that is not a serialized space."""
        return cls.model_validate(json.loads(text))

    @property
    def table_identifiers(self) -> list[str]:
        return [t.identifier for t in self.data_sources.tables]

    @property
    def sample_questions(self) -> list[str]:
        return [text_of(q.question) for q in self.config.sample_questions]

    @property
    def instructions_text(self) -> str:
        return "\n".join(text_of(t.content) for t in self.instructions.text_instructions)


def text_of(lines: list[str]) -> str:
    """A text field's lines as one string."""
    return "".join(lines).strip()


def _lines(text: str) -> list[str]:
    return text.strip().splitlines(keepends=True)


def _id(*parts: str) -> str:
    """A stable id (32 lowercase hex): the same space serializes to the same text every time."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def _columns(space: SpaceDefinition, namespace: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Column configs by table identifier, then column: the synonyms and description of every
    dimension that is a plain column (``alias.column``)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    named: list[Dimension | TimeDimension] = [*space.dimensions, *space.time_dimensions]
    for dim in named:
        m = _COLUMN.fullmatch(dim.expr.strip())
        if m is None or m.group(1) not in space.table_by_alias:
            continue
        identifier = f"{namespace}.{space.table_by_alias[m.group(1)].physical}"
        config = out.setdefault(identifier, {}).setdefault(m.group(2), {"column_name": m.group(2)})
        synonyms = config.setdefault("synonyms", [])
        for phrase in dim.phrases:
            if phrase not in synonyms and phrase != m.group(2):
                synonyms.append(phrase)
        if dim.description:
            config.setdefault("description", []).extend(_lines(dim.description))
        if isinstance(dim, Dimension) and dim.index_values:
            config["enable_entity_matching"] = True
    return out


def serialize_definition(space: SpaceDefinition, *, catalog: str, schema: str) -> dict[str, Any]:
    """A local space as a serialized Genie space over ``catalog.schema``: its tables (with the
    synonyms of its dimensions' columns), instructions, sample questions, verified queries as example
    question/SQL pairs (rewritten for Databricks SQL over those tables) and joins. ``json.dumps`` it
    for ``serialized_space``."""
    namespace = f"{catalog}.{schema}"
    columns = _columns(space, namespace)
    tables: dict[str, dict[str, Any]] = {}
    for ref in space.tables:
        identifier = f"{namespace}.{ref.physical}"
        table = tables.setdefault(identifier, {"identifier": identifier})
        if ref.description:
            table.setdefault("description", []).extend(_lines(ref.description))
    for identifier, configs in columns.items():
        tables[identifier]["column_configs"] = [configs[c] for c in sorted(configs)]
    samples = [{"id": _id(space.id, "sample", q), "question": [q]} for q in space.sample_questions]
    instructions: dict[str, Any] = {}
    if space.instructions.strip():
        text = {"id": _id(space.id, "text", space.instructions), "content": _lines(space.instructions)}
        instructions["text_instructions"] = [text]
    examples = [
        {
            "id": _id(space.id, "example", v.question),
            "question": [v.question],
            "sql": _lines(qualified_sql(v.sql, catalog, schema)),
        }
        for v in space.verified_queries
    ]
    if examples:
        instructions["example_question_sqls"] = sorted(examples, key=lambda e: e["id"])
    joins = [
        {
            "id": _id(space.id, "join", j.from_, j.to, j.on),
            "left": {"identifier": f"{namespace}.{space.table_by_alias[j.from_].physical}", "alias": j.from_},
            "right": {"identifier": f"{namespace}.{space.table_by_alias[j.to].physical}", "alias": j.to},
            "sql": [backticked_condition(j.on), MANY_TO_ONE],
        }
        for j in space.joins
    ]
    if joins:
        instructions["join_specs"] = sorted(joins, key=lambda j: j["id"])
    out: dict[str, Any] = {"version": SERIALIZED_VERSION}
    if samples:
        out["config"] = {"sample_questions": sorted(samples, key=lambda s: s["id"])}
    out["data_sources"] = {"tables": [tables[k] for k in sorted(tables)]}
    if instructions:
        out["instructions"] = instructions
    return out
