"""The query plan: what a question asks for, in the terms of a space's semantic model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any, Literal

from ..semantic_model import Aggregation

__all__ = ["MeasureRef", "QueryPlan", "TimeGrain", "TimeRange"]

TimeGrain = Literal["year", "quarter", "month", "week", "day"]


@dataclass(frozen=True)
class TimeRange:
    """A half-open date range ``[start, end)``; either side may be open."""

    start: date | None
    end: date | None
    label: str

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "label": self.label,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TimeRange:
        return cls(
            date.fromisoformat(data["start"]) if data["start"] else None,
            date.fromisoformat(data["end"]) if data["end"] else None,
            data["label"],
        )


@dataclass(frozen=True)
class MeasureRef:
    name: str
    agg: Aggregation | None = None


@dataclass(frozen=True)
class QueryPlan:
    """Measures, groupings and filters; compiled to SQL by :mod:`.sqlgen`."""

    measures: tuple[MeasureRef, ...] = ()
    group_by: tuple[str, ...] = ()
    time_grain: TimeGrain | None = None
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    named_filters: tuple[str, ...] = ()
    time_range: TimeRange | None = None
    time_dimension: str | None = None
    limit: int | None = None
    order: Literal["desc", "asc"] | None = None
    unknown_groupings: tuple[str, ...] = field(default=(), compare=False)

    def with_(self, **changes: Any) -> QueryPlan:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["measures"] = [{"name": m.name, "agg": m.agg} for m in self.measures]
        data["time_range"] = self.time_range.to_json() if self.time_range else None
        data["filters"] = [[d, list(v)] for d, v in self.filters]
        data.pop("unknown_groupings")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QueryPlan:
        return cls(
            measures=tuple(MeasureRef(m["name"], m["agg"]) for m in data["measures"]),
            group_by=tuple(data["group_by"]),
            time_grain=data["time_grain"],
            filters=tuple((d, tuple(v)) for d, v in data["filters"]),
            named_filters=tuple(data["named_filters"]),
            time_range=TimeRange.from_json(data["time_range"]) if data["time_range"] else None,
            time_dimension=data["time_dimension"],
            limit=data["limit"],
            order=data["order"],
        )
