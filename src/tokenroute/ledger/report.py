"""What tasks really cost: the metrics of `tokenroute report`, from per-task slices of the ledger.

Definitions (also in `tokenroute report --help` and the README):
- cost per task: each task's spend in the group; mean, median and p95 (nearest rank).
- cost per successful task: the whole cost of the group's tasks, failed ones and failed
  attempts included, divided by the number of those tasks whose outcome is success.
- input/output ratio: every input token (uncached, cache read, cache write) over output.
- cache-read share: cache-read tokens over every input token.
- retry tax: the share of spend on attempts that did not succeed (error, invalid output,
  cancelled): the price of retries and escalations. Failed-task spend is separate: all
  spend on tasks whose outcome is failure.
- routing: the same tokens priced on the newest frontier model of the same provider, and
  on the cheapest model this ledger used for the same task type (base rates, per day).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from tokenroute.models import AFTER_RETIREMENT, Model, PricePeriod, Usage
from tokenroute.prices.cost import cost_at_rates
from tokenroute.prices.table import PriceTable
from tokenroute.storage.report_rows import (
    AttemptTotals,
    ContextRepeat,
    HistoryTax,
    TaskTotals,
    TierOutcome,
    TokenMix,
)

MICROS = Decimal(1_000_000)
GROUPINGS = (
    "model", "tier", "task-type", "provider", "project", "tag", "user", "host", "day", "week",
    "month",
)  # fmt: skip


@dataclass
class GroupReport:
    key: tuple[str, ...]
    spend: Decimal | None = Decimal(0)  # None: every attempt in the group has an unknown price
    tasks: int = 0
    attempts: int = 0
    successful_tasks: int = 0
    failed_tasks: int = 0
    unpriced_attempts: int = 0
    cost_per_task_mean: Decimal | None = Decimal(0)
    cost_per_task_median: Decimal | None = Decimal(0)
    cost_per_task_p95: Decimal | None = Decimal(0)
    percentiles_estimated: bool = False
    task_spend: Decimal = Decimal(0)  # the whole cost of the group's tasks
    cost_per_successful_task: Decimal | None = None
    total_input_tokens: int = 0  # every input bucket: uncached, cache reads and writes
    input_tokens: int = 0  # uncached input, as the ledger's column
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0  # part of output, not added to it
    total_tokens: int = 0  # every input bucket and output
    io_ratio: float | None = None
    cache_read_share: float | None = None
    retry_tax: float | None = None
    retry_spend: Decimal = Decimal(0)
    failed_task_spend: Decimal = Decimal(0)
    frontier_cost: Decimal | None = None
    cheapest_used_cost: Decimal | None = None


class PriceNote(NamedTuple):
    """Calls of one model billed at a price that was not on offer when they were made:
    after its retirement (its last list price) or before its first price (the first)."""

    model: str
    note: str  # models.AFTER_RETIREMENT or models.BEFORE_FIRST_PRICE
    since: date | None  # the retirement day, for AFTER_RETIREMENT
    attempts: int
    spend: Decimal


class Report(NamedTuple):
    groups: list[GroupReport]
    total: GroupReport
    daily: Sequence[tuple[date, Decimal]] = ()
    diagnostics: Sequence[str] = ()
    unpriced_models: Sequence[str] = ()
    conversations: Sequence[HistoryTax] = ()
    price_notes: Sequence[PriceNote] = ()
    repriceable_models: Sequence[str] = ()  # unpriced, but in the table now: reprice them


def combine(
    attempts: Iterable[AttemptTotals], tasks: Iterable[TaskTotals]
) -> dict[tuple, GroupReport]:
    """One report per group key from its attempt sums and its task figures."""
    groups: dict[tuple, GroupReport] = {}
    for a in attempts:
        group = groups.setdefault(a.key, GroupReport(key=a.key))
        group.attempts = a.attempts
        group.unpriced_attempts = a.unpriced
        group.spend = Decimal(a.cost_micros) / MICROS
        group.retry_spend = Decimal(a.failed_attempt_micros) / MICROS
        group.total_input_tokens = a.input_tokens + a.cache_read + a.cache_write + a.cache_write_1h
        group.input_tokens = a.input_tokens
        group.cache_read_tokens = a.cache_read
        group.cache_write_tokens = a.cache_write
        group.cache_write_1h_tokens = a.cache_write_1h
        group.output_tokens = a.output
        group.reasoning_tokens = a.reasoning
        group.total_tokens = group.total_input_tokens + a.output
    for t in tasks:
        group = groups.setdefault(t.key, GroupReport(key=t.key))
        group.tasks = t.tasks
        group.successful_tasks = t.successes
        group.failed_tasks = t.failures
        group.failed_task_spend = Decimal(t.failed_task_micros) / MICROS
        group.task_spend = Decimal(t.cost_micros) / MICROS
        group.cost_per_task_mean = group.task_spend / t.tasks
        group.cost_per_task_median = _usd(t.median_micros)
        group.cost_per_task_p95 = _usd(t.p95_micros)
        group.percentiles_estimated = t.estimated
    for group in groups.values():
        _finish(group)
    return groups


def _usd(micros: int | None) -> Decimal | None:
    return None if micros is None else Decimal(micros) / MICROS


def _finish(group: GroupReport) -> None:
    """The ratios, from the sums; an all-unpriced group's money is unknown, never $0."""
    if not group.tasks:  # spend but no task started in the window or finished in the group
        group.cost_per_task_mean = group.cost_per_task_median = group.cost_per_task_p95 = None
    if group.successful_tasks:
        group.cost_per_successful_task = group.task_spend / group.successful_tasks
    if group.output_tokens:
        group.io_ratio = group.total_input_tokens / group.output_tokens
    if group.total_input_tokens:
        group.cache_read_share = group.cache_read_tokens / group.total_input_tokens
    if group.spend:
        group.retry_tax = float(group.retry_spend / group.spend)
    if group.attempts and group.unpriced_attempts == group.attempts:
        group.spend = None
        group.cost_per_task_mean = group.cost_per_task_median = group.cost_per_task_p95 = None
        group.cost_per_successful_task = None


