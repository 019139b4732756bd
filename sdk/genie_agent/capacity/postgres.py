"""The question limiter every process of a deployment shares, through a queue table in Postgres.

Each question is a row in ``genie_agent_question_queue`` (:mod:`.postgres_sql`). Whichever process
looks first grants what the window allows, in the same fair order as :class:`LocalLimiter` (round-
robin by user across every process), in one transaction under an advisory lock. A process with
questions waiting looks every ``poll_s`` (sooner when the next slot frees sooner), heartbeats its
rows, and drops rows no process has heartbeated for ``stale_after_s`` (their process died). The
window, the pause and the learned rate are kept in the database's clock.

When the database cannot be reached, questions are paced by this process alone (a
:class:`LocalLimiter` at the same rate) and the database is tried again after ``retry_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import BackendError, ConfigError
from . import postgres_sql as sql
from . import schedule
from .base import WaitStatus
from .local import LocalLimiter

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

__all__ = ["PostgresLimiter"]

log = logging.getLogger(__name__)
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class _FellBack(Exception):
    """The database failed while a question waited: it waits in the process's own limiter instead."""


@dataclass(eq=False)
class _Waiter:
    user: str
    row: int
    granted: asyncio.Future[None]
    on_wait: Callable[[WaitStatus], None] | None
    told: tuple[int, float] | None = None


@dataclass
class _Look:
    """What one look at the queue found for this process's rows."""

    now: float
    granted: set[int] = field(default_factory=set)
    places: dict[int, tuple[int, float]] = field(default_factory=dict)
    moved: dict[int, int] = field(default_factory=dict)
    next_at: float | None = None


