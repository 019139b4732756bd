"""The query plan: what a question asks for, in the terms of a space's semantic model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any, Literal

from ..semantic_model import Aggregation

__all__ = ["GRAINS", "Condition", "MeasureRef", "QueryPlan", "Ratio", "TimeGrain", "TimeRange"]

TimeGrain = Literal["year", "quarter", "month", "week", "day"]
GRAINS: tuple[TimeGrain, ...] = ("day", "week", "month", "quarter", "year")
"""The time grains, finest first."""
Operator = Literal[">", ">=", "<", "<=", "=", "between"]
Change = Literal["periods", "previous"]


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

    @property
    def is_year(self) -> bool:
        s, e = self.start, self.end
        return bool(s and e and s.month == s.day == 1 and e == date(s.year + 1, 1, 1))


@dataclass(frozen=True)
class MeasureRef:
    name: str
    agg: Aggregation | None = None


@dataclass(frozen=True)
class Condition:
    """A numeric condition: on a row-level column (``target`` a dimension or a measure's filter
    column) or, when ``on_measure``, on the aggregated measure (HAVING)."""

    target: str
    op: Operator
    value: float
    high: float | None = None
    on_measure: bool = False
    label: str = ""
    agg: Aggregation | None = None
    """The aggregation the question gives a HAVING measure ("an average balance above 4500")."""
    unit: str = ""
    """The unit the question wrote with the number ("40 minutes"), for the answer's text."""


@dataclass(frozen=True)
class Ratio:
    """``measure`` divided by another measure, or by the count of an entity dimension."""

    denominator: str
    kind: Literal["measure", "entity"]


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
    exclusions: tuple[tuple[str, tuple[str, ...]], ...] = ()
    conditions: tuple[Condition, ...] = ()
    periods: tuple[TimeRange, ...] = ()
    """Periods compared side by side: one row per period (per group)."""
    change: Change | None = None
    """Change between the two ``periods``, or against the previous period of ``time_grain``."""
    share: bool = False
    """Each row's measure as a share of the total within the question's filters."""
    share_of: str | None = None
    """The dimension (or ``filter:<name>``) whose selected members' share of the whole is asked."""
    per_group: str | None = None
    """Top/bottom ``limit`` within each value of this dimension, or each period of this grain."""
    ratio: Ratio | None = None
    unknown_groupings: tuple[str, ...] = field(default=(), compare=False)

    def with_(self, **changes: Any) -> QueryPlan:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["measures"] = [{"name": m.name, "agg": m.agg} for m in self.measures]
        data["time_range"] = self.time_range.to_json() if self.time_range else None
        data["periods"] = [p.to_json() for p in self.periods]
        data["filters"] = [[d, list(v)] for d, v in self.filters]
        data["exclusions"] = [[d, list(v)] for d, v in self.exclusions]
        data["conditions"] = [asdict(c) for c in self.conditions]
        data["ratio"] = asdict(self.ratio) if self.ratio else None
        data.pop("unknown_groupings")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QueryPlan:
        ratio = data.get("ratio")
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
            exclusions=tuple((d, tuple(v)) for d, v in data.get("exclusions", ())),
            conditions=tuple(Condition(**c) for c in data.get("conditions", ())),
            periods=tuple(TimeRange.from_json(p) for p in data.get("periods", ())),
            change=data.get("change"),
            share=data.get("share", False),
            share_of=data.get("share_of"),
            per_group=data.get("per_group"),
            ratio=Ratio(**ratio) if ratio else None,
        )
