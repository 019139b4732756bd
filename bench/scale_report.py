"""bench_scale's figures: one scale row, the head/base summary, the limiter scenario, the embedded default."""

from __future__ import annotations

import itertools
import os
import re
from collections import Counter
from dataclasses import dataclass

from scale_load import PROGRESS, ProcWatch, Turn, Usage, percentile

CORES = os.cpu_count() or 1
MAX_THREADS = 64
MAX_RSS_MB = 1024
MAX_POLLS = 1.0
EMBEDDED_FIRST_MS = 100.0


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def failed(t: Turn) -> bool:
    return bool(t.problems) or t.ended is None


def errors_of(turns: list[Turn]) -> Counter[str]:
    return Counter((t.problems or ["no end"])[0] for t in turns if failed(t))


@dataclass
class ScaleRow:
    label: str
    n: int
    latency: float
    tracing: str
    turns: list[Turn]
    start_at: float
    watch: ProcWatch
    stats: dict[str, float]
    lags: list[float]
    load: float
    cap_s: float
    arrival: str = "burst"
    rate: float = 0.0  # steady: turns sent per second
    counted_from: float = 0.0  # steady: the figures count the turns sent this long after the first

    @property
    def counted(self) -> list[Turn]:
        """The turns the figures count: all of a burst; those of the steady state when arrivals are steady."""
        return [t for t in self.turns if t.delay_s >= self.counted_from]

    @property
    def took(self) -> list[float]:
        return [t.took for t in self.counted if not failed(t) and t.took is not None]

    @property
    def first(self) -> list[float]:
        return [t.first_s for t in self.counted if t.first_s is not None]

    @property
    def errors(self) -> int:
        return sum(failed(t) for t in self.counted)

    @property
    def steady_window(self) -> tuple[float, float]:
        """From the first counted turn's send to the last turn's (``time.monotonic()``)."""
        last = max(t.delay_s for t in self.turns)
        return self.start_at + self.counted_from, self.start_at + last

    @property
    def wall(self) -> float:
        ends = [t.ended for t in self.turns if t.ended is not None]
        if len(ends) < len(self.turns):
            return self.cap_s
        return max(ends, default=self.start_at) - self.start_at

    @property
    def serve(self) -> Usage:
        return self.watch.usage["serve"]

    @property
    def polls_per_s(self) -> float:
        seconds = self.stats.get("message_seconds", 0.0)
        return self.stats.get("polls", 0.0) / seconds if seconds else float("nan")


def p(values: list[float], q: float, scale: float = 1.0) -> float:
    return percentile(values, q) * scale


def _spans(turns: list[Turn]) -> list[tuple[float, float]]:
    """Each sent turn's time in flight, from the load generator's clock: sent -> stopped."""
    return [(t.sent, t.stopped) for t in turns if t.sent and t.stopped is not None]


def peak_in_flight(turns: list[Turn]) -> int:
    """The most turns in flight at once (sent, not yet stopped)."""
    events = sorted([(a, 1) for a, _ in _spans(turns)] + [(b, -1) for _, b in _spans(turns)])
    now = peak = 0
    for _, step in events:  # at a tie the end (-1) sorts first
        now += step
        peak = max(peak, now)
    return peak


def mean_in_flight(turns: list[Turn], start: float, end: float) -> float:
    """Turns in flight on average from ``start`` to ``end``: their time in flight within it over its length."""
    inside = sum(max(0.0, min(b, end) - max(a, start)) for a, b in _spans(turns))
    return inside / (end - start) if end > start else float("nan")


def _header(r: ScaleRow) -> None:
    where = f"through serve (Databricks backend) -> genie-server at {r.latency:g} s"
    if r.arrival == "burst":
        print(
            f"\n[{r.label}] {r.n:,} streamed turns at once {where}; tracing {r.tracing}; "
            f"load average before {r.load:.2f}",
            flush=True,
        )
        return
    sent_for = max(t.delay_s for t in r.turns)
    print(
        f"\n[{r.label}] {r.n:,} turns in flight, steady arrivals: {r.rate:.3g} turns/s for {sent_for:.0f} s "
        f"({len(r.turns):,} turns) {where}; tracing {r.tracing}; load average before {r.load:.2f}\n"
        f"  counted: the {len(r.counted):,} turns sent from {r.counted_from:g} s on (the steady state); "
        "the first latency's turns fill the replica and are not counted",
        flush=True,
    )


