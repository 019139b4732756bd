"""The ``genie-agent`` command line (``genie_agent_cli``).

:mod:`.process_exit` is imported first, so that its exit hook is the first registered: see there.
"""

from . import process_exit as process_exit
