"""The statements the SQLite stores send beyond LangGraph's own: a thread found by its questions'
digest, the FTS5 table kept in step with the store by triggers, and the note vectors with each
namespace's generation."""

from __future__ import annotations

__all__ = [
    "FTS_BACKFILL",
    "FTS_SEARCH",
    "FTS_SETUP",
    "GENERATION",
    "HISTORY_INDEX",
    "NOTES_BY_KEY",
    "NOTES_WITH_VECTORS",
    "SAVE_VECTOR",
    "THREAD_BY_HISTORY",
    "VECTOR_SETUP",
]

# --- threads: found by the digest of their questions (memory/digests.py) -----------------------------

# SqliteSaver keeps metadata as JSON bytes; the index is on the very expression the lookup filters by.
_HISTORY = "json_extract(CAST(c.metadata AS TEXT), '$.genie_history')"
HISTORY_INDEX = (
    "CREATE INDEX IF NOT EXISTS genie_checkpoints_history "
    "ON checkpoints (json_extract(CAST(metadata AS TEXT), '$.genie_history'))"
)
# The user's thread whose latest checkpoint carries the digest; the most recent of several.
THREAD_BY_HISTORY = f"""
SELECT c.thread_id FROM checkpoints AS c
WHERE {_HISTORY} = ? AND c.checkpoint_ns = ''
  AND json_extract(CAST(c.metadata AS TEXT), '$.user') = ?
  AND c.checkpoint_id = (
    SELECT max(l.checkpoint_id) FROM checkpoints AS l WHERE l.thread_id = c.thread_id AND l.checkpoint_ns = '')
ORDER BY c.checkpoint_id DESC LIMIT 1
"""

# --- memories ----------------------------------------------------------------------------------------

FTS_SETUP = (
    "CREATE VIRTUAL TABLE genie_memory_fts USING fts5(terms)",
    """CREATE TRIGGER genie_memory_fts_insert AFTER INSERT ON store BEGIN
  INSERT INTO genie_memory_fts(rowid, terms)
  VALUES (new.rowid, COALESCE(json_extract(CAST(new.value AS TEXT), '$.terms'), ''));
END""",
    """CREATE TRIGGER genie_memory_fts_delete AFTER DELETE ON store BEGIN
  DELETE FROM genie_memory_fts WHERE rowid = old.rowid;
END""",
    """CREATE TRIGGER genie_memory_fts_update AFTER UPDATE ON store BEGIN
  UPDATE genie_memory_fts SET terms = COALESCE(json_extract(CAST(new.value AS TEXT), '$.terms'), '')
  WHERE rowid = new.rowid;
END""",
)
FTS_BACKFILL = """
INSERT INTO genie_memory_fts(rowid, terms)
SELECT rowid, COALESCE(json_extract(CAST(value AS TEXT), '$.terms'), '') FROM store
"""
# Note vectors for recall by meaning, keyed by the store's row and the model that made them. A
# changed or deleted item drops its vector (triggers, so in the item's own transaction); recall
# embeds the notes that have none (saved while embeddings were off, or just now) with the question.
VECTOR_SETUP = (
    """CREATE TABLE IF NOT EXISTS genie_memory_vectors (
  prefix TEXT NOT NULL, key TEXT NOT NULL, model TEXT NOT NULL, embedding BLOB NOT NULL,
  PRIMARY KEY (prefix, key))""",
    """CREATE TRIGGER IF NOT EXISTS genie_memory_vectors_delete AFTER DELETE ON store BEGIN
  DELETE FROM genie_memory_vectors WHERE prefix = old.prefix AND key = old.key;
END""",
    """CREATE TRIGGER IF NOT EXISTS genie_memory_vectors_update AFTER UPDATE OF value ON store
WHEN old.value IS NOT new.value BEGIN
  DELETE FROM genie_memory_vectors WHERE prefix = old.prefix AND key = old.key;
END""",
    # A namespace's generation: bumped (by triggers, so in the writer's transaction, whichever
    # process writes) whenever one of its items or vectors changes. A process keeps a namespace's
    # vectors in memory while its generation stays the same: one indexed read per recall.
    """CREATE TABLE IF NOT EXISTS genie_memory_generations (
  prefix TEXT PRIMARY KEY, generation INTEGER NOT NULL) WITHOUT ROWID""",
    *(
        f"""CREATE TRIGGER IF NOT EXISTS genie_memory_generation_{name} AFTER {event} BEGIN
  INSERT INTO genie_memory_generations (prefix, generation) VALUES ({row}.prefix, 1)
  ON CONFLICT (prefix) DO UPDATE SET generation = generation + 1;
END"""
        for name, event, row in (
            ("store_insert", "INSERT ON store", "new"),
            ("store_delete", "DELETE ON store", "old"),
            ("store_update", "UPDATE OF value ON store WHEN old.value IS NOT new.value", "new"),
            ("vector_insert", "INSERT ON genie_memory_vectors", "new"),
            ("vector_delete", "DELETE ON genie_memory_vectors", "old"),
        )
    ),
)
GENERATION = "SELECT generation FROM genie_memory_generations WHERE prefix = ?"
NOTES_WITH_VECTORS = """
SELECT s.key, v.model, v.embedding
FROM store AS s LEFT JOIN genie_memory_vectors AS v ON v.prefix = s.prefix AND v.key = s.key
WHERE s.prefix = ?
"""
NOTES_BY_KEY = """
SELECT key, CAST(value AS TEXT), created_at, updated_at FROM store
WHERE prefix = ? AND key IN (SELECT value FROM json_each(?))
"""
SAVE_VECTOR = """
INSERT OR REPLACE INTO genie_memory_vectors (prefix, key, model, embedding)
SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM store WHERE prefix = ? AND key = ?)
"""
FTS_SEARCH = """
SELECT s.key, CAST(s.value AS TEXT), s.created_at, s.updated_at, bm25(genie_memory_fts) AS rank
FROM genie_memory_fts JOIN store AS s ON s.rowid = genie_memory_fts.rowid
WHERE genie_memory_fts MATCH ? AND s.prefix = ?
ORDER BY rank LIMIT ?
"""
