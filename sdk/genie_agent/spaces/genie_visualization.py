"""Genie's own chart of an answer: the ``viz`` attachment of a message, and its image.

What the Genie API says (public sources, December 2026; databricks-sdk 0.94, pinned here, has none
of it, so it is read and called as raw JSON/HTTP):

- ``enable_visualization`` (boolean, Beta) in the body of ``start-conversation`` (Databricks REST
  reference, "Genie Start Conversation") and of ``create-message`` (databricks-ai-bridge's ``Genie``
  sends it on both): Genie may then add a visualization attachment to a finished message.
- The attachment (databricks-ai-bridge's tests; the JavaScript SDK's ``GenieVizAttachment``) is
  ``{"attachment_id": ..., "viz": {"title": ..., "query_attachment_id": ...}}``: the chart's name and
  the query attachment it was drawn from. Nothing else (no chart type, no spec).
- ``GET /api/2.0/genie/spaces/{space_id}/conversations/{conversation_id}/messages/{message_id}/
  attachments/{attachment_id}/download-visualization`` (Beta, scope ``genie``) answers the rendered
  chart as the raw PNG body, "only if the attachment is a visualization and the message status is
  COMPLETED"; "not supported for Private Link workspaces" (REST reference, "Download Message
  Attachment Visualization").

Not documented, so not assumed: the error codes of a refused download. :func:`adownload_visualization`
names the refusal by its HTTP status (404: gone or not the caller's; 400: not a visualization or the
message not COMPLETED; anything else: unavailable, Private Link named as one possible cause) and keeps
the workspace's own message.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from ..errors import BackendError
from .base import GenieVisualization

if TYPE_CHECKING:
    from databricks.sdk.config import Config

    from ..identity import Identity
    from .databricks import DatabricksGenieSpace

__all__ = [
    "PNG_SIGNATURE",
    "VisualizationReason",
    "VisualizationUnavailableError",
    "adownload_space_visualization",
    "adownload_visualization",
    "download_path",
    "visualizations_of",
]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

VisualizationReason = Literal["none", "not_found", "not_a_visualization", "not_png", "refused", "unsupported"]


class VisualizationUnavailableError(BackendError):
    """Genie's image of an answer could not be had; ``reason`` says why: ``none`` (Genie drew no chart
    for it), ``not_found`` (the message or attachment is gone, or was asked by someone else),
    ``not_a_visualization`` (the attachment is no visualization, or its message is not COMPLETED),
    ``not_png`` (the workspace answered something else), ``refused`` (another refusal: Private Link
    workspaces do not offer the download), ``unsupported`` (the target cannot fetch it)."""

    def __init__(self, message: str, hint: str = "", *, reason: VisualizationReason) -> None:
        super().__init__(message, hint, retryable=False)
        self.reason = reason


def visualizations_of(body: Mapping[str, Any]) -> tuple[GenieVisualization, ...]:
    """The visualization attachments of a message as the API sent it (raw JSON): those with a ``viz``."""
    attachments = body.get("attachments")
    found = []
    for attachment in attachments if isinstance(attachments, list) else ():
        viz = attachment.get("viz") if isinstance(attachment, Mapping) else None
        attachment_id = attachment.get("attachment_id") if isinstance(attachment, Mapping) else None
        if not isinstance(viz, Mapping) or not isinstance(attachment_id, str) or not attachment_id:
            continue
        title, query = viz.get("title"), viz.get("query_attachment_id")
        found.append(
            GenieVisualization(
                attachment_id,
                title if isinstance(title, str) else "",
                query if isinstance(query, str) and query else None,
            )
        )
    return tuple(found)


def chosen(
    visualizations: Sequence[GenieVisualization], query_attachment_id: str | None, space_id: str
) -> GenieVisualization | None:
    """The visualization of the answer's query attachment (the first one when none names it), with
    the Genie ``space_id`` it is in."""
    mine = [v for v in visualizations if query_attachment_id and v.query_attachment_id == query_attachment_id]
    found = (mine or list(visualizations))[:1]
    return dataclasses.replace(found[0], space_id=space_id) if found else None


def download_path(space_id: str, conversation_id: str, message_id: str, attachment_id: str) -> str:
    return (
        f"/api/2.0/genie/spaces/{space_id}/conversations/{conversation_id}/messages/{message_id}"
        f"/attachments/{attachment_id}/download-visualization"
    )


async def adownload_visualization(
    config: Config,
    space_id: str,
    conversation_id: str,
    message_id: str,
    attachment_id: str,
    *,
    title: str = "Genie",
    timeout_s: float = 60.0,
) -> bytes:
    """The PNG Genie rendered of visualization ``attachment_id``, asked as ``config``'s credentials
    (the asking user's: on-behalf-of where the identity carries its own config). Raises
    :class:`VisualizationUnavailableError` for a refusal, :class:`BackendError` when the workspace
    cannot be reached."""
    import httpx

    from .genie_connections import connection
    from .genie_http import request_headers

    host = str(config.host or "").rstrip("/")
    path = download_path(space_id, conversation_id, message_id, attachment_id)
    headers = request_headers(config, None) | {"Accept": "image/png, application/octet-stream"}
    try:
        async with connection(time.monotonic() + timeout_s) as client:
            response = await client.get(host + path, headers=headers, timeout=timeout_s)
    except (httpx.TransportError, TimeoutError) as exc:
        raise BackendError(
            f"Genie's chart of the {title} space's answer could not be downloaded from {host}: "
            f"{type(exc).__name__}.",
            "Check that this machine reaches the workspace, then try again.",
            retryable=True,
        ) from None
    if response.status_code >= 400:
        raise refusal(title, response.status_code, _message(response))
    if not response.content.startswith(PNG_SIGNATURE):
        raise VisualizationUnavailableError(
            f"The workspace answered Genie's chart of the {title} space's answer with something that is "
            f"not a PNG ({response.headers.get('content-type') or 'no content type'}).",
            "The download-visualization API is in Beta; check the workspace's release notes.",
            reason="not_png",
        )
    return response.content


async def adownload_space_visualization(
    space: DatabricksGenieSpace,
    conversation_id: str,
    message_id: str,
    attachment_id: str,
    *,
    identity: Identity | None = None,
) -> bytes:
    """:func:`adownload_visualization` in ``space``'s Genie space, as ``identity`` (its credentials as
    the space asks questions with them)."""
    config = space._make_client(identity).config
    return await adownload_visualization(
        config,
        space.config.space_id,
        conversation_id,
        message_id,
        attachment_id,
        title=space.info.title,
    )


def refusal(title: str, status: int, message: str) -> BackendError:
    said = f": {message}" if message else ""
    if status == 404:
        return VisualizationUnavailableError(
            f"The {title} Genie space has no such chart (HTTP 404{said}).",
            "The message is gone, or was asked with other credentials: only its asker can download it.",
            reason="not_found",
        )
    if status == 400:
        return VisualizationUnavailableError(
            f"The {title} Genie space would not render that chart (HTTP 400{said}).",
            "Only a visualization attachment of a COMPLETED message renders; ask the question again.",
            reason="not_a_visualization",
        )
    if status in (401, 403):
        return VisualizationUnavailableError(
            f"The workspace refused to give Genie's chart of the {title} space's answer (HTTP {status}{said}).",
            "Download it with the credentials the question was asked with (they need the genie scope).",
            reason="refused",
        )
    return VisualizationUnavailableError(
        f"The workspace did not give Genie's chart of the {title} space's answer (HTTP {status}{said}).",
        "The download-visualization API is in Beta and not offered on Private Link workspaces; "
        "the table and the chart drawn here hold the same result.",
        reason="refused",
    )


def _message(response: Any) -> str:
    try:
        payload = response.json()
    except ValueError:
        return str(response.text[:200])
    if isinstance(payload, Mapping):
        return str(payload.get("message") or payload.get("error_code") or "")
    return ""
