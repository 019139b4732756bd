"""The sidecar: a space file whose semantic model is in metric view files, with what they cannot say.

```yaml
id: sales                      # the space, as in a space file (id, title, description, instructions,
title: Sales                   #   database, sample_questions, filters, verified_queries)
database: tpch
metric_views: [sales_lineitem.metric_view.yaml, {file: sales_orders.metric_view.yaml, source_alias: o}]
time_dimensions: [order date]  # dimensions that are dates
dimensions:                    # per dimension, what a metric view has no field for
  order priority: {value_synonyms: {1-URGENT: [urgent]}}
  customer: {entity: true, index_values: false}
measures:                      # per measure: column measures (agg), default date, filter column, ...
  revenue: {time_dimension: order date, format: currency}
more_synonyms: {revenue: [...]}  # beyond the specification's 10
table_descriptions: {lineitem: ...}
order: {measures: [...]}       # only when the views' order is not the model's
unplaced: {...}                # model parts no view can hold, in the space file's own form
```

A catalog lists the sidecar like any space file; :mod:`.load` builds the space from it and its views.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from ..spaces.semantic_model import (
    Aggregation,
    Dimension,
    Join,
    Measure,
    NamedFilter,
    NumberFormat,
    TableRef,
    TimeDimension,
    Unit,
    VerifiedQuery,
)

__all__ = ["DimensionExtra", "MeasureExtra", "Order", "Sidecar", "Unplaced", "ViewFile"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ViewFile(_Model):
    """A metric view file (relative to the sidecar); ``source_alias`` when the source table's alias in
    the model is not the table's own name."""

    file: str
    source_alias: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: object) -> object:
        return {"file": data} if isinstance(data, str) else data


class DimensionExtra(_Model):
    unit: Unit | None = None
    index_values: bool | None = None
    entity: bool | None = None
    value_synonyms: dict[str, tuple[str, ...]] | None = None


class MeasureExtra(_Model):
    agg: Aggregation | None = None  # a column measure: the expression is AGG(column)
    time_dimension: str | None = None
    format: NumberFormat | None = None
    fanout_safe: bool | None = None
    filter_column: str | None = None
    superlatives: dict[str, Any] | None = None
    divisible: bool | None = None
    unit: Unit | None = None


class Order(_Model):
    """The model's order of each list, where reading the views in turn would give another."""

    tables: tuple[str, ...] | None = None
    joins: tuple[str, ...] | None = None  # "from->to"
    dimensions: tuple[str, ...] | None = None
    time_dimensions: tuple[str, ...] | None = None
    measures: tuple[str, ...] | None = None


class Unplaced(_Model):
    """Parts of the model no view can hold (a dimension no measure's table reaches, say)."""

    tables: tuple[TableRef, ...] = ()
    joins: tuple[Join, ...] = ()
    dimensions: tuple[Dimension, ...] = ()
    time_dimensions: tuple[TimeDimension, ...] = ()
    measures: tuple[Measure, ...] = ()


class Sidecar(_Model):
    id: str | None = None
    title: str | None = None
    description: str | None = None
    instructions: str = ""
    database: str | None = None
    sample_questions: tuple[str, ...] = ()
    metric_views: tuple[ViewFile, ...]
    time_dimensions: tuple[str, ...] = ()
    dimensions: dict[str, DimensionExtra] = {}
    measures: dict[str, MeasureExtra] = {}
    more_synonyms: dict[str, tuple[str, ...]] = {}
    table_descriptions: dict[str, str] = {}
    filters: tuple[NamedFilter, ...] = ()
    verified_queries: tuple[VerifiedQuery, ...] = ()
    order: Order | None = None
    unplaced: Unplaced | None = None

    def to_yaml_data(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, exclude_defaults=True, by_alias=True)
