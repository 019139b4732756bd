from __future__ import annotations

from pathlib import Path

import pytest

from genie_agent.config import EXAMPLE_CATALOG, Settings, load_settings
from genie_agent.errors import ConfigError

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults_run_the_embedded_example(_isolated_genie_agent_home):
    settings = load_settings()
    assert settings.catalog == EXAMPLE_CATALOG and settings.catalog.exists()
    assert settings.home == _isolated_genie_agent_home


def test_environment_overrides_file(tmp_path, monkeypatch):
    config = tmp_path / "c.yaml"
    config.write_text("row_limit: 5\nquery_timeout_s: 3\n")
    monkeypatch.setenv("GENIE_AGENT_CONFIG", str(config))
    monkeypatch.setenv("GENIE_AGENT_ROW_LIMIT", "9")
    settings = load_settings()
    assert settings.row_limit == 9 and settings.query_timeout_s == 3


def test_every_problem_is_reported_at_once(monkeypatch):
    monkeypatch.setenv("GENIE_AGENT_ROW_LIMIT", "0")
    monkeypatch.setenv("GENIE_AGENT_TPCH_SCALE_FACTOR", "-1")
    with pytest.raises(ConfigError) as info:
        load_settings()
    names = " ".join(info.value.problems)
    assert "GENIE_AGENT_ROW_LIMIT" in names and "GENIE_AGENT_TPCH_SCALE_FACTOR" in names


def test_missing_catalog_says_what_to_set(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_settings(catalog=tmp_path / "nope.yaml")
    assert "GENIE_AGENT_CATALOG" in info.value.problems[0]


def test_settings_are_frozen():
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error type
        load_settings().row_limit = 3  # type: ignore[misc]


def test_readme_documents_every_setting():
    text = README.read_text()
    for name in Settings.model_fields:
        assert f"`GENIE_AGENT_{name.upper()}`" in text, name


def test_a_setting_that_is_not_json_is_a_config_error_not_a_traceback(monkeypatch):
    from genie_agent.config import load_settings
    from genie_agent.errors import ConfigError

    monkeypatch.setenv("GENIE_AGENT_USERS", "x")
    try:
        load_settings()
    except ConfigError as exc:
        assert "users" in " ".join(exc.problems) and "JSON" in exc.hint
    else:  # pragma: no cover
        raise AssertionError("a malformed GENIE_AGENT_USERS was accepted")
