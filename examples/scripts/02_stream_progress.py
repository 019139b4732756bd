"""Stream a cross-domain answer's events to a progress display in the terminal.

    python examples/scripts/02_stream_progress.py ["your question"]

Each event is printed as it arrives, with the seconds since the question was asked: the route, each
space starting and answering (or failing), the answer's text as it is written, the chart it
suggests, and the turn result last.
"""

import sys
import time

import genie_agent

question = (
    sys.argv[1]
    if len(sys.argv) > 1
    else "What was revenue by region in 1995, and how many suppliers does each region have?"
)
started = time.monotonic()


def say(line: str) -> None:
    print(f"[{time.monotonic() - started:5.2f} s] {line}", flush=True)


with genie_agent.connect() as client:
    print(f"Q: {question}")
    writing = False
    for event in client.stream(question):
        match event:
            case genie_agent.RouteChosen(route):
                say(f"route: {', '.join(route.domains) or 'no space'} ({route.kind}) — {route.reason}")
            case genie_agent.SpaceQueryStarted(domain, asked):
                say(f"{domain}: asking {asked!r}")
            case genie_agent.SpaceProgress(domain, message):
                say(f"{domain}: {message}")
            case genie_agent.SpaceReplied(domain, row_count=rows):
                say(f"{domain}: {rows} row(s)")
            case genie_agent.SpaceFailed(domain, error, hint):
                say(f"{domain} failed: {error} {hint}")
            case genie_agent.TextDelta(text):
                if not writing:
                    say("answer:")
                    writing = True
                print(text, end="", flush=True)
            case genie_agent.VisualizationReady(hint):
                print()
                say(f"chart: {hint.get('type')} of {hint.get('y')} by {hint.get('x')}")
            case genie_agent.Done(result):
                say(f"done: {result.status}, {len(result.results)} space result(s), turn {result.turn_id}")
