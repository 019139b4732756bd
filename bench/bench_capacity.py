"""What the question limiter costs: figures printed, nothing asserted.

1. LocalLimiter: an acquire that goes at once, and one grant decision with many questions waiting
   (each decision orders every waiting question: O(n log n)).
2. PostgresLimiter on the test PostgreSQL (GENIE_TEST_POSTGRES_URL, default 127.0.0.1:5432/test, a
   schema of its own dropped at the end): an acquire that goes at once (one transaction), and one
   process's look (heartbeat, grant, places) with questions of two processes waiting.

    .venv/bin/python bench/bench_capacity.py [--runs 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid

from genie_agent.capacity import LocalLimiter, PostgresLimiter

URL = os.environ.get("GENIE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def p50_p95(samples: list[float]) -> str:
    samples = sorted(samples)
    return f"p50 {statistics.median(samples):.3f} ms, p95 {samples[int(len(samples) * 0.95)]:.3f} ms"


async def local(runs: int) -> None:
    limiter = LocalLimiter(1_000_000)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await limiter.acquire("u")
        times.append((time.perf_counter() - started) * 1000)
    print(f"local acquire, sent at once:          {p50_p95(times)}")
    for waiting in (100, 1000, 5000):
        limiter = LocalLimiter(1)
        await limiter.acquire("x")
        tasks = [asyncio.create_task(limiter.acquire(f"user{i % 50}")) for i in range(waiting)]
        await asyncio.sleep(0)
        started = time.perf_counter()
        limiter.throttled(0.001)  # one decision over every waiting question (and one status each)
        decision = (time.perf_counter() - started) * 1000
        print(f"local decision, {waiting:>5} waiting:       {decision:.2f} ms")
        await limiter.aclose()
        await asyncio.gather(*tasks, return_exceptions=True)


async def postgres(runs: int) -> None:
    import psycopg

    schema = f"bench_capacity_{uuid.uuid4().hex[:8]}"
    try:
        first = PostgresLimiter(URL, 1_000_000, schema=schema)
        await first.acquire("warm")
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            await first.acquire("u")
            times.append((time.perf_counter() - started) * 1000)
        print(f"postgres acquire, sent at once:       {p50_p95(times)}")
        await first.aclose()
        for waiting in (20, 200):
            first = PostgresLimiter(URL, 1, schema=schema, scope=f"s{waiting}", poll_s=3600)
            second = PostgresLimiter(URL, 1, schema=schema, scope=f"s{waiting}", poll_s=3600)
            await first.acquire("x")
            tasks = [
                asyncio.create_task(lim.acquire(f"user{i % 20}"))
                for i in range(waiting // 2)
                for lim in (first, second)
            ]
            while len(first._waiters) + len(second._waiters) < waiting:
                await asyncio.sleep(0.01)
            looks = []
            for _ in range(max(10, runs // 10)):
                async with first._pool.connection() as conn:  # type: ignore[union-attr]
                    started = time.perf_counter()
                    await first._look(conn)
                    looks.append((time.perf_counter() - started) * 1000)
            print(f"postgres look, {waiting:>3} waiting (2 procs): {p50_p95(looks)}")
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await first.aclose()
            await second.aclose()
    finally:
        with psycopg.connect(URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(local(args.runs))
    asyncio.run(postgres(args.runs))


if __name__ == "__main__":
    main()
