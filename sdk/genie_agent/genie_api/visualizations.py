"""The emulator's visualization attachments: when a message gets one, its JSON, and its PNG.

The real API's shape (:mod:`genie_agent.spaces.genie_visualization` cites it): a question sent with
``enable_visualization`` may finish with an attachment ``{"attachment_id", "viz": {"title",
"query_attachment_id"}}``, and ``GET .../attachments/{id}/download-visualization`` answers its PNG,
only for a visualization attachment of a COMPLETED message.

The emulator's own choices, where the real API documents nothing:

- When: the question asked for it, the message is COMPLETED, and its result has a chartable shape
  as :func:`genie_agent.viz.suggest_visualization` reads it (a bar, line or pie chart; a single
  number or a plain table gets none). Genie decides by its own model.
- The title: the rules' title of the result (``revenue by region``, capitalized), not the answer's text.
- The image: bars (or a line) of the chart's measure, drawn by :mod:`.chart_png`; no text.
- Refusals: 404 ``RESOURCE_DOES_NOT_EXIST`` for an attachment the message does not have, 400
  ``INVALID_PARAMETER_VALUE`` for one of its attachments that is no visualization, 400
  ``INVALID_STATE`` while the message is not COMPLETED.
"""

from __future__ import annotations

from typing import Any

from .chart_png import bar_png
from .errors import ApiError
from .messages import Message

__all__ = ["Chart", "chart_of", "png_of", "viz_json"]

Chart = tuple[str, dict[str, Any]]
"""A message's chart: its title and the visualization hint it was drawn from."""


def chart_of(msg: Message) -> Chart | None:
    """The chart the message's answer gets, worked out once (None: it gets none)."""
    if msg.chart is None:
        msg.chart = _chart(msg) or ()
    return msg.chart or None


def _chart(msg: Message) -> Chart | None:
    answer = msg.answer
    if not msg.visualize or answer is None or answer.sql is None or not answer.rows:
        return None
    from ..viz import suggest_visualization

    try:
        hint = suggest_visualization(
            answer.columns,
            answer.rows,
            question=msg.content,
            column_types=answer.column_types,
            column_formats=answer.column_formats,
        )
    except Exception:  # a shape the rules do not expect: no chart, as for a table
        return None
    if hint is None or hint.type not in ("bar", "line", "pie") or not hint.y:
        return None
    title = hint.title[:1].upper() + hint.title[1:]
    return title, hint.to_dict()


def viz_json(msg: Message) -> dict[str, Any] | None:
    """The visualization attachment of a finished message, when it has one."""
    chart = chart_of(msg) if msg.status == "COMPLETED" or msg.status == "QUERY_RESULT_EXPIRED" else None
    if chart is None:
        return None
    return {
        "attachment_id": msg.ids["viz"],
        "viz": {"title": chart[0], "query_attachment_id": msg.ids["query"]},
    }


def png_of(msg: Message, attachment_id: str) -> bytes:
    """The PNG of the message's visualization ``attachment_id``. Raises :class:`ApiError`."""
    known = {v for k, v in msg.ids.items() if k != "viz" or chart_of(msg) is not None}
    if attachment_id not in known:
        raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Attachment {attachment_id} does not exist.")
    if attachment_id != msg.ids["viz"]:
        raise ApiError(
            400, "INVALID_PARAMETER_VALUE", f"Attachment {attachment_id} is not a visualization attachment."
        )
    if msg.status != "COMPLETED":
        raise ApiError(400, "INVALID_STATE", f"Message {msg.message_id} is {msg.status}, not COMPLETED.")
    chart = chart_of(msg)
    answer = msg.answer
    assert chart is not None and answer is not None
    hint = chart[1]
    y = list(answer.columns).index(hint["y"])
    return bar_png(hint["type"], [row[y] for row in answer.rows])
