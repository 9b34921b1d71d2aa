"""The command line: parse, call one domain function, render. Also the one error boundary.

Heavy modules (yaml, rich, tiktoken) are imported inside the commands that need them, so
`tokenroute --help` starts fast.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from tokenroute import __version__
from tokenroute.errors import ExitCode, TokenrouteError, UsageError
from tokenroute.taxonomy import TIERS

if TYPE_CHECKING:
    from tokenroute.pricing import PriceTable

try:  # typer >= 0.26 vendors click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older typer uses click itself
    from click.exceptions import ClickException

PROG = "tokenroute"
COMMAND_ORDER = ("prices", "estimate", "paths", "completions")


class BoundaryGroup(TyperGroup):
    """Runs the CLI and turns every failure into one line on stderr and an exit code."""

    def list_commands(self, ctx: Any) -> list[str]:
        known = [name for name in COMMAND_ORDER if name in self.commands]
        return known + sorted(set(self.commands) - set(known))

    def main(self, args: Any = None, prog_name: Any = None, **extra: Any) -> Any:  # type: ignore[override]
        argv = list(sys.argv[1:] if args is None else args)
        debug = "--debug" in argv
        extra.pop("standalone_mode", None)
        try:
            result = super().main(
                args=argv, prog_name=prog_name or PROG, standalone_mode=False, **extra
            )
        except TokenrouteError as exc:
            _fail(exc.message, exc.exit_code, debug)
        except ClickException as exc:
            _fail(_click_message(exc), ExitCode.USAGE, debug)
        except KeyboardInterrupt:
            _fail("interrupted", ExitCode.INTERRUPTED, debug)
        except BrokenPipeError:
            sys.stderr.close()  # the reader went away (`| head`): not an error worth a message
            sys.exit(ExitCode.OK)
        except Exception as exc:
            _fail(
                f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
                ExitCode.INTERNAL,
                debug,
            )
        sys.exit(result if isinstance(result, int) else ExitCode.OK)


def _click_message(exc: ClickException) -> str:
    message = exc.format_message()
    command = getattr(getattr(exc, "ctx", None), "command_path", PROG)
    return f"{message} (see '{command} --help')"


def _fail(message: str, code: ExitCode, debug: bool) -> None:
    if debug:
        import traceback

        traceback.print_exc()
    sys.stderr.write(f"{PROG}: error: {message}\n")
    sys.exit(code)


app = typer.Typer(
    cls=BoundaryGroup,
    name=PROG,
    help="Pick the model a job needs, and learn what each task really cost.",
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
prices_app = typer.Typer(
    cls=TyperGroup,
    help="List, show, check and import prices (per 1M tokens).",
    rich_markup_mode=None,
    invoke_without_command=True,
)
app.add_typer(prices_app, name="prices")


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"{PROG} {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """Pick the model a job needs, and learn what each task really cost."""


# ---------------------------------------------------------------- shared options and helpers

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (a stable, versioned shape).")]
AtOpt = Annotated[
    str | None,
    typer.Option("--at", metavar="DATE", help="Use the prices in force on this day (YYYY-MM-DD)."),
]
TierOpt = Annotated[
    str | None, typer.Option("--tier", metavar="TIER", help=f"Only this tier: {', '.join(TIERS)}.")
]


def today() -> date:
    return datetime.now(UTC).date()


def parse_day(value: str | None, option: str = "--at") -> date:
    if value is None:
        return today()
    try:
        return datetime.fromisoformat(value).date()
    except ValueError:
        raise UsageError(f"{option} must be a date like 2025-06-01 (got '{value}')") from None


def check_tier(tier: str | None) -> None:
    if tier is not None and tier not in TIERS:
        raise UsageError(f"--tier must be one of {', '.join(TIERS)} (got '{tier}')")


def shipped_tables() -> Path:
    """The shipped tables, or the folder TOKENROUTE_PRICING_DIR names in their place."""
    from tokenroute.pricing import shipped_dir

    return Path(os.environ.get("TOKENROUTE_PRICING_DIR") or shipped_dir())


def load_table() -> PriceTable:
    """The price table in use, with a warning on stderr when it has gone stale."""
    from tokenroute import pricing, render
    from tokenroute.settings import resolve_paths

    where = resolve_paths()
    table = pricing.load_price_table(shipped_tables(), where.prices, cache=where.cache)
    age = table.days_since_checked(today())
    if age > pricing.STALE_AFTER_DAYS:
        render.warn(
            f"the price table was last checked on {table.checked} ({age} days ago); prices may "
            "have changed: update tokenroute or run 'tokenroute prices import'"
        )
    return table


# ---------------------------------------------------------------- paths


@app.command()
def paths(as_json: JsonOpt = False) -> None:
    """Where tokenroute keeps its files.

    The ledger, config, API keys and your own price tables; TOKENROUTE_HOME moves them all
    under one folder. Folders are created on first write.
    """
    from tokenroute import render
    from tokenroute.settings import resolve_paths

    where = resolve_paths().as_dict()
    if as_json:
        render.emit_json({"paths": where})
    else:
        render.emit_lines([f"{name:<7} {path}" for name, path in where.items()])


# ---------------------------------------------------------------- prices


@prices_app.callback()
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
        return
    from tokenroute import views

    check_tier(tier)
    day = parse_day(at)
    table = load_table()
    rows = views.prices_in_force(table, day, provider=provider, tier=tier)
    views.show_prices(rows, table, day, as_json=as_json)


@prices_app.command("show")
def prices_show(
    model: Annotated[str, typer.Argument(help="A model id, alias or dated snapshot.")],
    as_json: JsonOpt = False,
) -> None:
    """Show one model's whole price history and its aliases."""
    from tokenroute import views

    table = load_table()
    views.show_model(table.resolve(model), as_json=as_json)


