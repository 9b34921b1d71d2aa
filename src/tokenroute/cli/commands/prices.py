"""`tokenroute prices` (list, show, check, import, reprice) and `tokenroute estimate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tokenroute.cli.context import check_tier, ledger_path, load_table, now, parse_day, today
from tokenroute.cli.options import (
    AtOpt,
    JsonOpt,
    LedgerOpt,
    TierOpt,
    check_provider,
    command_group,
)
from tokenroute.errors import ExitCode, NotFoundError, UsageError

group = command_group(
    "List, show, check and import prices (per 1M tokens).", invoke_without_command=True
)


@group.callback()
def prices(
    ctx: typer.Context,
    provider: Annotated[
        str | None,
        typer.Option("--provider", metavar="NAME", help="Only this provider, e.g. anthropic."),
    ] = None,
    tier: TierOpt = None,
    at: AtOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the prices in force (today, or --at a date), per 1M tokens."""
    if ctx.invoked_subcommand is not None:
        if provider or tier or at or as_json:
            raise UsageError(
                f"options go after the subcommand: 'tokenroute prices {ctx.invoked_subcommand} "
                "... --json' (--provider, --tier and --at are for the list itself)"
            )
        return
    from tokenroute.cli.views import prices as view
    from tokenroute.prices.table import prices_in_force

    check_tier(tier)
    day = parse_day(at)
    table = load_table()
    check_provider(table, provider)
    rows = prices_in_force(table, day, provider=provider, tier=tier)
    if not rows:
        from tokenroute.cli.render import describe_filters

        raise NotFoundError(f"no model {describe_filters(provider, tier)}had a price on {day}")
    view.show_prices(rows, table, day, as_json=as_json)


@group.command("show")
def prices_show(
    model: Annotated[str, typer.Argument(help="A model id, alias or dated snapshot.")],
    as_json: JsonOpt = False,
) -> None:
    """Show one model's whole price history and its aliases."""
    from tokenroute.cli.views import prices as view

    table = load_table()
    view.show_model(table.resolve(model), as_json=as_json)


@group.command("check")
def prices_check(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Tables to check; without any, every table in use."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate price tables.

    Names the file, model and field of every problem; exits 3 when there is one.
    """
    from tokenroute.cli.context import shipped_tables
    from tokenroute.cli.views import prices as view
    from tokenroute.prices import table as pricing
    from tokenroute.settings import resolve_paths

    shipped = shipped_tables()
    if files:
        problems, models = pricing.check_files(list(files), pricing.load_price_table(shipped))
    else:
        problems, models, files = pricing.check_in_use(shipped, resolve_paths().prices)
    view.show_check(problems, models, files, as_json=as_json)
    if problems:
        raise typer.Exit(ExitCode.BAD_INPUT)


@group.command("import")
def prices_import(
    file: Annotated[Path, typer.Argument(help="LiteLLM's model_prices_and_context_window.json.")],
    effective: Annotated[
        str | None,
        typer.Option(
            "--from", metavar="DATE", help="The day these prices took effect (default: today)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Import prices from LiteLLM's price file.

    Converts model_prices_and_context_window.json into a dated table in your price folder,
    which overrides the shipped prices from that date on. Offline: it fetches nothing.
    """
    from tokenroute.cli.context import shipped_tables
    from tokenroute.cli.views import prices as view
    from tokenroute.prices import litellm
    from tokenroute.prices.table import load_price_table
    from tokenroute.settings import resolve_paths

    day = parse_day(effective, "--from")
    base = load_price_table(shipped_tables())
    result = litellm.import_file(file, base, day, resolve_paths().prices, today=today())
    view.show_import(result, as_json=as_json)


@group.command("reprice")
def prices_reprice(
    since: Annotated[
        str | None, typer.Option("--since", metavar="DATE", help="Only calls from this day on.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be priced; change nothing.")
    ] = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Price stored calls whose cost is unknown, now that their model is in the table.

    Each call is priced at the price in force on its own day. Calls already priced never
    change; the report's summaries are recomputed as a rebuild would.
    """
    from tokenroute.cli.views import prices as view
    from tokenroute.ledger.reprice import reprice_ledger
    from tokenroute.timewindow import report_window

    start = report_window(None, since, None, now()).start_stamp
    result = reprice_ledger(ledger_path(ledger), load_table(), start, dry_run=dry_run)
    view.show_reprice(result, as_json=as_json)


def estimate(
    file: Annotated[
        str | None, typer.Argument(metavar="[FILE|-]", help="The prompt; '-' or a pipe for stdin.")
    ] = None,
    output_tokens: Annotated[
        int, typer.Option("--output-tokens", min=0, metavar="N", help="Output tokens to assume.")
    ] = 500,
    models: Annotated[
        str | None,
        typer.Option("--models", metavar="A,B", help="Comma-separated models to compare."),
    ] = None,
    tier: TierOpt = None,
    at: AtOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What a prompt would cost on each model.

    Counts the prompt's tokens offline (tiktoken cl100k_base, shipped with tokenroute) and
    lists each model in force, cheapest first.
    """
    from tokenroute.cli.fast_estimate import EstimateOptions
    from tokenroute.cli.fast_estimate import estimate as run_estimate

    run_estimate(EstimateOptions(file, output_tokens, models, tier, at, as_json))
