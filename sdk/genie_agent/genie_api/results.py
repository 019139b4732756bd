"""Query results past their first chunk, as a workspace serves them.

- ``GET /api/2.0/sql/statements/{statement_id}/result/chunks/{chunk_index}`` (the Statement Execution
  API's get-result-chunk-n, where a chunk's ``next_chunk_internal_link`` points): a chunk of a
  Genie query's result inline, or the external link of a download's chunk. Only the user whose
  statement it is may read it.
- ``POST .../attachments/{id}/downloads`` (Genie's generate-download-full-query-result): a new run of
  the attachment's query, answered with a ``download_id`` and its ``download_id_signature``;
  ``GET .../downloads/{download_id}?download_id_signature=...``: its statement, RUNNING for a moment
  and then SUCCEEDED with the ``EXTERNAL_LINKS`` disposition: the manifest, and the external link of
  the first chunk (databricks-sdk's ``ResultData``: one link a response), which names the next.
- The external links are signed URLs of this server standing for the workspace's cloud storage
  (``/_storage/...``): fetched without credentials; a request that also sends ``Authorization`` is
  refused (as S3 refuses a presigned URL with a second credential), and a link expires after
  :data:`LINK_TTL_S`. Files are in the download's format: ``JSON_ARRAY`` (the default) or
  ``ARROW_STREAM``.

The download's rows are the answer the space gave the message (the local spaces' data does not change).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..spaces.statement import ColumnType, render_rows
from .errors import ApiError
from .messages import GenieService, Message, MessageRef, new_id
from .payloads import chunk_bounds, chunk_link, column_types, inline_chunk_json, manifest_json

if TYPE_CHECKING:
    from ..spaces.base import SpaceAnswer

__all__ = ["DOWNLOAD_FORMATS", "LINK_TTL_S", "ResultStore", "result_routes"]

DOWNLOAD_FORMATS = ("JSON_ARRAY", "ARROW_STREAM")
LINK_TTL_S = 900
"""An external link is valid this long (the Statement Execution API: at most 15 minutes)."""
_STORAGE = "/_storage/genie-results"
_MAX_DOWNLOADS = 1000


@dataclass
class Download:
    """A full-result download: its statement, whose it is, and the answer its files hold."""

    download_id: str
    statement_id: str
    user: str
    ref: MessageRef
    attachment_id: str
    answer: SpaceAnswer
    ready_at: float
    files: dict[int, bytes] = field(default_factory=dict)


class ResultStore:
    """Chunks of query results and full-result downloads, over the message service."""

    def __init__(
        self,
        service: GenieService,
        chunk_rows: int,
        download_format: str = "JSON_ARRAY",
        ready_s: float = 0.05,
    ) -> None:
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be at least 1")
        if download_format not in DOWNLOAD_FORMATS:
            raise ValueError(f"download_format must be one of {', '.join(DOWNLOAD_FORMATS)}")
        self.service = service
        self.chunk_rows = chunk_rows
        self.format = download_format
        self.ready_s = ready_s
        self.downloads: OrderedDict[str, Download] = OrderedDict()
        self._by_statement: dict[str, Download] = {}
        self._key = secrets.token_bytes(32)

    def sign(self, *parts: str) -> str:
        return hmac.new(self._key, "/".join(parts).encode(), hashlib.sha256).hexdigest()

    # --- Genie's downloads ---------------------------------------------------------------------------

    def start(self, who: Any, ref: MessageRef, attachment_id: str) -> Download:
        msg = self.service.query_message(who, ref, attachment_id)
        if msg.status not in ("COMPLETED", "QUERY_RESULT_EXPIRED"):
            raise ApiError(400, "INVALID_STATE", f"Message {msg.message_id} is still {msg.status}.")
        assert msg.answer is not None
        download = Download(
            new_id(), new_id(), who.user, ref, attachment_id, msg.answer, time.monotonic() + self.ready_s
        )
        self.downloads[download.download_id] = download
        self._by_statement[download.statement_id] = download
        while len(self.downloads) > _MAX_DOWNLOADS:
            _, old = self.downloads.popitem(last=False)
            self._by_statement.pop(old.statement_id, None)
        return download

    def get(
        self, who: Any, ref: MessageRef, attachment_id: str, download_id: str, signature: str | None
    ) -> Download:
        self.service.query_message(who, ref, attachment_id)
        download = self.downloads.get(download_id)
        if download is None or download.user != who.user or download.ref != ref:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Download {download_id} does not exist.")
        if not signature or not hmac.compare_digest(signature, self.sign("download", download_id)):
            raise ApiError(403, "PERMISSION_DENIED", "download_id_signature does not match the download.")
        return download

    def download_json(self, download: Download, base_url: str) -> dict[str, Any]:
        if time.monotonic() < download.ready_at:
            return {
                "statement_response": {"statement_id": download.statement_id, "status": {"state": "RUNNING"}}
            }
        sizes = [len(self.file(download, i)) for i in range(len(self._bounds(download)))]
        response = {
            "statement_id": download.statement_id,
            "status": {"state": "SUCCEEDED"},
            "manifest": manifest_json(download.answer, self.format, self.chunk_rows, sizes),
            "result": {"external_links": [self._link(download, 0, base_url)]},
        }
        return {"statement_response": response}

    # --- get-result-chunk-n ------------------------------------------------------------------------

    def chunk_json(self, who: Any, statement_id: str, index: int, base_url: str) -> dict[str, Any]:
        download = self._by_statement.get(statement_id)
        if download is not None and download.user == who.user and time.monotonic() >= download.ready_at:
            if not 0 <= index < len(self._bounds(download)):
                raise _no_chunk(statement_id, index)
            return {"external_links": [self._link(download, index, base_url)]}
        msg = self._query_statement(who, statement_id)
        assert msg.answer is not None
        if not 0 <= index < len(chunk_bounds(len(msg.answer.rows), self.chunk_rows)):
            raise _no_chunk(statement_id, index)
        return inline_chunk_json(statement_id, msg.answer, index, self.chunk_rows)

    def _query_statement(self, who: Any, statement_id: str) -> Message:
        for msg in reversed(self.service.messages.values()):
            if msg.statement_id == statement_id and msg.user == who.user and msg.answer is not None:
                if msg.status != "COMPLETED" or msg.result_expired:
                    raise ApiError(
                        400, "INVALID_STATE", f"Statement {statement_id} is closed: its result expired."
                    )
                return msg
        raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Statement {statement_id} does not exist.")

    # --- the files ---------------------------------------------------------------------------------

    def file(self, download: Download, index: int) -> bytes:
        if index not in download.files:
            offset, count = self._bounds(download)[index]
            rows = download.answer.rows[offset : offset + count]
            types = column_types(download.answer)
            if self.format == "ARROW_STREAM":
                download.files[index] = _arrow_file(download.answer.columns, types, rows)
            else:
                download.files[index] = json.dumps(render_rows(rows, [t.type_name for t in types])).encode()
        return download.files[index]

    def stored_file(self, request: Request) -> Response:
        if "authorization" in request.headers:
            return Response(
                "InvalidArgument: Only one auth mechanism allowed; the URL is signed: send no Authorization header.",
                status_code=400,
                media_type="text/plain",
            )
        p, q = request.path_params, request.query_params
        download_id, index, expires = p["download_id"], str(p["chunk_index"]), q.get("expires", "")
        download = self.downloads.get(download_id)
        valid = hmac.compare_digest(q.get("signature", ""), self.sign("file", download_id, index, expires))
        if download is None or not valid:
            return Response(
                "AccessDenied: the signature does not match.", status_code=403, media_type="text/plain"
            )
        if not expires.isdigit() or int(expires) < time.time():
            return Response("AccessDenied: Request has expired.", status_code=403, media_type="text/plain")
        media = "application/vnd.apache.arrow.stream" if self.format == "ARROW_STREAM" else "application/json"
        return Response(self.file(download, int(index)), media_type=media)

    def _bounds(self, download: Download) -> list[tuple[int, int]]:
        return chunk_bounds(len(download.answer.rows), self.chunk_rows)

    def _link(self, download: Download, index: int, base_url: str) -> dict[str, Any]:
        offset, count = self._bounds(download)[index]
        expires = int(time.time()) + LINK_TTL_S
        signature = self.sign("file", download.download_id, str(index), str(expires))
        link: dict[str, Any] = {
            "chunk_index": index,
            "row_offset": offset,
            "row_count": count,
            "byte_count": len(self.file(download, index)),
            "external_link": f"{base_url}{_STORAGE}/{download.download_id}/{index}?expires={expires}&signature={signature}",
            "expiration": dt.datetime.fromtimestamp(expires, dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
        }
        if index + 1 < len(self._bounds(download)):
            link["next_chunk_index"] = index + 1
            link["next_chunk_internal_link"] = chunk_link(download.statement_id, index + 1)
        return link


def _no_chunk(statement_id: str, index: int) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER_VALUE", f"Statement {statement_id} has no chunk {index}.")


def _arrow_file(
    columns: tuple[str, ...], types: list[ColumnType], rows: tuple[tuple[Any, ...], ...]
) -> bytes:
    """Rows as an Arrow IPC stream, typed as a Databricks warehouse types them (a value Arrow will not
    take in its column's type makes that column text)."""
    import pyarrow as pa

    from ..spaces.statement import render_value

    simple = {
        "BYTE": pa.int8(),
        "SHORT": pa.int16(),
        "INT": pa.int32(),
        "LONG": pa.int64(),
        "FLOAT": pa.float32(),
        "DOUBLE": pa.float64(),
        "BOOLEAN": pa.bool_(),
        "DATE": pa.date32(),
        "TIMESTAMP": pa.timestamp("us", tz="Etc/UTC"),
    }
    arrays = []
    for i, t in enumerate(types):
        values = [row[i] for row in rows]
        arrow_type = simple.get(t.type_name)
        if t.type_name == "DECIMAL":
            arrow_type = pa.decimal128(t.precision or 38, t.scale or 0)
        try:
            if arrow_type is None:
                raise TypeError(t.type_name)
            arrays.append(pa.array(values, type=arrow_type))
        except (TypeError, ValueError, OverflowError, pa.ArrowException):
            arrays.append(pa.array([render_value(v, t.type_name) for v in values], type=pa.string()))
    table = pa.Table.from_arrays(arrays, names=list(columns))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def result_routes(service: GenieService, store: ResultStore) -> list[Route]:
    """The routes of downloads, later chunks and the stored files."""
    msg_path = "/api/2.0/genie/spaces/{space_id}/conversations/{conversation_id}/messages/{message_id}"
    downloads = msg_path + "/attachments/{attachment_id}/downloads"

    def ref(request: Request) -> MessageRef:
        p = request.path_params
        return MessageRef(p["space_id"], p["conversation_id"], p["message_id"])

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    async def start(request: Request) -> JSONResponse:
        who = service.authenticate(request.headers.get("authorization"))
        download = store.start(who, ref(request), request.path_params["attachment_id"])
        signature = store.sign("download", download.download_id)
        return JSONResponse({"download_id": download.download_id, "download_id_signature": signature})

    async def get(request: Request) -> JSONResponse:
        who = service.authenticate(request.headers.get("authorization"))
        p = request.path_params
        signature = request.query_params.get("download_id_signature")
        download = store.get(who, ref(request), p["attachment_id"], p["download_id"], signature)
        return JSONResponse(store.download_json(download, base(request)))

    async def chunk(request: Request) -> JSONResponse:
        who = service.authenticate(request.headers.get("authorization"))
        p = request.path_params
        return JSONResponse(store.chunk_json(who, p["statement_id"], int(p["chunk_index"]), base(request)))

    async def stored(request: Request) -> Response:
        return store.stored_file(request)

    return [
        Route(downloads, start, methods=["POST"]),
        Route(downloads + "/{download_id}", get, methods=["GET"]),
        Route(
            "/api/2.0/sql/statements/{statement_id}/result/chunks/{chunk_index:int}", chunk, methods=["GET"]
        ),
        Route(_STORAGE + "/{download_id}/{chunk_index:int}", stored, methods=["GET"]),
    ]