def _steady(r: ScaleRow) -> None:
    """In flight (the load generator's sent -> stopped) and each process's cores over the steady window."""
    start, end = r.steady_window
    mean = mean_in_flight(r.turns, start, end)
    print(
        f"  in flight         peak {peak_in_flight(r.turns):,}; mean {mean:,.0f} over the steady window "
        f"({r.counted_from:g}-{end - r.start_at:.0f} s, while turns were being sent)  "
        f"(target {r.n:,}: {verdict(mean >= 0.9 * r.n)}, mean >= 90% of it)"
    )
    cores = {name: r.watch.cores_between(name, start, end) for name in r.watch.usage}
    each = "; ".join(f"{name} {c:.2f}" for name, c in cores.items())
    print(f"  steady window     cores busy: {each}; together {sum(cores.values()):.2f} of {CORES}")
    admitted = sum(t.http_status == 200 for t in r.turns)
    per_turn = r.serve.cpu_s / admitted if admitted else float("nan")
    print(
        f"  serve CPU a turn  {per_turn * 1000:.0f} ms ({r.serve.cpu_s:.1f} s over the row / {admitted:,} turns "
        f"admitted): one core (serve's one GIL) keeps up with about {1 / per_turn:.0f} turns/s; this row "
        f"sends {r.rate:.3g}"
    )


def report_row(r: ScaleRow) -> None:
    L = r.latency
    took, first = r.took, r.first
    cross = sum("(cross_domain," in t.route for t in r.turns)
    _header(r)
    errs = errors_of(r.counted)
    uncounted = sum(failed(t) for t in r.turns) - r.errors
    ramp = "" if r.arrival == "burst" else f"; in the first latency (not counted) {uncounted}"
    print(
        f"  errors            {r.errors}  {dict(errs) if errs else ''}  (target 0: {verdict(r.errors == 0)})"
        f"{ramp}"
    )
    if r.wall >= r.cap_s:
        print(f"  CAPPED: the run gave up after {r.cap_s:g} s; {r.errors} turns unfinished or failed")
    p50, p95 = p(took, 50), p(took, 95)
    print(
        f"  turn time         p50 {p50:6.2f} s  p95 {p95:6.2f} s  max {max(took, default=float('nan')):6.2f} s   "
        f"latency {L:g} s (targets p50 <= {L + 1:g} s: {verdict(p50 <= L + 1)}; p95 <= {L + 3:g} s: "
        f"{verdict(p95 <= L + 3)})"
    )
    print(
        f"  first event       p50 {p(first, 50, 1000):6.0f} ms p95 {p(first, 95, 1000):6.0f} ms  "
        f"max {max(first, default=float('nan')) * 1000:6.0f} ms"
    )
    print(
        f"  wall              {r.wall:6.2f} s from the release to the last end; {cross} turns routed "
        f"cross-domain ({sum(t.cross for t in r.turns)} sent as cross-domain questions)"
    )
    if r.arrival == "steady":
        _steady(r)
    timed = [t for t in r.counted if t.held_s is not None and t.answered_s is not None and t.took is not None]
    if timed:
        to = [t.held_s for t in timed if t.held_s is not None]
        genie = [t.answered_s - t.held_s for t in timed if t.answered_s is not None and t.held_s is not None]
        after = [t.took - t.answered_s for t in timed if t.took is not None and t.answered_s is not None]
        print(
            f"  where it goes     to Genie p50 {p(to, 50):5.2f} s p95 {p(to, 95):5.2f} s; Genie answering p50 "
            f"{p(genie, 50):5.2f} s; after Genie p50 {p(after, 50):5.2f} s p95 {p(after, 95):5.2f} s  (sent -> "
            "first question at genie-server -> last answer ended there -> turn ended)"
        )
    for name, u in r.watch.usage.items():
        line = f"  {name:17} threads {u.peak_threads:5} peak   RSS {u.peak_rss_mb:6.0f} MB peak   CPU {u.cpu_s:6.1f} s"
        if name == "serve":
            line += (
                f"   (targets <= {MAX_THREADS} threads: {verdict(u.peak_threads <= MAX_THREADS)}; "
                f"RSS <= 1 GB: {verdict(u.peak_rss_mb <= MAX_RSS_MB)})"
            )
        if name == "load generator":
            line += f"   its loop late p99 {p(r.lags, 99, 1000):.0f} ms, max {max(r.lags, default=0) * 1000:.0f} ms"
        print(line)
    for name in r.watch.usage:
        cores = " ".join(f"{c:.1f}" for c in r.watch.per_second(name, r.start_at))
        print(f"    {name} cores busy, second by second: {cores}")
    ours = sum(u.cpu_s for u in r.watch.usage.values())
    others = max(0.0, r.watch.machine_s - ours)
    print(
        f"  contention        the three used {ours:.1f} CPU s in {r.wall:.1f} s = {ours / r.wall:.2f} of {CORES} cores "
        f"({ours / (r.wall * CORES):.0%}); busiest second {r.watch.busiest():.2f} cores; other processes "
        f"{others:.1f} CPU s meanwhile"
    )
    s = r.stats
    print(
        f"  Genie polls       {r.polls_per_s:.2f} per s per question ({s.get('polls', 0):.0f} polls over "
        f"{s.get('message_seconds', 0):.0f} question-seconds; {s.get('questions', 0):.0f} questions, "
        f"{s.get('refused', 0):.0f} refused) (target <= {MAX_POLLS:g}: {verdict(r.polls_per_s <= MAX_POLLS)})",
        flush=True,
    )


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def _flight(r: ScaleRow) -> str:
    peak, mean = peak_in_flight(r.turns), mean_in_flight(r.turns, *r.steady_window)
    return f" {r.rate:7.3g} {peak:>10,}/{mean:<8,.0f}"


