"""What report, log, budget list and report --watch read from a ledger file.

Each opens the ledger once and closes it; a ledger that does not exist yet reads as empty
(reading never creates one).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from tokenroute.ledger.budgets import Budget, Burn, SpendReader, burns
from tokenroute.ledger.report import Report, build_report
from tokenroute.models import AttemptFilter
from tokenroute.prices.table import PriceTable


def spend_reader(store: Any) -> SpendReader:
    """USD spent since a day, per budget scope, from an open ledger (None: nothing yet)."""

    def spend(scope: str | None, value: str | None, since: date) -> tuple[Decimal, int]:
        if store is None:
            return Decimal(0), 0
        micros, unpriced = store.spend_since(scope, value, since.isoformat())
        return Decimal(micros) / 1_000_000, unpriced

    return spend


def budget_burns(path: Path, budgets: Sequence[Budget], day: date) -> list[Burn]:
    """Each budget's spend so far today and this month."""
    if not budgets:
        return []
    store = _open(path)
    try:
        return burns(budgets, spend_reader(store), day)
    finally:
        if store is not None:
            store.close()


def report_and_burns(
    path: Path,
    table: PriceTable,
    groups: Sequence[str],
    where: AttemptFilter,
    budgets: Sequence[Budget],
    day: date,
    breakdown: str | None = None,
) -> tuple[Report | None, list[Burn], Report | None]:
    """The report of the window (None: no ledger yet), each budget's burn on `day`, and with
    `breakdown` the same groups split by it (--by day --breakdown model)."""
    from tokenroute.storage.report_queries import ReportReader

    store = _open(path)
    result = split = None
    try:
        if store is not None:
            reader = ReportReader(store.conn)
            result = build_report(reader, table, groups, where)
            if breakdown is not None:
                split = build_report(reader, table, [*groups, breakdown], where)
        return result, burns(budgets, spend_reader(store), day), split
    finally:
        if store is not None:
            store.close()


def recent_attempts(path: Path, where: AttemptFilter, count: int) -> list[dict[str, Any]]:
    """The newest `count` attempts that match, newest first."""
    store = _open(path)
    if store is None:
        return []
    try:
        return store.recent_attempts(where, count)
    finally:
        store.close()


class Today(NamedTuple):
    """One frame of report --watch: today by model and by task type, the last attempts,
    budget burn, and the month's and the last hour's spend (the pace)."""

    by_model: Report
    by_task_type: Report
    recent: list[dict[str, Any]]
    burns: list[Burn]
    month_spend: Decimal = Decimal(0)
    last_hour_spend: Decimal = Decimal(0)
    month_unpriced: int = 0  # calls this month with no known price: month_spend is a floor


def today_figures(
    path: Path,
    table: PriceTable,
    where: AttemptFilter,
    budgets: Sequence[Budget],
    now: datetime,
    recent: int = 8,
) -> Today | None:
    """What report --watch draws, read with the ledger opened once (None: nothing yet).
    `where` is today's window and the filters; the month and the last hour take its filters."""
    from tokenroute.storage.report_queries import ReportReader

    store = _open(path)
    if store is None:
        return None
    try:
        reader = ReportReader(store.conn)
        month = where._replace(start=f"{now:%Y-%m}-01T00:00:00.000Z", end=None)
        hour_ago = (now - timedelta(hours=1)).isoformat(timespec="milliseconds")
        last_hour = where._replace(start=hour_ago.replace("+00:00", "Z"), end=None)
        return Today(
            build_report(reader, table, ["model"], where),
            build_report(reader, table, ["task-type"], where),
            store.recent_attempts(where, recent),
            burns(budgets, spend_reader(store), now.date()),
            _spent(reader, month)[0],
            _spent(reader, last_hour)[0],
            _spent(reader, month)[1],
        )
    finally:
        store.close()


def _spent(reader: Any, where: AttemptFilter) -> tuple[Decimal, int]:
    """USD spent in the window (priced calls) and how many calls have no known price."""
    totals = reader.attempt_totals((), where)
    if not totals:
        return Decimal(0), 0
    return Decimal(totals[0].cost_micros) / 1_000_000, totals[0].unpriced


def _open(path: Path) -> Any:
    from tokenroute.storage.sqlite import open_ledger

    return open_ledger(path, create=False)


def task_usage(path: Path, where: AttemptFilter) -> list[Any]:
    """report --by task: every task with attempts in the window, newest first."""
    from tokenroute.storage.top_spend import task_usage as read

    store = _open(path)
    if store is None:
        return []
    try:
        return read(store.conn, where)
    finally:
        store.close()


def usage_blocks(path: Path, where: AttemptFilter, now: Any) -> list[Any]:
    """report --by block: the five-hour usage blocks of the window, oldest first."""
    from tokenroute.ledger.blocks import blocks_for_window
    from tokenroute.storage.usage_hours import hourly_usage
    from tokenroute.timewindow import stamp

    store = _open(path)
    if store is None:
        return []
    try:

        def read(start: datetime | None, end: datetime | None, sums: bool) -> list[Any]:
            moved = where._replace(
                start=where.start if start is None else stamp(start),
                end=where.end if end is None else stamp(end),
            )
            return hourly_usage(store.conn, moved, sums=sums)

        return blocks_for_window(read, where.start, now)
    finally:
        store.close()
