"""Export a result to CSV: the rows the turn returned, values as the server sent them (not formatted)."""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path

from .stream import ResultData

__all__ = ["export_csv"]


def export_csv(result: ResultData, directory: Path, *, now: dt.datetime | None = None) -> Path:
    """Write ``result`` to ``directory/genie-<space>-<timestamp>.csv`` and return the path."""
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^\w-]+", "_", result.domain) or "result"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"genie-{safe}-{stamp}.csv"
    n = 1
    while path.exists():
        n += 1
        path = directory / f"genie-{safe}-{stamp}-{n}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(result.columns)
        writer.writerows(["" if v is None else v for v in row] for row in result.rows)
    return path