@prices_app.command("check")
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
    from tokenroute import pricing, views
    from tokenroute.settings import resolve_paths

    shipped = shipped_tables()
    if files:
        problems, models = pricing.check_files(list(files), pricing.load_price_table(shipped))
    else:
        problems, models, files = pricing.check_in_use(shipped, resolve_paths().prices)
    views.show_check(problems, models, files, as_json=as_json)
    if problems:
        raise typer.Exit(ExitCode.BAD_INPUT)


@prices_app.command("import")
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
    from tokenroute import litellm, pricing, views
    from tokenroute.settings import resolve_paths

    day = parse_day(effective, "--from")
    base = pricing.load_price_table(shipped_tables())
    result = litellm.import_file(file, base, day, resolve_paths().prices)
    views.show_import(result, as_json=as_json)


# ---------------------------------------------------------------- estimate


@app.command()
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
    from tokenroute import views
    from tokenroute.estimate import estimate_costs
    from tokenroute.inputs import read_text
    from tokenroute.tokens import count_tokens

    check_tier(tier)
    day = parse_day(at)
    table = load_table()
    wanted = [name.strip() for name in (models or "").split(",") if name.strip()]
    chosen = [table.period_at(name, day)[0] for name in wanted]
    counted = count_tokens(read_text(file, sys.stdin))
    rows = estimate_costs(table, day, counted, output_tokens, models=chosen, tier=tier)
    views.show_estimate(rows, counted, output_tokens, day, as_json=as_json)


# ---------------------------------------------------------------- completions


@app.command()
def completions(
    shell: Annotated[str, typer.Argument(help="bash, zsh or fish.")],
) -> None:
    """Print a shell completion script.

    Example: tokenroute completions zsh > ~/.zfunc/_tokenroute
    """
    from tokenroute.completion import SHELLS, generate

    if shell not in SHELLS:
        raise UsageError(f"shell must be one of {', '.join(SHELLS)} (got '{shell}')")
    sys.stdout.write(generate(shell, typer.main.get_command(app)))


def main() -> None:
    """Entry point of the `tokenroute` command."""
    typer.main.get_command(app).main(prog_name=PROG)
