"""The files behind a statement's external links, read into typed rows.

A result downloaded with the ``EXTERNAL_LINKS`` disposition (Genie's full-result downloads) comes as
one file per chunk, in the manifest's ``format``:

- ``JSON_ARRAY``: an array of rows, each an array of values, every non-null value a string (as
  ``data_array``), typed here as :func:`~.statement.typed_rows` types them;
- ``CSV``: one row a line, strings again. The Statement Execution API does not say whether the first
  chunk starts with a header line: a first line equal to the column names is taken for one. An empty
  field is read as null (CSV cannot tell it from an empty string);
- ``ARROW_STREAM``: an Arrow IPC stream, typed by Arrow (pyarrow, which mlflow brings). Values come
  as Python's (``Decimal``, ``date``, ``datetime``); a timestamp with a zone becomes naive UTC, as
  DuckDB returns TIMESTAMP, so it compares equal to the local engine's.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from typing import Any

from ..errors import BackendError
from .statement import typed_rows

__all__ = ["FORMATS", "read_result_file"]

FORMATS = ("JSON_ARRAY", "CSV", "ARROW_STREAM")

Row = tuple[Any, ...]


def read_result_file(
    body: bytes,
    fmt: str,
    columns: Sequence[str],
    type_names: Sequence[str | None],
    *,
    first: bool,
) -> list[Row]:
    """The rows of one result file of format ``fmt``; ``first``: it is the result's first chunk (where a
    CSV header would be). Raises :class:`BackendError` for a file that is not in that format."""
    try:
        if fmt == "JSON_ARRAY":
            data = json.loads(body) if body.strip() else []
            if not isinstance(data, list):
                raise ValueError("not an array of rows")
            return list(typed_rows(data, type_names))
        if fmt == "CSV":
            return _csv_rows(body, columns, type_names, first=first)
        if fmt == "ARROW_STREAM":
            return _arrow_rows(body)
    except (ValueError, UnicodeDecodeError, ImportError) as exc:
        raise BackendError(
            f"A chunk of the query's full result could not be read as {fmt}: {exc}.",
            "Ask again; if it persists, report it with the space and the question.",
        ) from None
    raise BackendError(
        f"The query's full result came as {fmt!r}, which this version does not read ({', '.join(FORMATS)}).",
        "Upgrade genie-agent, or ask for fewer rows (the first chunk of the result is read inline).",
    )


def _csv_rows(
    body: bytes, columns: Sequence[str], type_names: Sequence[str | None], *, first: bool
) -> list[Row]:
    records = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    if first and records and [c.strip() for c in records[0]] == list(columns):
        records = records[1:]
    cells = [[v if v != "" else None for v in record] for record in records if record]
    return list(typed_rows(cells, type_names))


def _arrow_rows(body: bytes) -> list[Row]:
    import pyarrow as pa

    table = pa.ipc.open_stream(body).read_all()
    columns = [[_plain(v) for v in column.to_pylist()] for column in table.columns]
    return list(zip(*columns, strict=True)) if columns else []


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value