def empty_group(key: tuple[str, ...] = ()) -> GroupReport:
    return GroupReport(key=key)


def price_routing(
    groups: dict[tuple, GroupReport],
    mixes: Iterable[TokenMix],
    table: PriceTable,
    used_by_type: dict[str | None, set[str]],
) -> None:
    """Fill each group's frontier and cheapest-used comparisons from its token mix.

    Days on which the same prices were in force are priced together, so the cheapest
    model used for a task type is the one cheapest for the group's whole mix of tokens.
    """
    frontiers: dict[tuple[str | None, date], Model | None] = {}
    periods: dict[tuple[str, date], PricePeriod | None] = {}
    candidates = {
        task_type: [m for name in sorted(names) if (m := table.find(name)) is not None]
        for task_type, names in used_by_type.items()
    }

    def period(model: Model, day: date) -> PricePeriod | None:
        key = (model.id, day)
        if key not in periods:
            periods[key] = model.period_at(day)
        return periods[key]

    buckets: dict[tuple, list] = {}
    for mix in mixes:
        if mix.key not in groups:
            continue
        slot = (mix.provider, mix.day)
        if slot not in frontiers:
            frontiers[slot] = newest_frontier(table, mix.provider, mix.day)
        frontier = frontiers[slot]
        frontier_period = period(frontier, mix.day) if frontier is not None else None
        options = tuple(
            p for m in candidates.get(mix.task_type, ()) if (p := period(m, mix.day)) is not None
        )
        bucket = buckets.setdefault(
            (mix.key, mix.task_type, id(frontier_period), tuple(map(id, options))),
            [frontier_period, options, [0, 0, 0, 0, 0], 0],
        )
        for i, count in enumerate(mix.tokens):
            bucket[2][i] += count
        bucket[3] += mix.cost_micros
    for (key, *_), (frontier_period, options, counts, actual) in buckets.items():
        group = groups[key]
        usage = Usage(*counts[:4], output=counts[4])
        if frontier_period is not None:
            price = cost_at_rates(frontier_period.rates, usage)
            group.frontier_cost = (group.frontier_cost or Decimal(0)) + price
        cheapest = min(
            [*(cost_at_rates(p.rates, usage) for p in options), Decimal(actual) / MICROS]
        )
        group.cheapest_used_cost = (group.cheapest_used_cost or Decimal(0)) + cheapest


