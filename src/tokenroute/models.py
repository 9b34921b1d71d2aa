"""Records shared by every layer. Money is `Decimal`; prices are USD per 1M tokens.

Records are NamedTuples, not dataclasses: the dataclasses module (and the inspect module it
pulls in) costs ~15 ms of every `pick`. Usage validates itself in `__new__`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from tokenroute.taxonomy import TASK_TYPES, TIERS

__all__ = ["TASK_TYPES", "TIERS"]

PER_MILLION = Decimal(1_000_000)


class _Buckets(NamedTuple):
    input: int = 0
    cache_read: int = 0
    cache_write: int = 0  # 5-minute cache write (Anthropic's default)
    cache_write_1h: int = 0
    output: int = 0
    reasoning: int = 0


class Usage(_Buckets):
    """Token counts in non-overlapping buckets, as a provider bills them.

    `input` is uncached input only; cached reads and cache writes are separate buckets.
    `reasoning` is the part of `output` spent on hidden reasoning: it is billed as output,
    so it never adds to the cost on its own.
    """

    __slots__ = ()

    def __new__(
        cls,
        input: int = 0,
        cache_read: int = 0,
        cache_write: int = 0,
        cache_write_1h: int = 0,
        output: int = 0,
        reasoning: int = 0,
    ) -> Usage:
        self = super().__new__(
            cls, input, cache_read, cache_write, cache_write_1h, output, reasoning
        )
        for name, value in zip(self._fields, self, strict=True):
            if type(value) is not int or value < 0:  # not bool, not an int subclass
                raise ValueError(f"usage.{name} must be a whole number >= 0 (got {value!r})")
        if reasoning > output:
            raise ValueError(f"usage.reasoning ({reasoning}) cannot exceed usage.output ({output})")
        return self

    @classmethod
    def _make(cls, iterable: Iterable[int]) -> Usage:  # type: ignore[override]
        """Through __new__, so `_replace` validates too."""
        return cls(*iterable)

    @property
    def total_input(self) -> int:
        """Every input token, cached or not: what long-context thresholds are measured on."""
        return self.input + self.cache_read + self.cache_write + self.cache_write_1h


class Rates(NamedTuple):
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


class LongContext(NamedTuple):
    """Rates that apply to the whole request once its input exceeds `above_input_tokens`."""

    above_input_tokens: int
    rates: Rates


class PricePeriod(NamedTuple):
    """The prices of one model from `start` (inclusive) until `end` (exclusive, None = open),
    with where they were read and when that was last checked (provenance, per price)."""

    start: date
    end: date | None
    rates: Rates
    batch_discount: Decimal | None = None  # fraction off, e.g. 0.5 for the Batch APIs
    long_context: LongContext | None = None
    source: str | None = None  # the page the price was read from
    checked: date | None = None  # the day it was last compared with that page

    def in_force(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)


AFTER_RETIREMENT = "after retirement"
BEFORE_FIRST_PRICE = "before its first price"


class Model(NamedTuple):
    id: str
    provider: str
    tier: str
    periods: tuple[PricePeriod, ...]
    aliases: tuple[str, ...] = ()
    context_window: int | None = None
    max_output: int | None = None
    good_for: tuple[str, ...] = ()
    source: str = ""  # the file it came from, for messages
    retired: date | None = None  # the provider's own API stopped serving it on this day
    retired_source: str | None = None

    def period_at(self, day: date) -> PricePeriod | None:
        """The price that bills a call made on `day`.

        A retirement (withdrawal) ends a model's availability, not its price: calls through
        other platforms, logs replayed late or a clock that is off are still billed at the
        last list price. A call dated before the first price is billed at the first one.
        None only for a model without any price.
        """
        billing = None
        for period in self.periods:
            if period.start > day:
                break
            billing = period
        if billing is None and self.periods:
            return self.periods[0]
        return billing

    def price_note(self, day: date) -> str | None:
        """Why a call on `day` is billed at a price that was not on offer that day, if it was."""
        if not self.periods:
            return None
        if day < self.periods[0].start:
            return BEFORE_FIRST_PRICE
        if self.retired is not None and day >= self.retired:
            return AFTER_RETIREMENT
        if not any(period.in_force(day) for period in self.periods):
            return AFTER_RETIREMENT  # between a withdrawal and a later price
        return None

    def offered_on(self, day: date) -> PricePeriod | None:
        """The price on offer on `day` for new work: none before release or after retirement."""
        if self.retired is not None and day >= self.retired:
            return None
        for period in self.periods:
            if period.in_force(day):
                return period
        return None


class Cost(NamedTuple):
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


class TokenCount(NamedTuple):
    """A token count and how it was obtained, so estimates never pass for measurements."""

    tokens: int
    method: str  # e.g. "tiktoken:cl100k_base" or "heuristic:chars/4"


class Attempt(NamedTuple):
    """One call to a model, as the ledger stores it: one row per try, retries included."""

    started_at: str  # UTC ISO-8601, e.g. 2026-11-23T16:24:28.123Z
    task_id: str
    model: str  # the price table's id when the model is known, else the name as given
    usage: Usage
    status: str = "ok"  # ok | error | invalid | cancelled
    source: str = "record"
    cost_micros: int | None = None  # None: the price is unknown, never 0
    price_revision: str | None = None
    model_requested: str | None = None
    model_answered: str | None = None
    provider: str | None = None
    tier: str | None = None
    task_type: str | None = None
    ended_at: str | None = None
    latency_ms: int | None = None
    error_kind: str | None = None
    input_estimated: bool = False
    batch: bool = False
    source_key: str | None = None
    project: str | None = None
    prompt_hash: str | None = None
    context_hash: str | None = None
    tags: tuple[str, ...] = ()
    conversation_id: str | None = None
    history_tokens: int = 0  # of the input, tokens of earlier turns resent (`run -c`)
    user_name: str | None = None  # who made the call (None: the writer's, see storage.identity)
    host_name: str | None = None


class Task(NamedTuple):
    id: str
    created_at: str
    type: str | None = None
    description: str | None = None
    project: str | None = None
    outcome: str = "unknown"  # success | failure | unknown
    outcome_by: str | None = None
    ended_at: str | None = None


def new_task_id() -> str:
    """t- and 12 random hex digits: unique enough for one person's ledger, short to type."""
    from os import urandom  # what secrets.token_hex reads, without importing secrets (2 ms)

    return "t-" + urandom(6).hex()


STATUSES: tuple[str, ...] = ("ok", "error", "invalid", "cancelled")
OUTCOMES: tuple[str, ...] = ("success", "failure", "unknown")


class AttemptFilter(NamedTuple):
    """Which attempts a report or log looks at. Stamps are UTC ISO text; end is exclusive."""

    start: str | None = None
    end: str | None = None
    task_type: str | None = None
    project: str | None = None
    source: str | None = None
    model: str | None = None
    tag: str | None = None
