"""The bike-rental catalog: a small DuckDB database (stations, bikes, rides) and two spaces on it.

``rides`` (ride counts, fares and durations by city, district, station, bike and rider) and
``fleet`` (the bikes themselves: counts and purchase prices by model and type). The data is made
from a fixed seed, so every build is the same file. Used by tests/integration/test_custom_space.py,
the question bank tests/bank/bikes.yaml and bench scripts.

    root = write_catalog(tmp_dir)        # tmp_dir/catalog.yaml, rides.yaml, fleet.yaml, data/bikeshare.duckdb
    catalog = load(tmp_dir)              # the same, loaded and validated
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb

from genie_agent.spaces.catalog import Catalog, load_catalog

__all__ = [
    "CATALOG",
    "FLEET_SPACE",
    "MODELS",
    "N_BIKES",
    "N_RIDES",
    "RIDES_SPACE",
    "STATIONS",
    "build_database",
    "database_path",
    "load",
    "write_catalog",
]

STATIONS = [  # station_id, name, city, district
    (1, "Alexanderplatz", "Berlin", "Mitte"),
    (2, "Museumsinsel", "Berlin", "Mitte"),
    (3, "Boxhagener Platz", "Berlin", "Friedrichshain"),
    (4, "Warschauer Strasse", "Berlin", "Friedrichshain"),
    (5, "Kollwitzplatz", "Berlin", "Prenzlauer Berg"),
    (6, "Fischmarkt", "Hamburg", "Altona"),
    (7, "Sternschanze", "Hamburg", "Eimsbuettel"),
    (8, "Jungfernstieg", "Hamburg", "Neustadt"),
    (9, "Marienplatz", "Munich", "Altstadt"),
    (10, "Sendlinger Tor", "Munich", "Altstadt"),
    (11, "Englischer Garten", "Munich", "Schwabing"),
    (12, "Muenchner Freiheit", "Munich", "Schwabing"),
]
STATION_WEIGHTS = [14, 9, 11, 7, 5, 12, 8, 4, 13, 6, 10, 3]
MODELS = {  # model: (bike type, purchase price, fare per minute)
    "Swift": ("classic", Decimal("450.00"), Decimal("0.10")),
    "Metro": ("classic", Decimal("520.00"), Decimal("0.12")),
    "Volt": ("e-bike", Decimal("1900.00"), Decimal("0.25")),
    "Spark": ("e-bike", Decimal("2300.00"), Decimal("0.28")),
    "Hauler": ("cargo", Decimal("3100.00"), Decimal("0.35")),
}
N_BIKES = 37
N_RIDES = 640


def build_database(path: Path) -> None:
    """Write the stations, bikes and rides tables to a new DuckDB file at ``path``."""
    rng = random.Random(20240517)
    con = duckdb.connect(str(path))
    try:
        con.execute(
            "CREATE TABLE stations (station_id INTEGER PRIMARY KEY, name VARCHAR, city VARCHAR, district VARCHAR)"
        )
        con.execute(
            "CREATE TABLE bikes (bike_id INTEGER PRIMARY KEY, model VARCHAR, bike_type VARCHAR,"
            " purchase_price DECIMAL(10,2), purchased_on DATE)"
        )
        con.execute(
            "CREATE TABLE rides (ride_id INTEGER PRIMARY KEY, bike_id INTEGER, start_station_id INTEGER,"
            " started_at TIMESTAMP, duration_min INTEGER, fare DECIMAL(8,2), member_type VARCHAR)"
        )
        con.executemany("INSERT INTO stations VALUES (?, ?, ?, ?)", STATIONS)
        models = list(MODELS)
        bikes = []
        for bike_id in range(1, N_BIKES + 1):
            model = models[(bike_id * 7) % len(models)] if bike_id % 3 else models[bike_id % 2]
            bike_type, price, _ = MODELS[model]
            bought = datetime(2021, 3, 1) + timedelta(days=rng.randrange(900))
            bikes.append((bike_id, model, bike_type, price, bought.date()))
        con.executemany("INSERT INTO bikes VALUES (?, ?, ?, ?, ?)", bikes)
        rides = []
        station_ids = [s[0] for s in STATIONS]
        for ride_id in range(1, N_RIDES + 1):
            bike_id, model = bikes[rng.randrange(N_BIKES)][:2]
            per_minute = MODELS[model][2]
            station = rng.choices(station_ids, weights=STATION_WEIGHTS)[0]
            # 2024 is busier than 2023, summer busier than winter.
            year = 2023 if rng.random() < 0.42 else 2024
            day = rng.randrange(365)
            if rng.random() < 0.3:
                day = 120 + rng.randrange(150)
            started = datetime(year, 1, 1, 6) + timedelta(days=day, minutes=rng.randrange(16 * 60))
            duration = rng.choice([rng.randint(3, 30), rng.randint(10, 45), rng.randint(30, 150)])
            member = "member" if rng.random() < 0.6 else "casual"
            fare = Decimal("1.00") + per_minute * duration
            if member == "member":
                fare = fare * Decimal("0.8")
            rides.append(
                (ride_id, bike_id, station, started, duration, fare.quantize(Decimal("0.01")), member)
            )
        con.executemany("INSERT INTO rides VALUES (?, ?, ?, ?, ?, ?, ?)", rides)
        con.execute("CHECKPOINT")
    finally:
        con.close()


RIDES_SPACE = """\
id: rides
title: Bike Rides
description: Rides members and casual riders take on rented city bikes - ride counts, fares and durations by city, district, station, bike and rider.
instructions: Revenue is the sum of fares. A ride is dated by when it started; its place is its start station.
database: bikeshare
sample_questions:
  - How many rides were there in 2024?
  - Revenue by city
  - Top 5 stations by rides
  - Average duration by bike type
