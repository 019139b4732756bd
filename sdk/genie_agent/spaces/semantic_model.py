"""The space definition format: a Genie-like space plus a semantic model, loaded from YAML.

A space file describes one space the way a Genie space is configured (title, description,
instructions, sample questions) and the semantic model the local engine compiles questions
against: tables (with aliases), many-to-one joins, dimensions, time dimensions, measures,
named filters and verified question -> SQL pairs. Every column reference in an expression is
qualified by a table alias (``orders.o_orderdate``), which is how the planner knows which
tables an expression needs.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "Dimension",
    "Join",
    "Measure",
    "NamedFilter",
    "SpaceDefinition",
    "TableRef",
    "TimeDimension",
    "Unit",
    "VerifiedQuery",
    "referenced_aliases",
]

Aggregation = Literal["sum", "avg", "min", "max", "count", "count_distinct"]
NumberFormat = Literal["number", "currency", "percent", "integer"]

_QUALIFIED = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)\b")
_STRING = re.compile(r"'(?:[^']|'')*'")


def referenced_aliases(expr: str) -> set[str]:
    """Table aliases an expression refers to (``alias.column``), ignoring string literals."""
    return {m.group(1) for m in _QUALIFIED.finditer(_STRING.sub("''", expr))}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TableRef(_Model):
    """A table used by the space, under an alias (defaults to the table name)."""

    name: str = Field(description="Alias used in expressions and joins.")
    table: str | None = Field(default=None, description="Physical table; defaults to `name`.")
    description: str = ""

    @property
    def physical(self) -> str:
        return self.table or self.name


class Join(_Model):
    """A many-to-one join: every row of ``from`` matches at most one row of ``to``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    on: str

    @model_validator(mode="before")
    @classmethod
    def _yaml_on_key(cls, data: object) -> object:
        # YAML 1.1 reads an unquoted `on:` key as the boolean True.
        if isinstance(data, dict) and True in data:
            data = {("on" if k is True else k): v for k, v in data.items()}
        return data


class _Named(_Model):
    name: str
    synonyms: tuple[str, ...] = ()
    description: str = ""

    @property
    def phrases(self) -> tuple[str, ...]:
        return (self.name, *self.synonyms)


class Unit(_Model):
    """The unit a measure's or a numeric column's values are in: ``unit: minutes`` or
    ``unit: {name: EUR, synonyms: [euro, euros]}``. A question that writes it after a number ("rides
    of 30 to 60 minutes", "a fare from 5 to 10 euros") puts the condition on the column in that unit.
    Well-known units (seconds, minutes, hours, days, EUR, USD, GBP, km, miles, kg) bring their
    usual words; ``synonyms`` adds more."""

    name: str
    synonyms: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: object) -> object:
        return {"name": data} if isinstance(data, str) else data

    @property
    def phrases(self) -> tuple[str, ...]:
        return (self.name, *self.synonyms)


class Dimension(_Named):
    """A column to group or filter by. Its distinct values are indexed when ``index_values``."""

    expr: str
    unit: Unit | None = Field(default=None, description="The unit of a numeric column's values.")
    index_values: bool = True
    entity: bool = Field(
        default=False,
        description="Names individual things (customer, supplier): 'revenue per customer' divides by their count.",
    )
    value_synonyms: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="Extra phrases for a value, e.g. {'1-URGENT': ['urgent']}."
    )


class TimeDimension(_Named):
    """A date column. ``synonyms`` are words that select it ("shipped" selects the ship date)."""

    expr: str


