"""The one error the emulator answers with, as Databricks does: an HTTP status and
``{"error_code", "message"}`` (plus headers such as ``Retry-After``)."""

from __future__ import annotations

__all__ = ["ApiError"]


class ApiError(Exception):
    """An error the Genie API answers with an HTTP status and ``{"error_code", "message"}``.

    The services raise it from plain lookups; the server's exception handler writes the response."""

    def __init__(self, status: int, error_code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.error_code, self.message, self.headers = status, error_code, message, headers
