"""Import: a space from metric view files and their sidecar (:mod:`.sidecar`), as space-file data.

Each view gives a table (its source, under the alias its sidecar entry names, else the table's own
name), the tables of its joins (under the joins' names) and their many-to-one joins, its dimensions
and its measures (computed over its source's rows: their ``table`` is the source's alias). The same
dimension or join met in several views must say the same. The sidecar adds what the views cannot
say; the result is validated as any space file is (:class:`~genie_agent.spaces.semantic_model.SpaceDefinition`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .expressions import ExpressionError, from_view, qualify_bare_columns
from .sidecar import Sidecar, ViewFile
from .spec import MetricView, ViewDimension, ViewFormat, ViewJoin, ViewMeasure

__all__ = ["build_space", "read_space"]

_COLUMN_MEASURE = re.compile(
    r"^\s*(SUM|AVG|MIN|MAX|COUNT)\s*\(\s*(DISTINCT\s+)?(.+?)\s*\)\s*$", re.IGNORECASE
)
_DIMENSION_KEYS = ("name", "expr", "synonyms", "description")


def table_name(source: str) -> str:
    """The table of a three-part (or shorter) name: ``samples.tpch.orders`` -> ``orders``."""
    if not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*){0,2}", source.strip().replace("`", "")):
        raise ExpressionError(
            f"source {source!r} is not a table name: a SQL query as source is not supported"
        )
    return source.strip().replace("`", "").split(".")[-1]


def _join_tree(joins: tuple[ViewJoin, ...], parent: str) -> Iterator[tuple[str, ViewJoin]]:
    """(parent alias, join) for every join, depth first in the order written."""
    for join in joins:
        yield parent, join
        yield from _join_tree(join.joins, join.name)


def _format(view_format: ViewFormat | None) -> str:
    if view_format is None:
        return "number"
    if view_format.type == "percentage":
        return "percent"
    if view_format.type == "currency":
        return "currency"
    places = view_format.decimal_places
    if view_format.type == "number" and places and places.type == "exact" and places.places == 0:
        return "integer"
    return "number"


class _Builder:
    """Collects the model's parts from each view in turn; the same name must mean the same."""

    def __init__(self, sidecar: Sidecar) -> None:
        self.sidecar = sidecar
        self.parts: dict[str, dict[str, dict[str, Any]]] = {
            k: {} for k in ("tables", "joins", "dimensions", "time_dimensions", "measures")
        }
        self.problems: list[str] = []

    def add(self, kind: str, key: str, data: dict[str, Any], where: str) -> None:
        known = self.parts[kind].setdefault(key, data)
        if known != data:
            self.problems.append(
                f"{where}: {kind[:-1].replace('_', ' ')} {key!r} differs from another view's"
            )

    def view(self, view: MetricView, alias: str, where: str) -> None:
        if view.filter:
            self.problems.append(
                f"{where}: a view-wide `filter` is not supported (the model has none); give it as a named "
                "filter in the sidecar's `filters`, or fold it into the measures"
            )
        self.add("tables", alias, self._table(alias, view.source), where)
        names = frozenset(j.name for _, j in _join_tree(view.joins, alias))
        for parent, join in _join_tree(view.joins, alias):
            on = from_view(join.on, alias, names) if join.on is not None else None
            if on is None:
                on = " AND ".join(f"{parent}.{c} = {join.name}.{c}" for c in join.using)
            self.add("tables", join.name, self._table(join.name, join.source), where)
            self.add("joins", f"{parent}->{join.name}", {"from": parent, "to": join.name, "on": on}, where)
        fields: dict[str, str] = {}
        for dimension in view.dimensions:
            expr = self._expr(dimension.expr, alias, names, fields, f"{where}: dimension {dimension.name!r}")
            fields[dimension.name] = expr
            self._dimension(dimension, expr, where)
        for measure in view.measures:
            expr = self._expr(measure.expr, alias, names, fields, f"{where}: measure {measure.name!r}")
            self._measure(measure, expr, alias, where)

    def _table(self, alias: str, source: str) -> dict[str, Any]:
        physical = table_name(source)
        data: dict[str, Any] = {"name": alias} | ({"table": physical} if physical != alias else {})
        description = self.sidecar.table_descriptions.get(alias)
        return data | ({"description": description} if description else {})

    def _expr(self, expr: str, alias: str, names: frozenset[str], fields: dict[str, str], where: str) -> str:
        try:
            return qualify_bare_columns(from_view(expr, alias, names), alias, fields)
        except ExpressionError as exc:
            self.problems.append(f"{where}: {exc}")
            return expr

    def _synonyms(self, item: ViewDimension | ViewMeasure) -> list[str]:
        synonyms = [*item.synonyms, *self.sidecar.more_synonyms.get(item.name, ())]
        said = {s.lower() for s in (item.name, *synonyms)}
        if item.display_name and item.display_name.lower() not in said:
            synonyms.append(item.display_name)
        return synonyms

    def _common(self, item: ViewDimension | ViewMeasure, expr: str) -> dict[str, Any]:
        data: dict[str, Any] = {"name": item.name, "expr": expr, "synonyms": self._synonyms(item)}
        return data | ({"description": item.comment} if item.comment else {})

    def _dimension(self, dimension: ViewDimension, expr: str, where: str) -> None:
        data = self._common(dimension, expr)
        if dimension.name in self.sidecar.time_dimensions:
            self.add("time_dimensions", dimension.name, data, where)
            return
        extra = self.sidecar.dimensions.get(dimension.name)
        if extra is not None:
            data |= extra.model_dump(mode="json", exclude_none=True)
        self.add("dimensions", dimension.name, data, where)

    def _measure(self, measure: ViewMeasure, expr: str, alias: str, where: str) -> None:
        data = self._common(measure, expr) | {"table": alias, "format": _format(measure.format)}
        extra = self.sidecar.measures.get(measure.name)
        if extra is not None:
            data |= extra.model_dump(mode="json", exclude_none=True)
            if extra.agg is not None:
                data |= self._column(expr, extra.agg, f"{where}: measure {measure.name!r}")
        self.add("measures", measure.name, data, where)

    def _column(self, expr: str, agg: str, where: str) -> dict[str, Any]:
        match = _COLUMN_MEASURE.match(expr)
        written = match and (match.group(1).lower() + ("_distinct" if match.group(2) else ""))
        if not match or written != agg:
            self.problems.append(f"{where}: the sidecar says `agg: {agg}` but the expression is {expr!r}")
            return {}
        return {"expr": None, "column": match.group(3)}

    def unplaced(self) -> None:
        unplaced = self.sidecar.unplaced
        if unplaced is None:
            return
        for kind in self.parts:
            for item in getattr(unplaced, kind):
                data = item.model_dump(mode="json", by_alias=True, exclude_defaults=True)
                key = f"{data['from']}->{data['to']}" if kind == "joins" else data["name"]
                self.add(kind, key, data, "unplaced")

    def ordered(self, kind: str) -> list[dict[str, Any]]:
        items = self.parts[kind]
        order = getattr(self.sidecar.order, kind, None) if self.sidecar.order else None
        if order is None:
            return list(items.values())
        if sorted(order) != sorted(items):
            self.problems.append(f"order.{kind} must list exactly {sorted(items)}")
            return list(items.values())
        return [items[key] for key in order]


