"""The routing terms read from a serialized Genie space, how keywords override them, and the cache's
timing (a fake clock; the reads against genie-server are in tests/integration/test_discovery_routing.py)."""

from __future__ import annotations

import json
import threading

from genie_agent.config import EXAMPLE_CATALOG
from genie_agent.errors import ConfigError
from genie_agent.spaces.base import RoutingTerm
from genie_agent.spaces.catalog import load_catalog
from genie_agent.spaces.databricks import DatabricksGenieSpace, GenieSpaceConfig
from genie_agent.spaces.discovery import RETRY_S, Discovered, SpaceDiscovery, definition_terms
from genie_agent.workspace_spaces import SerializedSpace, serialize_definition

CATALOG = load_catalog(EXAMPLE_CATALOG)


def serialized(space_id: str) -> SerializedSpace:
    return SerializedSpace.parse(
        json.dumps(serialize_definition(CATALOG.space(space_id), catalog="samples", schema="tpch"))
    )


def by_kind(terms: list[RoutingTerm]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for t in terms:
        out.setdefault(t.kind, set()).add(t.phrase)
    return out


def test_a_serialized_space_gives_its_measures_filters_dimensions_and_subjects():
    terms = definition_terms(serialized("sales"))
    kinds = by_kind(terms)
    sales = CATALOG.space("sales")
    # Every phrase the local space routes its measures, filters and columns by, and of the same kind.
    assert {p for m in sales.measures for p in m.phrases} <= kinds["measure"]
    assert {p for f in sales.filters for p in f.phrases} <= kinds["filter"]
    assert {p for d in sales.dimensions for p in d.phrases} <= kinds["dimension"]
    assert {p for d in sales.time_dimensions for p in d.phrases} <= kinds["time_dimension"]
    assert {"mktsegment", "shipmode"} <= kinds["dimension"]  # column names, their prefix dropped
    assert "name" not in kinds["dimension"]  # too generic to say which space
    assert {"geography", "building", "dated"} <= kinds["topic"]  # instructions, sample questions
    assert "monthly" not in kinds["topic"]  # how a question aggregates, not what it is about
    assert not {"revenue", "region", "what"} & kinds["topic"]  # known as a term already, or a stop word
    assert all(t.name == t.phrase for t in terms)  # each names itself: the question's own words
    assert not any("_" in t.phrase or "(" in t.phrase for t in terms)  # no column or SQL text


def test_computed_and_time_like_expressions_and_excluded_columns():
    space = SerializedSpace.model_validate(
        {
            "version": 2,
            "data_sources": {
                "tables": [
                    {
                        "identifier": "main.shop.rides",
                        "column_configs": [
                            {"column_name": "started_at", "synonyms": "start"},  # one string, not a list
                            {"column_name": "etl_batch", "exclude": True},
                            {"column_name": "bikeType", "synonyms": ["bike kind"]},
                        ],
                    }
                ],
                "metric_views": [
                    {
                        "identifier": "main.shop.ride_metrics",
                        "description": ["Ride metrics by station"],
                        "column_configs": [{"column_name": "station", "synonyms": ["dock"]}],
                    }
                ],
            },
            "instructions": {
                "sql_snippets": {
                    "expressions": [
                        {
                            "id": "a" * 32,
                            "alias": "ride_month",
                            "sql": ["DATE_TRUNC('MONTH', rides.started_at)"],
                        },
                        {
                            "id": "b" * 32,
                            "alias": "trip_band",
                            "sql": "CASE WHEN rides.km > 5 THEN 'long' END",
                        },
                    ],
                    "measures": [{"id": "c" * 32, "alias": "total_fare", "sql": ["SUM(rides.fare)"]}],
                }
            },
        }
    )
    kinds = by_kind(definition_terms(space))
    assert kinds["time_dimension"] == {"ride month", "started at", "start"}
    assert kinds["dimension"] == {"trip band", "bike type", "bike kind", "station", "dock"}
    assert "metrics" in kinds["topic"]  # a metric view's description
    assert kinds["measure"] == {"total fare"}
    assert "etl batch" not in str(kinds)


class _Read:
    """A discovery that has read the space already."""

    def __init__(self, found: Discovered) -> None:
        self.found = found

    def get(self, domain: str) -> Discovered:
        return self.found


def test_keywords_override_discovered_terms_and_without_discovery_only_config_routes():
    found = Discovered(
        (
            RoutingTerm("orders", "dimension", "orders"),
            RoutingTerm("revenue", "measure", "revenue"),
            RoutingTerm("region", "dimension", "region"),
        ),
        read=True,
        definition=True,
    )
    config = GenieSpaceConfig(space_id="s", keywords=("orders",), description="Sales ledger")
    space = DatabricksGenieSpace("sales", config, lambda i: None, discovery=_Read(found))  # type: ignore[arg-type]
    terms = [(t.phrase, t.kind) for t in space.routing_terms()]
    # The keywords are the measures; the rest of what was discovered routes as it was read.
    assert terms == [("orders", "measure"), ("region", "dimension"), ("sales", "topic"), ("ledger", "topic")]
    bare = GenieSpaceConfig(space_id="s")
    space = DatabricksGenieSpace("sales", bare, lambda i: None, discovery=_Read(found))  # type: ignore[arg-type]
    assert [(t.phrase, t.kind) for t in space.routing_terms()] == [
        ("orders", "dimension"),
        ("revenue", "measure"),
        ("region", "dimension"),
    ]
    plain = DatabricksGenieSpace("sales", config, lambda i: None)  # type: ignore[arg-type,return-value]
    assert plain.discovered() is None
    assert [(t.phrase, t.kind) for t in plain.routing_terms()] == [
        ("orders", "measure"),
        ("sales", "topic"),
        ("ledger", "topic"),
    ]


def test_the_cache_reads_once_and_again_after_its_interval_sooner_after_a_failure():
    now = [0.0]
    calls: list[object] = []

    def no_credentials(identity):
        calls.append(identity)
        raise ConfigError("Databricks authentication is not configured.", "Set DATABRICKS_HOST.")

    configs = {"sales": GenieSpaceConfig(space_id="s1", keywords=("revenue",))}
    discovery = SpaceDiscovery(configs, no_credentials, refresh_s=3600, clock=lambda: now[0])
    assert not discovery.due()  # nothing read yet: the first read is the first turn's
    found = discovery.get("sales")
    assert not found.read and "authentication is not configured" in (found.error or "")
    assert found.status(1).startswith("routes by its 1 configured keyword(s) only: no workspace client")
    assert discovery.get("sales") is found and calls == [None]  # cached; read as the process itself
    now[0] = RETRY_S - 1
    assert not discovery.refresh_in_background(lambda: None)
    now[0] = RETRY_S  # a failed read is retried sooner than the hour
    done = threading.Event()
    assert discovery.refresh_in_background(done.set)
    assert done.wait(5) and discovery.reads == 2 and calls == [None, None]
    assert not discovery.due()  # counted from the refresh
    once = SpaceDiscovery(configs, no_credentials, refresh_s=0, clock=lambda: now[0])
    once.get("sales")
    now[0] += 10 * 3600
    assert not once.refresh_in_background(lambda: None)  # 0: read once per process


def test_status_lines():
    full = Discovered((RoutingTerm("revenue", "measure", "revenue"),), read=True, definition=True)
    assert full.status() == "1 routing terms discovered from its definition"
    assert full.status(2) == "1 routing terms discovered from its definition, plus 2 configured keyword(s)"
    partial = Discovered((), read=True, error="its definition could not be read: no CAN EDIT")
    assert partial.status() == (
        "0 routing terms discovered from its title and description (its definition could not be read: no CAN EDIT)"
    )
    assert Discovered(error="gone").status() == "routes by its configured keywords (none) only: gone"