class Measure(_Named):
    """An aggregate. Either ``expr`` (a full aggregate expression) or ``column`` + ``agg``.

    ``table`` is the grain: the measure is computed over that table's rows, and only tables
    reachable from it through many-to-one joins can be used without changing its value.
    A column measure's aggregation can be changed by the question ("average", "total", "max").
    ``fanout_safe`` marks measures whose value survives a one-to-many join (COUNT DISTINCT).
    """

    expr: str | None = None
    column: str | None = None
    agg: Aggregation = "sum"
    table: str
    time_dimension: str | None = Field(default=None, description="Default date for time filters.")
    format: NumberFormat = "number"
    fanout_safe: bool = False
    filter_column: str | None = Field(
        default=None,
        description="Row-level column a condition on this measure's noun filters ('balance over "
        "5000'); defaults to `column`.",
    )
    superlatives: dict[str, Literal["desc", "asc"]] = Field(
        default_factory=dict,
        description="Words that rank by this measure: {busiest: desc} for orders, {cheapest: asc} for price.",
    )
    divisible: bool = Field(
        default=True,
        description="May be divided by another measure or an entity count ('revenue per order').",
    )
    unit: Unit | None = Field(
        default=None, description="The unit of the measure's values and of its row column ('40 minutes')."
    )

    @model_validator(mode="after")
    def _one_definition(self) -> Measure:
        if (self.expr is None) == (self.column is None):
            raise ValueError(f"measure {self.name!r}: give exactly one of `expr` or `column`")
        return self

    def sql(self, agg: Aggregation | None = None) -> str:
        """The aggregate SQL, with the question's aggregation when the measure is a column."""
        if self.expr is not None:
            return self.expr
        assert self.column is not None
        chosen = agg or self.agg
        if chosen == "count_distinct":
            return f"COUNT(DISTINCT {self.column})"
        return f"{chosen.upper()}({self.column})"

    @property
    def row_column(self) -> str | None:
        """The column a row-level condition on this measure's noun filters, if any."""
        return self.filter_column or self.column


class NamedFilter(_Named):
    """A reusable condition, such as ``returned`` -> ``lineitem.l_returnflag = 'R'``."""

    expr: str


class VerifiedQuery(_Model):
    """A known question with its SQL: answered directly when a question matches it."""

    question: str
    sql: str


class SpaceDefinition(_Model):
    """One space: its Genie-like configuration and its semantic model."""

    id: str
    title: str
    description: str
    instructions: str = ""
    database: str = Field(description="Name of a database in the catalog's `databases`.")
    sample_questions: tuple[str, ...] = ()
    tables: tuple[TableRef, ...]
    joins: tuple[Join, ...] = ()
    dimensions: tuple[Dimension, ...] = ()
    time_dimensions: tuple[TimeDimension, ...] = ()
    measures: tuple[Measure, ...]
    filters: tuple[NamedFilter, ...] = ()
    verified_queries: tuple[VerifiedQuery, ...] = ()

    @field_validator("id")
    @classmethod
    def _id_is_a_name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_-]*", value):
            raise ValueError(f"space id {value!r} must be lowercase letters, digits, '_' or '-'")
        return value

    @model_validator(mode="after")
    def _references_resolve(self) -> SpaceDefinition:
        aliases = {t.name for t in self.tables}
        problems: list[str] = []
        for join in self.joins:
            for side in (join.from_, join.to):
                if side not in aliases:
                    problems.append(f"join {join.from_}->{join.to}: unknown table alias {side!r}")
        exprs: list[tuple[str, str]] = [(f"dimension {d.name!r}", d.expr) for d in self.dimensions]
        exprs += [(f"time dimension {d.name!r}", d.expr) for d in self.time_dimensions]
        exprs += [(f"filter {f.name!r}", f.expr) for f in self.filters]
        for m in self.measures:
            exprs.append((f"measure {m.name!r}", m.expr or m.column or ""))
            if m.filter_column:
                exprs.append((f"measure {m.name!r} filter_column", m.filter_column))
            if m.table not in aliases:
                problems.append(f"measure {m.name!r}: unknown table {m.table!r}")
            if m.time_dimension and m.time_dimension not in {t.name for t in self.time_dimensions}:
                problems.append(f"measure {m.name!r}: unknown time_dimension {m.time_dimension!r}")
        for what, expr in exprs:
            unknown = referenced_aliases(expr) - aliases
            if unknown:
                problems.append(f"{what}: unknown table alias(es) {sorted(unknown)} in {expr!r}")
        names = [x.name.lower() for x in (*self.dimensions, *self.time_dimensions, *self.measures)]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            problems.append(f"names used twice: {dupes}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @cached_property
    def table_by_alias(self) -> dict[str, TableRef]:
        return {t.name: t for t in self.tables}

    @cached_property
    def physical_tables(self) -> frozenset[str]:
        return frozenset(t.physical for t in self.tables)

    def measure(self, name: str) -> Measure:
        return next(m for m in self.measures if m.name == name)

    def dimension(self, name: str) -> Dimension:
        return next(d for d in self.dimensions if d.name == name)

    def time_dimension(self, name: str) -> TimeDimension:
        return next(d for d in self.time_dimensions if d.name == name)