def summary(rows: list[ScaleRow]) -> None:
    if not rows:
        return
    steady = rows[0].arrival == "steady"
    what = "steady arrivals, the steady state's turns" if steady else "turns released at once"
    print(f"\nSummary (latency {rows[0].latency:g} s, {what}; turn and first-event p50 / p95)")
    print(
        f"  {'code':14} {'turns':>6} {'errors':>6} {'turn p50/p95 s':>15} {'first p50/p95 ms':>17} "
        f"{'threads':>7} {'RSS MB':>7} {'serve CPU s':>11} {'polls/s/q':>9}"
        + (f" {'turns/s':>7} {'in flight peak/mean':>19}" if steady else "")
    )
    for r in rows:
        print(
            f"  {r.label:14} {r.n:6} {r.errors:6} {p(r.took, 50):7.2f}/{p(r.took, 95):<7.2f} "
            f"{p(r.first, 50, 1000):8.0f}/{p(r.first, 95, 1000):<8.0f} {r.serve.peak_threads:7} "
            f"{r.serve.peak_rss_mb:7.0f} {r.serve.cpu_s:11.1f} {r.polls_per_s:9.2f}"
            + (_flight(r) if steady else "")
        )
    labels = list(dict.fromkeys(r.label for r in rows))
    if len(labels) == 2:
        by = {(r.label, r.n): r for r in rows}
        for n in sorted({r.n for r in rows}):
            h, b = by.get((labels[0], n)), by.get((labels[1], n))
            if h is None or b is None:
                continue
            print(
                f"  head/base at {n}: turn p50 {_ratio(p(h.took, 50), p(b.took, 50))}, p95 "
                f"{_ratio(p(h.took, 95), p(b.took, 95))}; first event p50 {_ratio(p(h.first, 50), p(b.first, 50))}, "
                f"p95 {_ratio(p(h.first, 95), p(b.first, 95))}; threads {_ratio(h.serve.peak_threads, b.serve.peak_threads)}; "
                f"RSS {_ratio(h.serve.peak_rss_mb, b.serve.peak_rss_mb)}; serve CPU {_ratio(h.serve.cpu_s, b.serve.cpu_s)}; "
                f"polls {_ratio(h.polls_per_s, b.polls_per_s)}"
            )


HELD_S = 1.5
"""A turn whose question reached genie-server later than this after it was sent waited for capacity."""


def _granted(t: Turn) -> float:
    return t.sent + (t.held_s or 0.0)


def _fair(waited: list[Turn]) -> list[str]:
    """Where a user's question was sent twice in a row while another user's waiting turn had been sent
    before the second of them was and was still waiting."""
    order = sorted(waited, key=_granted)
    out = []
    for prev, cur in itertools.pairwise(order):
        if prev.user != cur.user:
            continue
        g = _granted(cur)
        starved = {t.user for t in order if t.user != cur.user and t.sent < g < _granted(t)}
        if starved:
            out.append(f"{cur.user} sent twice in a row at {g:.1f} while {', '.join(sorted(starved))} waited")
    return out


