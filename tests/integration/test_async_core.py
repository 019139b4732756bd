"""One async core: a turn is a coroutine on the process's core loop, read from threads and event loops.

Over the embedded default (the real local engine, SQLite memory): the async and sync readings give
the same turn; many turns run on one loop with a bounded number of threads; a reader that stops
early cancels its turn; a question waiting for Genie capacity says where it stands and its time
limit starts only when it is sent; a 429 before sending re-queues the question.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace

import pytest

from genie_agent.aio import core, iterate_sync
from genie_agent.errors import RateLimitedError
from genie_agent.turn import SpaceAnswered, SpaceFailed, SpaceProgress, TurnDone

REVENUE_1996 = "What was total revenue in 1996?"
CROSS = "What was revenue by region in 1995, and how many suppliers does each region have?"


def _result(events):
    return next(e.result for e in events if isinstance(e, TurnDone))


def test_astream_on_a_users_loop_gives_the_turn_stream_gives(make_test_agent):
    agent = make_test_agent()

    async def read():
        return [event async for event in agent.astream(CROSS)]

    async_events = asyncio.run(read())
    sync_events = list(agent.stream(CROSS))
    assert [type(e).__name__ for e in async_events] == [type(e).__name__ for e in sync_events]
    a, s = _result(async_events), _result(sync_events)
    assert a.status == s.status == "ok" and a.text == s.text
    assert [r.rows for r in a.results] == [r.rows for r in s.results]


def test_aask_follows_up_on_its_thread(make_test_agent):
    agent = make_test_agent()

    async def two_turns():
        first = await agent.aask("How many orders were placed in 1996?")
        second = await agent.aask("what about 1995?", thread_id=first.thread_id)
        return first, second

    first, second = asyncio.run(two_turns())
    assert second.thread_id == first.thread_id and second.route.kind == "follow_up"
    assert "22,909" in second.text


def test_fifty_concurrent_turns_share_one_loop_and_few_threads(make_test_agent):
    agent = make_test_agent()
    agent.ask(REVENUE_1996)  # warm: the engine's first query opens its connection
    peak = [threading.active_count()]

    async def many():
        async def one(i: int):
            question = CROSS if i % 2 else REVENUE_1996
            result = await agent.aask(question)
            peak.append(threading.active_count())
            return result

        return await asyncio.gather(*(one(i) for i in range(50)))

    results = asyncio.run(many())
    assert [r.status for r in results] == ["ok"] * 50
    assert len({r.thread_id for r in results}) == 50
    pools = core().io._max_workers + core().cpu._max_workers
    assert max(peak) <= pools + 16  # the pools, the loop and what pytest runs: not a thread per turn


def test_iterate_sync_refuses_to_run_on_the_core_loop():
    async def nothing():
        yield 1

    async def on_core():
        with pytest.raises(RuntimeError, match="core loop"):
            next(iterate_sync(nothing))

    asyncio.run_coroutine_threadsafe(on_core(), core().loop).result(timeout=10)


def test_a_reader_that_stops_early_cancels_the_turn_and_frees_its_thread(make_test_agent):
    base = make_test_agent()
    from genie_agent.agent import Agent

    slow = {k: _Slow(v, 5.0) for k, v in base.spaces.items()}
    agent = Agent(slow, base.threads)
    thread = base.ask("How many orders were placed in 1996?").thread_id
    started = time.monotonic()
    events = agent.stream("what about 1995?", thread_id=thread)
    next(events)  # the route: the turn holds the thread's lock now
    events.close()  # the reader is gone: the turn is cancelled, its lock released
    quick = Agent(base.spaces, base.threads).ask("and 1994?", thread_id=thread)
    assert quick.status == "ok" and time.monotonic() - started < 4.0


class _Slow:
    """A blocking space that takes its time (a custom backend waiting on a network)."""

    def __init__(self, inner, delay: float) -> None:
        self.inner, self.delay = inner, delay

    @property
    def info(self):
        return self.inner.info

    def routing_terms(self):
        return self.inner.routing_terms()

    def ask(self, question, conversation_id=None, *, identity=None):
        time.sleep(self.delay)
        return self.inner.ask(question, conversation_id, identity=identity)


class _Remote:
    """An async space over the local engine: answers after ``delay`` s of waiting (as Genie would,
    without a thread); refuses the first ``refusals`` questions for the rate limit."""

    def __init__(self, inner, delay: float, refusals: int = 0) -> None:
        self.inner, self.delay, self.refusals = inner, delay, refusals
        self.sent: list[float] = []

    @property
    def info(self):
        return self.inner.info

    def routing_terms(self):
        return self.inner.routing_terms()

    def ask(self, question, conversation_id=None, *, identity=None):
        raise AssertionError("an async space is awaited, never asked in a thread")

    async def aask(self, question, conversation_id=None, *, identity=None):
        self.sent.append(time.monotonic())
        if self.refusals:
            self.refusals -= 1
            raise RateLimitedError("Genie is rate-limiting questions.", "Wait.", retry_after_s=0.2)
        await asyncio.sleep(self.delay)
        return self.inner.ask(question, conversation_id, identity=identity)


def test_a_question_waiting_for_capacity_says_so_and_its_time_limit_starts_when_sent(make_test_agent):
    from genie_agent.agent import Agent, AgentLimits
    from genie_agent.capacity import LocalLimiter

    base = make_test_agent()
    remote = {k: _Remote(v, 0.6) for k, v in base.spaces.items()}
    # Two questions per 1.5 s window: the cross-domain turn's two go at once, the next turn's wait.
    limiter = LocalLimiter(2, window_s=1.5)
    agent = Agent(remote, None, limits=replace(AgentLimits(), space_timeout_s=1.0), limiter=limiter)

    async def two_turns():
        return await asyncio.gather(
            _events(agent.astream(CROSS)), _events(agent.astream(REVENUE_1996), after=0.05)
        )

    first, second = asyncio.run(two_turns())
    assert _result(first).status == "ok"
    waiting = [e for e in second if isinstance(e, SpaceProgress)]
    assert waiting and waiting[0].message.startswith("waiting for Genie capacity:"), waiting
    assert "about" in waiting[0].message
    # It waited ~1.5 s for capacity, then 0.6 s for its answer: longer than the 1 s limit in all, but
    # the limit counts from when it was sent.
    result = _result(second)
    assert result.status == "ok", result.text
    assert result.results[0].row_count == 1


def test_a_question_refused_for_the_rate_limit_is_sent_again_after_the_pause(make_test_agent):
    from genie_agent.agent import Agent
    from genie_agent.capacity import LocalLimiter

    base = make_test_agent()
    sales = _Remote(base.spaces["sales"], 0.05, refusals=1)
    agent = Agent({**base.spaces, "sales": sales}, None, limiter=LocalLimiter(60, window_s=0.5))
    result = agent.ask(REVENUE_1996)
    assert result.status == "ok" and len(sales.sent) == 2
    assert sales.sent[1] - sales.sent[0] >= 0.15  # after the Retry-After the 429 gave


def test_without_a_limiter_a_rate_limit_fails_that_space_only_and_says_so(make_test_agent):
    from genie_agent.agent import Agent

    base = make_test_agent()
    sales = _Remote(base.spaces["sales"], 0.05, refusals=5)
    agent = Agent({**base.spaces, "sales": sales}, None)
    events = list(agent.stream(CROSS))
    failed = [e for e in events if isinstance(e, SpaceFailed)]
    assert [f.domain for f in failed] == ["sales"] and "rate-limiting" in failed[0].error
    assert any(isinstance(e, SpaceAnswered) and e.domain == "supply" for e in events)
    assert _result(events).status == "partial"


async def _events(stream, after: float = 0.0):
    await asyncio.sleep(after)
    return [event async for event in stream]


def test_the_limiter_is_built_from_settings_for_the_genie_backend_only(make_test_agent):
    from genie_agent.capacity import LocalLimiter

    spaces = {"sales": {"space_id": "s1", "title": "Sales", "keywords": ["revenue"]}}
    genie = make_test_agent(genie_backend="databricks", genie_spaces=spaces, genie_questions_per_minute=5)
    assert isinstance(genie.limiter, LocalLimiter)
    assert make_test_agent(genie_backend="databricks", genie_spaces=spaces).limiter is None
    assert make_test_agent(genie_questions_per_minute=5).limiter is None  # the local engine has no quota


def test_close_closes_every_part_it_holds(make_test_agent):
    agent = make_test_agent()
    assert agent.ask(REVENUE_1996).status == "ok"
    assert agent.close() is True
    spaces = {"sales": {"space_id": "s1", "title": "Sales", "keywords": ["revenue"]}}
    remote = make_test_agent(genie_backend="databricks", genie_spaces=spaces, genie_questions_per_minute=5)
    assert remote.close() is True  # the limiter and the core loop's workspace connections too
