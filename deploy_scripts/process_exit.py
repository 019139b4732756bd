"""How a one-shot command's process ends (``genie-agent ask``): at once, when everything it opened is closed.

A one-shot command (:data:`ONE_SHOT`) runs with the cyclic collector off (:func:`collector_off`):
building the agent creates some 90,000 objects that live as long as the process, and the collector
would traverse them a couple of hundred times. A process started to run one (``sys.argv[1]``) imports
the command line with the collector off already. At the end:

- When the command closed everything it opened (:func:`close_agent`: its spaces' SQLite and DuckDB
  connections, its memory stores) and nothing waits for the exit (no MLflow tracer exporting spans),
  it calls :func:`exit_closed`. When the process runs this command line (``sys.argv``), no
  collection can close anything any more, so none runs: the collector is frozen before it is turned
  back on (one collection of the command's objects, about 30 ms, avoided), and when this module's
  exit hook was the first registered, so that every other hook has run before it, the hook flushes
  stdout and stderr and leaves with ``os._exit``: the interpreter's teardown of every imported module
  is skipped too.
- Otherwise (an error, a traced agent, a space that cannot be closed, the command called in-process),
  the command's garbage is collected once at exit, closing the connections it holds, and the rest
  frozen, so the teardown's collections skip every imported module's objects.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    import click

    from genie_agent.agent import Agent

__all__ = ["ONE_SHOT", "close_agent", "collector_off", "exit_closed"]

ONE_SHOT = frozenset({"ask"})
"""The commands that end their process: they run with the collector off."""

_ncallbacks = getattr(atexit, "_ncallbacks", None)
# Exit hooks run last registered first: the first one runs after every other.
_FIRST_HOOK = _ncallbacks is not None and _ncallbacks() == 0
_closed_exit: list[int] = []
"""The exit code of this process's command line, once its command closed everything it opened."""


def _at_exit() -> None:
    if not _closed_exit:
        gc.collect()
        gc.freeze()
        return
    gc.freeze()  # nothing the command made needs collecting; the teardown's collections skip it
    if _FIRST_HOOK:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):  # a closed pipe: the interpreter exits as it always does
            return
        os._exit(_closed_exit[0])


atexit.register(_at_exit)  # after the command's threads are joined; before the modules' teardown

_off_from_start = sys.argv[1:2] != [] and sys.argv[1] in ONE_SHOT and gc.isenabled()
if _off_from_start:
    gc.disable()


def collector_off(ctx: click.Context) -> None:
    """The cyclic collector off for the command; on again when its context closes (in-process
    callers, tests and scripts, get it back at once). A caller that turned it off keeps it off."""
    if gc.isenabled() or _off_from_start:
        gc.disable()
        ctx.call_on_close(_collector_on)


def _collector_on() -> None:
    if _closed_exit:
        gc.freeze()
    gc.enable()


def close_agent(agent: Agent) -> bool:
    """Close the agent (:meth:`~genie_agent.agent.Agent.close`); whether every part could be closed."""
    return agent.close()


def exit_closed(code: int, *, command: str) -> NoReturn:
    """Exit with ``code`` from ``command``, which closed everything it opened (see the module's docstring)."""
    if sys.argv[1:2] == [command]:  # this process's command line, not a caller's in-process invocation
        _closed_exit[:] = [code]
    sys.exit(code)
