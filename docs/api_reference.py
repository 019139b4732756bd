"""Build the API reference of the SDK from its docstrings with pdoc (``make docs``; not committed).

The reference is what ``genie_agent.__all__`` lists: each public name, documented where the SDK
exports it, and the public modules among them (``genie_agent.contract``). Names the package loads on
first use are loaded here first, so pdoc sees them as the SDK's members. A warning from pdoc (a name
in ``__all__`` that does not resolve, a docstring it cannot read) fails the build.

    python docs/api_reference.py [OUTPUT_DIRECTORY]   (default: docs/api)
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "api"


def build(output: Path) -> Path:
    """Write the reference into ``output``; its first page is ``output/index.html``."""
    import pdoc
    import pdoc.render

    import genie_agent

    for name in genie_agent.__all__:
        getattr(genie_agent, name)  # the lazy exports, loaded so pdoc documents them
    # The docstrings are reStructuredText-flavoured (``code``, :class:`...` roles).
    pdoc.render.configure(docformat="restructuredtext", show_source=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc("genie_agent", output_directory=output)
    problems = [str(w.message) for w in caught if w.filename.startswith(str(Path(pdoc.__file__).parent))]
    if problems:
        raise SystemExit("pdoc could not document the public API:\n" + "\n".join(problems))
    return output / "index.html"


if __name__ == "__main__":
    page = build(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT)
    print(f"API reference: {page}")
