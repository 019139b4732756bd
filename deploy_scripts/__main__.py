"""``python -m genie_agent_cli``: the ``genie-agent`` command line (``chat --web`` starts each browser
tab's chat this way, on the interpreter it runs on)."""

from .main import cli

cli(prog_name="genie-agent")
