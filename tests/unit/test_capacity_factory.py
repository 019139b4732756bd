"""make_limiter: off by default, Postgres when a database is given, else this process's own."""

from __future__ import annotations

import subprocess
import sys

import pytest

from genie_agent.capacity import LocalLimiter, PostgresLimiter, QuestionLimiter, make_limiter
from genie_agent.errors import ConfigError


def test_no_rate_means_no_limiter() -> None:
    assert make_limiter(None, None) is None
    assert make_limiter(0, "postgresql://db/x") is None


def test_a_rate_alone_paces_this_process() -> None:
    limiter = make_limiter(5, None, window_s=30.0)
    assert isinstance(limiter, LocalLimiter) and isinstance(limiter, QuestionLimiter)
    assert limiter.limit == 5 and limiter.pacing.window_s == 30.0


def test_a_database_shares_the_limit_without_connecting_yet() -> None:
    limiter = make_limiter(5, "postgresql://nobody@127.0.0.1:1/none", schema="limits", scope="ws-1")
    assert isinstance(limiter, PostgresLimiter) and isinstance(limiter, QuestionLimiter)
    assert (limiter.schema, limiter.scope) == ("limits", "ws-1")


def test_the_settings_secret_url_is_read_for_the_connection() -> None:
    from pydantic import SecretStr

    limiter = make_limiter(5, SecretStr("postgresql://nobody@127.0.0.1:1/none"))
    assert isinstance(limiter, PostgresLimiter)
    assert limiter.conninfo == "postgresql://nobody@127.0.0.1:1/none"


def test_bad_settings_say_what_to_do() -> None:
    with pytest.raises(ConfigError, match="at least 1 per minute"):
        make_limiter(-3, None)
    with pytest.raises(ConfigError, match="plain lowercase identifier"):
        make_limiter(5, "postgresql://db/x", schema="Bad-Name")


def test_importing_the_package_loads_neither_limiter_nor_psycopg() -> None:
    code = (
        "import sys, genie_agent.capacity as c; "
        "print(sorted(m for m in ('psycopg', 'psycopg_pool', 'genie_agent.capacity.local', "
        "'genie_agent.capacity.postgres') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
