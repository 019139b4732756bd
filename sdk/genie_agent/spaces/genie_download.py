"""The whole of a Genie query result, up to the row limit: the steps that read it (:mod:`.genie_flow`).

Genie's ``query-result`` holds the first chunk of the statement's rows, and the Genie API has no call
for the next chunks of that statement. What it offers for the rest is a full-result download
(databricks-sdk ``GenieAPI.generate_download_full_query_result`` / ``get_download_full_query_result``):

1. ``POST .../attachments/{id}/downloads`` runs the attachment's query again and answers a
   ``download_id`` and its ``download_id_signature``;
2. ``GET .../downloads/{download_id}?download_id_signature=...`` is polled until the statement
   SUCCEEDED; its ``result`` then holds ``external_links`` (the ``EXTERNAL_LINKS`` disposition) and
   its manifest the format, schema and chunks;
3. each link's file is fetched WITHOUT the workspace's credentials (the URL is signed; the link's
   ``http_headers`` are sent, nothing else) and read in the manifest's format (:mod:`.result_files`);
4. a response carries the link of one chunk (so says databricks-sdk's ``ResultData``); the next is at
   the link's ``next_chunk_internal_link``, a workspace path of the Statement Execution API
   (``/api/2.0/sql/statements/{id}/result/chunks/{n}``), asked with the workspace's credentials.

Reading stops once the row limit is reached; the rows are cut there and ``truncated`` says so.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from ..errors import BackendError, BackendTimeoutError
from .genie_answer import ResultRows, columns_of, statement_error, statement_state
from .genie_calls import Call, FetchLink, GetChunk, GetDownload, Sleep, StartDownload
from .result_files import read_result_file
from .statement import typed_rows

if TYPE_CHECKING:
    from databricks.sdk.service.sql import ResultData, StatementResponse

__all__ = ["download_rows"]

_WAITING = (None, "PENDING", "RUNNING")


def download_rows(
    ids: tuple[str, str, str], title: str, row_limit: int, deadline: float
) -> Generator[Call, Any, ResultRows]:
    """The rows of the query attachment ``ids`` (conversation, message, attachment) read from a
    full-result download, at most ``row_limit``. Raises :class:`BackendError` when the download
    fails, :class:`BackendTimeoutError` when it is not done by ``deadline``."""
    started = yield StartDownload(*ids)
    download_id, signature = started.download_id, started.download_id_signature
    if not download_id or not signature:
        raise BackendError(
            f"The {title} space started a download of the full result but gave no download id.",
            "Ask again; the first rows of the result were kept.",
        )
    response = yield from _finished(GetDownload(*ids, download_id, signature), title, deadline)
    names, _, type_names = columns_of(response)
    manifest = response.manifest
    fmt = manifest.format.value if manifest is not None and manifest.format is not None else "JSON_ARRAY"
    rows: list[tuple[Any, ...]] = []
    data: ResultData | None = response.result
    more, files = False, 0
    while data is not None:
        if data.data_array:  # a chunk given inline
            rows.extend(typed_rows(data.data_array, type_names))
        for link in data.external_links or ():
            if len(rows) >= row_limit:
                more = True
                break
            if not link.external_link:
                continue
            body = yield FetchLink(link.external_link, tuple(sorted((link.http_headers or {}).items())))
            rows.extend(read_result_file(body, fmt, names, type_names, first=files == 0))
            files += 1
        following = _next_chunk(data)
        if following is None:
            break
        if len(rows) >= row_limit:
            more = True
            break
        data = yield GetChunk(following)
    total = manifest.total_row_count if manifest is not None else None
    truncated = (
        more
        or len(rows) > row_limit
        or (total is not None and total > len(rows))
        or bool(manifest is not None and manifest.truncated)
    )
    return ResultRows(tuple(rows[:row_limit]), truncated)


def _next_chunk(data: ResultData) -> str | None:
    """The path of the chunk after ``data``: its last link's ``next_chunk_internal_link``, else its own."""
    links = data.external_links or []
    if links and links[-1].next_chunk_internal_link:
        return links[-1].next_chunk_internal_link
    return data.next_chunk_internal_link or None


def _finished(poll: GetDownload, title: str, deadline: float) -> Generator[Call, Any, StatementResponse]:
    """The download's statement once it SUCCEEDED, polled until then (or the deadline)."""
    delay = 0.1
    response = yield poll
    while True:
        state = statement_state(response)
        if state == "SUCCEEDED" and response is not None:
            return response
        if state not in _WAITING:
            raise BackendError(
                f"The download of the {title} space's full result ended {state}: "
                f"{statement_error(response) or 'no reason given'}.",
                "Ask again; the first rows of the result were kept.",
                retryable=state != "FAILED",
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BackendTimeoutError(
                f"The full result of the {title} space's query was not ready in time (state: {state}).",
                "Ask for fewer rows, or raise GENIE_AGENT_GENIE_POLL_TIMEOUT_S.",
            )
        yield Sleep(min(delay, remaining))
        delay = min(delay * 1.6, 1.0)
        response = yield poll
