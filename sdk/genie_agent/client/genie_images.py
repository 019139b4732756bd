"""Genie's image of a result's chart through a client: the PNG its ``genie_visualization`` points at.

The image is Genie's (``download-visualization``, :mod:`genie_agent.spaces.genie_visualization`) and
only the user who asked the question may download it, with credentials of the workspace. So where
it comes from depends on the target:

- the agent in this process (:class:`~.local.LocalClient`): its Genie space downloads it as the
  client's identity, with the credentials it asked the question with;
- a serving endpoint (:class:`~.serving.ServingClient`): the client's own workspace credentials (the
  user's). That is the asker when the endpoint asks Genie on behalf of its users; when it asks with
  its own service principal, Genie answers 404 and the error says so;
- a ``genie-agent serve`` URL (:class:`~.http.HttpClient`): not at all. The server does not pass
  images on, and the client holds no credentials of the workspace behind it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from ..aio import iterate_sync
from ..contract import GenieChart, ResultTable
from ..spaces.genie_visualization import VisualizationUnavailableError

__all__ = ["ChartRef", "chart_ref", "run_sync", "unsupported"]


@dataclass(frozen=True)
class ChartRef:
    """What addresses a result's Genie chart: its Genie space, message and attachment."""

    domain: str
    chart: GenieChart
    conversation_id: str
    message_id: str


def chart_ref(result: ResultTable) -> ChartRef:
    """The result's chart, or :class:`VisualizationUnavailableError` (``none``) when Genie drew none."""
    chart = result.genie_visualization
    if chart is None or not chart.attachment_id or not result.conversation_id or not result.message_id:
        raise VisualizationUnavailableError(
            f"Genie drew no chart of the {result.domain} result.",
            "Genie draws charts of some answers only (and only Databricks Genie spaces do); "
            "the chart shown here is drawn from the rows.",
            reason="none",
        )
    return ChartRef(result.domain, chart, result.conversation_id, result.message_id)


def unsupported(label: str, why: str) -> VisualizationUnavailableError:
    return VisualizationUnavailableError(
        f"{label} cannot download Genie's chart images: {why}",
        "Ask through the embedded agent or a serving endpoint on behalf of your user, or open the "
        "answer in the Genie space.",
        reason="unsupported",
    )


def run_sync(make: Callable[[], Awaitable[bytes]]) -> bytes:
    """``await make()`` on the SDK's core loop, from a thread that has none running."""

    async def one() -> AsyncIterator[bytes]:
        yield await make()

    return next(iter(list(iterate_sync(one))))