def newest_frontier(table: PriceTable, provider: str | None, day: date) -> Model | None:
    """The provider's frontier model with the latest first price among those in force."""
    if provider is None:
        return None
    pairs = table.in_force(day, provider=provider, tier="frontier")
    if not pairs:
        return None
    return max(pairs, key=lambda pair: (pair[0].periods[0].start, pair[0].id))[0]


# ---------------------------------------------------------------- diagnostics


MIN_EVIDENCE = 5


def diagnose(
    by_type: dict[tuple, GroupReport],
    repeats: Iterable[ContextRepeat],
    tier_outcomes: Iterable[TierOutcome],
) -> list[str]:
    """Questions worth asking about the shape of the spend. Questions, not verdicts."""
    questions = []
    for (task_type,), group in sorted(by_type.items(), key=lambda kv: str(kv[0])):
        name = "untyped" if task_type in (None, "-") else task_type
        if group.attempts < MIN_EVIDENCE:
            continue
        if group.io_ratio is not None and group.io_ratio >= 50:
            questions.append(
                f"{name}: {group.io_ratio:.0f} input tokens per output token. "
                "Compressive by design, or an overloaded prompt?"
            )
        if group.io_ratio is not None and group.io_ratio <= 0.5:
            questions.append(
                f"{name}: {1 / group.io_ratio:.1f} output tokens per input token. "
                "Structure, or expensive fog?"
            )
        if group.retry_tax is not None and group.retry_tax >= 0.2 and group.tasks >= MIN_EVIDENCE:
            questions.append(
                f"{name}: {group.retry_tax:.0%} of spend went to attempts that failed. "
                "Is the schema or the task boundary wrong?"
            )
    for repeat in repeats:
        total = repeat.input_tokens + repeat.cache_read
        if repeat.attempts >= MIN_EVIDENCE and (not total or repeat.cache_read / total < 0.5):
            questions.append(
                f"the same context ({repeat.context_hash[:12]}) was sent {repeat.attempts} "
                f"times, {repeat.cache_read / total if total else 0:.0%} of it from cache. "
                "Cache it?"
            )
    questions.extend(_premium_questions(tier_outcomes))
    return questions


def _premium_questions(tier_outcomes: Iterable[TierOutcome]) -> list[str]:
    from tokenroute.taxonomy import TIERS

    rank = {tier: i for i, tier in enumerate(TIERS)}
    by_type: dict[str | None, list[TierOutcome]] = defaultdict(list)
    for row in tier_outcomes:
        if row.tier in rank and row.tasks >= MIN_EVIDENCE:
            by_type[row.task_type].append(row)
    questions = []
    for task_type, rows in by_type.items():
        rows.sort(key=lambda r: rank[r.tier or ""])
        top = rows[-1]
        for cheaper in rows[:-1]:
            top_rate, cheap_rate = top.successes / top.tasks, cheaper.successes / cheaper.tasks
            if cheap_rate >= top_rate - 0.05 and top.tier != cheaper.tier:
                questions.append(
                    f"{task_type or 'untyped'}: started at {top.tier}, {top_rate:.0%} of "
                    f"{top.tasks} tasks finished there; started at {cheaper.tier}, "
                    f"{cheap_rate:.0%} of {cheaper.tasks}. Does it need {top.tier}?"
                )
                break
    return questions


