"""Frozen dataclasses shared by every layer. Money is `Decimal`; prices are USD per 1M tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tokenroute.taxonomy import TASK_TYPES, TIERS

__all__ = ["TASK_TYPES", "TIERS"]

PER_MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class Usage:
    """Token counts in non-overlapping buckets, as a provider bills them.

    `input` is uncached input only; cached reads and cache writes are separate buckets.
    `reasoning` is the part of `output` spent on hidden reasoning: it is billed as output,
    so it never adds to the cost on its own.
    """

    input: int = 0
    cache_read: int = 0
    cache_write: int = 0  # 5-minute cache write (Anthropic's default)
    cache_write_1h: int = 0
    output: int = 0
    reasoning: int = 0

    def __post_init__(self) -> None:
        for name in ("input", "cache_read", "cache_write", "cache_write_1h", "output", "reasoning"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"usage.{name} must be a whole number >= 0 (got {value!r})")
        if self.reasoning > self.output:
            raise ValueError(
                f"usage.reasoning ({self.reasoning}) cannot exceed usage.output ({self.output})"
            )

    @property
    def total_input(self) -> int:
        """Every input token, cached or not: what long-context thresholds are measured on."""
        return self.input + self.cache_read + self.cache_write + self.cache_write_1h


@dataclass(frozen=True)
class Rates:
    """USD per 1M tokens for each bucket. A missing cache rate is billed as plain input."""

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    cache_write_1h: Decimal | None = None

    @property
    def effective_cache_read(self) -> Decimal:
        return self.input if self.cache_read is None else self.cache_read

    @property
    def effective_cache_write(self) -> Decimal:
        return self.input if self.cache_write is None else self.cache_write

    @property
    def effective_cache_write_1h(self) -> Decimal:
        return self.effective_cache_write if self.cache_write_1h is None else self.cache_write_1h


@dataclass(frozen=True)
class LongContext:
    """Rates that apply to the whole request once its input exceeds `above_input_tokens`."""

    above_input_tokens: int
    rates: Rates


@dataclass(frozen=True)
class PricePeriod:
    """The prices of one model from `start` (inclusive) until `end` (exclusive, None = open)."""

    start: date
    end: date | None
    rates: Rates
    batch_discount: Decimal | None = None  # fraction off, e.g. 0.5 for the Batch APIs
    long_context: LongContext | None = None

    def in_force(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)


@dataclass(frozen=True)
class Model:
    id: str
    provider: str
    tier: str
    periods: tuple[PricePeriod, ...]
    aliases: tuple[str, ...] = ()
    context_window: int | None = None
    max_output: int | None = None
    good_for: tuple[str, ...] = ()
    source: str = ""  # the file it came from, for messages

    def period_at(self, day: date) -> PricePeriod | None:
        for period in self.periods:
            if period.in_force(day):
                return period
        return None


@dataclass(frozen=True)
class Cost:
    """What one call costs, bucket by bucket, in USD."""

    input: Decimal
    cache_read: Decimal
    cache_write: Decimal
    cache_write_1h: Decimal
    output: Decimal
    long_context: bool = False
    batch: bool = False

    @property
    def total(self) -> Decimal:
        return self.input + self.cache_read + self.cache_write + self.cache_write_1h + self.output


@dataclass(frozen=True)
class TokenCount:
    """A token count and how it was obtained, so estimates never pass for measurements."""

    tokens: int
    method: str  # e.g. "tiktoken:cl100k_base" or "heuristic:chars/4"
