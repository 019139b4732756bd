"""The in-process question limiter on a virtual clock: minutes of pacing run in milliseconds."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from dataclasses import dataclass, field

import pytest

from genie_agent.capacity import LocalLimiter, WaitStatus
from genie_agent.capacity.schedule import GRANT_MARGIN_S
from genie_agent.errors import BackendError
from tests.capacity_support import VirtualClock

M = GRANT_MARGIN_S
"""A grant counts for a minute and this margin (the workspace counts a question a little later)."""


@dataclass
class Asked:
    user: str
    index: int
    arrived: float
    granted: float | None = None
    statuses: list[tuple[float, WaitStatus]] = field(default_factory=list)


async def ask(limiter: LocalLimiter, clock: VirtualClock, user: str, index: int, log: list[Asked]) -> Asked:
    asked = Asked(user, index, clock.now())
    await limiter.acquire(user, lambda status: asked.statuses.append((clock.now(), status)))
    asked.granted = clock.now()
    log.append(asked)
    return asked


def most_in_any_window(times: list[float], window_s: float) -> int:
    times = sorted(times)
    return max(sum(1 for t in times if start <= t < start + window_s) for start in times)


def test_four_users_forty_questions_each_are_paced_and_served_in_turn() -> None:
    async def main() -> tuple[list[Asked], VirtualClock]:
        clock = VirtualClock()
        limiter = LocalLimiter(30, clock=clock)
        log: list[Asked] = []
        tasks = [asyncio.create_task(ask(limiter, clock, user, i, log)) for user in "abcd" for i in range(40)]
        await clock.run_until_done(tasks)
        await limiter.aclose()
        return log, clock

    log, clock = asyncio.run(main())
    times = [q.granted for q in log]
    assert len(log) == 160
    assert most_in_any_window(times, 60.0) <= 30
    # The whole rate is used: 30 at each minute mark (and the margin), the last 10 at 300 s.
    assert Counter(times) == {
        0.0: 30,
        60 + M: 30,
        120 + 2 * M: 30,
        180 + 3 * M: 30,
        240 + 4 * M: 30,
        300 + 5 * M: 10,
    }
    for user in "abcd":
        assert [q.index for q in log if q.user == user] == list(range(40)), "FIFO within a user"
    users = [q.user for q in log]
    # a's burst arrived while the window was empty; once the others wait, each one's first goes first.
    assert users[:30] == ["a"] * 30
    assert sorted(users[30:33]) == ["b", "c", "d"]
    remaining = Counter(users)
    for position, user in enumerate(users):
        remaining[user] -= 1
        if position < 30:
            continue
        previous = max((p for p in range(30, position) if users[p] == user), default=None)
        if previous is not None:  # round-robin: everyone still waiting was served in between
            between = set(users[previous + 1 : position])
            still_waiting = {u for u in "abcd" if u != user and remaining[u] + (u in between) > 0}
            assert still_waiting <= between, (position, user)
    waited = [q for q in log if q.granted > q.arrived]
    assert len(waited) == 130
    for q in waited:
        assert q.statuses[0][0] == q.arrived, "told at once"
        # While the others arrive (all at t=0) a new user's first question may go ahead of it;
        # from then on its place only improves and its estimate only shrinks.
        settled = [s for at, s in q.statuses if at > 0.0]
        arrived_last = next(s for at, s in reversed(q.statuses) if at == 0.0)
        assert arrived_last.ahead == log.index(q) - 30
        assert arrived_last.eta_s == q.granted, "the estimate holds when nothing changes"
        aheads = [s.ahead for s in [arrived_last, *settled]]
        assert all(x > y for x, y in itertools.pairwise(aheads)), "the place only improves"
        etas = [s.eta_s for s in [arrived_last, *settled]]
        assert all(x >= y for x, y in itertools.pairwise(etas)), "the estimate only shrinks"
        assert len(settled) <= 5, "told when something changes, not on every wake-up"
    for q in log:
        if q.granted == q.arrived:
            assert q.statuses == [], "a question sent at once is not told to wait"
    assert clock.sleeps <= 6, "one timer per moment a slot frees, no polling"


def test_a_grant_counts_for_the_margin_past_the_minute() -> None:
    """genie-server (like a workspace) counts a question from when it arrives, after the grant: a
    question granted exactly a minute after a burst would arrive inside the server's minute."""

    async def main() -> None:
        assert M > 0
        clock = VirtualClock()
        limiter = LocalLimiter(2, clock=clock)
        await limiter.acquire("a")
        await limiter.acquire("a")
        told: list[WaitStatus] = []
        waiting = asyncio.create_task(limiter.acquire("b", told.append))
        await clock.run_until(60.0)
        assert not waiting.done(), "a minute after the grants they still count"
        assert limiter.granted_in_window() == 2
        await clock.run_until(60 + M - 0.01)
        assert not waiting.done(), "nor just before the margin has passed"
        await clock.run_until(60 + M)
        assert waiting.done()
        assert told == [WaitStatus(0, 60 + M)], "the estimate includes the margin"
        assert limiter.granted_in_window() == 1
        await limiter.aclose()

    asyncio.run(main())


