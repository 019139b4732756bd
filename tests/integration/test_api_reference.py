"""The API reference builds from the docstrings (``make docs``), so CI catches it rotting."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import genie_agent
from genie_agent import contract

ROOT = Path(__file__).resolve().parents[2]


def _sections(page: Path) -> set[str]:
    """The ids of the documented names on a pdoc page (``TurnResult``, ``TurnResult.status`` ...)."""
    return set(re.findall(r'<(?:section|div) id="([A-Za-z_][\w.]*)"', page.read_text()))


def test_the_reference_builds_and_documents_the_public_api(tmp_path):
    started = time.monotonic()
    # A fresh process, as `make docs` runs it: the build sees the package as a user's script does.
    run = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "api_reference.py"), str(tmp_path / "api")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert time.monotonic() - started < 15
    assert (tmp_path / "api" / "index.html").is_file()

    sdk = _sections(tmp_path / "api" / "genie_agent.html")
    assert set(genie_agent.__all__) - {"contract"} <= sdk  # every public name, and nothing private
    assert not {s for s in sdk if "." not in s} - set(genie_agent.__all__)
    assert {"make_agent", "TurnResult", "TurnResult.to_pandas", "ResultTable.to_arrow"} <= sdk
    page = (tmp_path / "api" / "genie_agent.html").read_text()
    assert "The one contract: printed by" in page  # the docstrings, not only the names

    wire = _sections(tmp_path / "api" / "genie_agent" / "contract.html")
    fields = {f"TurnResult.{name}" for name in contract.TurnResult.model_fields}
    assert {"TurnResult.status", "TurnResult.results", "TurnResult.visualization_hint"} <= fields <= wire
    assert {f"ResultTable.{name}" for name in contract.ResultTable.model_fields} <= wire
