"""Provider adapters: each module speaks one wire format over httpx (see base.py).

The functions here pick the adapter for an endpoint's protocol; httpx is imported only when
a request is really sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module
from typing import Any

from tokenroute.dispatch.providers.base import Endpoint, Finished, Request, TextDelta, dry_run_view


def stream(
    endpoint: Endpoint, request: Request, timeout: float, deadline: float | None = None
) -> Iterator[TextDelta | Finished]:
    """Send `request` to `endpoint` and stream the answer back."""
    from tokenroute.dispatch.providers import wire

    adapter = import_module(f"tokenroute.dispatch.providers.{endpoint.protocol}")
    call = adapter.build(request, endpoint)
    return wire.stream(endpoint, call, adapter.parse, timeout=timeout, deadline=deadline)


def request_view(endpoint: Endpoint, request: Request) -> dict[str, Any]:
    """The HTTP request that would be sent, keys redacted (--dry-run)."""
    adapter = import_module(f"tokenroute.dispatch.providers.{endpoint.protocol}")
    return dry_run_view(adapter.build(request, endpoint), endpoint)


def served_models(endpoint: Endpoint) -> list[str] | None:
    """The models a local server lists; None when it does not answer."""
    from tokenroute.dispatch.providers import wire

    return wire.served_models(endpoint)
