"""Export: a space's semantic model as metric views, one per measure table, and their sidecar.

A metric view computes its measures over the rows of one ``source``; our measures name that table
(``table``, the grain). So a space exports one view per grain: the grain's table as ``source``, every
table reachable from it through the model's many-to-one joins as (nested) ``joins``, every dimension
those tables can answer, and the measures of that grain. What no view field holds goes to the
sidecar (:mod:`.sidecar`). The export is checked by importing it again (:func:`.load.build_space`):
it must give back the same space, or the export fails and says what differs.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..spaces.semantic_model import (
    Dimension,
    Join,
    Measure,
    SpaceDefinition,
    TimeDimension,
    referenced_aliases,
)
from .expressions import ExpressionError, to_view
from .sidecar import DimensionExtra, MeasureExtra, Order, Sidecar, Unplaced, ViewFile
from .spec import (
    MAX_SYNONYMS,
    SPEC_VERSION,
    DecimalPlaces,
    MetricView,
    ViewDimension,
    ViewFormat,
    ViewJoin,
    ViewMeasure,
)

__all__ = ["ExportedView", "SpaceExport", "create_view_sql", "export_space", "space_to_metric_views"]

_CURRENCY_CODES = frozenset(
    {"EUR", "USD", "GBP", "CHF", "JPY", "CNY", "INR", "CAD", "AUD", "SEK", "NOK", "DKK"}
)
_DIMENSION_EXTRAS = ("unit", "index_values", "entity", "value_synonyms")
_MEASURE_EXTRAS = ("time_dimension", "fanout_safe", "filter_column", "superlatives", "divisible", "unit")


@dataclass(frozen=True)
class ExportedView:
    name: str  # the metric view's name (an identifier)
    grain: str  # the alias of its source table
    view: MetricView


@dataclass(frozen=True)
class SpaceExport:
    views: tuple[ExportedView, ...]
    sidecar: Sidecar


def _view_format(measure: Measure) -> ViewFormat | None:
    """The measure's format as the spec's ``format``; None when the spec cannot say it exactly."""
    if measure.format == "integer":
        return ViewFormat(type="number", decimal_places=DecimalPlaces(type="exact", places=0))
    if measure.format == "percent":
        return ViewFormat(type="percentage")
    if measure.format == "currency" and measure.unit and measure.unit.name.upper() in _CURRENCY_CODES:
        return ViewFormat(type="currency", currency_code=measure.unit.name.upper())
    return None


class _Tree:
    """The tables a grain reaches through many-to-one joins, breadth first (shortest paths)."""

    def __init__(self, space: SpaceDefinition, grain: str) -> None:
        self.root = grain
        self.parent: dict[str, str] = {}
        self.joins: dict[tuple[str, str], Join] = {}
        self.order: list[str] = [grain]
        queue = deque([grain])
        while queue:
            alias = queue.popleft()
            for join in space.joins:
                # A join's `on` may name only its two tables: the spec resolves the parent and itself.
                placeable = referenced_aliases(join.on) <= {join.from_, join.to}
                if join.from_ == alias and join.to not in self.order and placeable:
                    self.parent[join.to] = alias
                    self.joins[(alias, join.to)] = join
                    self.order.append(join.to)
                    queue.append(join.to)

    def path(self, alias: str) -> str:
        steps = []
        while alias != self.root:
            steps.append(alias)
            alias = self.parent[alias]
        return ".".join(reversed(steps)) or "source"

    def view_joins(
        self, parent: str, space: SpaceDefinition, catalog: str, schema: str
    ) -> tuple[ViewJoin, ...]:
        out = []
        for child in (c for c in self.order if self.parent.get(c) == parent):
            join = self.joins[(parent, child)]
            on = to_view(join.on, {parent: "source" if parent == self.root else parent, child: child})
            nested = self.view_joins(child, space, catalog, schema)
            physical = space.table_by_alias[child].physical
            out.append(ViewJoin(name=child, source=f"{catalog}.{schema}.{physical}", on=on, joins=nested))
        return tuple(out)


def _dimension(item: Dimension | TimeDimension, paths: dict[str, str]) -> ViewDimension:
    return ViewDimension(
        name=item.name,
        expr=to_view(item.expr, paths),
        comment=item.description or None,
        synonyms=item.synonyms[:MAX_SYNONYMS],
    )


def _measure(measure: Measure, paths: dict[str, str]) -> ViewMeasure:
    return ViewMeasure(
        name=measure.name,
        expr=to_view(measure.sql(), paths),
        comment=measure.description or None,
        synonyms=measure.synonyms[:MAX_SYNONYMS],
        format=_view_format(measure),
    )


def _view_name(space_id: str, grain: str) -> str:
    return f"{space_id}_{grain}".replace("-", "_")


def _sidecar(space: SpaceDefinition, views: list[ExportedView], unplaced: Unplaced) -> Sidecar:
    placed = {i.name for v in views for i in (*v.view.dimensions, *v.view.measures)}
    dimensions = {
        d.name: DimensionExtra.model_validate(
            d.model_dump(include=set(_DIMENSION_EXTRAS), exclude_defaults=True)
        )
        for d in space.dimensions
        if d.name in placed and d.model_dump(include=set(_DIMENSION_EXTRAS), exclude_defaults=True)
    }
    measures: dict[str, MeasureExtra] = {}
    for m in space.measures:
        data: dict[str, Any] = m.model_dump(include=set(_MEASURE_EXTRAS), exclude_defaults=True)
        if m.column is not None:
            data["agg"] = m.agg
        if m.format != "number" and _view_format(m) is None:
            data["format"] = m.format
        if data and m.name in placed:
            measures[m.name] = MeasureExtra.model_validate(data)
    items = (*space.dimensions, *space.time_dimensions, *space.measures)
    return Sidecar(
        id=space.id,
        title=space.title,
        description=space.description,
        instructions=space.instructions,
        database=space.database,
        sample_questions=space.sample_questions,
        metric_views=tuple(
            ViewFile(file=f"{v.name}.metric_view.yaml", source_alias=_alias_if_renamed(space, v.grain))
            for v in views
        ),
        time_dimensions=tuple(t.name for t in space.time_dimensions if t.name in placed),
        dimensions=dimensions,
        measures=measures,
        more_synonyms={
            i.name: i.synonyms[MAX_SYNONYMS:]
            for i in items
            if len(i.synonyms) > MAX_SYNONYMS and i.name in placed
        },
        table_descriptions={t.name: t.description for t in space.tables if t.description},
        filters=space.filters,
        verified_queries=space.verified_queries,
        unplaced=unplaced if unplaced.model_dump(exclude_defaults=True) else None,
    )


def _alias_if_renamed(space: SpaceDefinition, alias: str) -> str | None:
    return alias if space.table_by_alias[alias].physical != alias else None


def space_to_metric_views(space: SpaceDefinition, *, catalog: str, schema: str) -> SpaceExport:
    """The views (one per measure table) and the sidecar; raises ExpressionError if re-importing them
    would not give back ``space``."""
    grains = list(dict.fromkeys(m.table for m in space.measures))
    views: list[ExportedView] = []
    placed_dims: set[str] = set()
    placed_measures: set[str] = set()
    placed_joins: set[tuple[str, str]] = set()
    candidates: tuple[Dimension | TimeDimension, ...] = (*space.dimensions, *space.time_dimensions)
    for grain in grains:
        tree = _Tree(space, grain)
        paths = {alias: tree.path(alias) for alias in tree.order}
        reach = set(tree.order)
        fields = [d for d in candidates if referenced_aliases(d.expr) <= reach]
        measures = [m for m in space.measures if m.table == grain and referenced_aliases(m.sql()) <= reach]
        view = MetricView(
            version=SPEC_VERSION,
            comment=space.description or None,
            source=f"{catalog}.{schema}.{space.table_by_alias[grain].physical}",
            joins=tree.view_joins(grain, space, catalog, schema),
            dimensions=tuple(_dimension(d, paths) for d in fields),
            measures=tuple(_measure(m, paths) for m in measures),
        )
        views.append(ExportedView(_view_name(space.id, grain), grain, view))
        placed_dims |= {d.name for d in fields}
        placed_measures |= {m.name for m in measures}
        placed_joins |= set(tree.joins)
    placed_tables = {a for v in views for a in _Tree(space, v.grain).order}
    unplaced = Unplaced(
        tables=tuple(t for t in space.tables if t.name not in placed_tables),
        joins=tuple(j for j in space.joins if (j.from_, j.to) not in placed_joins),
        dimensions=tuple(d for d in space.dimensions if d.name not in placed_dims),
        time_dimensions=tuple(d for d in space.time_dimensions if d.name not in placed_dims),
        measures=tuple(m for m in space.measures if m.name not in placed_measures),
    )
    sidecar = _sidecar(space, views, unplaced)
    sidecar = sidecar.model_copy(update={"order": _order(space, sidecar, views)})
    rebuilt = _rebuild(sidecar, views)
    if rebuilt.model_dump() != space.model_dump():
        differs = [k for k, v in space.model_dump().items() if rebuilt.model_dump()[k] != v]
        raise ExpressionError(f"space {space.id!r}: the metric views would not give back its {differs}")
    return SpaceExport(tuple(views), sidecar)


def _rebuild(sidecar: Sidecar, views: list[ExportedView]) -> SpaceDefinition:
    from .load import build_space

    entries = list(zip(sidecar.metric_views, (v.view for v in views), strict=True))
    data, problems = build_space(sidecar, entries, default_id=sidecar.id or "")
    if problems:
        raise ExpressionError("; ".join(problems))
    return SpaceDefinition.model_validate(data)


def _order(space: SpaceDefinition, sidecar: Sidecar, views: list[ExportedView]) -> Order | None:
    """The model's order of each list where reading the views in turn gives another."""
    rebuilt = _rebuild(sidecar, views)
    wanted: dict[str, tuple[str, ...]] = {}
    for kind in ("tables", "joins", "dimensions", "time_dimensions", "measures"):
        names = [_key(x) for x in getattr(space, kind)]
        if names != [_key(x) for x in getattr(rebuilt, kind)]:
            wanted[kind] = tuple(names)
    return Order.model_validate(wanted) if wanted else None


