"""The statements the Postgres stores send beyond LangGraph's own: the thread save in one round
trip, a thread found by its questions' digest, full text recall, and pgvector recall (exact, or
through an HNSW index)."""

from __future__ import annotations

__all__ = [
    "ANN_INDEX",
    "ANN_INDEX_NAME",
    "ANN_INDEX_VALID",
    "ANN_SEARCH",
    "ANN_SETTINGS",
    "ANN_WORDS",
    "APPEND_IF_HEAD",
    "EXACT_SEARCH",
    "HISTORY_INDEX",
    "HISTORY_INDEX_NAME",
    "HISTORY_INDEX_VALID",
    "KEYWORD_SEARCH",
    "LOCK_THREAD",
    "NOTES_WITHOUT_VECTORS",
    "TERMS_INDEX",
    "THREAD_BY_HISTORY",
    "VECTOR_COUNT",
    "VECTOR_DIMS",
]

# --- threads ---------------------------------------------------------------------------------------

LOCK_THREAD = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
# The row PostgresSaver.put writes for a checkpoint whose channel values are all inline (a thread's
# are), inserted only while the thread still ends at the parent (NULL: the thread has no checkpoint).
APPEND_IF_HEAD = """
INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)
SELECT %(thread_id)s, '', %(id)s, %(parent)s, %(checkpoint)s, %(metadata)s
WHERE (SELECT max(checkpoint_id) FROM checkpoints WHERE thread_id = %(thread_id)s AND checkpoint_ns = '')
  IS NOT DISTINCT FROM %(parent)s
RETURNING checkpoint_id
"""

# A thread found by the digest of its questions (memory/digests.py): the user's thread whose latest
# checkpoint carries it, the most recent of several. The index holds the digest in the metadata and the
# namespace: with the digest alone the planner ANDs it with the primary key's scan of every checkpoint
# in namespace '' (milliseconds on 30,000 checkpoints, growing with the table).
HISTORY_INDEX_NAME = "genie_checkpoints_history_idx"
HISTORY_INDEX = f"""
CREATE INDEX CONCURRENTLY IF NOT EXISTS {HISTORY_INDEX_NAME} ON checkpoints ((metadata->>'genie_history'), checkpoint_ns)
"""
HISTORY_INDEX_VALID = (
    f"SELECT indisvalid AS ok FROM pg_index WHERE indexrelid = to_regclass('{HISTORY_INDEX_NAME}')"
)
THREAD_BY_HISTORY = """
SELECT c.thread_id FROM checkpoints AS c
WHERE c.metadata->>'genie_history' = %(history)s AND c.checkpoint_ns = '' AND c.metadata->>'user' = %(user)s
  AND c.checkpoint_id = (
    SELECT max(l.checkpoint_id) FROM checkpoints AS l WHERE l.thread_id = c.thread_id AND l.checkpoint_ns = '')
ORDER BY c.checkpoint_id DESC LIMIT 1
"""

# --- memories: full text recall ------------------------------------------------------------------

TERMS_INDEX = (
    "CREATE INDEX IF NOT EXISTS genie_memory_terms_idx ON store "
    "USING gin (to_tsvector('simple', value->>'terms')) WITH (fastupdate = off)"
)
KEYWORD_SEARCH = """
SELECT key, value, created_at, updated_at, ts_rank(to_tsvector('simple', value->>'terms'), q) AS score
FROM store, to_tsquery('simple', %s) AS q
WHERE prefix = %s AND to_tsvector('simple', value->>'terms') @@ q
ORDER BY score DESC, updated_at DESC LIMIT %s
"""

# --- memories: pgvector recall by meaning --------------------------------------------------------

NOTES_WITHOUT_VECTORS = r"""
SELECT s.prefix, s.key, s.value FROM store AS s
WHERE s.prefix LIKE 'genie\_agent.%.notes' AND s.value ? 'text' AND NOT EXISTS (
  SELECT 1 FROM store_vectors AS v WHERE v.prefix = s.prefix AND v.key = s.key)
LIMIT 500
"""
VECTOR_COUNT = """
SELECT count(*) AS n FROM (SELECT 1 FROM store_vectors WHERE prefix = %s LIMIT %s) AS mine
"""
# Every note of the user ranked; OFFSET 0 keeps the subquery apart, so the ANN index cannot serve the
# ORDER BY (without an iterative scan it would filter the index's first candidates by user).
EXACT_SEARCH = """
SELECT s.key, s.value, s.created_at, s.updated_at, 1 - top.distance AS score
FROM (
  SELECT key, distance FROM (
    SELECT v.key, v.embedding <=> %(vector)s::vector AS distance
    FROM store_vectors AS v WHERE v.prefix = %(prefix)s OFFSET 0
  ) AS mine ORDER BY distance LIMIT %(limit)s
) AS top JOIN store AS s ON s.prefix = %(prefix)s AND s.key = top.key
ORDER BY top.distance
"""
ANN_INDEX_NAME = "genie_memory_vectors_hnsw_idx"
ANN_INDEX = f"""
CREATE INDEX CONCURRENTLY IF NOT EXISTS {ANN_INDEX_NAME} ON store_vectors USING hnsw (embedding vector_cosine_ops)
"""
ANN_INDEX_VALID = f"SELECT indisvalid AS ok FROM pg_index WHERE indexrelid = to_regclass('{ANN_INDEX_NAME}')"
# A sort is the only way the exact query could rank, so with sorts off the planner walks the HNSW
# index; the iterative scan goes on past ef_search candidates until LIMIT notes of this user are found.
ANN_SETTINGS = "SET LOCAL hnsw.iterative_scan = strict_order; SET LOCAL hnsw.ef_search = 100; SET LOCAL enable_sort = off"
# The index's nearest notes, plus (up to 200) notes sharing a word with the question, all ranked by
# their exact distance: a note the approximate search misses is still found by its words. The
# ranking subquery is kept apart (OFFSET 0) so that it sorts its few candidates instead of walking the index.
ANN_SEARCH = """
WITH near AS (
  SELECT v.key FROM store_vectors AS v WHERE v.prefix = %(prefix)s
  ORDER BY v.embedding <=> %(vector)s::vector LIMIT %(limit)s
), candidates AS (
  SELECT key FROM near {words}
), top AS MATERIALIZED (
  SELECT key, distance FROM (
    SELECT v.key, v.embedding <=> %(vector)s::vector AS distance
    FROM candidates AS c JOIN store_vectors AS v ON v.prefix = %(prefix)s AND v.key = c.key OFFSET 0
  ) AS scored ORDER BY distance LIMIT %(limit)s
)
SELECT s.key, s.value, s.created_at, s.updated_at, 1 - top.distance AS score
FROM top JOIN store AS s ON s.prefix = %(prefix)s AND s.key = top.key
ORDER BY top.distance
"""
ANN_WORDS = """
  UNION (SELECT s.key FROM store AS s, to_tsquery('simple', %(terms)s) AS q
  WHERE s.prefix = %(prefix)s AND to_tsvector('simple', s.value->>'terms') @@ q LIMIT 200)"""
VECTOR_DIMS = """
SELECT a.atttypmod AS dims FROM pg_attribute AS a
WHERE a.attrelid = to_regclass('store_vectors') AND a.attname = 'embedding'
"""
