"""What the report's queries return: sums per group, read straight from the ledger's rows
and summaries (report_queries.py), for the ledger's report to turn into metrics."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import NamedTuple


class AttemptTotals(NamedTuple):
    """Sums over the attempts of one group (a task using two models is in two groups)."""

    key: tuple[str, ...]
    attempts: int
    unpriced: int
    cost_micros: int
    failed_attempt_micros: int
    input_tokens: int
    cache_read: int
    cache_write: int
    cache_write_1h: int
    output: int
    reasoning: int  # part of output


class TaskTotals(NamedTuple):
    """Tasks of one group (by the task's last attempt) and the spread of their cost."""

    key: tuple[str, ...]
    tasks: int
    successes: int
    failures: int
    cost_micros: int
    failed_task_micros: int
    median_micros: int | None  # None: too few of the group's tasks in the sample
    p95_micros: int | None
    estimated: bool = False  # the percentiles come from a uniform sample of the tasks


class TokenMix(NamedTuple):
    """Tokens and spend of priced attempts, per group, day, provider and task type."""

    key: tuple[str, ...]
    day: date
    provider: str | None
    task_type: str | None
    tokens: tuple[int, int, int, int, int]  # input, cache read, cache write 5m and 1h, output
    cost_micros: int


class HistoryTax(NamedTuple):
    """One conversation's re-read history: earlier turns resent as input on every `run -c`."""

    conversation_id: str
    attempts: int
    total_input_tokens: int  # every input bucket
    history_tokens: int
    cost_usd: Decimal

    @property
    def share(self) -> float:
        return self.history_tokens / self.total_input_tokens if self.total_input_tokens else 0.0


class TierOutcome(NamedTuple):
    task_type: str | None
    tier: str | None
    tasks: int
    successes: int


class ContextRepeat(NamedTuple):
    context_hash: str
    attempts: int
    cache_read: int
    input_tokens: int
