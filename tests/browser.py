"""``genie-agent chat --web`` in headless Chromium (Debian's ``chromium`` and ``chromium-driver``), for
the browser test and docs/chat_web_screenshot.py.

The page draws the chat with xterm.js on a canvas, so its text is not in the DOM. :data:`_KEEP_TERMINAL`
runs before the page's scripts and keeps the page's xterm.js ``Terminal`` when textual-serve's
client stores it (``this.terminal = new Terminal(...)``); :func:`screen_text` reads the rows that
terminal shows: what the canvas paints.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.servers import CLI, free_port

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

__all__ = [
    "CHROMEDRIVER",
    "CHROMIUM",
    "WebChat",
    "browser_or_skip",
    "chromium",
    "screen_text",
    "start_web_chat",
]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

_KEEP_TERMINAL = """
window.__terminals = [];
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  get() { return undefined; },
  set(value) {
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true, enumerable: true});
    if (value && value.buffer && value.buffer.active) window.__terminals.push(value);
  },
});
"""

_SCREEN = """
const terminal = window.__terminals[0];
if (!terminal) return null;
const buffer = terminal.buffer.active, rows = [];
for (let i = 0; i < terminal.rows; i++) {
  const line = buffer.getLine(buffer.viewportY + i);
  rows.push(line ? line.translateToString(true) : "");
}
return rows.join("\\n");
"""


def browser_or_skip() -> None:
    """Skip without Chromium and its driver (fail when ``GENIE_TEST_REQUIRE_BROWSER=1``: ``.ci/run``)."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        message = f"{', '.join(missing)} missing: `apt-get install chromium chromium-driver` (.ci/run does)"
        if os.environ.get("GENIE_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)


@contextmanager
def chromium(width: int = 1100, height: int = 700) -> Iterator[WebDriver]:
    """Headless Chromium that keeps each page's terminal (see the module's docstring)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _KEEP_TERMINAL})
        yield driver
    finally:
        driver.quit()


def screen_text(driver: WebDriver) -> str:
    """The rows the page's terminal shows ('' before it exists)."""
    return driver.execute_script(_SCREEN) or ""


def wait_for_screen(driver: WebDriver, condition: Callable[[str], bool], timeout: float = 60) -> str:
    """The screen once ``condition`` holds for it; AssertionError with the last screen after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        text = screen_text(driver)
        if condition(text):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"the page did not show what was expected within {timeout:g} s:\n{text}")
        time.sleep(0.1)


def type_keys(driver: WebDriver, keys: str) -> None:
    """Type into the page's terminal (xterm.js reads keys from its helper textarea)."""
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys(keys)


@dataclass
class WebChat:
    """A running ``genie-agent chat --web``."""

    process: subprocess.Popen[str]
    url: str
    token: str | None

    def stop(self) -> str:
        """SIGTERM, wait for the exit; the server's output."""
        self.process.terminate()
        out, _ = self.process.communicate(timeout=30)
        return out


def start_web_chat(
    home: Path, cwd: Path, args: list[str], *, token: str | None = None, timeout_s: float = 60
) -> WebChat:
    """Start ``genie-agent chat --web <args>`` on a free port with its own home; wait until it serves.

    The caller's GENIE_AGENT_*, MLFLOW_* and DATABRICKS_* variables are not passed on; tracing is off;
    ``token`` is the setting chat_web_token (GENIE_AGENT_CHAT_WEB_TOKEN).
    """
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("GENIE_AGENT_", "MLFLOW_", "DATABRICKS_"))
    }
    env["GENIE_AGENT_HOME"] = str(home)
    env["GENIE_AGENT_TRACING"] = "off"
    if token is not None:
        env["GENIE_AGENT_CHAT_WEB_TOKEN"] = token
    port = free_port()
    argv = [CLI, "chat", "--web", "--port", str(port), *args]
    proc = subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = f"http://127.0.0.1:{port}/"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"chat --web exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(url, headers=headers, timeout=1).status_code == 200:
                return WebChat(proc, url, token)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"chat --web did not start within {timeout_s:g} s")
