"""The HTTP edge of an export: POST one protobuf message to an OTLP/HTTP collector, and say
in one line what went wrong when it does not take it (the URL's password never shown)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

import httpx

from tokenroute.errors import ExportError

TIMEOUT = 30.0


def without_secrets(url: str) -> str:
    """The URL with no user or password in it: what is shown and what names the mark."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def post(url: str, body: bytes, headers: Mapping[str, str]) -> None:
    """Send `body` (a serialized Export*ServiceRequest); a refusal raises ExportError."""
    shown = without_secrets(url)
    try:
        response = httpx.post(
            url, content=body, timeout=TIMEOUT,
            headers={**headers, "Content-Type": "application/x-protobuf"},
        )  # fmt: skip
    except httpx.HTTPError as exc:
        raise ExportError(
            f"{shown}: the collector could not be reached ({type(exc).__name__}); "
            "is it running? nothing more was marked as sent, so run the export again"
        ) from None
    if not 200 <= response.status_code < 300:
        raise ExportError(
            f"{shown}: the collector answered HTTP {response.status_code}; nothing more "
            "was marked as sent, so run the export again once it takes data"
        )
