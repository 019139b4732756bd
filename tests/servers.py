"""Start `genie-agent` servers (serve, genie-server) as real processes for tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

CLI = str(Path(sys.executable).parent / "genie-agent")

__all__ = ["CLI", "free_port", "serve_home", "start_server"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    home: Path,
    cwd: Path,
    config: str | None = None,
    *,
    command: list[str] | None = None,
    timeout_s: float = 60,
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[str], str]:
    """Start ``genie-agent serve`` (or ``command`` + ``--port``) with its own home and wait for /health.

    The caller's GENIE_AGENT_*, MLFLOW_* and DATABRICKS_* variables are not passed on; tracing is off;
    ``env`` adds variables of its own.
    """
    extra = env or {}
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("GENIE_AGENT_", "MLFLOW_", "DATABRICKS_"))
    }
    env.update(extra)
    env["GENIE_AGENT_HOME"] = str(home)
    env["GENIE_AGENT_TRACING"] = "off"
    if config is not None:
        path = cwd / "config.yaml"
        path.write_text(config)
        env["GENIE_AGENT_CONFIG"] = str(path)
    port = free_port()
    argv = [*(command or [CLI, "serve"]), "--port", str(port)]
    proc = subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{argv[1]} exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"{argv[1]} did not start within {timeout_s:g} s")


def serve_home(tmp_path_factory: pytest.TempPathFactory, tpch_db: Path, name: str = "serve-home") -> Path:
    """A GENIE_AGENT_HOME whose example data is the session's TPC-H file."""
    home = tmp_path_factory.mktemp(name)
    (home / "data").mkdir()
    (home / "data" / "tpch-sf0.1.duckdb").symlink_to(tpch_db)
    return home
