"""The wheel `genie-agent deploy --target apps` ships: every module and data file of the source tree, nothing else."""

from __future__ import annotations

import zipfile
from pathlib import Path

from genie_agent_cli.deploy import _wheel

ROOT = Path(__file__).resolve().parents[2]
# Import name -> source directory; a package missing here (or from pyproject's package-dir) fails below.
PACKAGES = {
    "genie_agent": "sdk/genie_agent",
    "genie_agent_cli": "deploy_scripts",
    "genie_agent_tui": "tui",
    "genie_agent_examples": "examples",
    "genie_agent_model": "agent_model",
}
_NOT_SHIPPED_DIRS = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
_NOT_SHIPPED_SUFFIXES = {".pyc", ".pyo"}


def _source_files() -> set[str]:
    """Every file of the source packages, as the path the wheel should hold it at."""
    files = set()
    for package, directory in PACKAGES.items():
        base = ROOT / directory
        for path in base.rglob("*"):
            relative = path.relative_to(base)
            if not path.is_file() or _NOT_SHIPPED_DIRS & set(relative.parts[:-1]):
                continue
            if path.suffix in _NOT_SHIPPED_SUFFIXES:
                continue
            files.add(f"{package}/{relative.as_posix()}")
    return files


def test_the_deploy_wheel_holds_exactly_the_source_packages(tmp_path):
    wheel = _wheel(tmp_path)
    assert wheel is not None, "the tests run from the source tree, so deploy builds a wheel"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        top_level = archive.read(next(n for n in names if n.endswith(".dist-info/top_level.txt")))
    shipped = {n for n in names if ".dist-info/" not in n}
    source = _source_files()

    assert source - shipped == set(), "in the source tree but not in the wheel"
    assert shipped - source == set(), "in the wheel but not in the source tree (a stale build?)"
    assert set(top_level.decode().split()) == set(PACKAGES)
    # What the code reads at run time through importlib.resources and Textual's CSS_PATH.
    assert {
        "genie_agent/prompts/synthesis.md",
        "genie_agent/py.typed",
        "genie_agent_examples/tpch/catalog.yaml",
        "genie_agent_tui/app.tcss",
        "genie_agent_model/agent.py",
    } <= shipped
