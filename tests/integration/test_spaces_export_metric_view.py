"""``genie-agent spaces export --metric-view SPACE`` (issue 16): a local space as metric views, the same
files ``genie-agent metric-view export SPACE`` writes; the space argument and ``--metric-view`` are one or
the other, with a usage error that says so."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from genie_agent_cli.main import cli


@pytest.fixture
def run_cli(cli_home: Path, monkeypatch: pytest.MonkeyPatch):
    """The command line in this process, over the session's TPC-H file, no workspace."""
    for name in ("GENIE_AGENT_CONFIG", "DATABRICKS_HOST", "DATABRICKS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GENIE_AGENT_TRACING", "off")

    def run(*args: str):
        return CliRunner().invoke(cli, list(args))

    return run


def files(directory: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(directory.iterdir())}


def test_spaces_export_metric_view_writes_what_metric_view_export_writes(run_cli, tmp_path: Path) -> None:
    target = ["--catalog", "samples", "--schema", "tpch", "--view-schema", "main.analytics"]
    via_spaces = run_cli("spaces", "export", "--metric-view", "sales", "-o", str(tmp_path / "a"), *target)
    assert via_spaces.exit_code == 0, via_spaces.output
    via_metric_view = run_cli("metric-view", "export", "sales", "--out", str(tmp_path / "b"), *target)
    assert via_metric_view.exit_code == 0, via_metric_view.output
    written = files(tmp_path / "a")
    assert written == files(tmp_path / "b")
    assert set(written) == {
        "sales_lineitem.metric_view.yaml",
        "sales_lineitem.sql",
        "sales_orders.metric_view.yaml",
        "sales_orders.sql",
        "sales.space.yaml",
    }
    assert "CREATE OR REPLACE VIEW `main`.`analytics`.`sales_lineitem`" in written["sales_lineitem.sql"]
    assert "source: samples.tpch.lineitem" in written["sales_lineitem.metric_view.yaml"]
    printed = via_spaces.stdout.splitlines()
    assert sorted(printed) == sorted(str(tmp_path / "a" / name) for name in written)
    assert printed == [
        line.replace(str(tmp_path / "b"), str(tmp_path / "a")) for line in via_metric_view.stdout.splitlines()
    ]
    assert "list sales.space.yaml in a catalog's `spaces`" in via_spaces.stderr


def test_without_an_output_the_views_go_to_metric_views(run_cli, tmp_path: Path) -> None:
    result = run_cli("spaces", "export", "--metric-view", "supply")
    assert result.exit_code == 0, result.output
    assert (Path("metric_views") / "supply.space.yaml").is_file()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["spaces", "export", "01ef", "--metric-view", "sales"], "not both"),
        (["spaces", "export"], "or give --metric-view SPACE"),
        (["spaces", "export", "01ef", "--view-schema", "main.analytics"], "--view-schema only apply with"),
        (["spaces", "export", "--metric-view", "sales", "--view-schema", "main"], "is not CATALOG.SCHEMA"),
    ],
)
def test_a_wrong_combination_is_a_usage_error_that_says_what_to_give(run_cli, args, says) -> None:
    result = run_cli(*args)
    assert result.exit_code == 2, result.output
    assert says in result.output


def test_an_unknown_local_space_names_the_ones_there_are(run_cli) -> None:
    result = run_cli("spaces", "export", "--metric-view", "nope")
    assert result.exit_code == 2, result.output
    assert "No space 'nope'" in result.stderr and "sales" in result.stderr
