"""What tracing costs the chat's embedded agent: start-up, the UI while MLflow sets up, a turn.

The chat traces its embedded agent's answers so that they can be rated (genie_agent_tui.tracing): MLflow
is imported and its store opened in a thread of its own, after the app has drawn and the agent is built.
Each case runs in a fresh process (headless app, Textual's ``run_test``, 80x24) on the real path
(``target_for(TargetSpec("embedded"), settings)``), in a home prepared once (example data linked in):

* ``off``: ``GENIE_AGENT_TRACING=off`` (the chat before rating: nothing of MLflow);
* ``new store``: tracing on, the home's MLflow store created on the way (a first chat);
* ``existing store``: tracing on, the store there already (every later chat).

Per case: the first draw (the question box on screen), connected (the agent built: the header stops
saying "starting"), tracing ready, the UI's lag while it sets up (how late a 20 ms timer fires on the
app's loop: p50 / max; a late timer is a keystroke shown late), and one turn's wall time asked once the
chat is ready. Prints figures only. Run from the repo root:

    .venv/bin/python bench/bench_chat_tracing.py [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Top 5 nations by revenue in 1996"

_CHILD = r"""
import asyncio, json, statistics, sys, time
started = time.perf_counter()
from genie_agent.config import load_settings
from genie_agent_tui.app import GenieChatApp
from genie_agent_tui.targets import TargetSpec, target_for
from genie_agent_tui.widgets.prompt_input import PromptInput

settings = load_settings()
target = target_for(TargetSpec("embedded"), settings)
app = GenieChatApp(target, home=settings.home)
out = {}

def screen() -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())

async def lag(until) -> list[float]:
    late = []
    while not until():
        t = time.perf_counter()
        await asyncio.sleep(0.02)
        late.append((time.perf_counter() - t - 0.02) * 1000)
    return late

async def main() -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        while "Ask a question" not in screen():
            await asyncio.sleep(0.001)
        out["first_draw_ms"] = (time.perf_counter() - started) * 1000
        late = await lag(lambda: "starting" not in app.sub_title)
        out["connected_ms"] = (time.perf_counter() - started) * 1000
        tracer = target.client.agent.tracer
        ready = getattr(tracer, "ready", None)
        if ready is not None:
            late += await lag(lambda: tracer.ready or tracer._done.is_set())
            out["tracing_ready_ms"] = (time.perf_counter() - started) * 1000
        out["lag_p50_ms"] = statistics.median(late) if late else 0.0
        out["lag_max_ms"] = max(late) if late else 0.0
        prompt = app.query_one(PromptInput)
        prompt.value = sys.argv[1]
        t = time.perf_counter()
        await pilot.press("enter")
        while not (app.chat_log.turns and app.chat_log.turns[-1].finished):
            await asyncio.sleep(0.005)
        out["turn_ms"] = (time.perf_counter() - t) * 1000
        out["traced_turn"] = str(app.chat_log.turns[-1].turn_id).startswith("tr-")
    print(json.dumps(out))

asyncio.run(main())
"""


def run(home: Path, tracing: str) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENIE_AGENT_", "MLFLOW_"))}
    env.update({"GENIE_AGENT_HOME": str(home), "GENIE_AGENT_TRACING": tracing})
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, QUESTION],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=home,
    )
    if done.returncode != 0:
        raise SystemExit(f"the chat failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(data: Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "data").mkdir()
        if data is not None:
            (home / "data" / "tpch-sf0.1.duckdb").symlink_to(data)
        run(home, "off")  # warm: example data, value caches, .pyc files
        cases = [("off", "off"), ("new store", "auto"), ("existing store", "auto")]
        print(f"chat on the embedded agent, headless 80x24, one process per case; {QUESTION!r}\n")
        print(
            f"{'case':<16}{'first draw':>12}{'connected':>11}{'tracing':>10}{'UI lag p50/max':>18}{'turn':>9}  traced"
        )
        for name, tracing in cases:
            r = run(home, tracing)
            ready = f"{r['tracing_ready_ms'] / 1000:.1f} s" if "tracing_ready_ms" in r else "-"
            lag = f"{r['lag_p50_ms']:.0f} / {r['lag_max_ms']:.0f} ms"
            print(
                f"{name:<16}{r['first_draw_ms']:>9.0f} ms{r['connected_ms']:>8.0f} ms{ready:>10}{lag:>18}"
                f"{r['turn_ms']:>6.0f} ms  {r['traced_turn']}"
            )
        print(f"\nload average: {', '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} cores")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="a TPC-H SF 0.1 DuckDB file (else generated in the home)")
    main(parser.parse_args().data)
