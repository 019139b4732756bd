"""Building the configured question limiter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import SecretStr

    from .base import QuestionLimiter

__all__ = ["make_limiter"]


def make_limiter(
    questions_per_minute: int | None,
    postgres_conninfo: str | SecretStr | None = None,
    *,
    schema: str | None = None,
    scope: str = "default",
    **options: Any,
) -> QuestionLimiter | None:
    """The question limiter for ``questions_per_minute`` (None or 0: no limiter, the default).

    With ``postgres_conninfo`` every process using that database (and ``schema``, and ``scope``:
    one per workspace) shares the limit (a settings ``SecretStr`` is read here, never printed);
    without it this process keeps its own. ``options`` go to
    the limiter (``window_s``, ``backoff_s``, ``max_backoff_s``, ``recover_every_s``; for Postgres
    also ``poll_s``, ``stale_after_s``, ``connection_kwargs``). Nothing connects until the first question.
    """
    if not questions_per_minute:
        return None
    conninfo = postgres_conninfo
    if conninfo is not None and not isinstance(conninfo, str):
        conninfo = conninfo.get_secret_value()
    if conninfo:
        from .postgres import PostgresLimiter

        return PostgresLimiter(conninfo, questions_per_minute, schema=schema, scope=scope, **options)
    from .local import LocalLimiter

    return LocalLimiter(questions_per_minute, **options)
