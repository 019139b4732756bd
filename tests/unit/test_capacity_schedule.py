"""The limiter's arithmetic: who goes next, when the others can go, and what a 429 teaches."""

from __future__ import annotations

import math

import pytest

from genie_agent.capacity.schedule import Pace, Pacing, decide, fair_order, limit_now, send_times, throttle


def test_fair_order_is_round_robin_by_user_and_fifo_within_a_user() -> None:
    waiting = [(1, "a"), (2, "a"), (3, "a"), (4, "b"), (5, "c"), (6, "c")]
    order = [waiting[i] for i in fair_order(waiting, {})]
    assert order == [(1, "a"), (4, "b"), (5, "c"), (2, "a"), (6, "c"), (3, "a")]


def test_fair_order_puts_the_user_served_least_recently_first() -> None:
    waiting = [(1, "a"), (2, "b"), (3, "c"), (4, "a")]
    order = [user for _, user in (waiting[i] for i in fair_order(waiting, {"a": 7, "b": 9}))]
    assert order == ["c", "a", "b", "a"], "c never served, then a (served before b)"


def test_send_times_follow_the_sliding_window() -> None:
    # Two grants at 0 and 10 with 2 a minute: the next goes when the one at 0 leaves the window.
    assert send_times([0.0, 10.0], 3, limit=2, window_s=60.0, now=20.0, paused_until=-math.inf) == [
        60.0,
        70.0,
        120.0,
    ]
    assert send_times([], 2, limit=2, window_s=60.0, now=5.0, paused_until=30.0) == [30.0, 30.0]
    assert send_times([0.0], 1, limit=5, window_s=60.0, now=60.0, paused_until=-math.inf) == [60.0]


def test_decide_grants_what_the_window_allows_and_schedules_the_rest() -> None:
    pacing = Pacing(2, window_s=60.0, margin_s=0.5)
    decision = decide(pacing, Pace(), 30.0, [0.0], [(1, "a"), (2, "a"), (3, "b")], {})
    assert decision.grant == [0], "one slot left: a's first question"
    assert decision.later == [(2, 60.5), (1, 90.5)], (
        "b's first before a's second, each a minute and the margin on"
    )
    paused = decide(pacing, Pace(paused_until=40.0), 30.0, [], [(1, "a")], {})
    assert paused.grant == [] and paused.later == [(0, 40.0)]


def test_a_429_lowers_the_rate_to_what_was_accepted_and_it_recovers_a_tenth_per_quiet_window() -> None:
    pacing = Pacing(30, window_s=60.0)
    pace = throttle(pacing, Pace(), now=100.0, granted=12, retry_after_s=None)
    assert pace.paused_until == 110.0 and pace.learned == 11
    assert limit_now(pacing, pace, 159.0) == 11
    assert limit_now(pacing, pace, 160.0) == 14
    assert limit_now(pacing, pace, 100.0 + 60 * 7) == 30, "never above the configured rate"
    again = throttle(pacing, pace, now=105.0, granted=15, retry_after_s=None)
    assert again.learned == 11, "a 429 never raises the rate"
    assert again.paused_until == 110.0, "the burst's pause already covers it"


def test_pacing_refuses_a_window_without_questions() -> None:
    with pytest.raises(ValueError):
        Pacing(0)
