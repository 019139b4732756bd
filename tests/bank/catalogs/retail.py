"""The retail catalog: TPC-DS data (DuckDB's ``dsdgen``) and three spaces on it.

``store_sales`` (in-store net sales, profit, units, transactions and customers by item category,
class and brand and the shopper's US state and city), ``web_sales`` (the same for online orders,
plus ship mode, carrier and shipping cost) and ``customers`` (customer counts by state, city,
county and demographics). The spaces were written from the README's "Adding a space of your own"
alone; their YAML lives next to this module in ``retail/``. Used by the question bank
tests/bank/retail.yaml.

    catalog_path = write_catalog(tmp_dir)   # tmp_dir/catalog.yaml, the space files, retail.duckdb
    catalog = load(tmp_dir)                 # the same, loaded and validated

The data is ``dsdgen`` at scale factor 0.1 (deterministic: every build is the same file), cleaned
so that every sale has a date, an item with a category, class, brand and price, and a customer
with demographics and a home state (the few generated rows with NULL keys are left out). The
``state`` dimension holds US two-letter codes (IN, OR, ME, OK, HI, PA ...), which collide with
English words on purpose. The ``tpcds`` extension comes from the ``duckdb-extension-tpcds``
wheel and is loaded from its file path, as genie_agent.data.tpch does for TPC-H.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import duckdb

from genie_agent.data.build import find_extension, generate_once
from genie_agent.spaces.catalog import Catalog, load_catalog

__all__ = [
    "DATABASE_FILE",
    "SCALE_FACTOR",
    "SPACE_FILES",
    "TABLES",
    "YAML_DIR",
    "build_database",
    "database_path",
    "load",
    "write_catalog",
]

YAML_DIR = Path(__file__).resolve().parent / "retail"
SPACE_FILES = ("store_sales.yaml", "web_sales.yaml", "customers.yaml")
DATABASE_FILE = "retail.duckdb"
SCALE_FACTOR = 0.1

CATALOG_YAML = f"""\
databases:
  retail: {{path: {DATABASE_FILE}}}
spaces: [{", ".join(SPACE_FILES)}]
"""

# What is copied from the generated TPC-DS schema into the catalog's file, in order (later
# selections refer to tables already copied, so the facts keep only rows whose keys resolve).
_COPIES: tuple[tuple[str, str], ...] = (
    ("date_dim", "SELECT * FROM gen.date_dim"),
    ("ship_mode", "SELECT * FROM gen.ship_mode"),
    (
        "item",
        "SELECT * FROM gen.item WHERE i_category IS NOT NULL AND i_class IS NOT NULL"
        " AND i_brand IS NOT NULL AND i_current_price IS NOT NULL",
    ),
    (
        "customer_address",
        "SELECT * FROM gen.customer_address WHERE ca_state IS NOT NULL AND ca_city IS NOT NULL",
    ),
    (
        "customer",
        "SELECT * FROM gen.customer WHERE c_current_cdemo_sk IS NOT NULL AND c_preferred_cust_flag IS NOT NULL"
        " AND c_current_addr_sk IN (SELECT ca_address_sk FROM customer_address)",
    ),
    (
        "customer_demographics",
        "SELECT * FROM gen.customer_demographics WHERE cd_demo_sk IN (SELECT c_current_cdemo_sk FROM customer)",
    ),
    (
        "store_sales",
        "SELECT * FROM gen.store_sales WHERE ss_sold_date_sk IS NOT NULL AND ss_net_paid IS NOT NULL"
        " AND ss_net_profit IS NOT NULL AND ss_quantity IS NOT NULL"
        " AND ss_item_sk IN (SELECT i_item_sk FROM item)"
        " AND ss_customer_sk IN (SELECT c_customer_sk FROM customer)",
    ),
    (
        "web_sales",
        "SELECT * FROM gen.web_sales WHERE ws_sold_date_sk IS NOT NULL AND ws_net_paid IS NOT NULL"
        " AND ws_net_profit IS NOT NULL AND ws_quantity IS NOT NULL AND ws_ext_ship_cost IS NOT NULL"
        " AND ws_ship_mode_sk IS NOT NULL"
        " AND ws_item_sk IN (SELECT i_item_sk FROM item)"
        " AND ws_bill_customer_sk IN (SELECT c_customer_sk FROM customer)",
    ),
)
TABLES: tuple[str, ...] = tuple(name for name, _ in _COPIES)

_EXTENSION_PACKAGE = "duckdb_extension_tpcds"


def database_path(root: Path) -> Path:
    """Where :func:`write_catalog` puts the DuckDB file under ``root``."""
    return Path(root) / DATABASE_FILE


def write_catalog(root: Path) -> Path:
    """Build the catalog in ``root`` (once) and return the path of its ``catalog.yaml``.

    Idempotent and safe for concurrent callers (pytest-xdist workers): the database is generated
    once by :func:`genie_agent.data.build.generate_once` (a lock file, a temporary file renamed
    into place); the YAML files are replaced atomically when they differ from the ones shipped
    next to this module.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    catalog_path = root / "catalog.yaml"
    generate_once(database_path(root), build_database)
    for name in SPACE_FILES:
        _write_if_changed(root / name, (YAML_DIR / name).read_text())
    _write_if_changed(catalog_path, CATALOG_YAML)
    return catalog_path


def load(root: Path) -> Catalog:
    """Build (if needed) and load the catalog in ``root``; load_catalog validates every file."""
    return load_catalog(write_catalog(root))


def build_database(path: Path, scale_factor: float = SCALE_FACTOR) -> None:
    """Generate TPC-DS in memory with ``dsdgen`` and copy the spaces' tables into a new file."""
    path = Path(path)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    connection = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    try:
        connection.execute("SET enable_progress_bar = false")  # dsdgen's bar would go to stdout
        connection.execute(f"LOAD '{_sql_string(str(_find_tpcds_extension()))}'")
        connection.execute("ATTACH ':memory:' AS gen")
        connection.execute("USE gen")
        connection.execute(f"CALL dsdgen(sf={float(scale_factor)!r})")
        connection.execute(f"ATTACH '{_sql_string(str(path))}' AS retail")
        connection.execute("USE retail")
        for name, select in _COPIES:
            connection.execute(f"CREATE TABLE {name} AS {select}")
        connection.execute("DETACH gen")
        connection.execute("CHECKPOINT retail")
    finally:
        connection.close()


def _find_tpcds_extension() -> Path:
    """``tpcds.duckdb_extension`` inside the installed ``duckdb-extension-tpcds`` wheel (dev extra)."""
    return find_extension(_EXTENSION_PACKAGE, "tpcds", title="TPC-DS", wheel="duckdb-extension-tpcds")


def _write_if_changed(path: Path, text: str) -> None:
    if path.exists() and path.read_text() == text:
        return
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temp.write_text(text)
    os.replace(temp, path)


def _sql_string(value: str) -> str:
    return value.replace("'", "''")


if __name__ == "__main__":  # python -m tests.bank.catalogs.retail DIR
    import sys

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("retail-catalog")
    print(write_catalog(target))
