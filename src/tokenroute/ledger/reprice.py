"""`tokenroute prices reprice`: price the stored attempts whose cost was unknown, each at the
price in force on its own day, once their model is in the table. Nothing priced changes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from tokenroute.errors import NotFoundError
from tokenroute.prices.cost import cost_micros
from tokenroute.prices.table import PriceTable

MICROS = Decimal(1_000_000)


class RepriceResult(NamedTuple):
    examined: int  # attempts stored with cost unknown (from --since on)
    priced: int  # of them, priced now (or that would be, with --dry-run)
    added: Decimal  # what they add to the spend
    by_model: dict[str, int]  # priced attempts per model id
    still_unknown: dict[str, int]  # per name: models still not in the price table
    dry_run: bool
    unreadable: int = 0  # rows whose time cannot be read: left unknown


def reprice_ledger(
    path: Path, table: PriceTable, since: str | None, *, dry_run: bool
) -> RepriceResult:
    """`reprice` on the ledger file at `path`, which must exist."""
    from tokenroute.storage.sqlite import open_ledger

    ledger = open_ledger(path, create=False)
    if ledger is None:
        raise NotFoundError(f"there is no ledger at {path} yet: nothing to reprice")
    try:
        return reprice(ledger, table, since, dry_run=dry_run)
    finally:
        ledger.close()


def reprice(ledger: Any, table: PriceTable, since: str | None, *, dry_run: bool) -> RepriceResult:
    """`ledger` is a storage Ledger (unpriced_attempts, set_prices); `since` a UTC stamp."""
    from tokenroute.storage.repricing import NewPrice

    unpriced = ledger.unpriced_attempts(since)
    prices, by_model, unknown, unreadable = [], Counter(), Counter(), 0
    for row in unpriced:
        day = _day(row.started_at)
        if day is None:
            unreadable += 1
            continue
        model = table.find_billed(row.model, row.model_answered)
        period = None if model is None else table.period_of(model, day)
        if model is None or period is None:
            unknown[row.model] += 1
            continue
        micros = cost_micros(period, row.usage, batch=row.batch)
        prices.append(
            NewPrice(row.id, micros, table.revision, model.id, model.provider, model.tier)
        )
        by_model[model.id] += 1
    priced = len(prices) if dry_run else ledger.set_prices(prices) if prices else 0
    added = sum((Decimal(p.cost_micros) for p in prices), Decimal(0)) / MICROS
    return RepriceResult(
        len(unpriced), priced, added, dict(by_model), dict(unknown), dry_run, unreadable
    )


def _day(stamp: str) -> date | None:
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except (TypeError, ValueError, AttributeError):
        return None
    return (moment.astimezone(UTC) if moment.tzinfo else moment).date()
