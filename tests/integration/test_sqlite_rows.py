"""The SQLite stores read and write LangGraph's rows themselves on a turn (memory/sqlite/checkpoint_rows.py,
store_rows.py): the same bytes LangGraph's ``SqliteSaver`` and ``SqliteStore`` write, read back by
them as their own, and LangGraph's setup skipped (with its import) when this code already set the file up."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.store.base import GetOp, PutOp, SearchOp
from langgraph.store.sqlite import SqliteStore

from genie_agent.memory.checkpoints import thread_config
from genie_agent.memory.sqlite import SqliteMemoryStore, SqliteThreadStore
from genie_agent.memory.sqlite.checkpoint_rows import SqliteCheckpoints
from genie_agent.memory.sqlite.store_rows import get_item, put_items, search_items, transaction
from genie_agent.memory.store import MemoryChange, MemoryWrite
from genie_agent.memory.threads import TurnRecord


def _turn(question: str) -> TurnRecord:
    return TurnRecord(
        question,
        "ok",
        f"answer to {question}",
        ("sales",),
        {"sales": "c1"},
        {"sales": "SELECT 1"},
        members={"sales": ["EUROPE"]},
    )


def _checkpoint(checkpoint_id: str, **values: object) -> dict:
    return {
        "v": 4,
        "id": checkpoint_id,
        "ts": "2026-01-02T03:04:05.000006+00:00",
        "channel_values": {"owner": "ana", "seq": 1, "turn": '{"q": "caf\\u00e9"}', **values},
        "channel_versions": {"owner": "00000000000000000000000000000001.0.5"},
        "versions_seen": {},
        "updated_channels": ["owner", "seq", "turn"],
    }


@pytest.fixture
def conn(tmp_path: Path):
    made = sqlite3.connect(tmp_path / "rows.sqlite", check_same_thread=False, isolation_level=None)
    saver = SqliteSaver(made)
    saver.setup()
    SqliteStore(made).setup()
    yield made
    made.close()


def _saver(conn: sqlite3.Connection) -> SqliteSaver:
    saver = SqliteSaver(conn)
    saver.is_setup = True
    return saver


def test_a_checkpoint_is_written_as_sqlite_saver_writes_it(conn):
    rows, saver = SqliteCheckpoints(conn, lambda: _saver(conn)), _saver(conn)
    parent = {"configurable": {"thread_id": "t1", "checkpoint_ns": "", "checkpoint_id": "a0"}}
    metadata = {"source": "input", "step": 2, "user": "ana\u0000", "note": "é"}
    rows.put(parent, _checkpoint("a1"), metadata, {})
    saver.put(
        {**parent, "configurable": {**parent["configurable"], "thread_id": "t2"}},
        _checkpoint("a1"),
        metadata,
        {},
    )
    ours, theirs = (
        conn.execute("SELECT * FROM checkpoints WHERE thread_id = ?", (t,)).fetchone()[1:]
        for t in ("t1", "t2")
    )
    assert ours == theirs  # namespace, ids, parent, type, checkpoint bytes, metadata bytes
    assert JsonPlusSerializer().loads_typed((ours[3], ours[4])) == _checkpoint("a1")

    read = rows.get_tuple(thread_config("t1"))
    expected = saver.get_tuple(thread_config("t1"))
    assert read is not None and expected is not None
    assert tuple(read) == tuple(expected)  # config, checkpoint, metadata, parent config, pending writes
    assert (
        rows.get_tuple({"configurable": {"thread_id": "t1", "checkpoint_ns": "", "checkpoint_id": "a1"}})
        == read
    )
    assert rows.get_tuple(thread_config("nobody")) is None


def test_sqlite_saver_reads_a_thread_saved_turn_by_turn_as_its_own(tmp_path: Path):
    store = SqliteThreadStore(tmp_path / "memory.sqlite")
    state = store.load(None, "ana")
    for question in ("revenue by region in 1995", "and in 1996?"):
        store.append(state, _turn(question))
        state = store.load(state.thread_id, "ana")
    assert state.turns == 2 and state.genie_conversation_ids == {"sales": "c1"}
    assert state.last_members == {"sales": ["EUROPE"]}
    assert [t.question for t in store.history(state.thread_id, "ana")] == [
        "revenue by region in 1995",
        "and in 1996?",
    ]
    store.close()

    conn = sqlite3.connect(tmp_path / "memory.sqlite")
    items = list(_saver(conn).list(thread_config(state.thread_id)))
    assert [i.metadata["step"] for i in items] == [2, 1]
    assert items[0].parent_config == items[1].config  # each turn's parent is the turn before
    assert items[0].checkpoint["channel_values"]["seq"] == 2
    conn.close()


def test_what_msgpack_cannot_carry_natively_and_pending_writes_go_through_sqlite_saver(conn):
    rows, saver = SqliteCheckpoints(conn, lambda: _saver(conn)), _saver(conn)
    when = datetime(2026, 1, 2, tzinfo=UTC)
    rows.put(thread_config("t1"), _checkpoint("b1", when=when), {"source": "input"}, {})
    read = rows.get_tuple(thread_config("t1"))
    assert read is not None and read.checkpoint["channel_values"]["when"] == when  # LangGraph's ext type
    saver.put_writes(read.config, [("turn", {"x": 1})], "task-1")
    read = rows.get_tuple(thread_config("t1"))
    assert read is not None and read.pending_writes == [("task-1", "turn", {"x": 1})]
    assert tuple(read) == tuple(saver.get_tuple(thread_config("t1")))


def test_store_rows_are_sqlite_stores_rows(conn):
    store = SqliteStore(conn)
    store.is_setup = True
    ns, other = ("genie_agent", "ana", "preferences"), ("genie_agent", "ana", "stats")
    with transaction(conn):
        put_items(
            conn,
            [
                MemoryWrite(
                    ns, "pref-a", {"kind": "preference", "text": "in EUR", "data": {"x": [1, 2]}}, False
                ),
                MemoryWrite(ns, "pref-b", {"kind": "preference", "text": "dropped"}, False),
                MemoryWrite(ns, "pref-b", {"kind": "preference", "text": "the last write wins"}, False),
                MemoryWrite(other, "domains", {"kind": "domains", "data": {"sales": 3}}, False),
            ],
        )
    store.batch(
        [
            PutOp(
                ("genie_agent", "bob", "preferences"),
                "pref-a",
                {"kind": "preference", "text": "in EUR", "data": {"x": [1, 2]}},
            )
        ]
    )
    value = lambda user: conn.execute(  # noqa: E731
        "SELECT value, typeof(value) FROM store WHERE prefix = ? AND key = 'pref-a'",
        (f"genie_agent.{user}.preferences",),
    ).fetchone()
    assert value("ana") == value("bob")  # orjson bytes, as a BLOB

    searched, got = store.batch([SearchOp(ns, None, 100, 0, None, False), GetOp(other, "domains", False)])
    ours = search_items(conn, ns, 100)
    assert [(i.key, i.value, i.created_at, i.updated_at) for i in ours] == [
        (i.key, i.value, i.created_at, i.updated_at) for i in searched
    ]
    assert {i.value["text"] for i in ours} == {"in EUR", "the last write wins"}
    mine = get_item(conn, other, "domains")
    assert (
        mine is not None and got is not None and (mine.value, mine.created_at) == (got.value, got.created_at)
    )
    assert get_item(conn, other, "nothing") is None

    with transaction(conn):
        put_items(conn, [MemoryWrite(ns, "pref-a", None, None)])
    assert store.get(ns, "pref-a") is None and store.get(ns, "pref-b") is not None


def test_a_failed_write_leaves_nothing(conn):
    ns = ("genie_agent", "ana", "notes")
    with pytest.raises(sqlite3.Error), transaction(conn):
        put_items(conn, [MemoryWrite(ns, "note-1", {"kind": "note", "text": "kept?"}, None)])
        conn.execute("INSERT INTO no_such_table VALUES (1)")
    assert search_items(conn, ns, 10) == []


def test_memories_recalled_and_saved_on_the_rows_are_listed_through_langgraph(tmp_path: Path):
    store = SqliteMemoryStore(tmp_path / "memory.sqlite")
    store.apply(
        "ana", [MemoryChange("preference", "pref-currency", "show amounts in EUR", {"currency": "EUR"})]
    )
    store.apply("ana", [MemoryChange("domains", "domains", "Most asked: sales (2)", {"sales": 2}, "sales")])
    store.apply("ana", [MemoryChange.note("our fiscal year starts in April")])
    recall = store.recall("ana", "when does the fiscal year start?")
    assert [p.text for p in recall.preferences] == ["show amounts in EUR"]
    assert recall.domains == {"sales": 2}
    assert [n.text for n in recall.notes] == ["our fiscal year starts in April"]
    assert store.recall_preferences("bob").preferences == ()
    listed = store.list("ana")  # LangGraph's SqliteStore
    assert [m.kind for m in listed] == ["preference", "domains", "note"]
    assert listed[0].created_at == recall.preferences[0].created_at
    assert store.forget("ana", "pref-currency") and store.recall_preferences("ana").preferences == ()
    store.close()


_OPEN = (
    "import sys, json\n"
    "from pathlib import Path\n"
    "from genie_agent.memory.sqlite import SqliteMemoryStore, SqliteThreadStore\n"
    "from genie_agent.memory.threads import TurnRecord\n"
    "path = Path(sys.argv[1])\n"
    "threads, memories = SqliteThreadStore(path), SqliteMemoryStore(path)\n"
    "state = threads.load(None, 'ana')\n"
    "threads.append(state, TurnRecord('q', 'ok', 'a', ('sales',), {}, {}))\n"
    "memories.recall('ana', 'revenue')\n"
    "threads.close(); memories.close()\n"
    "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'langgraph', 'langchain_core', 'numpy'})))"
)


def _open_in_a_process(path: Path) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", _OPEN, str(path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_langgraph_sets_a_file_up_once_per_installed_version(tmp_path: Path):
    path = tmp_path / "memory.sqlite"
    assert _open_in_a_process(path) == [
        "langchain_core",
        "langgraph",
        "numpy",
    ]  # a new file: LangGraph's setup
    assert _open_in_a_process(path) == []  # set up by this code: no LangGraph
    conn = sqlite3.connect(path)
    conn.execute("UPDATE genie_setup_marks SET mark = 'another langgraph' WHERE part = 'threads'")
    conn.commit()
    assert "langgraph" in _open_in_a_process(path)  # set up again, and marked
    assert _open_in_a_process(path) == []
    conn.execute("DROP TABLE genie_setup_marks")  # a file set up before the marks
    conn.commit()
    conn.close()
    assert "langgraph" in _open_in_a_process(path)
    assert _open_in_a_process(path) == []
