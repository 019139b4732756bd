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

- ``instructions.sql_snippets``, as the public prompt-to-genie skill documents it
  (github.com/sean-zhang-dbx/prompt-to-genie, ``references/schema.md`` and
  ``create-genie-space/references/schema.md``): an object of three lists, ``measures`` (``id``,
  ``alias``, ``sql``; optional ``display_name``, ``synonyms``, ``instruction``, ``comment``),
  ``filters`` (``id``, ``display_name``, ``sql``; optional ``synonyms`` ...) and ``expressions``
  (``id``, ``alias``, ``sql``; optional ``display_name``, ``synonyms`` ...), each sorted by ``id``;
  ``sql`` is a list of strings (a plain string is refused), a filter's without ``WHERE``, and every
  column qualified by its table.

Text fields are lists of strings (lines, each but the last ending in a newline). Our measures go in
``sql_snippets.measures`` (their name as ``display_name``, their other phrases as ``synonyms``), named
filters in ``filters``, and dimensions that are not a plain column in ``expressions``; their SQL names
a table by its own name where the space reads it under one alias, else by the alias its join
specifications give it.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from ..spaces.semantic_model import Dimension, SpaceDefinition, TimeDimension, referenced_aliases
from .sql_names import backticked_condition, qualified_sql, snippet_sql

__all__ = [
    "MANY_TO_ONE",
    "SERIALIZED_VERSION",
    "ColumnConfig",
    "ExampleQuestionSql",
    "JoinSide",
    "JoinSpec",
    "SampleQuestion",
    "SerializedSpace",
    "SqlSnippet",
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


def _as_lines(value: object) -> object:
    return [value] if isinstance(value, str) else value


Lines = Annotated[list[str], BeforeValidator(_as_lines)]
"""A text field: a list of lines, or one string where a writer gave one."""


class ColumnConfig(_Part):
    column_name: str
    description: Lines = []
    synonyms: Lines = []
    exclude: bool = False


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


class SqlSnippet(_Part):
    """A measure, filter or expression of ``instructions.sql_snippets``."""

    id: str
    sql: Lines
    alias: str = ""
    display_name: str = ""
    synonyms: Lines = []
    instruction: Lines = []
    comment: Lines = []


class SqlSnippets(_Part):
    measures: list[SqlSnippet] = []
    filters: list[SqlSnippet] = []
    expressions: list[SqlSnippet] = []


class _Config(_Part):
    sample_questions: list[SampleQuestion] = []


class _DataSources(_Part):
    tables: list[TableSource] = []
    metric_views: list[TableSource] = []


class _Instructions(_Part):
    text_instructions: list[TextInstruction] = []
    example_question_sqls: list[ExampleQuestionSql] = []
    join_specs: list[JoinSpec] = []
    sql_snippets: SqlSnippets = SqlSnippets()


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


def _snippet_name(name: str) -> str:
    """A snippet's ``alias``: the name as an identifier ("average order value" -> average_order_value)."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "snippet"


def _snippets(space: SpaceDefinition, namespace: str) -> dict[str, list[dict[str, Any]]]:
    """The space's measures, named filters and computed dimensions as ``sql_snippets``."""
    aliases_of: dict[str, list[str]] = {}
    for ref in space.tables:
        aliases_of.setdefault(ref.physical, []).append(ref.name)
    # A table read under one alias is named by itself; one read under several keeps the alias its join
    # specifications give it.
    names = {
        ref.name: ref.physical if len(aliases_of[ref.physical]) == 1 else ref.name for ref in space.tables
    }

    def snippet(
        kind: str, name: str, sql: str, synonyms: tuple[str, ...], notes: list[str]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"id": _id(space.id, kind, name), "alias": _snippet_name(name)}
        out |= {"display_name": name, "sql": [snippet_sql(sql, names)]}
        if synonyms:
            out["synonyms"] = [s for s in dict.fromkeys(synonyms) if s != name]
        if notes:
            out["comment"] = _lines("\n".join(notes))
        return out

    measures = []
    for m in space.measures:
        sql = m.sql()
        notes = [m.description] if m.description else []
        if not referenced_aliases(sql):  # COUNT(*): the rows it counts are its grain's
            notes.append(f"Counts rows of {namespace}.{space.table_by_alias[m.table].physical}.")
        measures.append(snippet("measure", m.name, sql, m.synonyms, notes))
    filters = [
        {k: v for k, v in snippet("filter", f.name, f.expr, f.synonyms, []).items() if k != "alias"}
        for f in space.filters
    ]
    named: list[Dimension | TimeDimension] = [*space.dimensions, *space.time_dimensions]
    computed = [d for d in named if _COLUMN.fullmatch(d.expr.strip()) is None]
    expressions = [
        snippet("expression", d.name, d.expr, d.synonyms, [d.description] if d.description else [])
        for d in computed
    ]
    parts = {"filters": filters, "expressions": expressions, "measures": measures}
    return {k: sorted(v, key=lambda x: x["id"]) for k, v in parts.items() if v}


def serialize_definition(space: SpaceDefinition, *, catalog: str, schema: str) -> dict[str, Any]:
    """A local space as a serialized Genie space over ``catalog.schema``: its tables (with the
    synonyms of its dimensions' columns), instructions, sample questions, verified queries as example
    question/SQL pairs (rewritten for Databricks SQL over those tables), joins, and its measures,
    named filters and computed dimensions as SQL snippets. ``json.dumps`` it
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
    snippets = _snippets(space, namespace)
    if snippets:
        instructions["sql_snippets"] = snippets
    out: dict[str, Any] = {"version": SERIALIZED_VERSION}
    if samples:
        out["config"] = {"sample_questions": sorted(samples, key=lambda s: s["id"])}
    out["data_sources"] = {"tables": [tables[k] for k in sorted(tables)]}
    if instructions:
        out["instructions"] = instructions
    return out
