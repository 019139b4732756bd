"""The Postgres limiter's tables and statements.

``genie_agent_question_queue`` is the shared queue: one row per question waiting or granted,
``scope`` naming the limit it counts against (one per workspace). A waiting row's ``seen_at`` is its
process's heartbeat; a granted row stays for a while after it leaves the window, so who was served
last is remembered. ``genie_agent_question_pace`` holds one row per scope: the pause after a 429,
the learned rate, and ``served``, the counter that numbers grants. Every time is the database's
(``clock_timestamp()``), so the processes' own clocks never meet.
"""

from __future__ import annotations

__all__ = [
    "DROP",
    "ENQUEUE",
    "ENSURE_PACE",
    "EXPIRE",
    "GRANT",
    "HEARTBEAT",
    "LAST_SERVED",
    "LOCK",
    "MINE",
    "NOW",
    "READ_PACE",
    "READ_QUEUE",
    "SETUP",
    "SET_SERVED",
    "WRITE_PACE",
]

QUEUE = "genie_agent_question_queue"
PACE = "genie_agent_question_pace"

SETUP = (
    f"""CREATE TABLE IF NOT EXISTS {QUEUE} (
        id bigserial PRIMARY KEY,
        scope text NOT NULL,
        user_name text NOT NULL,
        process text NOT NULL,
        enqueued_at timestamptz NOT NULL,
        seen_at timestamptz NOT NULL,
        granted_at timestamptz,
        grant_seq bigint
    )""",
    f"CREATE INDEX IF NOT EXISTS {QUEUE}_scope_granted ON {QUEUE} (scope, granted_at)",
    f"""CREATE TABLE IF NOT EXISTS {PACE} (
        scope text PRIMARY KEY,
        paused_until timestamptz,
        learned integer,
        throttled_at timestamptz,
        strikes integer NOT NULL DEFAULT 0,
        served bigint NOT NULL DEFAULT 0
    )""",
)

LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
"""Held by whoever grants or writes the pace of a scope: one decision at a time, queue and pace together."""

NOW = "SELECT extract(epoch FROM clock_timestamp())::float8"

ENSURE_PACE = f"INSERT INTO {PACE} (scope) VALUES (%s) ON CONFLICT (scope) DO NOTHING"

ENQUEUE = f"""INSERT INTO {QUEUE} (scope, user_name, process, enqueued_at, seen_at)
    VALUES (%s, %s, %s, to_timestamp(%s), to_timestamp(%s)) RETURNING id"""

DROP = f"DELETE FROM {QUEUE} WHERE id = ANY(%s)"

HEARTBEAT = f"UPDATE {QUEUE} SET seen_at = to_timestamp(%s) WHERE id = ANY(%s) AND granted_at IS NULL"

EXPIRE = f"""DELETE FROM {QUEUE} WHERE scope = %(scope)s
    AND ((granted_at IS NULL AND seen_at < to_timestamp(%(stale_before)s))
         OR granted_at < to_timestamp(%(forget_before)s))"""
"""Drops waiting rows no process has heard from (it died) and grants long out of the window."""

READ_PACE = f"""SELECT extract(epoch FROM paused_until)::float8, learned,
    extract(epoch FROM throttled_at)::float8, strikes, served FROM {PACE} WHERE scope = %s"""

READ_QUEUE = f"""SELECT id, user_name, extract(epoch FROM granted_at)::float8 FROM {QUEUE}
    WHERE scope = %s AND (granted_at IS NULL OR granted_at > to_timestamp(%s)) ORDER BY id"""

LAST_SERVED = f"""SELECT user_name, max(grant_seq) FROM {QUEUE}
    WHERE scope = %s AND grant_seq IS NOT NULL GROUP BY user_name"""

GRANT = f"""UPDATE {QUEUE} AS q SET granted_at = to_timestamp(%s), grant_seq = v.seq
    FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, seq) WHERE q.id = v.id"""

SET_SERVED = f"UPDATE {PACE} SET served = %s WHERE scope = %s"

MINE = f"SELECT id, granted_at IS NOT NULL FROM {QUEUE} WHERE id = ANY(%s)"

WRITE_PACE = f"""UPDATE {PACE} SET paused_until = to_timestamp(%s), learned = %s,
    throttled_at = to_timestamp(%s), strikes = %s WHERE scope = %s"""
