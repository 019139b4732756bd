"""Take docs/chat-web.png: ``genie-agent chat --web`` in headless Chromium after one question.

    .venv/bin/python docs/chat_web_screenshot.py [OUT.png]

Needs Debian's chromium and chromium-driver (.ci/run installs them) and the dev extra (selenium).
The chat runs on the embedded default in a temporary home (its TPC-H data generated there, ~3 s),
behind a token, as the browser test (tests/integration/test_chat_web.py) drives it.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from genie_agent.data.tpch import ensure_tpch_database  # noqa: E402
from tests.browser import chromium, start_web_chat, type_keys, wait_for_screen  # noqa: E402

QUESTION = "Top 5 nations by revenue in 1996"


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        ensure_tpch_database(home / "data" / "tpch-sf0.1.duckdb", scale_factor=0.1, progress=False)
        token = secrets.token_urlsafe()
        chat = start_web_chat(home, Path(tmp), [], token=token)
        try:
            with chromium(width=1100, height=900) as driver:
                driver.get(f"{chat.url}?token={token}")
                wait_for_screen(driver, lambda s: "Ask a question" in s)
                type_keys(driver, QUESTION + "\n")
                wait_for_screen(driver, lambda s: "done in" in s and "ETHIOPIA" in s)
                driver.save_screenshot(str(out))
        finally:
            chat.stop()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "chat-web.png")
