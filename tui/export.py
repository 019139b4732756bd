"""Export a result to CSV (the rows the turn returned, values as the server sent them, not formatted),
and save Genie's own chart image of it."""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path

from .stream import ResultData

__all__ = ["export_csv", "save_image"]


def _new_path(directory: Path, domain: str, suffix: str, now: dt.datetime | None) -> Path:
    """``directory/genie-<space>-<timestamp><suffix>``, numbered when that file exists."""
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^\w-]+", "_", domain) or "result"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"genie-{safe}-{stamp}{suffix}"
    n = 1
    while path.exists():
        n += 1
        path = directory / f"genie-{safe}-{stamp}-{n}{suffix}"
    return path


def save_image(png: bytes, domain: str, directory: Path, *, now: dt.datetime | None = None) -> Path:
    """Write Genie's chart image of ``domain``'s result to ``directory/genie-<space>-<timestamp>.png``."""
    path = _new_path(directory, domain, ".png", now)
    path.write_bytes(png)
    return path


def export_csv(result: ResultData, directory: Path, *, now: dt.datetime | None = None) -> Path:
    """Write ``result`` to ``directory/genie-<space>-<timestamp>.csv`` and return the path."""
    path = _new_path(directory, result.domain, ".csv", now)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(result.columns)
        writer.writerows(["" if v is None else v for v in row] for row in result.rows)
    return path