def test_one_users_burst_does_not_starve_another_users_question() -> None:
    async def main() -> list[Asked]:
        clock = VirtualClock()
        limiter = LocalLimiter(5, clock=clock)
        log: list[Asked] = []
        burst = [asyncio.create_task(ask(limiter, clock, "a", i, log)) for i in range(40)]
        await clock.run_until(10.0)
        late = asyncio.create_task(ask(limiter, clock, "b", 0, log))
        await clock.run_until_done([*burst, late])
        return log

    log = asyncio.run(main())
    b = next(q for q in log if q.user == "b")
    assert b.granted == 60 + M
    assert [q.user for q in log][5] == "b", "first of the second window, before a's 35 others"
    assert b.statuses[0] == (10.0, WaitStatus(0, 50 + M))


def test_cancelling_a_waiting_question_gives_its_place_up_and_counts_nothing() -> None:
    async def main() -> None:
        clock = VirtualClock()
        limiter = LocalLimiter(2, clock=clock)
        log: list[Asked] = []
        await ask(limiter, clock, "x", 0, log)
        await ask(limiter, clock, "x", 1, log)
        b, c, d = (asyncio.create_task(ask(limiter, clock, u, 0, log)) for u in "bcd")
        await clock.run_until(10.0)
        assert limiter.granted_in_window() == 2
        b.cancel()
        await clock.run_until(59.0)
        assert b.cancelled()
        await clock.run_until_done([c, d])
        assert [(q.user, q.granted) for q in log[2:]] == [("c", 60 + M), ("d", 60 + M)]
        c_asked, d_asked = c.result(), d.result()
        assert c_asked.statuses[-1] == (10.0, WaitStatus(0, 50 + M)), "moved up when b left"
        assert d_asked.statuses[0] == (0.0, WaitStatus(2, 120 + 2 * M))
        assert d_asked.statuses[-1] == (10.0, WaitStatus(1, 50 + M))
        assert limiter.granted_in_window() == 2, "b was never counted"

    asyncio.run(main())


def test_a_question_cancelled_after_its_grant_but_before_it_ran_gives_the_grant_back() -> None:
    async def main() -> None:
        clock = VirtualClock()
        limiter = LocalLimiter(1, clock=clock)
        limiter.throttled(5.0)
        log: list[Asked] = []
        a = asyncio.create_task(ask(limiter, clock, "a", 0, log))
        b = asyncio.create_task(ask(limiter, clock, "b", 0, log))
        await clock.settle()
        clock.fire_next()  # t=5: the pause ends; the limiter's timer grants a...
        await asyncio.sleep(0)
        assert limiter.granted_in_window() == 1 and not a.done()  # ...but a has not run yet
        a.cancel()
        await clock.settle()
        assert a.cancelled()
        assert b.done() and b.result().granted == 5.0, "a's grant went to b, in the same window"
        assert limiter.granted_in_window() == 1

    asyncio.run(main())


