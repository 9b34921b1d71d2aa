"""The cost engine: hand-computed real cases, and properties that must hold for any usage."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenroute.models import LongContext, PricePeriod, Rates, Usage
from tokenroute.prices.cost import cost, cost_micros, micros_counter, to_micro_dollars

D = Decimal

# (model, day, usage, batch, expected USD) — each figure worked out by hand from the
# provider's price page: tokens x rate / 1,000,000 per bucket.
REAL_CASES = [
    # Sonnet 4.5: 1,000 in x $3 + 500 out x $15
    ("claude-sonnet-4-5", date(2025, 10, 1), Usage(input=1000, output=500), False, D("0.0105")),
    # Sonnet 4.5 cached: 2,000 in, 10,000 read x $0.30, 5,000 write x $3.75, 1,000 1h x $6, 800 out
    (
        "claude-sonnet-4-5-20250929",
        date(2025, 10, 1),
        Usage(input=2000, cache_read=10000, cache_write=5000, cache_write_1h=1000, output=800),
        False,
        D("0.006") + D("0.003") + D("0.01875") + D("0.006") + D("0.012"),
    ),
    # Sonnet 4.5 above 200k input: the whole request at $6 / $22.50
    ("claude-sonnet-4-5", date(2025, 10, 1), Usage(input=250_000, output=1000), False, D("1.5225")),
    # exactly 200k is not above the threshold
    ("claude-sonnet-4-5", date(2025, 10, 1), Usage(input=200_000, output=1000), False, D("0.615")),
    # cache reads count toward the threshold: 150k + 60k read -> long rates on both
    (
        "claude-sonnet-4-5",
        date(2025, 10, 1),
        Usage(input=150_000, cache_read=60_000, output=0),
        False,
        D("0.9") + D("0.036"),
    ),
    # Opus 4.1 at its old price, batch: ($15 x 1M + $75 x 100k) / 2
    ("claude-opus-4-1", date(2025, 9, 1), Usage(input=1_000_000, output=100_000), True, D("11.25")),
    # Opus 4.6 at the new price
    ("claude-opus-4-6", date(2026, 3, 1), Usage(input=1_000_000, output=100_000), False, D("7.5")),
    # Haiku 4.5
    ("claude-haiku-4-5", date(2026, 1, 1), Usage(input=12_345, output=678), False, D("0.015735")),
    # GPT-5: cached input $0.125; reasoning is part of output and billed once
    (
        "gpt-5",
        date(2025, 9, 1),
        Usage(input=10_000, cache_read=90_000, output=2_000, reasoning=1_500),
        False,
        D("0.0125") + D("0.01125") + D("0.02"),
    ),
    # gpt-5-nano
    ("gpt-5-nano", date(2025, 9, 1), Usage(input=1_000_000, output=1_000_000), False, D("0.45")),
    # gpt-4o-mini
    ("gpt-4o-mini", date(2025, 1, 1), Usage(input=3000, output=1000), False, D("0.00105")),
    # o3 before and after the June 2025 price cut
    ("o3", date(2025, 5, 1), Usage(input=1000, output=1000), False, D("0.05")),
    ("o3", date(2025, 7, 1), Usage(input=1000, output=1000), False, D("0.01")),
    # Gemini 2.5 Pro above 200k prompt tokens: $2.50 / $15 on the whole request
    ("gemini-2.5-pro", date(2025, 8, 1), Usage(input=300_000, output=2000), False, D("0.78")),
    ("gemini-2.5-pro", date(2025, 8, 1), Usage(input=100_000, output=2000), False, D("0.145")),
    # Gemini 2.5 Flash-Lite batch: half of $0.10 / $0.40
    (
        "gemini-2.5-flash-lite",
        date(2025, 8, 1),
        Usage(input=2_000_000, output=500_000),
        True,
        D("0.2"),
    ),
    # Grok 4.1 Fast
    (
        "grok-4-1-fast-reasoning",
        date(2026, 1, 1),
        Usage(input=40_000, output=2_000),
        False,
        D("0.009"),
    ),
    # DeepSeek V3.2 cache hit $0.028
    (
        "deepseek-chat",
        date(2025, 10, 1),
        Usage(input=1000, cache_read=9000, output=500),
        False,
        D("0.00028") + D("0.000252") + D("0.00021"),
    ),
    # a local model costs nothing, because the table says so
    ("llama3.1:8b", date(2026, 1, 1), Usage(input=50_000, output=5_000), False, D("0")),
]


@pytest.mark.parametrize(("model", "day", "usage", "batch", "expected"), REAL_CASES)
def test_real_cases_match_hand_computed_figures(table, model, day, usage, batch, expected):
    assert table.cost(model, usage, day, batch=batch).total == expected


def test_cost_reports_each_bucket_and_the_rules_applied(table):
    result = table.cost("claude-sonnet-4-5", Usage(input=250_000, output=1000), date(2025, 10, 1))
    assert result.long_context is True
    assert result.input == D("1.5") and result.output == D("0.0225")
    assert table.cost("gpt-5", Usage(input=1), date(2025, 9, 1), batch=True).batch is True


def test_missing_cache_rates_bill_as_input():
    period = PricePeriod(date(2025, 1, 1), None, Rates(input=D(2), output=D(8)))
    result = cost(
        period, Usage(cache_read=1_000_000, cache_write=1_000_000, cache_write_1h=1_000_000)
    )
    assert result.total == D(6)


def test_micro_dollars_round_half_even():
    assert to_micro_dollars(D("0.0105")) == 10_500
    assert to_micro_dollars(D("0.0000005")) == 0
    assert to_micro_dollars(D("0.0000015")) == 2
    assert to_micro_dollars(D("1.5225")) == 1_522_500


def test_usage_rejects_impossible_counts():
    with pytest.raises(ValueError, match="usage.input"):
        Usage(input=-1)
    with pytest.raises(ValueError, match="reasoning"):
        Usage(output=10, reasoning=11)
    with pytest.raises(ValueError, match="usage.input"):
        Usage(input=3)._replace(input=-5)


# ---------------------------------------------------------------- properties

rates = st.decimals(min_value=0, max_value=200, places=4, allow_nan=False, allow_infinity=False)
optional_rates = st.one_of(st.none(), rates)
counts = st.integers(min_value=0, max_value=3_000_000)


@st.composite
def periods(draw) -> PricePeriod:
    base = Rates(
        draw(rates), draw(rates), draw(optional_rates), draw(optional_rates), draw(optional_rates)
    )
    long = None
    if draw(st.booleans()):
        bump = [draw(st.decimals(min_value=0, max_value=50, places=2)) for _ in range(5)]
        long_rates = Rates(
            base.input + bump[0],
            base.output + bump[1],
            base.effective_cache_read + bump[2],
            base.effective_cache_write + bump[3],
            base.effective_cache_write_1h + bump[4],
        )
        long = LongContext(draw(st.integers(min_value=1, max_value=2_000_000)), long_rates)
    discount = draw(st.one_of(st.none(), st.decimals(min_value=0, max_value="0.9", places=2)))
    return PricePeriod(date(2025, 1, 1), None, base, discount, long)


@st.composite
def usages(draw) -> Usage:
    output = draw(counts)
    return Usage(
        input=draw(counts),
        cache_read=draw(counts),
        cache_write=draw(counts),
        cache_write_1h=draw(counts),
        output=output,
        reasoning=draw(st.integers(min_value=0, max_value=output)),
    )


BUCKETS = ("input", "cache_read", "cache_write", "cache_write_1h", "output")


@given(periods(), usages(), st.booleans())
def test_cost_is_never_negative(period, usage, batch):
    result = cost(period, usage, batch=batch)
    assert result.total >= 0
    assert all(getattr(result, b) >= 0 for b in BUCKETS)


@given(periods(), usages(), st.sampled_from(BUCKETS), st.integers(min_value=1, max_value=500_000))
def test_cost_is_monotone_in_every_bucket(period, usage, bucket, extra):
    more = Usage(**{**usage._asdict(), bucket: getattr(usage, bucket) + extra})
    assert cost(period, more).total >= cost(period, usage).total
    assert cost(period, more, batch=True).total >= cost(period, usage, batch=True).total


@given(periods(), usages())
def test_batch_never_costs_more(period, usage):
    assert cost(period, usage, batch=True).total <= cost(period, usage).total


@given(periods(), usages())
def test_reasoning_is_billed_once_as_output(period, usage):
    without = Usage(**{**usage._asdict(), "reasoning": 0})
    assert cost(period, usage).total == cost(period, without).total


@given(periods(), usages(), st.booleans())
def test_integer_micro_dollars_equal_the_decimal_engine(period, usage, batch):
    """cost_micros is the importers' fast path: it must never differ from the engine."""
    assert cost_micros(period, usage, batch=batch) == to_micro_dollars(
        cost(period, usage, batch=batch).total
    )


