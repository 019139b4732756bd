"""The query watchdog: one thread runs every time limit's callback, in deadline order, unless cancelled."""

from __future__ import annotations

import threading
import time

from genie_agent.spaces.local.watchdog import call_later


def test_alarms_fire_in_deadline_order_and_cancelled_ones_never():
    fired: list[str] = []
    done = threading.Event()
    call_later(0.15, lambda: (fired.append("late"), done.set()))
    cancelled = call_later(0.05, lambda: fired.append("cancelled"))
    call_later(0.02, lambda: fired.append("soon"))
    cancelled.cancel()
    assert done.wait(2)
    assert fired == ["soon", "late"]


def test_many_time_limits_share_one_thread():
    before = threading.active_count()
    alarms = [call_later(30, lambda: None) for _ in range(200)]
    assert threading.active_count() <= max(before, 1) + 1
    for alarm in alarms:
        alarm.cancel()


def test_a_failing_callback_does_not_stop_the_others():
    done = threading.Event()
    call_later(0.01, lambda: 1 / 0)
    call_later(0.03, done.set)
    started = time.monotonic()
    assert done.wait(2) and time.monotonic() - started < 1
