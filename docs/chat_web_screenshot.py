"""Take docs/chat-web.png: ``genie-agent chat --web`` in headless Chromium after a cross-domain question.

    .venv/bin/python docs/chat_web_screenshot.py [OUT.png]

Needs Debian's chromium and chromium-driver (.ci/run installs them) and the dev extra (selenium).
The chat runs on the embedded default in a temporary home (its TPC-H data generated there, ~3 s),
behind a token, as the browser test (tests/integration/test_chat_web.py) drives it.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from selenium.webdriver.common.keys import Keys  # noqa: E402

from genie_agent.data.tpch import ensure_tpch_database  # noqa: E402
from tests.browser import chromium, screen_text, start_web_chat, type_keys, wait_for_screen  # noqa: E402

HEIGHT = 1350
"""Tall enough for the question, its status lines and both spaces' results (the combined table and the
answer follow below them)."""
QUESTION = "Revenue by region in 1995 and how many suppliers each region has"
"""Two spaces (sales, supply): each one's chart and table, the combined table and the answer."""


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        ensure_tpch_database(home / "data" / "tpch-sf0.1.duckdb", scale_factor=0.1, progress=False)
        token = secrets.token_urlsafe()
        chat = start_web_chat(home, Path(tmp), [], token=token)
        try:
            with chromium(width=1100, height=HEIGHT) as driver:
                driver.get(f"{chat.url}?token={token}")
                wait_for_screen(driver, lambda s: "Ask a question" in s)
                type_keys(driver, QUESTION + "\n")
                # the answer's last part streamed in: the turn is done
                wait_for_screen(driver, lambda s: "Together" in s and "Ask a follow-up" in s, timeout=120)
                # the conversation follows the answer down; page back up to the question
                for _ in range(10):
                    if QUESTION in screen_text(driver).splitlines()[1]:
                        break
                    type_keys(driver, Keys.PAGE_UP)
                    time.sleep(0.3)
                wait_for_screen(driver, lambda s: "done in" in s and "suppliers" in s)
                time.sleep(1)  # the last frame painted on the canvas
                driver.save_screenshot(str(out))
        finally:
            chat.stop()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "chat-web.png")