class Figures(NamedTuple):
    groups: dict[tuple, GroupReport]
    total: GroupReport


def figures(
    reader, table: PriceTable, by: Sequence[str], where, *, spread: bool = True, total: bool = True
) -> Figures:
    """Each group's figures and their total, priced for routing: the report without its
    notes and questions. The charts draw no more, and can skip what they do not draw: the
    percentiles (`spread`: a read of the window's sampled tasks) and the total (`total`)."""
    attempts = reader.attempt_totals(by, where)
    mixes = reader.token_mixes(by, where)
    used = reader.models_by_task_type(where)
    groups: dict[tuple, GroupReport] = {}
    if by:
        groups = combine(attempts, reader.task_totals(by, where, spread=spread))
        price_routing(groups, mixes, table, used)
    if by and not total:
        return Figures(groups, empty_group())
    if by and "tag" not in by:  # every attempt is in exactly one group: fold, don't re-read
        attempts, mixes = [_fold_attempts(attempts)], [m._replace(key=()) for m in mixes]
    elif by:
        attempts, mixes = reader.attempt_totals((), where), reader.token_mixes((), where)
    whole = combine(attempts, reader.task_totals((), where, spread=spread)).get((), empty_group())
    price_routing({(): whole}, mixes, table, used)
    return Figures(groups, whole)


def in_report_order(groups: dict[tuple, GroupReport], by: Sequence[str]) -> list[GroupReport]:
    """Dearest first; by day, week or month alone, in time order."""
    if by and all(name in ("day", "week", "month") for name in by):
        return sorted(groups.values(), key=lambda g: g.key)
    return sorted(groups.values(), key=lambda g: (-(g.spend or 0), g.key))


def build_report(reader, table: PriceTable, by: Sequence[str], where) -> Report:
    """The whole report from a ledger reader (see storage/report_queries.py) and the prices."""
    groups, total = figures(reader, table, by, where)
    by_type = (
        groups
        if list(by) == ["task-type"]
        else combine(
            reader.attempt_totals(("task-type",), where),
            reader.task_totals(("task-type",), where, spread=False),
        )
    )
    return Report(
        groups=in_report_order(groups, by),
        total=total,
        daily=reader.daily_spend(where),
        diagnostics=diagnose(by_type, reader.context_repeats(where), reader.tier_outcomes(where)),
        unpriced_models=(unpriced := reader.unpriced_models(where)),
        repriceable_models=[name for name in unpriced if table.find(name) is not None],
        conversations=reader.history_tax(where),
        price_notes=price_notes(reader.priced_model_days(where), table),
    )


def price_notes(
    model_days: Iterable[tuple[str, date, int, int]], table: PriceTable
) -> list[PriceNote]:
    """Which priced calls were billed after their model's retirement (or before its first
    price), per model: the report marks them rather than leave them unknown."""
    found: dict[tuple[str, str], list] = {}
    for name, day, attempts, micros in model_days:
        model = table.find(name)
        note = model.price_note(day) if model is not None else None
        if note is None or model is None:
            continue
        since = _withdrawn_on(model, day) if note == AFTER_RETIREMENT else None
        entry = found.setdefault((model.id, note), [since, 0, 0])
        if since is not None and (entry[0] is None or since < entry[0]):
            entry[0] = since
        entry[1] += attempts
        entry[2] += micros
    return [
        PriceNote(model, note, since, attempts, Decimal(micros) / MICROS)
        for (model, note), (since, attempts, micros) in sorted(found.items())
    ]


def _withdrawn_on(model: Model, day: date) -> date | None:
    if model.retired is not None and day >= model.retired:
        return model.retired
    return max((p.end for p in model.periods if p.end is not None and p.end <= day), default=None)


def _fold_attempts(rows: Sequence[AttemptTotals]) -> AttemptTotals:
    sums = [sum(column) for column in zip(*(row[1:] for row in rows), strict=True)]
    return AttemptTotals((), *sums) if rows else AttemptTotals((), *([0] * 10))
