"""Options several commands share, and the checks of their values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from tokenroute.errors import UsageError
from tokenroute.taxonomy import TIERS

if TYPE_CHECKING:
    from decimal import Decimal

    from tokenroute.models import AttemptFilter
    from tokenroute.prices.table import PriceTable

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (a stable, versioned shape).")]
AtOpt = Annotated[
    str | None,
    typer.Option("--at", metavar="DATE", help="Use the prices in force on this day (YYYY-MM-DD)."),
]
LedgerOpt = Annotated[
    str | None,
    typer.Option(
        "--ledger",
        metavar="PATH|URL",
        help="The ledger file, or a team's postgresql:// database (default: see 'tokenroute "
        "paths').",
    ),
]
SuccessOpt = Annotated[
    bool | None,
    typer.Option("--success/--failure", help="How the task ended."),
]
TierOpt = Annotated[
    str | None, typer.Option("--tier", metavar="TIER", help=f"Only this tier: {', '.join(TIERS)}.")
]
SinceOpt = Annotated[
    str | None, typer.Option("--since", metavar="DATE", help="Only calls from this day on.")
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Say what would be added; change nothing.")
]


def command_group(help: str, **settings: Any) -> typer.Typer:
    """A command group (prices, task, keys, ...); app.py puts it under the main app."""
    return typer.Typer(cls=TyperGroup, help=help, rich_markup_mode=None, **settings)


def check_provider(table: PriceTable, provider: str | None) -> None:
    known = sorted({m.provider for m in table.models})
    if provider is not None and provider.lower() not in known:
        raise UsageError(f"--provider must be one of {', '.join(known)} (got '{provider}')")


def parse_groups(values: list[str] | None) -> list[str]:
    """--by model,tier (or repeated): the report's groupings, each checked, once each."""
    from tokenroute.ledger.report import GROUPINGS

    groups = [part.strip() for value in values or () for part in value.split(",") if part.strip()]
    for name in groups:
        if name not in GROUPINGS:
            raise UsageError(
                f"--by must be among {', '.join(GROUPINGS)}, or alone task or block (got '{name}')"
            )
    return list(dict.fromkeys(groups))


def attempt_filter(
    last: str | None, since: str | None, until: str | None, **fields: Any
) -> AttemptFilter:
    """The window (--last, or --since/--until) and the other filters of report and log."""
    from tokenroute.cli.context import now
    from tokenroute.models import AttemptFilter
    from tokenroute.timewindow import report_window

    window = report_window(last, since, until, now())
    return AttemptFilter(start=window.start_stamp, end=window.end_stamp, **fields)


def parse_usd(given: str | None, option: str) -> Decimal | None:
    """--max-cost 0.05 (or $0.05): an amount in USD above 0."""
    from decimal import Decimal, InvalidOperation

    if given is None:
        return None
    try:
        amount = Decimal(given.removeprefix("$"))
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount <= 0:
        raise UsageError(f"{option} must be an amount in USD above 0, e.g. 0.05 (got '{given}')")
    return amount


def done(said: str, body: dict[str, Any], as_json: bool) -> None:
    """A change made: one line of talk on stderr, or with --json its object on stdout."""
    from tokenroute.cli import render

    if as_json:
        render.emit_json(body)
    else:
        render.say(said)