class PostgresLimiter:
    """At most ``questions_per_minute`` questions in any ``window_s`` seconds across every process
    that uses this database, ``schema`` and ``scope``; waiting users served in turn.

    A grant counts for ``margin_s`` past the window; by default :data:`~.schedule.GRANT_MARGIN_S`
    and ``poll_s``, since a question granted by another process's look is sent only when its own
    process next looks, up to ``poll_s`` after the grant is dated."""

    def __init__(
        self,
        conninfo: str,
        questions_per_minute: int,
        *,
        schema: str | None = None,
        scope: str = "default",
        window_s: float = 60.0,
        backoff_s: float = 10.0,
        max_backoff_s: float = 120.0,
        recover_every_s: float | None = None,
        margin_s: float | None = None,
        poll_s: float = 0.25,
        stale_after_s: float = 15.0,
        retry_s: float = 30.0,
        timeout_s: float = 5.0,
        connection_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise ConfigError(
                f"The question limiter's schema {schema!r} is not a plain lowercase identifier.",
                "Use letters, digits and underscores, starting with a letter or underscore.",
            )
        self.fallback = LocalLimiter(
            questions_per_minute,
            window_s=window_s,
            backoff_s=backoff_s,
            max_backoff_s=max_backoff_s,
            recover_every_s=recover_every_s,
            margin_s=schedule.GRANT_MARGIN_S + poll_s if margin_s is None else margin_s,
        )
        self.pacing = self.fallback.pacing
        self.conninfo, self.schema, self.scope = conninfo, schema, scope
        self.poll_s, self.stale_after_s, self.retry_s, self.timeout_s = (
            poll_s,
            stale_after_s,
            retry_s,
            timeout_s,
        )
        self.history_s = max(self.pacing.held_s, 600.0)
        self.process = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._lock_key = f"genie_agent.capacity:{schema or ''}:{scope}"
        self._connection_kwargs = dict(connection_kwargs or {})
        self._pool: AsyncConnectionPool[Any] | None = None
        self._setup = asyncio.Lock()
        self._ready = False
        self._waiters: dict[int, _Waiter] = {}
        self._drops: set[int] = set()
        self._writes: set[asyncio.Task[None]] = set()
        self._pump: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._down_until: float | None = None
        self._closed = False

    async def acquire(self, user: str, on_wait: Callable[[WaitStatus], None] | None = None) -> None:
        if self._closed:
            raise BackendError("The question limiter is closed.", "Build a new agent to ask more questions.")
        loop = asyncio.get_running_loop()
        if self._down_until is not None and loop.time() < self._down_until:
            return await self.fallback.acquire(user, on_wait)
        enqueued = loop.create_task(self._enqueue(user))
        try:
            row, look = await asyncio.shield(enqueued)
        except asyncio.CancelledError:
            enqueued.add_done_callback(self._drop_enqueued)
            raise
        except _db_errors() as exc:
            self._went_down(exc)
            return await self.fallback.acquire(user, on_wait)
        if row in look.granted:
            return
        waiter = _Waiter(user, row, loop.create_future(), on_wait)
        self._waiters[row] = waiter
        self._tell(waiter, look)
        self._start_pump(wake=False)
        try:
            await waiter.granted
        except asyncio.CancelledError:
            self._waiters.pop(waiter.row, None)
            self._drops.add(waiter.row)  # waiting or granted: either way it counts for nothing
            self._start_pump(wake=True)
            raise
        except _FellBack:
            await self.fallback.acquire(user, on_wait)

    def throttled(self, retry_after_s: float | None = None) -> None:
        self.fallback.throttled(retry_after_s)
        loop = asyncio.get_running_loop()
        if self._down_until is not None and loop.time() < self._down_until:
            return
        write = loop.create_task(self._write_throttle(retry_after_s))
        self._writes.add(write)
        write.add_done_callback(self._writes.discard)

    async def aclose(self) -> None:
        self._closed = True
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        rows = [*self._waiters, *self._drops]
        for waiter in self._waiters.values():
            if not waiter.granted.done():
                waiter.granted.set_exception(
                    BackendError("The question limiter closed before the question was sent.", "Ask again.")
                )
        self._waiters.clear()
        if self._pool is not None:
            if rows and self._ready:
                with contextlib.suppress(*_db_errors()):
                    async with self._pool.connection(timeout=self.timeout_s) as conn:
                        await conn.execute(sql.DROP, (rows,))
            await self._pool.close()
            self._pool = None
        await self.fallback.aclose()

    async def _open(self) -> AsyncConnectionPool[Any]:
        """The pool, with the tables made (once per limiter; any process may make them first)."""
        async with self._setup:
            if self._pool is None:
                self._pool = self._new_pool()
                try:
                    await self._pool.open(wait=True, timeout=self.timeout_s)
                except BaseException:
                    pool, self._pool = self._pool, None
                    await pool.close()
                    raise
            if not self._ready:
                async with self._pool.connection() as conn, conn.transaction():
                    await conn.execute(sql.LOCK, (f"genie_agent.capacity.setup:{self.schema or ''}",))
                    if self.schema:
                        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                    for statement in sql.SETUP:
                        await conn.execute(statement)
                    await conn.execute(sql.ENSURE_PACE, (self.scope,))
                self._ready = True
            return self._pool

    def _new_pool(self) -> AsyncConnectionPool[Any]:
        from psycopg_pool import AsyncConnectionPool

        options = ["-c synchronous_commit=off"]  # a lost grant after a crash costs one question at most
        if self.schema:
            options.append(f"-c search_path={self.schema}")
        kwargs: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": max(2, round(self.timeout_s)),
            "application_name": "genie-agent-question-limiter",
            "options": " ".join(options),
            **self._connection_kwargs,
        }
        return AsyncConnectionPool(
            self.conninfo,
            min_size=1,
            max_size=4,
            kwargs=kwargs,
            open=False,
            timeout=self.timeout_s,
            reconnect_timeout=max(self.timeout_s, 1.0),
            name="genie-agent-question-limiter",
        )

    async def _enqueue(self, user: str) -> tuple[int, _Look]:
        pool = await self._open()
        await self._written()
        async with pool.connection() as conn:
            return await self._look(conn, enqueue=user)

    def _drop_enqueued(self, task: asyncio.Task[tuple[int, _Look]]) -> None:
        """A question cancelled while it was being queued: its row (if it was made) goes."""
        if task.cancelled() or task.exception() is not None:
            return
        self._drops.add(task.result()[0])
        self._start_pump(wake=True)

    async def _look(self, conn: AsyncConnection[Any], *, enqueue: str | None = None) -> tuple[int, _Look]:
        """One transaction: queue ``enqueue``'s question, heartbeat this process's rows, drop the
        dead, grant what the window allows, and find where this process's questions stand (the
        pump's look: every waiting one; a new question's: its own)."""
        mine = [] if enqueue is not None else list(self._waiters)
        drops = list(self._drops)
        async with conn.transaction():
            await conn.execute(sql.LOCK, (self._lock_key,))
            now = await _value(conn, sql.NOW)
            row = -1
            if enqueue is not None:
                row = await _value(conn, sql.ENQUEUE, (self.scope, enqueue, self.process, now, now))
                mine.append(row)
            if drops:
                await conn.execute(sql.DROP, (drops,))
            if mine:
                await conn.execute(sql.HEARTBEAT, (now, mine))
            await conn.execute(
                sql.EXPIRE,
                {
                    "scope": self.scope,
                    "stale_before": now - self.stale_after_s,
                    "forget_before": now - self.history_s,
                },
            )
            later = await self._grant(conn, now)
            look = _Look(now, next_at=later[0][1] if later else None)
            places = {r: (ahead, at) for ahead, (r, at) in enumerate(later)}
            states = dict(await (await conn.execute(sql.MINE, (mine,))).fetchall()) if mine else {}
            for r in mine:
                if r in drops:
                    continue
                if r not in states:  # dropped as dead: this process stalled past stale_after_s
                    if r in self._waiters:
                        user = self._waiters[r].user
                        look.moved[r] = await _value(
                            conn, sql.ENQUEUE, (self.scope, user, self.process, now, now)
                        )
                elif states[r]:
                    look.granted.add(r)
                elif r in places:
                    look.places[r] = places[r]
        self._drops.difference_update(drops)
        return row, look

    async def _grant(self, conn: AsyncConnection[Any], now: float) -> list[tuple[int, float]]:
        """Grant what the window allows, in fair order; every other waiting row (of any process)
        with its expected send time, in the order they will go."""
        pace, served = await self._read_pace(conn)
        rows = await (await conn.execute(sql.READ_QUEUE, (self.scope, now - self.pacing.held_s))).fetchall()
        last = await (await conn.execute(sql.LAST_SERVED, (self.scope,))).fetchall()
        last_served = {user: int(seq) for user, seq in last}
        grants = sorted(g for _, _, g in rows if g is not None)
        waiting = [(int(i), u) for i, u, g in rows if g is None]
        decision = schedule.decide(self.pacing, pace, now, grants, waiting, last_served)
        chosen = [waiting[i][0] for i in decision.grant]
        if chosen:
            seqs = list(range(served + 1, served + 1 + len(chosen)))
            await conn.execute(sql.GRANT, (now, chosen, seqs))
            await conn.execute(sql.SET_SERVED, (seqs[-1], self.scope))
        return [(waiting[i][0], at) for i, at in decision.later]

    async def _read_pace(self, conn: AsyncConnection[Any]) -> tuple[schedule.Pace, int]:
        found = await (await conn.execute(sql.READ_PACE, (self.scope,))).fetchone()
        if found is None:  # the row was deleted by hand: start over
            await conn.execute(sql.ENSURE_PACE, (self.scope,))
            return schedule.Pace(), 0
        paused_until, learned, throttled_at, strikes, served = found
        pace = schedule.Pace(
            paused_until=float("-inf") if paused_until is None else paused_until,
            learned=learned,
            throttled_at=throttled_at,
            strikes=strikes,
        )
        return pace, int(served)

    def _start_pump(self, *, wake: bool) -> None:
        if self._closed:
            return
        if self._pump is None or self._pump.done():
            self._pump = asyncio.get_running_loop().create_task(
                self._run_pump(), name="genie-question-limiter"
            )
        if wake:
            self._wake.set()

    async def _run_pump(self) -> None:
        """While this process has questions waiting (or rows to drop): look, then nap."""
        while not self._closed and (self._waiters or self._drops):
            self._wake.clear()
            try:
                pool = await self._open()
                await self._written()
                async with pool.connection() as conn:
                    _, look = await self._look(conn)
            except _db_errors() as exc:
                self._went_down(exc)
                return
            except Exception as exc:
                log.exception("The question limiter failed")
                failure = f"The question limiter failed: {exc}"
                self._fail_waiters(
                    functools.partial(BackendError, failure, "This is a bug; please report it.")
                )
                return
            self._settle(look)
            if self._waiters or self._drops:
                nap = self.poll_s
                if look.next_at is not None:
                    nap = min(nap, max(0.01, look.next_at - look.now))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(nap):
                        await self._wake.wait()

    def _settle(self, look: _Look) -> None:
        for old, new in look.moved.items():
            moved = self._waiters.pop(old, None)
            if moved is not None:
                moved.row = new
                self._waiters[new] = moved
        for row in look.granted:
            waiter = self._waiters.pop(row, None)
            if waiter is not None and not waiter.granted.done():
                waiter.granted.set_result(None)
        for waiter in self._waiters.values():
            self._tell(waiter, look)

    @staticmethod
    def _tell(waiter: _Waiter, look: _Look) -> None:
        place = look.places.get(waiter.row)
        if place is None or waiter.on_wait is None:
            return
        ahead, at = place
        if waiter.told == (ahead, round(at, 1)):
            return
        waiter.told = (ahead, round(at, 1))
        try:
            waiter.on_wait(WaitStatus(ahead, max(0.0, at - look.now)))
        except Exception:  # a listener's bug must not stop the queue
            log.exception("A question limiter's on_wait callback failed")

    async def _write_throttle(self, retry_after_s: float | None) -> None:
        """Pause every process and lower the shared rate (Genie answered 429)."""
        try:
            pool = await self._open()
            async with pool.connection() as conn, conn.transaction():
                await conn.execute(sql.LOCK, (self._lock_key,))
                now = await _value(conn, sql.NOW)
                pace, _ = await self._read_pace(conn)
                rows = await (
                    await conn.execute(sql.READ_QUEUE, (self.scope, now - self.pacing.held_s))
                ).fetchall()
                granted = sum(1 for _, _, g in rows if g is not None and g + self.pacing.held_s > now)
                pace = schedule.throttle(self.pacing, pace, now, granted, retry_after_s)
                await conn.execute(
                    sql.WRITE_PACE,
                    (pace.paused_until, pace.learned, pace.throttled_at, pace.strikes, self.scope),
                )
            log.info(
                "Genie refused a question for the workspace's rate limit: every process pauses %.1f s, "
                "then %d questions per window",
                pace.paused_until - now,
                schedule.limit_now(self.pacing, pace, now),
            )
        except _db_errors() as exc:
            self._went_down(exc)
        self._wake.set()

    async def _written(self) -> None:
        """Wait for the 429s being written, so no grant is made the moment before a pause."""
        if self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)

    def _went_down(self, exc: BaseException) -> None:
        self._down_until = asyncio.get_running_loop().time() + self.retry_s
        log.warning(
            "The question limiter's database failed (%s): this process paces its own questions at %d per "
            "%g s for %g s, then tries the database again. Check that Postgres is reachable.",
            exc,
            self.pacing.per_window,
            self.pacing.window_s,
            self.retry_s,
        )
        self._drops.clear()  # their rows go stale and are dropped by the other processes
        self._fail_waiters(_FellBack)

    def _fail_waiters(self, error: Callable[[], Exception]) -> None:
        for waiter in self._waiters.values():
            if not waiter.granted.done():
                waiter.granted.set_exception(error())
        self._waiters.clear()


async def _value(conn: AsyncConnection[Any], query: str, params: Any = None) -> Any:
    found = await (await conn.execute(query, params)).fetchone()
    assert found is not None
    return found[0]


def _db_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean the database failed or could not be reached (a pool timeout is one)."""
    import psycopg

    return (psycopg.OperationalError, psycopg.InterfaceError)
