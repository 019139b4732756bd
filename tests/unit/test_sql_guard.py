"""The parse-level SQL guard: what it lets through and what it refuses."""

from __future__ import annotations

import pytest

from genie_agent.errors import UnsafeRequestError
from genie_agent.spaces.local.sql_guard import check_select

TABLES = ("region", "nation", "customer", "orders", "lineitem")


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("SELECT 1", id="constant"),
        pytest.param("SELECT r_name FROM region ORDER BY r_name", id="plain"),
        pytest.param("select * from REGION", id="case-insensitive-table"),
        pytest.param('SELECT * FROM "Region"', id="quoted-table"),
        pytest.param("SELECT * FROM main.region", id="main-schema"),
        pytest.param("FROM region SELECT r_name", id="from-first"),
        pytest.param("(SELECT r_name FROM region)", id="parenthesized"),
        pytest.param(
            "WITH big AS (SELECT c_nationkey, count(*) AS n FROM customer GROUP BY 1) "
            "SELECT n_name, n FROM big JOIN nation ON n_nationkey = c_nationkey",
            id="cte",
        ),
        pytest.param(
            "WITH a AS (SELECT 1 AS x), b AS (SELECT x FROM a) SELECT * FROM b", id="cte-using-earlier-cte"
        ),
        pytest.param(
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
            id="recursive-cte",
        ),
        pytest.param(
            "SELECT n.n_name, r.r_name FROM nation n JOIN region r ON n.n_regionkey = r.r_regionkey",
            id="join",
        ),
        pytest.param(
            "SELECT o_orderkey FROM orders WHERE o_custkey IN "
            "(SELECT c_custkey FROM customer WHERE c_mktsegment = 'BUILDING') LIMIT 5",
            id="subquery",
        ),
        pytest.param(
            "SELECT * FROM region WHERE EXISTS (SELECT 1 FROM nation WHERE n_regionkey = r_regionkey)",
            id="correlated-subquery",
        ),
        pytest.param("SELECT r_name FROM region UNION ALL SELECT n_name FROM nation", id="union"),
        pytest.param("SELECT r_regionkey FROM region EXCEPT SELECT n_regionkey FROM nation", id="except"),
        pytest.param("SELECT * FROM region, LATERAL (SELECT r_regionkey + 1 AS k)", id="lateral-subquery"),
        pytest.param("SELECT * FROM (VALUES (1, 'a')) AS t(k, v)", id="values"),
        pytest.param(
            "SELECT date_trunc('month', o_orderdate) AS m, sum(o_totalprice) FROM orders GROUP BY ALL "
            "ORDER BY m LIMIT 12",
            id="aggregate",
        ),
        pytest.param(
            "SELECT n_name, rank() OVER (ORDER BY n_nationkey) FROM nation QUALIFY rank() OVER "
            "(ORDER BY n_nationkey) <= 3",
            id="window-qualify",
        ),
        pytest.param("SELECT current_setting('threads')", id="current-setting"),
        pytest.param("SELECT 'read_csv(x); DROP TABLE region' AS s", id="dangerous-words-in-string"),
        pytest.param("SELECT * FROM region -- trailing comment", id="trailing-comment"),
    ],
)
def test_accepted(sql: str) -> None:
    assert check_select(sql, TABLES) == sql


def test_trailing_semicolons_and_whitespace_are_stripped() -> None:
    assert check_select("  SELECT * FROM region ;; \n", TABLES) == "SELECT * FROM region"