@given(periods(), usages())
def test_a_periods_counter_equals_cost_micros(period, usage):
    """micros_counter scales a period's rates once for an import's many calls."""
    usage = usage._replace(reasoning=0)
    assert micros_counter(period)(*usage[:5]) == cost_micros(period, usage)


def test_a_too_precise_price_is_counted_by_the_engine_too():
    fine = PricePeriod(
        date(2025, 1, 1), None, Rates(input=D("0.5000000000000000000000000001"), output=D(1))
    )
    assert micros_counter(fine)(5, 0, 0, 0, 0) == to_micro_dollars(cost(fine, Usage(input=5)).total)


def test_integer_micro_dollars_round_half_even_like_the_engine():
    half = PricePeriod(date(2025, 1, 1), None, Rates(input=D("0.5"), output=D("1.5")))
    assert cost_micros(half, Usage(input=1)) == 0  # 0.5 micro-dollars: to the even 0
    assert cost_micros(half, Usage(input=3)) == 2  # 1.5: to the even 2
    assert cost_micros(half, Usage(output=1)) == 2  # 1.5: to 2
    assert cost_micros(half, Usage(input=1, output=1)) == 2  # exactly 2


def test_a_price_too_precise_for_integers_is_costed_by_the_engine():
    fine = PricePeriod(
        date(2025, 1, 1), None, Rates(input=D("0.5000000000000000000000000001"), output=D(1))
    )
    assert cost_micros(fine, Usage(input=5)) == to_micro_dollars(cost(fine, Usage(input=5)).total)


def test_every_shipped_price_costs_the_same_both_ways(table):
    usage = Usage(input=123_457, cache_read=98_765, cache_write=4_321, cache_write_1h=77, output=9)
    big = usage._replace(input=1_234_567)  # over every long-context threshold
    for model in table.models:
        for period in model.periods:
            for each in (usage, big):
                for batch in (False, True):
                    expected = to_micro_dollars(cost(period, each, batch=batch).total)
                    assert cost_micros(period, each, batch=batch) == expected, model.id
