"""``genie-agent chat --web``: who the server lets in (a real aiohttp server, real HTTP and websocket
requests), and the chat itself in headless Chromium (slow)."""

from __future__ import annotations

import secrets
import shlex
import subprocess
import sys

import aiohttp
import httpx
import psutil
import pytest
from aiohttp.test_utils import TestServer

from genie_agent.errors import ConfigError
from genie_agent_tui.web import ChatWebServer, chat_command, check_exposure, page_url
from tests.browser import browser_or_skip, chromium, screen_text, start_web_chat, type_keys, wait_for_screen
from tests.servers import CLI, serve_home

TOKEN = "a-token-of-24-characters"


@pytest.mark.parametrize(
    ("host", "token", "refused"),
    [
        ("127.0.0.1", None, False),
        ("localhost", None, False),
        ("::1", None, False),
        ("0.0.0.0", None, True),
        ("192.168.1.20", None, True),
        ("0.0.0.0", TOKEN, False),
        ("127.0.0.1", "short", True),
    ],
)
def test_the_chat_is_served_beyond_loopback_only_with_a_long_token(host, token, refused):
    if refused:
        with pytest.raises(ConfigError) as info:
            check_exposure(host, token)
        assert "token" in info.value.hint
    else:
        check_exposure(host, token)


