"""A model to try, where it is served, and what a call to it costs at the price of its day."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from tokenroute.dispatch.providers.base import Endpoint, Request
from tokenroute.models import Model, Usage
from tokenroute.prices.cost import cost


class Target(NamedTuple):
    """One model to try: its price-table entry (None: unknown price) and where it lives."""

    name: str  # what the ledger calls it: the table's id, else the name as given
    api_model: str  # what the provider's API calls it
    endpoint: Endpoint
    tier: str | None
    model: Model | None


def target_price(target: Target, usage: Usage, at: datetime) -> Decimal | None:
    if target.endpoint.local:
        return Decimal(0)  # the user's own machine: free by the config's say-so
    if target.model is None:
        return None
    period = target.model.period_at(at.date())
    return None if period is None else cost(period, usage).total


def estimate_cost(
    target: Target, input_tokens: int, output_tokens: int, at: datetime
) -> Decimal | None:
    return target_price(target, Usage(input=input_tokens, output=output_tokens), at)


def prompt_text(request: Request) -> str:
    """Everything sent as input, for counting its tokens."""
    return "\n".join([request.system or "", *(m.content for m in request.messages)])
