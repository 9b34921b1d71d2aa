"""What `report --html` draws, read with the ledger opened once: daily spend by model, the
report by task type (I/O ratio, retry tax), each type's cost per task as a distribution
(every task, or a uniform sample above 10,000), spend against all-frontier per day, and the
top tasks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from tokenroute.ledger.report import GroupReport, figures, in_report_order
from tokenroute.ledger.top import Top, read_top
from tokenroute.models import AttemptFilter
from tokenroute.prices.table import PriceTable


class DayRouting(NamedTuple):
    day: date
    spend: Decimal  # priced attempts only, so it compares with frontier
    frontier: Decimal


class Charts(NamedTuple):
    daily_by_model: list[tuple[date, str, Decimal]]
    by_type: Sequence[GroupReport]
    cost_samples: dict[str, list[Decimal]]  # per task type, USD per task
    sampled: bool  # cost_samples is a uniform sample of the window's tasks
    routing: list[DayRouting]
    total: GroupReport
    top: Top | None


def chart_data(path: Path, table: PriceTable, where: AttemptFilter, top: int = 10) -> Charts:
    """Everything the page draws, read on one connection: the window is gathered once for
    every chart. Only the figures drawn are read: no percentiles (the cost per task is drawn
    from its own sample), no questions or notes."""
    from tokenroute.ledger.report import empty_group
    from tokenroute.storage.report_queries import ReportReader
    from tokenroute.storage.sqlite import open_ledger

    store = open_ledger(path, create=False)
    if store is None:
        return Charts([], [], {}, False, [], empty_group(), None)
    try:
        reader = ReportReader(store.conn)
        day_model = ["day", "model"]
        by_day_model = figures(reader, table, day_model, where, spread=False, total=False)
        by_type = figures(reader, table, ["task-type"], where, spread=False)
        samples, sampled = reader.cost_sample_by_type(where, by_type.total.tasks)
        spenders = read_top(store.conn, where, top)
    finally:
        store.close()
    routing: dict[date, list[Decimal]] = {}
    daily = []
    for group in in_report_order(by_day_model.groups, day_model):
        if group.spend is None:  # no attempt of it has a known price: nothing to draw
            continue
        day = date.fromisoformat(group.key[0])
        daily.append((day, group.key[1], group.spend))
        if group.frontier_cost is not None:
            sums = routing.setdefault(day, [Decimal(0), Decimal(0)])
            sums[0] += group.spend or Decimal(0)
            sums[1] += group.frontier_cost
    return Charts(
        daily_by_model=sorted(daily),
        by_type=in_report_order(by_type.groups, ["task-type"]),
        cost_samples={
            kind: [Decimal(c) / 1_000_000 for c in costs] for kind, costs in sorted(samples.items())
        },
        sampled=sampled,
        routing=[DayRouting(day, *sums) for day, sums in sorted(routing.items())],
        total=by_type.total,
        top=spenders,
    )
