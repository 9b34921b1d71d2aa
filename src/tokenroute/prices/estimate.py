"""What a prompt would cost on each model in force: the domain behind `tokenroute estimate`."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from tokenroute.models import Cost, Model, PricePeriod, TokenCount, Usage
from tokenroute.prices.cost import cost
from tokenroute.prices.table import PriceTable


class EstimateRow(NamedTuple):
    """A model's cost for the prompt (a NamedTuple: see models.py on dataclasses)."""

    model: Model
    period: PricePeriod
    cost: Cost
    fits: bool  # the prompt and the expected output fit the context window and max output


def estimate_costs(
    table: PriceTable,
    day: date,
    prompt: TokenCount,
    output_tokens: int,
    *,
    models: list[Model] | None = None,
    tier: str | None = None,
) -> list[EstimateRow]:
    """Every candidate model's cost for this prompt, cheapest first (ties by name)."""
    usage = Usage(input=prompt.tokens, output=output_tokens)
    wanted = {m.id for m in models} if models else None
    rows = []
    for model, period in table.in_force(day, tier=tier):
        if wanted is not None and model.id not in wanted:
            continue
        window, most = model.context_window, model.max_output
        fits = (window is None or prompt.tokens + output_tokens <= window) and (
            most is None or output_tokens <= most
        )
        rows.append(EstimateRow(model, period, cost(period, usage), fits))
    rows.sort(key=lambda r: (not r.fits, r.cost.total, r.model.id))
    return rows