def test_each_tab_runs_the_chat_on_this_interpreter_with_the_same_options():
    command = chat_command(["--url", "http://127.0.0.1:8000", "--token", "it's a secret"])
    assert shlex.split(command) == [
        sys.executable,
        "-m",
        "genie_agent_cli",
        "chat",
        "--url",
        "http://127.0.0.1:8000",
        "--token",
        "it's a secret",
    ]
    run = subprocess.run([*shlex.split(command)[:4], "--help"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "Usage: genie-agent chat" in run.stdout


def test_the_address_printed_carries_the_token_and_a_host_a_browser_can_reach():
    assert page_url("127.0.0.1", 8088, None) == "http://127.0.0.1:8088/"
    assert page_url("::1", 8088, "a b") == "http://[::1]:8088/?token=a+b"
    assert not page_url("0.0.0.0", 8088, TOKEN).startswith("http://0.0.0.0")


def _cli(tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "GENIE_AGENT_HOME": str(tmp_path), "GENIE_AGENT_TRACING": "off"}
    return subprocess.run([CLI, "chat", *args], env=env, capture_output=True, text=True, timeout=60)


def test_chat_web_beyond_loopback_without_a_token_exits_2_with_what_to_do(tmp_path):
    run = _cli(tmp_path, "--web", "--host", "0.0.0.0", "--port", "1")
    assert run.returncode == 2
    assert "without a token" in run.stderr and "chat_web_token" in run.stderr


def test_web_options_without_web_are_a_usage_error(tmp_path):
    run = _cli(tmp_path, "--port", "8088")
    assert run.returncode == 2 and "go with --web" in run.stderr


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # aiohttp's


@pytest.fixture
async def gated():
    """The server's app with a token, on a real loopback port; ``true`` stands in for the chat."""
    server = ChatWebServer("true", host="127.0.0.1", port=8088, token=TOKEN)
    async with TestServer(await server._make_app(), host="127.0.0.1") as test_server:
        yield test_server


@pytest.fixture
async def open_on_loopback():
    server = ChatWebServer("true", host="127.0.0.1", port=8088, token=None)
    async with TestServer(await server._make_app(), host="127.0.0.1") as test_server:
        yield test_server


@pytest.mark.anyio
async def test_without_the_token_nothing_is_served(gated):
    async with aiohttp.ClientSession() as client:
        for path in ("/", "/static/js/textual.js", "/download/x", f"/?token={'x' * len(TOKEN)}"):
            async with client.get(gated.make_url(path)) as response:
                assert response.status == 401, path
                assert "?token=" in await response.text()
        async with client.get(gated.make_url("/"), headers={"Authorization": "Bearer wrong"}) as response:
            assert response.status == 401
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(gated.make_url("/ws"))
        assert refused.value.status == 401


@pytest.mark.anyio
async def test_the_token_on_first_load_becomes_a_cookie_and_leaves_the_address(gated):
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:  # an IP's cookies
        async with client.get(gated.make_url(f"/?token={TOKEN}&fontsize=12"), allow_redirects=False) as first:
            assert first.status == 302 and first.headers["Location"] == "/?fontsize=12"
            cookie = first.cookies["genie_agent_chat_8088"]
            assert cookie.value == TOKEN and cookie["httponly"] and cookie["samesite"] == "Strict"
        async with client.get(gated.make_url("/")) as page:  # the session sends the cookie back
            html = await page.text()
        assert page.status == 200
        assert f'data-session-websocket-url="ws://{gated.host}:{gated.port}/ws"' in html
        assert "googleapis" not in html and "fonts/RobotoMono-VariableFont_wght.ttf" in html
        async with client.get(gated.make_url("/static/fonts/RobotoMono-VariableFont_wght.ttf")) as font:
            assert font.status == 200
    async with (
        aiohttp.ClientSession() as client,
        client.get(gated.make_url("/"), headers={"Authorization": f"Bearer {TOKEN}"}) as page,
    ):
        assert page.status == 200


@pytest.mark.anyio
async def test_the_websocket_opens_only_from_this_servers_page(gated):
    own = f"http://{gated.host}:{gated.port}"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as client:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(gated.make_url("/ws"), headers={**auth, "Origin": "http://evil.example"})
        assert refused.value.status == 403
        socket = await client.ws_connect(gated.make_url("/ws"), headers={**auth, "Origin": own})
        await socket.close()


@pytest.mark.anyio
async def test_without_a_token_only_requests_to_a_loopback_name_are_answered(open_on_loopback):
    """A page whose own name was rebound to 127.0.0.1 sends its own name as Host."""
    async with aiohttp.ClientSession() as client:
        async with client.get(open_on_loopback.make_url("/")) as page:
            assert page.status == 200
        port = open_on_loopback.port
        for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
            async with client.get(open_on_loopback.make_url("/"), headers={"Host": host}) as page:
                assert page.status == 200, host
        async with client.get(
            open_on_loopback.make_url("/"), headers={"Host": f"rebound.example:{port}"}
        ) as page:
            assert page.status == 403 and "loopback" in await page.text()


@pytest.mark.slow
def test_the_chat_in_a_browser_answers_a_question_and_wants_its_token(tmp_path_factory, tpch_db, tmp_path):
    browser_or_skip()
    home = serve_home(tmp_path_factory, tpch_db, "web-home")
    token = secrets.token_urlsafe()
    chat = start_web_chat(home, tmp_path, ["--user", "alice"], token=token)
    server = psutil.Process(chat.process.pid)
    try:
        assert httpx.get(chat.url).status_code == 401
        with chromium() as driver:
            driver.get(chat.url)
            assert "needs its token" in driver.page_source and screen_text(driver) == ""
            driver.get(f"{chat.url}?token={token}")
            # the tab's chat runs with the command's options: the user it was given
            wait_for_screen(driver, lambda s: "embedded as alice" in s and "Ask a question" in s)
            assert driver.current_url == chat.url  # the token left the address bar for a cookie
            tabs_chat = server.children(recursive=True)
            assert tabs_chat
            type_keys(driver, "Total revenue in 1995\n")
            # the status line says the turn is done; the answer's number is the embedded data's
            wait_for_screen(
                driver, lambda s: "route → sales" in s and "done in" in s and "3,144,243,655.72" in s
            )
    finally:
        out = chat.stop()
    assert chat.process.returncode == 0, out
    assert f"{chat.url}?token=" in out
    _, alive = psutil.wait_procs(tabs_chat, timeout=10)
    assert not alive, alive
