"""One script, any target: the agent in this process, a `genie-agent serve`, or a serving endpoint.

    python examples/scripts/04_any_target.py                  # the agent in this process

    genie-agent serve --port 8000 &                           # the agent over HTTP
    GENIE_AGENT_TARGET=http://127.0.0.1:8000 python examples/scripts/04_any_target.py

    # a Databricks Model Serving endpoint, with databricks-sdk's unified auth
    # (DATABRICKS_HOST + DATABRICKS_TOKEN, DATABRICKS_CONFIG_PROFILE, or `databricks auth login`)
    GENIE_AGENT_TARGET=endpoint:genie-agent python examples/scripts/04_any_target.py

A server with users wants a token: GENIE_AGENT_TOKEN. The answer, its events and its errors are the
same whichever target answers; an error says what to do, and this script exits 1 with it.
"""

import os
import sys

import genie_agent

QUESTION = "Top 5 nations by revenue in 1996"

client = genie_agent.connect()  # $GENIE_AGENT_TARGET, else "local"
print(f"target: {client.label} (GENIE_AGENT_TARGET={os.environ.get('GENIE_AGENT_TARGET', '')!r})")
try:
    with client:
        result = client.ask(QUESTION)
        print(f"Q: {QUESTION}")
        print(f"status: {result.status}, source: {result.source}, spaces: {', '.join(result.domains)}")
        print(result.to_pandas().to_string(index=False, float_format="{:,.2f}".format))
        follow_up = client.ask("and in 1995?")
        print(f"follow-up ({follow_up.route.kind if follow_up.route else '-'}): {follow_up.text}")
except genie_agent.GenieAgentError as exc:  # TargetUnreachableError, TargetAuthError, ...
    print(f"{type(exc).__name__}: {exc.message}\n  what to do: {exc.hint}", file=sys.stderr)
    sys.exit(1)
