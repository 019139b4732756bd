"""Reading a downloaded result's files in each format the Statement Execution API names, and the
``obo_scopes`` setting that the logged model's auth policy records."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from genie_agent.errors import BackendError
from genie_agent.spaces.result_files import read_result_file

COLUMNS = ("nation", "revenue", "orders", "day")
TYPES = ("STRING", "DECIMAL", "LONG", "DATE")
EXPECTED = [
    ("FRANCE", Decimal("12.50"), 3, dt.date(1995, 1, 2)),
    (None, Decimal("0.01"), None, dt.date(1996, 12, 31)),
]


def test_json_array_values_are_typed_from_the_schema():
    body = json.dumps([["FRANCE", "12.50", "3", "1995-01-02"], [None, "0.01", None, "1996-12-31"]]).encode()
    assert read_result_file(body, "JSON_ARRAY", COLUMNS, TYPES, first=True) == EXPECTED
    assert read_result_file(b"", "JSON_ARRAY", COLUMNS, TYPES, first=True) == []


@pytest.mark.parametrize("header", [True, False])
def test_csv_with_or_without_a_header_line(header):
    lines = ["FRANCE,12.50,3,1995-01-02", ",0.01,,1996-12-31"]
    body = ("\r\n".join((["nation,revenue,orders,day"] if header else []) + lines) + "\r\n").encode()
    assert read_result_file(body, "CSV", COLUMNS, TYPES, first=True) == EXPECTED


def test_csv_a_later_chunk_keeps_a_first_line_like_the_names():
    body = b"nation,revenue,orders,day\r\n"  # in a later chunk it is data, however unlikely
    assert read_result_file(body, "CSV", COLUMNS, ("STRING",) * 4, first=False) == [COLUMNS]


def test_arrow_stream_keeps_arrows_types_and_makes_zoned_timestamps_naive_utc():
    pa = pytest.importorskip("pyarrow")
    stamp = dt.datetime(1995, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    table = pa.table(
        {
            "nation": pa.array(["FRANCE", None]),
            "revenue": pa.array([Decimal("12.50"), Decimal("0.01")], type=pa.decimal128(10, 2)),
            "at": pa.array([stamp, None], type=pa.timestamp("us", tz="Europe/Paris")),
        }
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    rows = read_result_file(sink.getvalue().to_pybytes(), "ARROW_STREAM", (), (), first=True)
    assert rows == [
        ("FRANCE", Decimal("12.50"), dt.datetime(1995, 1, 2, 1, 4, 5)),
        (None, Decimal("0.01"), None),
    ]


def test_a_file_not_in_its_format_or_an_unknown_format_says_what_to_do():
    with pytest.raises(BackendError, match="could not be read as JSON_ARRAY") as bad:
        read_result_file(b'{"not": "rows"}', "JSON_ARRAY", COLUMNS, TYPES, first=True)
    assert bad.value.hint
    with pytest.raises(BackendError, match="PARQUET") as unknown:
        read_result_file(b"PAR1", "PARQUET", COLUMNS, TYPES, first=True)
    assert "Upgrade" in unknown.value.hint


# --- obo_scopes -------------------------------------------------------------------------------------


def test_obo_scopes_default_and_what_the_logged_model_records(monkeypatch):
    from genie_agent.config import DEFAULT_OBO_SCOPES, load_settings
    from genie_agent.deployment import plan_deployment

    spaces = '{"sales": {"space_id": "01ef", "warehouse_id": "wh"}}'
    monkeypatch.setenv("GENIE_AGENT_GENIE_BACKEND", "databricks")
    monkeypatch.setenv("GENIE_AGENT_GENIE_SPACES", spaces)
    default = plan_deployment(load_settings(auth="model-serving"))
    assert default.api_scopes == DEFAULT_OBO_SCOPES
    assert default.api_scopes[0] == "dashboards.genie"

    monkeypatch.setenv("GENIE_AGENT_OBO_SCOPES", '["genie", "dashboards.genie", "sql", "genie"]')
    plan = plan_deployment(load_settings(auth="model-serving"))
    assert plan.api_scopes == ("genie", "dashboards.genie", "sql")  # as given, once each
    policy = plan.log_model_auth()["auth_policy"].to_dict()
    assert policy["user_auth_policy"]["api_scopes"] == ["genie", "dashboards.genie", "sql"]
    assert "GENIE_AGENT_OBO_SCOPES" not in plan.environment  # a logging setting, not the served agent's
    assert plan_deployment(load_settings(auth="token")).api_scopes == ()


def test_obo_scopes_without_genie_is_a_note_and_a_bad_name_an_error(monkeypatch):
    from genie_agent.config import load_settings
    from genie_agent.deployment import plan_deployment
    from genie_agent.errors import ConfigError

    monkeypatch.setenv("GENIE_AGENT_GENIE_BACKEND", "databricks")
    monkeypatch.setenv("GENIE_AGENT_GENIE_SPACES", '{"sales": {"space_id": "01ef"}}')
    monkeypatch.setenv("GENIE_AGENT_OBO_SCOPES", '["sql"]')
    notes = plan_deployment(load_settings(auth="model-serving")).notes
    assert any("obo_scopes" in n and "dashboards.genie" in n for n in notes)
    monkeypatch.setenv("GENIE_AGENT_OBO_SCOPES", '["dashboards genie"]')
    with pytest.raises(ConfigError) as bad:
        load_settings()
    assert (
        "GENIE_AGENT_OBO_SCOPES" in " ".join(bad.value.problems)
        and "dashboards genie" in bad.value.problems[0]
    )