def _key(item: Any) -> str:
    return f"{item.from_}->{item.to}" if hasattr(item, "from_") else str(item.name)


def create_view_sql(name: str, view: MetricView) -> str:
    """``CREATE OR REPLACE VIEW name WITH METRICS LANGUAGE YAML AS $$ ... $$`` for ``view``."""
    body = dump_yaml(view.to_yaml_data())
    if "$$" in body:
        raise ExpressionError(f"metric view {name}: its YAML contains `$$`, which would end the definition")
    return f"CREATE OR REPLACE VIEW {name}\nWITH METRICS\nLANGUAGE YAML\nAS $$\n{body}$$;\n"


def dump_yaml(data: object) -> str:
    """YAML for people: keys in the order given, multi-line text as literal blocks."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
            super().increase_indent(flow, False)  # lists indented under their key

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    def words(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.SequenceNode:
        flow = all(isinstance(v, str) and "\n" not in v for v in value)  # synonyms: [a, b]
        return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)

    _Dumper.add_representer(str, text)
    _Dumper.add_representer(list, words)
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)


def _quoted(*parts: str) -> str:
    return ".".join(f"`{p.replace('`', '``')}`" for p in parts)


def export_space(
    space_definition: SpaceDefinition,
    out_dir: Path,
    *,
    catalog: str,
    schema: str,
    view_schema: str | None = None,
) -> list[Path]:
    """Write the space's metric views (``<view>.metric_view.yaml`` and the ``<view>.sql`` that creates
    it) and the sidecar ``<space>.space.yaml`` under ``out_dir``; return the paths written.

    ``catalog``/``schema``: where the space's tables are; ``view_schema`` (``catalog.schema``): where the
    views are created, by default beside the tables.
    """
    export = space_to_metric_views(space_definition, catalog=catalog, schema=schema)
    target = view_schema.split(".") if view_schema else [catalog, schema]
    if len(target) != 2 or not all(target):
        raise ExpressionError(f"view schema {view_schema!r} must be CATALOG.SCHEMA")
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for exported in export.views:
        yaml_path = out_dir / f"{exported.name}.metric_view.yaml"
        yaml_path.write_text(dump_yaml(exported.view.to_yaml_data()))
        sql_path = out_dir / f"{exported.name}.sql"
        sql_path.write_text(create_view_sql(_quoted(*target, exported.name), exported.view))
        written += [yaml_path, sql_path]
    sidecar_path = out_dir / f"{space_definition.id}.space.yaml"
    header = (
        f"# Space {space_definition.id!r}: its model is in the metric views under `metric_views`;\n"
        "# this file keeps what they cannot say. List it in a catalog's `spaces` like a space file.\n"
    )
    sidecar_path.write_text(header + dump_yaml(export.sidecar.to_yaml_data()))
    return [*written, sidecar_path]
