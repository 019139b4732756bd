"""The limiter's arithmetic, shared by the in-process and the Postgres limiter: who goes next, when
each waiting question can be sent, and what a 429 teaches.

Every time here is a float on one clock (the process's, or the database's); nothing reads a clock.
A grant at ``g`` counts against the limit while ``g + pacing.held_s > now`` (the window and
:data:`GRANT_MARGIN_S`); that one expression is used everywhere, so a timer set to ``g + held_s``
always finds the grant expired.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

__all__ = [
    "GRANT_MARGIN_S",
    "Decision",
    "Pace",
    "Pacing",
    "decide",
    "fair_order",
    "free_slots",
    "limit_now",
    "send_times",
    "throttle",
]


GRANT_MARGIN_S = 0.5
"""How long past the window a grant still counts. The limiter dates a question when it grants it;
the workspace (and genie-server's ``--questions-per-minute``) when the request arrives, some
milliseconds later, and later still for the last of a burst granted together than for a question
sent alone. Were a grant counted for exactly the window, the question granted the instant a burst's
first grant leaves it could arrive before that burst's slowest request left the workspace's window:
one question too many, HTTP 429. The margin covers that spread in arrival delays (tens to a few
hundred ms on one machine) at the cost of under 1% of a minute's rate."""


@dataclass(frozen=True)
class Pacing:
    """A limiter's configuration: how many questions per window and how it answers a 429."""

    per_window: int
    """Questions allowed in any ``window_s`` seconds (the configured rate)."""
    window_s: float = 60.0
    backoff_s: float = 10.0
    """The first pause after a 429 that says no Retry-After; doubles on each 429 in a row."""
    max_backoff_s: float = 120.0
    recover_every_s: float | None = None
    """After a 429 the learned rate rises by a tenth of the configured one (at least 1) every this
    many quiet seconds. None: one window."""
    margin_s: float = GRANT_MARGIN_S
    """How long past ``window_s`` a grant still counts (see :data:`GRANT_MARGIN_S`)."""

    def __post_init__(self) -> None:
        if self.per_window < 1:
            raise ValueError("per_window must be at least 1")
        if self.window_s <= 0:
            raise ValueError("window_s must be positive")
        if self.margin_s < 0:
            raise ValueError("margin_s must not be negative")

    @property
    def held_s(self) -> float:
        """How long a grant counts against the limit: the window and the margin."""
        return self.window_s + self.margin_s

    @property
    def recovery_s(self) -> float:
        return self.recover_every_s if self.recover_every_s is not None else self.window_s


@dataclass(frozen=True)
class Pace:
    """What 429s taught a limiter: a pause, and a rate lower than the configured one."""

    paused_until: float = float("-inf")
    learned: int | None = None
    """The rate (questions per window) learned at the last 429; None: the configured one."""
    throttled_at: float | None = None
    strikes: int = 0
    """429s in a row (each within a window of the end of the pause before), for the backoff."""


def limit_now(pacing: Pacing, pace: Pace, now: float) -> int:
    """Questions allowed per window at ``now``: the learned rate, recovering towards the configured one."""
    if pace.learned is None or pace.throttled_at is None:
        return pacing.per_window
    steps = max(0, int((now - pace.throttled_at) // pacing.recovery_s))
    step = max(1, pacing.per_window // 10)
    return min(pacing.per_window, pace.learned + steps * step)


def throttle(pacing: Pacing, pace: Pace, now: float, granted: int, retry_after_s: float | None) -> Pace:
    """The pace after Genie answered 429 at ``now`` with ``granted`` questions granted in the last window.

    The rate drops to what the workspace evidently accepted (``granted - 1``, at least 1), never
    rising on a 429. Several 429s of one burst (questions in flight together) pause once: the
    backoff grows only for a 429 that comes after the pause ended."""
    limit = limit_now(pacing, pace, now)
    learned = max(1, min(limit, granted - 1))
    still_paused = now < pace.paused_until
    if still_paused:
        strikes = max(1, pace.strikes)
    elif now - pace.paused_until < pacing.window_s:
        strikes = pace.strikes + 1
    else:
        strikes = 1
    if retry_after_s is not None and retry_after_s >= 0:
        delay = retry_after_s
    elif still_paused:
        delay = 0.0  # the pause this burst already caused covers it
    else:
        delay = min(pacing.max_backoff_s, pacing.backoff_s * 2 ** (strikes - 1))
    return replace(
        pace,
        paused_until=max(pace.paused_until, now + delay),
        learned=learned,
        throttled_at=now,
        strikes=strikes,
    )


def free_slots(grants_in_window: int, limit: int, now: float, paused_until: float) -> int:
    """Questions that may be granted at ``now``."""
    return 0 if now < paused_until else max(0, limit - grants_in_window)


def fair_order(waiting: Sequence[tuple[int, str]], last_served: Mapping[str, int]) -> list[int]:
    """The order in which waiting questions are sent, as indexes into ``waiting``.

    ``waiting``: (arrival number, user) of each waiting question; ``last_served``: each user's
    latest grant number (a user missing has not been served lately). Round-robin by user, FIFO
    within a user: every user's first waiting question goes before anyone's second, and in each
    round the user served least recently goes first (ties: who has waited longest).
    """
    rank: dict[str, int] = {}
    first: dict[str, int] = {}
    keys: list[tuple[int, int, int, int, int]] = []
    for index, (arrival, user) in enumerate(waiting):
        r = rank.get(user, 0)
        rank[user] = r + 1
        first.setdefault(user, arrival)
        keys.append((r, last_served.get(user, -1), first[user], arrival, index))
    keys.sort()
    return [key[-1] for key in keys]


def send_times(
    grants: Sequence[float], count: int, *, limit: int, window_s: float, now: float, paused_until: float
) -> list[float]:
    """When the next ``count`` questions can be sent, in order, if nothing else changes.

    ``grants``: the times of the grants still counting, ascending. A question can go once the
    ``limit``-th most recent grant before it has left the window."""
    times = [g for g in grants if g + window_s > now]
    start = max(now, paused_until)
    out: list[float] = []
    for _ in range(count):
        oldest = len(times) - limit
        at = start if oldest < 0 else max(start, times[oldest] + window_s)
        times.append(at)
        out.append(at)
    return out


@dataclass(frozen=True)
class Decision:
    """Which waiting questions go now, and when each of the others is expected to."""

    grant: list[int]
    """Indexes into the waiting questions, in the order they are granted."""
    later: list[tuple[int, float]]
    """(index, expected send time) of every other waiting question, in the order they will go."""


def decide(
    pacing: Pacing,
    pace: Pace,
    now: float,
    grants: Sequence[float],
    waiting: Sequence[tuple[int, str]],
    last_served: Mapping[str, int],
) -> Decision:
    """Grant what the window allows at ``now``, in fair order (``grants``: ascending times of the
    grants made so far; ``waiting`` and ``last_served`` as for :func:`fair_order`)."""
    counting = [g for g in grants if g + pacing.held_s > now]
    limit = limit_now(pacing, pace, now)
    order = fair_order(waiting, last_served)
    free = free_slots(len(counting), limit, now, pace.paused_until)
    granted, rest = order[:free], order[free:]
    times = send_times(
        [*counting, *([now] * len(granted))],
        len(rest),
        limit=limit,
        window_s=pacing.held_s,
        now=now,
        paused_until=pace.paused_until,
    )
    return Decision(granted, list(zip(rest, times, strict=True)))
