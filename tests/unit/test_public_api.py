"""``import genie_agent`` is the SDK: cheap to import, every public name resolves, nothing else is public."""

from __future__ import annotations

import subprocess
import sys

import genie_agent


def test_every_public_name_resolves():
    assert sorted(genie_agent.__all__) == sorted(genie_agent._EXPORTS)
    for name in genie_agent.__all__:
        assert getattr(genie_agent, name) is not None, name
    assert set(dir(genie_agent)) >= set(genie_agent.__all__)


def test_an_unknown_name_is_an_attribute_error():
    try:
        genie_agent.not_a_public_name  # noqa: B018
    except AttributeError as exc:
        assert "not_a_public_name" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("an unknown name resolved")


def test_importing_the_sdk_loads_none_of_it():
    code = (
        "import sys, genie_agent; "
        "loaded = sorted(m for m in sys.modules if m.startswith('genie_agent.')); "
        "heavy = [m for m in ('pydantic', 'duckdb', 'mlflow', 'httpx') if m in sys.modules]; "
        "print(loaded, heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] []"


def test_a_script_can_run_a_turn_through_the_public_api(tpch_catalog, tmp_path):
    settings = genie_agent.load_settings(home=tmp_path, tracing="off")
    agent = genie_agent.make_agent(settings, catalog=tpch_catalog, progress=False)
    events = list(agent.stream("What was total revenue in 1996?"))
    assert isinstance(events[0], genie_agent.RouteDecided)
    text = "".join(e.text for e in events if isinstance(e, genie_agent.TextDelta))
    (done,) = [e for e in events if isinstance(e, genie_agent.TurnDone)]
    assert isinstance(done.result, genie_agent.TurnResult) and done.result.text == text
    assert genie_agent.contract.TurnResult.read(done.result.to_dict()).status == "ok"
