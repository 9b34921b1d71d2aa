"""The cost engine: what a call's usage costs under one price period. Pure `Decimal` arithmetic."""

from __future__ import annotations

from decimal import Decimal

from tokenroute.models import PER_MILLION, Cost, PricePeriod, Rates, Usage

MICRO = Decimal("0.000001")


def cost(period: PricePeriod, usage: Usage, *, batch: bool = False) -> Cost:
    """Cost of `usage` billed at `period`, as the providers bill it.

    Long context: once the request's whole input (cached or not) exceeds the threshold,
    every token of that request is billed at the long-context rates (Anthropic, Google).
    Batch: the discount applies to every bucket, after the long-context rates.
    """
    rates = period.rates
    long_context = (
        period.long_context is not None
        and usage.total_input > period.long_context.above_input_tokens
    )
    if long_context:
        assert period.long_context is not None
        rates = period.long_context.rates
    factor = Decimal(1)
    if batch and period.batch_discount:
        factor = Decimal(1) - period.batch_discount
    return _apply(rates, usage, factor, long_context=long_context, batch=factor != 1)


def cost_at_rates(rates: Rates, usage: Usage) -> Decimal:
    """What `usage` costs at these rates, with no long-context or batch rule: for comparisons."""
    return _apply(rates, usage, Decimal(1), long_context=False, batch=False).total


def _apply(rates: Rates, usage: Usage, factor: Decimal, *, long_context: bool, batch: bool) -> Cost:
    def bucket(tokens: int, rate: Decimal) -> Decimal:
        return tokens * rate * factor / PER_MILLION

    return Cost(
        input=bucket(usage.input, rates.input),
        cache_read=bucket(usage.cache_read, rates.effective_cache_read),
        cache_write=bucket(usage.cache_write, rates.effective_cache_write),
        cache_write_1h=bucket(usage.cache_write_1h, rates.effective_cache_write_1h),
        output=bucket(usage.output, rates.output),
        long_context=long_context,
        batch=batch,
    )


def to_micro_dollars(amount: Decimal) -> int:
    """Round a USD amount to whole micro-dollars (half-even), as the ledger stores money."""
    return int((amount / MICRO).quantize(Decimal(1), rounding="ROUND_HALF_EVEN"))
