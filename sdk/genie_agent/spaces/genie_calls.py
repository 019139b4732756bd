"""The calls a Genie question's steps make (:mod:`.genie_flow`), each with what its transport answers.

Both transports (:class:`~.genie_client.GenieCall`, databricks-sdk; :class:`~.genie_http.AsyncGenieCall`,
httpx) make every one of them the same way and answer with databricks-sdk's dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from databricks.sdk.service.dashboards import GenieMessage

    from .base import GenieVisualization

__all__ = [
    "Call",
    "CreateMessage",
    "DescribeCaller",
    "FetchLink",
    "FetchResult",
    "GetChunk",
    "GetDownload",
    "GetMessage",
    "Polled",
    "Sent",
    "Sleep",
    "StartConversation",
    "StartDownload",
]


@dataclass(frozen=True)
class Sent:
    """A question Genie accepted: where to poll for its answer."""

    conversation_id: str
    message_id: str


@dataclass(frozen=True)
class Polled:
    """A message as polled: databricks-sdk's ``GenieMessage``, and the visualization attachments the
    SDK's dataclasses do not hold (read from the raw JSON: :mod:`.genie_visualization`)."""

    message: GenieMessage
    visualizations: tuple[GenieVisualization, ...] = ()


@dataclass(frozen=True)
class StartConversation:
    """-> :class:`Sent`. ``visualize``: send ``enable_visualization`` (Genie may draw a chart)."""

    question: str
    visualize: bool = False


@dataclass(frozen=True)
class CreateMessage:
    """-> :class:`Sent`, or None when the conversation is gone or another user's (404, 403)."""

    conversation_id: str
    question: str
    visualize: bool = False


@dataclass(frozen=True)
class GetMessage:
    """-> :class:`Polled`."""

    conversation_id: str
    message_id: str


@dataclass(frozen=True)
class FetchResult:
    """-> ``StatementResponse | None``: the attachment's query result, or its query run again (``execute``)."""

    conversation_id: str
    message_id: str
    attachment_id: str
    execute: bool


@dataclass(frozen=True)
class StartDownload:
    """-> ``GenieGenerateDownloadFullQueryResultResponse``: the attachment's query run again with its
    whole result written to files (``POST .../attachments/{id}/downloads``)."""

    conversation_id: str
    message_id: str
    attachment_id: str


@dataclass(frozen=True)
class GetDownload:
    """-> ``StatementResponse | None``: where a download stands; once SUCCEEDED, its result as external
    links (``GET .../downloads/{download_id}?download_id_signature=...``)."""

    conversation_id: str
    message_id: str
    attachment_id: str
    download_id: str
    download_id_signature: str


@dataclass(frozen=True)
class GetChunk:
    """-> ``ResultData``: the next chunk of a statement's result at a ``next_chunk_internal_link`` (a
    workspace path, the Statement Execution API's get-result-chunk-n), with the workspace's credentials."""

    path: str


@dataclass(frozen=True)
class FetchLink:
    """-> ``bytes``: the file behind an external link. Its URL is signed: it is fetched WITHOUT the
    workspace's credentials, with the link's own ``http_headers`` only."""

    url: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Sleep:
    """-> None."""

    seconds: float


@dataclass(frozen=True)
class DescribeCaller:
    """-> ``str``: who the workspace sees, for an error message."""


Call = (
    StartConversation
    | CreateMessage
    | GetMessage
    | FetchResult
    | StartDownload
    | GetDownload
    | GetChunk
    | FetchLink
    | Sleep
    | DescribeCaller
)
