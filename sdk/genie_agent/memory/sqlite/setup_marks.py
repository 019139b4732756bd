"""Whether a SQLite file's tables were set up by the code installed now: then a process opening it
skips LangGraph's setup, and importing LangGraph with it (about 0.2 s of a one-question process).

A part's mark names the LangGraph module that defines its tables (path, size, modification time)
and hashes our own statements for it. Setup writes the mark last, under the setup lock; another
LangGraph, or other statements of ours, make a new mark, so the next process sets the part up again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sqlite3
from collections.abc import Iterable
from pathlib import Path

__all__ = ["is_marked", "set_mark", "setup_mark"]

_MARKS = "CREATE TABLE IF NOT EXISTS genie_setup_marks (part TEXT PRIMARY KEY, mark TEXT NOT NULL)"


def setup_mark(langgraph_file: str, statements: Iterable[str]) -> str | None:
    """The mark of tables that ``langgraph_file`` (relative to the ``langgraph`` package) and our
    ``statements`` set up; None when that file is not installed (setup then runs every time)."""
    spec = importlib.util.find_spec("langgraph")  # a namespace package: nothing is imported
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(location) / langgraph_file
        try:
            stat = path.stat()
        except OSError:
            continue
        ours = hashlib.sha256("\n".join(statements).encode()).hexdigest()[:16]
        return f"{path}:{stat.st_size}:{stat.st_mtime_ns}:{ours}"
    return None


def is_marked(conn: sqlite3.Connection, part: str, mark: str | None) -> bool:
    if mark is None:
        return False
    try:
        row = conn.execute("SELECT mark FROM genie_setup_marks WHERE part = ?", (part,)).fetchone()
    except sqlite3.OperationalError:  # no marks yet: a new file, or one set up before marks existed
        return False
    return row is not None and row[0] == mark


def set_mark(conn: sqlite3.Connection, part: str, mark: str | None) -> None:
    if mark is not None:
        conn.execute(_MARKS)
        conn.execute("INSERT OR REPLACE INTO genie_setup_marks (part, mark) VALUES (?, ?)", (part, mark))
