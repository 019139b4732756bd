"""``python -m genie_agent_cli``: the ``genie-agent`` command line (``chat --web`` starts each browser
tab's chat this way, on the interpreter it runs on)."""

from .main import cli

if __name__ == "__main__":  # not when a tool imports every module (the error tree's walk)
    cli(prog_name="genie-agent")
