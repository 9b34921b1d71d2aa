"""The cost engine: what a call's usage costs under one price period. Pure `Decimal` arithmetic."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from tokenroute.models import PER_MILLION, Cost, PricePeriod, Rates, Usage

MICRO = Decimal("0.000001")
ONE = Decimal(1)
# Up to 10 decimal places in a rate (times the batch factor), the engine's Decimal arithmetic
# is exact for any believable call (< 10**12 tokens), so integers give the same number.
EXACT_SCALE = 10**10


def cost(period: PricePeriod, usage: Usage, *, batch: bool = False) -> Cost:
    """Cost of `usage` billed at `period`, as the providers bill it.

    Long context: once the request's whole input (cached or not) exceeds the threshold,
    every token of that request is billed at the long-context rates (Anthropic, Google).
    Batch: the discount applies to every bucket, after the long-context rates.
    """
    rates, factor, long_context = _billing(period, usage, batch)
    return _apply(rates, usage, factor, long_context=long_context, batch=factor != 1)


def cost_micros(period: PricePeriod, usage: Usage, *, batch: bool = False) -> int:
    """`to_micro_dollars(cost(period, usage, batch=batch).total)`, in integer arithmetic.

    The same number (a property test holds them equal), about five times faster: an import
    costs hundreds of thousands of calls. A rate of USD per 1M tokens is micro-dollars per
    token, so the cost in micro-dollars is the sum of tokens times rate, rounded half-even."""
    rates, factor, _ = _billing(period, usage, batch)
    scaled, scale = _scaled_rates(rates, factor)
    if scale > EXACT_SCALE:  # a price so precise that the engine's 28 digits round it
        return to_micro_dollars(cost(period, usage, batch=batch).total)
    total = (
        usage.input * scaled[0]
        + usage.cache_read * scaled[1]
        + usage.cache_write * scaled[2]
        + usage.cache_write_1h * scaled[3]
        + usage.output * scaled[4]
    )
    whole, rest = divmod(total, scale)
    if 2 * rest > scale or (2 * rest == scale and whole % 2):
        whole += 1
    return whole


def micros_counter(period: PricePeriod) -> Callable[[int, int, int, int, int], int]:
    """`cost_micros(period, Usage(input, cache_read, cache_write, cache_write_1h, output))`
    for calls billed without a batch discount, with the rates scaled once: an import prices
    tens of thousands of calls of each period. Long-context calls take the general way."""
    scaled, scale = _scaled_rates(period.rates, ONE)
    above = None if period.long_context is None else period.long_context.above_input_tokens

    def general(*counts: int) -> int:
        return cost_micros(period, Usage(*counts))

    if scale > EXACT_SCALE:
        return general
    rate_in, rate_read, rate_write, rate_write_1h, rate_out = scaled

    def count(given: int, read: int, write: int, write_1h: int, output: int) -> int:
        if above is not None and given + read + write + write_1h > above:
            return general(given, read, write, write_1h, output)
        total = (
            given * rate_in + read * rate_read + write * rate_write + write_1h * rate_write_1h
        ) + output * rate_out
        whole, rest = divmod(total, scale)
        if 2 * rest > scale or (2 * rest == scale and whole % 2):
            whole += 1
        return whole

    return count


def _billing(period: PricePeriod, usage: Usage, batch: bool) -> tuple[Rates, Decimal, bool]:
    """The rates a call is billed at, the batch factor, and whether long context applies."""
    rates = period.rates
    long_context = (
        period.long_context is not None
        and usage.total_input > period.long_context.above_input_tokens
    )
    if long_context:
        assert period.long_context is not None
        rates = period.long_context.rates
    factor = ONE
    if batch and period.batch_discount:
        factor = ONE - period.batch_discount
    return rates, factor, long_context


_SCALED: dict[tuple[Rates, Decimal], tuple[tuple[int, ...], int]] = {}


def _scaled_rates(rates: Rates, factor: Decimal) -> tuple[tuple[int, ...], int]:
    """The bucket rates times the factor, as integers over one common power of ten."""
    key = (rates, factor)
    if key not in _SCALED:
        exact = [
            rate * factor
            for rate in (
                rates.input,
                rates.effective_cache_read,
                rates.effective_cache_write,
                rates.effective_cache_write_1h,
                rates.output,
            )
        ]
        places = max(0, *(-int(value.as_tuple().exponent) for value in exact))
        scale = 10**places
        _SCALED[key] = (tuple(int(value * scale) for value in exact), scale)
    return _SCALED[key]


def cost_at_rates(rates: Rates, usage: Usage) -> Decimal:
    """What `usage` costs at these rates, with no long-context or batch rule: for comparisons."""
    return _apply(rates, usage, ONE, long_context=False, batch=False).total


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