def test_a_429_pauses_everyone_and_lowers_the_rate() -> None:
    async def main() -> None:
        clock = VirtualClock()
        limiter = LocalLimiter(5, clock=clock, recover_every_s=600.0)
        log: list[Asked] = []
        for i in range(5):
            await ask(limiter, clock, "a", i, log)
        await clock.run_until(1.0)
        limiter.throttled(None)
        assert limiter.pace.paused_until == 11.0
        assert limiter.limit == 4, "what was granted in the window, less the refused one"
        waiting = [asyncio.create_task(ask(limiter, clock, "b", i, log)) for i in range(9)]
        await clock.run_until_done(waiting)
        later = [q.granted for q in log[5:]]
        assert Counter(later) == {60 + M: 4, 120 + 2 * M: 4, 180 + 3 * M: 1}
        # A Retry-After pauses every question even when the window has room.
        limiter.throttled(30.0)
        assert limiter.pace.paused_until == 210 + 3 * M
        assert limiter.limit == 1, "one grant in the window when Genie refused: it accepts fewer"
        held = [asyncio.create_task(ask(limiter, clock, "c", i, log)) for i in range(2)]
        await clock.run_until(185.0)
        assert not any(t.done() for t in held)
        await clock.run_until_done(held)
        assert [q.granted for q in log[-2:]] == [240 + 4 * M, 300 + 5 * M]  # the grant at 180 holds the slot

    asyncio.run(main())


def test_backoff_grows_for_429s_in_a_row_is_bounded_and_the_rate_recovers() -> None:
    clock = VirtualClock()
    limiter = LocalLimiter(20, clock=clock, max_backoff_s=30.0)
    limiter.throttled(None)
    assert limiter.pace.paused_until == 10.0
    clock.t = 5.0
    limiter.throttled(None)  # another question of the same burst: one pause, not a longer one
    assert limiter.pace.paused_until == 10.0
    clock.t = 12.0
    limiter.throttled(None)
    assert limiter.pace.paused_until == 32.0
    clock.t = 40.0
    limiter.throttled(None)
    assert limiter.pace.paused_until == 70.0, "40 s bounded to 30"
    assert limiter.limit == 1, "nothing was granted: never below 1 per window"
    clock.t = 40.0 + 60.0
    assert limiter.limit == 3, "a tenth of the configured rate back per quiet window"
    clock.t = 40.0 + 600.0
    assert limiter.limit == 20
    clock.t = 1000.0
    limiter.throttled(None)
    assert limiter.pace.paused_until == 1010.0, "after a quiet window the backoff starts over"


def test_closing_fails_the_questions_still_waiting() -> None:
    async def main() -> None:
        clock = VirtualClock()
        limiter = LocalLimiter(1, clock=clock)
        await limiter.acquire("a")
        waiting = asyncio.create_task(limiter.acquire("b"))
        await clock.settle()
        await limiter.aclose()
        with pytest.raises(BackendError, match="closed"):
            await waiting
        with pytest.raises(BackendError, match="closed"):
            await limiter.acquire("c")

    asyncio.run(main())


def test_a_failing_listener_does_not_stop_the_queue() -> None:
    async def main() -> None:
        clock = VirtualClock()
        limiter = LocalLimiter(1, clock=clock)
        await limiter.acquire("a")

        def broken(status: WaitStatus) -> None:
            raise RuntimeError("listener bug")

        waiting = asyncio.create_task(limiter.acquire("b", broken))
        await clock.run_until_done([waiting])
        assert clock.now() == 60 + M

    asyncio.run(main())