def build_space(
    sidecar: Sidecar,
    views: list[tuple[ViewFile, MetricView]],
    *,
    default_id: str,
    databases: Collection[str] = (),
) -> tuple[dict[str, Any], list[str]]:
    """The space-file data the sidecar and its views describe, and every problem found."""
    builder = _Builder(sidecar)
    for entry, view in views:
        try:
            alias = entry.source_alias or table_name(view.source)
        except ExpressionError as exc:
            builder.problems.append(f"{entry.file}: {exc}")
            continue
        builder.view(view, alias, entry.file)
    builder.unplaced()
    database = sidecar.database or (next(iter(databases)) if len(databases) == 1 else None)
    if database is None:
        builder.problems.append("name the space's `database` (one of the catalog's `databases`)")
    comment = next((v.comment for _, v in views if v.comment), "")
    space: dict[str, Any] = {
        "id": sidecar.id or default_id,
        "title": sidecar.title or sidecar.id or default_id,
        "description": sidecar.description if sidecar.description is not None else comment,
        "instructions": sidecar.instructions,
        "database": database or "",
        "sample_questions": list(sidecar.sample_questions),
        **{kind: builder.ordered(kind) for kind in builder.parts},
        "filters": [f.model_dump(mode="json") for f in sidecar.filters],
        "verified_queries": [q.model_dump(mode="json") for q in sidecar.verified_queries],
    }
    return space, builder.problems


def _describe(exc: ValidationError, where: str) -> list[str]:
    return [f"{where}: {'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()]


def read_space(
    data: dict[str, Any], path: Path, read: Callable[[Path], object], databases: Collection[str]
) -> tuple[dict[str, Any] | None, list[str]]:
    """The space-file data of the sidecar ``data`` (read from ``path``) and its view files, which
    ``read`` parses; None and the problems when it cannot be built."""
    from ..errors import ConfigError

    try:
        sidecar = Sidecar.model_validate(data)
    except ValidationError as exc:
        return None, _describe(exc, path.name)
    views: list[tuple[ViewFile, MetricView]] = []
    problems: list[str] = []
    for entry in sidecar.metric_views:
        view_path = path.parent / entry.file
        try:
            views.append((entry, MetricView.model_validate(read(view_path))))
        except ConfigError as exc:
            problems.append(f"{path.name}: metric view {entry.file}: {exc.message}")
        except ValidationError as exc:
            problems += _describe(exc, entry.file)
    if problems:
        return None, problems
    default_id = re.sub(r"[^a-z0-9_-]", "_", path.name.split(".")[0].lower())
    space, problems = build_space(sidecar, views, default_id=default_id, databases=databases)
    return (None if problems else space), [f"{path.name}: {p}" for p in problems]