def report_limiter(
    turns: list[Turn], start_at: float, latency: float, stats: dict[str, float], load: float, *, warm: bool
) -> None:
    print(
        f"\nLimiter: genie-server --questions-per-minute 30 --latency '*={latency:g}', serve "
        f"genie_questions_per_minute: 30; {len(turns)} single-space turns of 4 users; serve "
        f"{'warmed by one question 61 s before' if warm else 'cold (its first question is the first turn)'}; "
        f"load average before {load:.2f}"
    )
    print(
        "  dan: 10 turns, one every 2 s from 0 s; ann: 24 at once at 20 s (a burst); bob: 3 at 21, 23, 25 s; "
        "cia: 3 at 22, 24, 26 s"
    )
    errs = errors_of(turns)
    refused = stats.get("refused", 0)
    print(
        f"  errors {sum(errs.values())} {dict(errs) if errs else ''}; questions genie-server admitted "
        f"{stats.get('questions', 0):.0f}"
    )
    print(f"  429s served by genie-server  {refused:.0f}  (target 0: {verdict(refused == 0)})")
    arrived = sorted(t.sent_wall + t.held_s for t in turns if t.held_s is not None)
    gaps = [b - a for a, b in zip(arrived, arrived[30:], strict=False)]
    if gaps:
        print(
            f"    closest a question came to the workspace's window: {min(gaps):.3f} s after the question 30 "
            "before it (genie-server counts a minute from each question's arrival; serve from its grant)"
        )
    told = [t for t in turns if any("waiting for Genie capacity" in text for _, text in t.progress)]
    waited = [t for t in turns if (t.held_s or 0.0) > HELD_S]
    print(
        f"  turns whose question reached genie-server > {HELD_S:g} s after they were sent: {len(waited)}; told where "
        f"they stood: {sum(t in told for t in waited)}/{len(waited)} (target every one: "
        f"{verdict(all(t in told for t in waited))}); told and sent sooner: {sum(t not in waited for t in told)}"
    )
    for t in sorted(waited, key=lambda t: t.sent)[:2]:
        said = "; ".join(
            f"{at - start_at:.1f} s: {text.removeprefix(PROGRESS)}" for at, text in t.progress[:3]
        )
        print(
            f"    e.g. {t.user}'s turn sent at {t.sent - start_at:.1f} s -> {said}; its question went at "
            f"{_granted(t) - start_at:.1f} s, the turn ended at {(t.ended or 0) - start_at:.1f} s"
        )
    late = []
    for t in told:
        m = re.search(r"about (\d+) s", t.progress[0][1])
        if m and t.held_s is not None:
            late.append(_granted(t) - (t.progress[0][0] + int(m.group(1))))
    if late:
        print(
            f"  the first estimate vs when the question went: p50 {p(late, 50):+.1f} s, max {max(late):+.1f} s "
            "(later users served in turn move a burst's turns back)"
        )
    order = [t.user for t in sorted(waited, key=_granted)]
    print(f"  the waiting turns' questions went in this order: {' '.join(order)}")
    for user in ("dan", "ann", "bob", "cia"):
        mine = [t for t in turns if t.user == user]
        ends = [t.ended - start_at for t in mine if t.ended is not None]
        took = [t.took for t in mine if t.took is not None]
        print(
            f"  {user}: {len(mine):2} turns, {sum(t in waited for t in mine):2} waited; ended "
            f"{min(ends, default=0):5.1f}-{max(ends, default=0):5.1f} s; longest turn {max(took, default=0):5.1f} s"
        )
    unfair = _fair(waited)
    print(
        f"  fairness: {'; '.join(unfair) or 'no user was sent twice in a row while another waited'} "
        f"({verdict(not unfair)})"
    )


def report_embedded(rounds: dict[str, list[list[Turn]]], usage: dict[str, list[Usage]], load: float) -> None:
    print(
        f"\nEmbedded default: serve with no workspace (example spaces), 50 streamed turns at once, "
        f"{len(next(iter(rounds.values())))} rounds each, alternating (load average before {load:.2f})"
    )
    p50s = {}
    for label, rs in rounds.items():
        turns = [t for r in rs for t in r]
        first = [t.first_s for t in turns if t.first_s is not None]
        took = [t.took for t in turns if not failed(t) and t.took is not None]
        per_round = ", ".join(
            f"{p([t.first_s for t in r if t.first_s is not None], 50, 1000):.0f}" for r in rs
        )
        p50s[label] = p(first, 50, 1000)
        cpu = ", ".join(f"{u.cpu_s:.1f}" for u in usage[label])
        print(
            f"  [{label}] first event p50 {p50s[label]:.0f} ms p95 {p(first, 95, 1000):.0f} ms (per round p50: "
            f"{per_round}); turn p50 {p(took, 50, 1000):.0f} ms p95 {p(took, 95, 1000):.0f} ms; errors "
            f"{sum(failed(t) for t in turns)}; serve CPU per round {cpu} s; threads peak "
            f"{max(u.peak_threads for u in usage[label])}"
        )
    labels = list(p50s)
    head = p50s[labels[0]]
    if len(labels) == 2:
        print(f"  head/base first event p50 {_ratio(head, p50s[labels[1]])}")
    print(
        f"  target first event p50 <= {EMBEDDED_FIRST_MS:g} ms: {verdict(head <= EMBEDDED_FIRST_MS)} ({head:.0f} ms)"
    )