@pytest.mark.parametrize(
    ("sql", "message_part"),
    [
        # writes and DDL
        pytest.param("INSERT INTO region VALUES (9, 'X', 'y')", "got INSERT", id="insert"),
        pytest.param("UPDATE region SET r_name = 'X'", "got UPDATE", id="update"),
        pytest.param("DELETE FROM region", "got DELETE", id="delete"),
        pytest.param("/* sneaky */ DELETE FROM region", "got DELETE", id="delete-after-comment"),
        pytest.param(
            "MERGE INTO region USING nation ON r_regionkey = n_regionkey WHEN MATCHED THEN DELETE",
            "got MERGE",
            id="merge",
        ),
        pytest.param("CREATE TABLE x AS SELECT * FROM region", "got CREATE", id="create-table"),
        pytest.param("CREATE VIEW v AS SELECT * FROM region", "got CREATE", id="create-view"),
        pytest.param("CREATE MACRO m() AS 1", "got CREATE", id="create-macro"),
        pytest.param("DROP TABLE region", "got DROP", id="drop"),
        pytest.param("ALTER TABLE region ADD COLUMN x INT", "got ALTER", id="alter"),
        pytest.param("TRUNCATE region", "got TRUNCATE", id="truncate"),
        pytest.param("SELECT * INTO copy_of_region FROM region", "SELECT ... INTO", id="select-into"),
        pytest.param(
            "WITH d AS (DELETE FROM region RETURNING *) SELECT * FROM d", "contains DELETE", id="dml-in-cte"
        ),
        # database, session and file system commands
        pytest.param("ATTACH '/tmp/other.duckdb' AS other", "got ATTACH", id="attach"),
        pytest.param("ATTACH ':memory:' AS m", "got ATTACH", id="attach-memory"),
        pytest.param("DETACH other", "got DETACH", id="detach"),
        pytest.param("COPY region TO '/tmp/region.csv'", "got COPY", id="copy-to"),
        pytest.param("COPY (SELECT 1) TO '/tmp/x.parquet'", "got COPY", id="copy-query-to"),
        pytest.param("COPY region FROM '/tmp/region.csv'", "got COPY", id="copy-from"),
        pytest.param("INSTALL httpfs", "got INSTALL", id="install"),
        pytest.param("LOAD httpfs", "got LOAD", id="load"),
        pytest.param("LOAD '/tmp/evil.duckdb_extension'", "got LOAD", id="load-path"),
        pytest.param("PRAGMA database_list", "got PRAGMA", id="pragma"),
        pytest.param("SET enable_external_access = true", "got SET", id="set"),
        pytest.param("SET GLOBAL threads = 1", "got SET", id="set-global"),
        pytest.param("RESET threads", "got RESET", id="reset"),
        pytest.param("CALL dbgen(sf = 1)", "got CALL", id="call"),
        pytest.param("EXPORT DATABASE '/tmp/dump'", "got EXPORT", id="export"),
        pytest.param("IMPORT DATABASE '/tmp/dump'", "got IMPORT", id="import"),
        pytest.param("VACUUM", "got VACUUM", id="vacuum"),
        pytest.param("CHECKPOINT", "got CHECKPOINT", id="checkpoint"),
        pytest.param("USE other", "got USE", id="use"),
        pytest.param("BEGIN TRANSACTION", "got BEGIN", id="begin"),
        pytest.param("DESCRIBE region", "got DESCRIBE", id="describe"),
        pytest.param("SHOW TABLES", "got SHOW", id="show"),
        pytest.param("SUMMARIZE region", "got SUMMARIZE", id="summarize"),
        pytest.param("EXPLAIN SELECT 1", "got EXPLAIN", id="explain"),
        # several statements
        pytest.param("SELECT 1; DROP TABLE region", "got 2 statements (SELECT, DROP)", id="select-then-drop"),
        pytest.param("SELECT 1; SELECT 2", "got 2 statements", id="two-selects"),
        # tables outside the space
        pytest.param("SELECT * FROM supplier", "supplier is not part of this space", id="other-table"),
        pytest.param(
            "SELECT * FROM region JOIN part ON true", "part is not part of this space", id="join-other"
        ),
        pytest.param(
            "SELECT * FROM region WHERE r_regionkey IN (SELECT ps_partkey FROM partsupp)",
            "partsupp is not part of this space",
            id="subquery-other",
        ),
        pytest.param("SELECT * FROM other.main.region", "other.main.region is outside", id="other-db"),
        pytest.param("SELECT * FROM other.region", "other.region is outside", id="other-db-or-schema"),
        pytest.param("SELECT * FROM information_schema.tables", "is outside", id="information-schema"),
        pytest.param("SELECT * FROM sqlite_master", "sqlite_master is not part", id="catalog-view"),
        pytest.param(
            "WITH a AS (SELECT * FROM supplier), supplier AS (SELECT 1) SELECT * FROM a",
            "supplier is not part of this space",
            id="forward-cte-reference-binds-real-table",
        ),
        pytest.param(
            "SELECT * FROM (WITH supplier AS (SELECT 1) SELECT * FROM supplier) AS x, supplier",
            "supplier is not part of this space",
            id="cte-out-of-scope",
        ),
        # files, network, table functions
        pytest.param("SELECT * FROM read_text('/etc/passwd')", "read_text", id="read-text-from"),
        pytest.param("SELECT read_text('/etc/passwd')", "read_text() is not allowed", id="read-text-scalar"),
        pytest.param("SELECT * FROM read_csv('/etc/passwd')", "read_csv", id="read-csv-from"),
        pytest.param("SELECT read_csv('/etc/passwd')", "read_csv() is not allowed", id="read-csv-scalar"),
        pytest.param("SELECT * FROM read_csv_auto('x.csv')", "read_csv_auto", id="read-csv-auto"),
        pytest.param("SELECT * FROM read_json_auto('x.json')", "read_json_auto", id="read-json"),
        pytest.param("SELECT * FROM read_parquet('s3://b/x.parquet')", "read_parquet", id="read-parquet"),
        pytest.param("SELECT * FROM parquet_scan('x.parquet')", "parquet_scan", id="parquet-scan"),
        pytest.param("SELECT read_blob('/etc/shadow')", "read_blob() is not allowed", id="read-blob-scalar"),
        pytest.param("SELECT * FROM glob('/etc/*')", "glob", id="glob-from"),
        pytest.param("SELECT glob('/etc/*')", "glob() is not allowed", id="glob-scalar"),
        pytest.param("SELECT getenv('HOME')", "getenv() is not allowed", id="getenv"),
        pytest.param("SELECT * FROM query_table('supplier')", "query_table", id="query-table"),
        pytest.param("SELECT * FROM query('SELECT * FROM supplier')", "query", id="query"),
        pytest.param("SELECT * FROM region, LATERAL read_csv('x.csv')", "read_csv", id="lateral-read-csv"),
        pytest.param(
            "SELECT * FROM region WHERE EXISTS (SELECT 1 FROM glob('/etc/*'))", "glob", id="glob-in-subquery"
        ),
        pytest.param("SELECT * FROM 'data.csv'", "data.csv is not part", id="file-replacement-scan"),
        pytest.param(
            "SELECT * FROM 'https://example.com/x.parquet'", "is not part", id="url-replacement-scan"
        ),
        pytest.param("SELECT * FROM range(10)", "Table functions are not allowed", id="range"),
        pytest.param(
            "SELECT * FROM duckdb_settings()", "Table functions are not allowed", id="duckdb-settings"
        ),
        pytest.param("SELECT * FROM unnest([1, 2])", "Table functions are not allowed", id="unnest-from"),
        # not SQL at all
        pytest.param("SELEC r_name FROM region", "could not be parsed", id="typo"),
        pytest.param("SELECT FROM WHERE", "could not be parsed", id="garbage"),
        pytest.param("", "empty", id="empty"),
        pytest.param(" ;; ", "empty", id="only-semicolons"),
    ],
)
def test_refused(sql: str, message_part: str) -> None:
    with pytest.raises(UnsafeRequestError) as info:
        check_select(sql, TABLES)
    assert message_part in info.value.message
    assert info.value.hint


def test_single_statement_message_names_the_statement() -> None:
    with pytest.raises(UnsafeRequestError) as info:
        check_select("DELETE FROM region", TABLES)
    assert info.value.message == "Only a single SELECT is allowed; got DELETE"


def test_disallowed_table_hint_lists_the_space_tables() -> None:
    with pytest.raises(UnsafeRequestError) as info:
        check_select("SELECT * FROM supplier", ["Region", "nation"])
    assert "nation, region" in info.value.hint


def test_allowed_tables_are_case_insensitive() -> None:
    assert check_select("SELECT * FROM region", ["REGION"]) == "SELECT * FROM region"


def test_no_allowed_tables_means_no_table_access() -> None:
    with pytest.raises(UnsafeRequestError):
        check_select("SELECT * FROM region", [])
