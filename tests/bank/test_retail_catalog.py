"""The retail catalog (TPC-DS) builds, validates and is reused on a second call."""

from __future__ import annotations

from pathlib import Path

import duckdb

from genie_agent.spaces.catalog import load_catalog
from tests.bank.catalogs import retail


def test_retail_catalog_builds_and_loads(tmp_path: Path) -> None:
    catalog_path = retail.write_catalog(tmp_path / "retail")
    catalog = load_catalog(catalog_path)

    assert [space.id for space in catalog.spaces] == ["store_sales", "web_sales", "customers"]
    database = retail.database_path(tmp_path / "retail")
    assert catalog.databases["retail"].path == database

    with duckdb.connect(str(database), read_only=True) as connection:
        tables = {
            row[0]
            for row in connection.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        assert tables == set(retail.TABLES)
        states = {
            row[0] for row in connection.execute("SELECT DISTINCT ca_state FROM customer_address").fetchall()
        }
        # Two-letter codes that are also English words: the bank asks about them on purpose.
        assert {"IN", "OR", "ME", "OK", "HI", "PA"} <= states
        assert None not in states
        orphans = connection.execute(
            "SELECT COUNT(*) FROM store_sales s LEFT JOIN customer c ON s.ss_customer_sk = c.c_customer_sk "
            "LEFT JOIN customer_address a ON c.c_current_addr_sk = a.ca_address_sk WHERE a.ca_state IS NULL"
        ).fetchone()
        assert orphans == (0,)

    built = database.stat().st_mtime_ns
    assert retail.write_catalog(tmp_path / "retail") == catalog_path
    assert database.stat().st_mtime_ns == built  # reused, not rebuilt
