"""The HTTP edge of an export: POST one protobuf message to an OTLP/HTTP collector, and say
in one line what went wrong when it does not take it (the URL's password never shown)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

import httpx

from tokenroute.errors import ExportError, UsageError

TIMEOUT = 30.0


def without_secrets(url: str, *, safe: bool = False) -> str:
    """The URL with no user or password in it, and no trailing slash: what is shown and what
    names the mark (so `http://h:4318/` and `http://h:4318` are one collector). `safe`: for
    a URL that may not parse, only the part after any '@'."""
    if safe:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://{rest.rpartition('@')[2]}"
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def check_endpoint(url: str, where: str, headers: Mapping[str, str] | None = None) -> None:
    """A collector URL and headers that can be sent to, or a UsageError saying what is wrong
    (the URL's password and the headers' values never in it)."""
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"{where} must be an http:// or https:// URL")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a port out of range)
    except ValueError:
        raise UsageError(f"{where}: not a URL: {without_secrets(url, safe=True)}") from None
    if not parts.hostname:
        raise UsageError(f"{where}: the URL names no host")
    if parts.query or parts.fragment:
        raise UsageError(f"{where}: give the collector's base URL, with no ?query or #part")
    for name, value in (headers or {}).items():
        if not (name.isascii() and name.isprintable() and value.isascii() and value.isprintable()):
            raise UsageError(f"{where}: header {name.encode()!r}: names and values must be ASCII")


def post(url: str, body: bytes, headers: Mapping[str, str], *, timeout: float = TIMEOUT) -> None:
    """Send `body` (a serialized Export*ServiceRequest); a refusal raises ExportError."""
    shown = without_secrets(url)
    try:
        response = httpx.post(
            url, content=body, timeout=timeout,
            headers={**headers, "Content-Type": "application/x-protobuf"},
        )  # fmt: skip
    except httpx.HTTPError as exc:
        raise ExportError(
            f"{shown}: the collector could not be reached ({type(exc).__name__}); is it "
            "running? what it took before is marked as sent: run the export again for the rest"
        ) from None
    if not 200 <= response.status_code < 300:
        raise ExportError(
            f"{shown}: the collector answered HTTP {response.status_code}; what it took "
            "before is marked as sent: run the export again for the rest once it takes data"
        )
