"""A Databricks Model Serving endpoint as a client target, authenticated by databricks-sdk's unified auth.

``POST {host}/serving-endpoints/{name}/invocations`` with ``"stream": true``. The host and credentials
come from the environment (``DATABRICKS_HOST`` with ``DATABRICKS_TOKEN`` or a service principal's
``DATABRICKS_CLIENT_ID``/``_SECRET``), ``~/.databrickscfg`` (``DATABRICKS_CONFIG_PROFILE``) or OAuth,
exactly as for ``WorkspaceClient()`` — or from the ``workspace_client`` given. Headers are asked for
on every request, so refreshed tokens are used. databricks-sdk is imported when first used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from .errors import TargetAuthError, TargetError
from .genie_images import ChartRef, unsupported
from .http import DEFAULT_TIMEOUT, HttpTarget, Transport

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

__all__ = ["ServingClient"]


class ServingClient(HttpTarget):
    """The serving endpoint ``endpoint`` (its name) of the workspace databricks-sdk's unified auth names."""

    def __init__(
        self,
        endpoint: str,
        *,
        workspace_client: WorkspaceClient | None = None,
        transport: Transport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(f"endpoint {endpoint}", transport=transport, timeout=timeout)
        self.endpoint = endpoint
        self._workspace = workspace_client
        self._config: Any = None

    def _resolve_config(self) -> Any:
        if self._workspace is not None:
            return self._workspace.config
        try:
            from databricks.sdk import WorkspaceClient
        except ImportError as exc:
            raise TargetError(
                "A serving endpoint target needs databricks-sdk.",
                "Install it: pip install 'genie-agent[databricks]'.",
            ) from exc
        try:
            return WorkspaceClient().config
        except ValueError as exc:  # the SDK's "cannot configure default credentials"
            raise TargetAuthError(
                f"No Databricks credentials for {self.label}: {exc}",
                "Run `databricks auth login --host https://<workspace>`, or set DATABRICKS_HOST and "
                "DATABRICKS_TOKEN, or DATABRICKS_CONFIG_PROFILE.",
            ) from exc

    def connect(self) -> None:
        """Resolve the workspace and its credentials now (raises :class:`TargetAuthError` without any)."""
        if self._config is None:
            self._config = self._resolve_config()

    async def aconnect(self) -> None:
        if self._config is None:
            await asyncio.to_thread(self.connect)

    def request_url(self) -> str:
        self.connect()
        host = str(self._config.host).rstrip("/")
        return f"{host}/serving-endpoints/{self.endpoint}/invocations"

    def request_headers(self) -> dict[str, str]:
        self.connect()
        try:
            auth: Mapping[str, str] = self._config.authenticate()
        except Exception as exc:  # OAuth refresh and friends raise their own types
            raise TargetAuthError(
                f"Databricks authentication failed: {exc}", "Run `databricks auth login` and try again."
            ) from exc
        return {**super().request_headers(), **auth}

    async def arequest(self) -> tuple[str, dict[str, str]]:
        return await asyncio.to_thread(lambda: (self.request_url(), self.request_headers()))

    def unreachable_hint(self) -> str:
        return "Check DATABRICKS_HOST (or your profile's host) and your network."

    def auth_hint(self, status: int) -> str:
        if status == 403:
            return f"Ask for CAN QUERY on the serving endpoint {self.endpoint!r}."
        return "Run `databricks auth login`, or check DATABRICKS_TOKEN / DATABRICKS_CONFIG_PROFILE."

    def not_found_hint(self) -> str:
        return f"Is {self.endpoint!r} the endpoint's name? `databricks serving-endpoints list` lists them."

    async def _agenie_image(self, ref: ChartRef) -> bytes:
        """Genie's image of the chart, downloaded with this client's own workspace credentials (the
        user's): the asker's when the endpoint asks Genie on behalf of its users (else Genie answers 404)."""
        from ..spaces.genie_visualization import adownload_visualization

        if not ref.chart.space_id:
            raise unsupported(
                self.label, f"its answer does not say which Genie space drew {ref.domain}'s chart."
            )
        await self.aconnect()
        return await adownload_visualization(
            self._config,
            ref.chart.space_id,
            ref.conversation_id,
            ref.message_id,
            ref.chart.attachment_id,
            title=ref.domain,
        )