tables:
  - name: rides
  - name: bikes
  - name: start_station
    table: stations
joins:
  - {from: rides, to: bikes, on: "rides.bike_id = bikes.bike_id"}
  - {from: rides, to: start_station, on: "rides.start_station_id = start_station.station_id"}
dimensions:
  - name: city
    expr: start_station.city
    synonyms: [town]
  - name: district
    expr: start_station.district
    synonyms: [neighbourhood, neighborhood, area]
  - name: station
    expr: start_station.name
    synonyms: [start station, docking station, station name]
  - name: bike type
    expr: bikes.bike_type
    synonyms: [type of bike, bike category]
    value_synonyms:
      e-bike: [electric bike, ebike, e-bikes]
      cargo: [cargo bike]
      classic: [classic bike, regular bike]
  - name: model
    expr: bikes.model
    synonyms: [bike model]
  - name: member type
    expr: rides.member_type
    synonyms: [membership, rider type]
    value_synonyms:
      member: [members, subscriber, subscribers]
      casual: [casual riders, non-members]
time_dimensions:
  - name: ride date
    expr: rides.started_at
    synonyms: [started, start date, date]
measures:
  - name: rides
    expr: COUNT(*)
    table: rides
    time_dimension: ride date
    format: integer
    synonyms: [number of rides, how many rides, ride count, trips]
  - name: revenue
    column: rides.fare
    agg: sum
    table: rides
    time_dimension: ride date
    format: currency
    unit: EUR
    synonyms: [fares, fare, takings, income]
  - name: average duration
    expr: AVG(rides.duration_min)
    table: rides
    time_dimension: ride date
    filter_column: rides.duration_min
    unit: minutes
    synonyms: [avg duration, mean duration, average ride length, average ride duration]
filters:
  - name: long rides
    expr: rides.duration_min > 60
    synonyms: [long trips, rides over an hour]
verified_queries:
  - question: What was the busiest station ever?
    sql: |
      SELECT stations.name AS station, COUNT(*) AS rides
      FROM rides JOIN stations ON rides.start_station_id = stations.station_id
      GROUP BY 1 ORDER BY 2 DESC LIMIT 1
"""

FLEET_SPACE = """\
id: fleet
title: Bike Fleet
description: The rental bikes themselves - how many bikes of each model and type, and what they cost to buy.
database: bikeshare
sample_questions:
  - How many bikes per bike type?
  - Fleet value by model
tables:
  - name: bikes
joins: []
dimensions:
  - name: model
    expr: bikes.model
    synonyms: [bike model]
  - name: bike type
    expr: bikes.bike_type
    synonyms: [type of bike, bike category]
    value_synonyms:
      e-bike: [electric bike, ebike, e-bikes]
time_dimensions:
  - name: purchase date
    expr: bikes.purchased_on
    synonyms: [purchased, bought]
measures:
  - name: bikes
    expr: COUNT(*)
    table: bikes
    format: integer
    synonyms: [number of bikes, how many bikes, fleet size, bike count, fleet]
  - name: fleet value
    column: bikes.purchase_price
    agg: sum
    table: bikes
    format: currency
    unit: EUR
    synonyms: [purchase price, purchase cost, bike cost]
"""

CATALOG = """\
databases:
  bikeshare: {path: data/bikeshare.duckdb}
spaces: [rides.yaml, fleet.yaml]
"""


def database_path(root: Path) -> Path:
    """Where :func:`write_catalog` puts the DuckDB file under ``root``."""
    return root / "data" / "bikeshare.duckdb"


def write_catalog(root: Path) -> Path:
    """Build the database and write the two space files and the catalog under ``root``; return the catalog path."""
    root.mkdir(parents=True, exist_ok=True)
    db = database_path(root)
    db.parent.mkdir(parents=True, exist_ok=True)
    if db.exists():
        db.unlink()
    build_database(db)
    (root / "rides.yaml").write_text(RIDES_SPACE)
    (root / "fleet.yaml").write_text(FLEET_SPACE)
    catalog = root / "catalog.yaml"
    catalog.write_text(CATALOG)
    return catalog


def load(root: Path) -> Catalog:
    """:func:`write_catalog` under ``root``, then load and validate the catalog."""
    return load_catalog(write_catalog(root))
