"""The catalog's YAML, parsed once and kept as JSON: the same catalog, parsed again when a file changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from genie_agent.config import EXAMPLE_CATALOG
from genie_agent.errors import ConfigError
from genie_agent.spaces import catalog as catalog_module
from genie_agent.spaces.catalog import load_catalog


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files parsed as YAML, in order."""
    names: list[str] = []
    read_yaml = catalog_module._read_yaml

    def spy(path: Path) -> object:
        names.append(path.name)
        return read_yaml(path)

    monkeypatch.setattr(catalog_module, "_read_yaml", spy)
    return names


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of the example catalog that a test may edit."""
    shutil.copytree(EXAMPLE_CATALOG.parent, tmp_path / "tpch")
    return tmp_path / "tpch" / "catalog.yaml"


def test_the_next_load_reads_the_kept_data_into_the_same_catalog(tmp_path: Path, parsed: list[str]) -> None:
    cache = tmp_path / "cache"
    first = load_catalog(EXAMPLE_CATALOG, cache_dir=cache)
    assert parsed == ["catalog.yaml", "sales.yaml", "supply.yaml", "customers.yaml"]
    second = load_catalog(EXAMPLE_CATALOG, cache_dir=cache)
    assert len(parsed) == 4  # nothing parsed again
    assert second == first == load_catalog(EXAMPLE_CATALOG)
    # The joins' `on:` keys, which YAML reads as True, came back as they were parsed.
    assert [j.on for j in second.space("sales").joins] == [j.on for j in first.space("sales").joins]


def test_an_edited_file_is_parsed_again(example: Path, tmp_path: Path, parsed: list[str]) -> None:
    cache = tmp_path / "cache"
    load_catalog(example, cache_dir=cache)
    sales = example.with_name("sales.yaml")
    sales.write_text(sales.read_text().replace("title: Sales", "title: Sales and returns", 1))
    parsed.clear()
    edited = load_catalog(example, cache_dir=cache)
    assert parsed == ["sales.yaml"]
    assert edited.space("sales").title == "Sales and returns"


def test_data_json_cannot_hold_is_parsed_every_time(example: Path, tmp_path: Path, parsed: list[str]) -> None:
    sales = example.with_name("sales.yaml")
    sales.write_text(sales.read_text() + "\nadded_on: 2024-05-01\n")  # a date: not kept
    for _ in range(2):
        with pytest.raises(ConfigError) as info:
            load_catalog(example, cache_dir=tmp_path / "cache")
        assert any("added_on" in p for p in info.value.problems)
    assert parsed.count("sales.yaml") == 2 and parsed.count("supply.yaml") == 1


def test_a_damaged_cache_is_ignored(tmp_path: Path, parsed: list[str]) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "parsed-yaml.json").write_text('{"x": {"json": 3}, "y": [1]')
    assert load_catalog(EXAMPLE_CATALOG, cache_dir=cache) == load_catalog(EXAMPLE_CATALOG)
    parsed.clear()
    load_catalog(EXAMPLE_CATALOG, cache_dir=cache)
    assert parsed == []


def test_a_missing_space_file_is_reported_as_without_a_cache(example: Path, tmp_path: Path) -> None:
    load_catalog(example, cache_dir=tmp_path / "cache")
    example.with_name("supply.yaml").unlink()
    with pytest.raises(ConfigError, match=r"supply\.yaml does not exist"):
        load_catalog(example, cache_dir=tmp_path / "cache")
