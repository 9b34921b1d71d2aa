"""The command line: parse, call one domain function, render. Also the one error boundary.

Heavy modules (yaml, rich, tiktoken) are imported inside the commands that need them, so
`tokenroute --help` starts fast.
"""

import copy
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from tokenroute import __version__
from tokenroute.cli_common import (
    PROG,
    PipeClosed,
    check_tier,
    fail,
    guarded,
    ledger_path,
    load_table,
    now,
    parse_day,
    shipped_tables,
    stopped_by_signal,
    today,
)
from tokenroute.errors import BadInputError, ExitCode, NotFoundError, TokenrouteError, UsageError
from tokenroute.taxonomy import TASK_TYPES, TIERS

if TYPE_CHECKING:
    from tokenroute.prices.table import PriceTable

try:  # typer >= 0.26 vendors click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older typer uses click itself
    from click.exceptions import ClickException

COMMAND_ORDER = (
    "pick",
    "run",
    "prices",
    "estimate",
    "record",
    "task",
    "mark",
    "report",
    "log",
    "forget",
    "import",
    "budget",
    "keys",
    "config",
    "doctor",
    "paths",
    "completions",
)


class BoundaryGroup(TyperGroup):
    """Runs the CLI and turns every failure into one line on stderr and an exit code."""

    def list_commands(self, ctx: Any) -> list[str]:
        known = [name for name in COMMAND_ORDER if name in self.commands]
        return known + sorted(set(self.commands) - set(known))

    def invoke(self, ctx: Any) -> Any:
        """typer exits 1 on a closed stdout: pass it to the boundary, which exits 0."""
        _refuse_opposites(self, getattr(self, "argv", []))
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()
            return result
        except BrokenPipeError:
            raise PipeClosed from None

    def main(self, args: Any = None, prog_name: Any = None, **extra: Any) -> Any:  # type: ignore[override]
        argv = list(sys.argv[1:] if args is None else args)
        self.argv = argv
        debug = "--debug" in _leading_options(argv)
        extra.pop("standalone_mode", None)

        def parse_and_run() -> Any:
            try:
                return super(BoundaryGroup, self).main(
                    args=argv, prog_name=prog_name or PROG, standalone_mode=False, **extra
                )
            except ClickException as exc:
                if type(exc).__name__ == "NoArgsIsHelpError":  # bare `tokenroute`: help
                    sys.stdout.write(exc.ctx.get_help() + "\n")
                    sys.exit(ExitCode.OK)
                fail(_click_message(exc), ExitCode.USAGE, debug)

        result = guarded(parse_and_run, debug)
        if result == ExitCode.INTERRUPTED:  # typer turns Ctrl-C (and Terminated) into 130
            stopped_by_signal()
            fail("interrupted", ExitCode.INTERRUPTED, False)
        sys.exit(result if isinstance(result, int) else ExitCode.OK)


def _refuse_opposites(group: Any, argv: list[str]) -> None:
    """`--deep --execution`: click keeps the last of a flag pair silently; say they clash."""
    if "--" in argv:  # what follows is text (a description), not options
        argv = argv[: argv.index("--")]
    command: Any = group
    for word in argv:
        if word.startswith("-"):
            continue
        sub = getattr(command, "commands", {}).get(word)
        if sub is None:
            break
        command = sub
    given = set(argv)
    for param in getattr(command, "params", ()):
        on = [o for o in getattr(param, "opts", ()) if o in given]
        off = [o for o in getattr(param, "secondary_opts", ()) if o in given]
        if on and off:
            raise UsageError(f"{on[0]} and {off[0]} contradict each other: give one of them")


def _leading_options(argv: list[str]) -> list[str]:
    """The options before the first command word: where --debug belongs."""
    leading = []
    for word in argv:
        if not word.startswith("-"):
            break
        leading.append(word)
    return leading


def _click_message(exc: ClickException) -> str:
    message = exc.format_message()
    command = getattr(getattr(exc, "ctx", None), "command_path", PROG)
    return f"{message} (see '{command} --help')"


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


def _subcommands(name: str, help: str, **settings: Any) -> typer.Typer:
    """A command group (prices, task, keys, config) under the main app."""
    group = typer.Typer(cls=TyperGroup, help=help, rich_markup_mode=None, **settings)
    app.add_typer(group, name=name)
    return group


prices_app = _subcommands(
    "prices", "List, show, check and import prices (per 1M tokens).", invoke_without_command=True
)
task_app = _subcommands(
    "task", "Group calls into one task: start it, end it with its outcome.", no_args_is_help=True
)
keys_app = _subcommands(
    "keys", "Store API keys for providers (a file only you can read).", no_args_is_help=True
)
import_app = _subcommands(
    "import", "Import the usage your coding agents already logged.", no_args_is_help=True
)
budget_app = _subcommands(
    "budget", "Daily and monthly spending limits that run keeps to.", no_args_is_help=True
)
config_app = _subcommands(
    "config", "The config file: endpoints and run defaults.", no_args_is_help=True
)


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
LedgerOpt = Annotated[
    Path | None,
    typer.Option(
        "--ledger", metavar="PATH", help="The ledger file (default: see 'tokenroute paths')."
    ),
]
SuccessOpt = Annotated[
    bool | None,
    typer.Option("--success/--failure", help="How the task ended."),
]


TierOpt = Annotated[
    str | None, typer.Option("--tier", metavar="TIER", help=f"Only this tier: {', '.join(TIERS)}.")
]


def check_provider(table: "PriceTable", provider: str | None) -> None:
    known = sorted({m.provider for m in table.models})
    if provider is not None and provider.lower() not in known:
        raise UsageError(f"--provider must be one of {', '.join(known)} (got '{provider}')")


def describe_filters(
    provider: str | None, tier: str | None, models: list[str] | None = None
) -> str:
    parts = [f"of {provider}" if provider else "", f"in tier {tier}" if tier else ""]
    if models:
        parts.append(f"among {', '.join(models)}")
    return "".join(f"{p} " for p in parts if p)


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
        if provider or tier or at or as_json:
            raise UsageError(
                f"options go after the subcommand: 'tokenroute prices {ctx.invoked_subcommand} "
                "... --json' (--provider, --tier and --at are for the list itself)"
            )
        return
    from tokenroute import views

    check_tier(tier)
    day = parse_day(at)
    table = load_table()
    check_provider(table, provider)
    rows = views.prices_in_force(table, day, provider=provider, tier=tier)
    if not rows:
        raise NotFoundError(f"no model {describe_filters(provider, tier)}had a price on {day}")
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
    from tokenroute import views
    from tokenroute.prices import table as pricing
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
    from tokenroute import views
    from tokenroute.prices import litellm
    from tokenroute.prices import table as pricing
    from tokenroute.settings import resolve_paths

    day = parse_day(effective, "--from")
    base = pricing.load_price_table(shipped_tables())
    result = litellm.import_file(file, base, day, resolve_paths().prices, today=today())
    views.show_import(result, as_json=as_json)


@prices_app.command("reprice")
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
    from tokenroute import views
    from tokenroute.ledger.reprice import reprice
    from tokenroute.storage.sqlite import open_ledger
    from tokenroute.timewindow import report_window

    start = report_window(None, since, None, now()).start_stamp
    path = ledger_path(ledger)
    table = load_table()
    ledger_db = open_ledger(path, create=False)
    if ledger_db is None:
        raise NotFoundError(f"there is no ledger at {path} yet: nothing to reprice")
    try:
        result = reprice(ledger_db, table, start, dry_run=dry_run)
    finally:
        ledger_db.close()
    views.show_reprice(result, as_json=as_json)


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
    from tokenroute.inputs import read_text
    from tokenroute.prices.estimate import estimate_costs
    from tokenroute.prices.tokens import count_tokens

    check_tier(tier)
    day = parse_day(at)
    table = load_table()
    wanted = [name.strip() for name in (models or "").split(",") if name.strip()]
    if models is not None and not wanted:
        raise UsageError("--models lists no model: give names separated by commas")
    chosen = [table.offered(name, day)[0] for name in wanted]
    text = read_text(file, sys.stdin)
    if not text.strip():
        raise BadInputError("the prompt is empty: nothing to estimate")
    counted = count_tokens(text)
    rows = estimate_costs(table, day, counted, output_tokens, models=chosen, tier=tier)
    if not rows:
        raise NotFoundError(f"no model {describe_filters(None, tier, wanted)}had a price on {day}")
    views.show_estimate(rows, counted, output_tokens, day, table.revision, as_json=as_json)


# ---------------------------------------------------------------- pick


@app.command()
def pick(
    description: Annotated[
        str | None, typer.Argument(help="The task, in your words (or pipe it in, or --file).")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", metavar="PATH", help="Read the description from a file."),
    ] = None,
    prompt_file: Annotated[
        Path | None,
        typer.Option(
            "--prompt-file", metavar="PATH", help="Estimate with this real prompt's tokens."
        ),
    ] = None,
    input_tokens: Annotated[
        int | None,
        typer.Option("--input-tokens", min=0, metavar="N", help="Input tokens to estimate with."),
    ] = None,
    output_tokens: Annotated[
        int | None,
        typer.Option("--output-tokens", min=0, metavar="N", help="Output tokens to estimate with."),
    ] = None,
    deep: Annotated[
        bool | None,
        typer.Option("--deep/--execution", help="Deep reasoning, or execution of a clear spec?"),
    ] = None,
    good_enough: Annotated[
        bool | None,
        typer.Option("--good-enough/--must-be-best", help="Is 80-95% of the way good enough?"),
    ] = None,
    need: Annotated[
        bool | None,
        typer.Option("--need/--convenience", help="Is a premium model needed, or only convenient?"),
    ] = None,
    quality_target: Annotated[
        float | None,
        typer.Option(
            "--quality-target",
            metavar="Q",
            help="Share of tasks the first model must get right (0-1].",
        ),
    ] = None,
    local: Annotated[
        bool,
        typer.Option("--local/--no-local", help="Local models first where the task allows it."),
    ] = False,
    no_explore: Annotated[
        bool, typer.Option("--no-explore", help="Never try a cheaper tier to learn.")
    ] = False,
    no_log: Annotated[
        bool, typer.Option("--no-log", help="Do not start a task in the ledger.")
    ] = False,
    explain_policy: Annotated[
        bool,
        typer.Option("--explain-policy", help="Show the policy and what the ledger taught it."),
    ] = False,
    task_type: Annotated[
        str | None,
        typer.Option("--task-type", metavar="TYPE", help="The task type, when you know it."),
    ] = None,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Which model does this job need? The tier, a model and two alternatives, cost, reasons.

    Without a description on a terminal it asks three screening questions; in a script,
    answer them with --deep/--execution, --good-enough/--must-be-best, --need/--convenience.
    """
    from tokenroute.pick_command import PickOptions
    from tokenroute.pick_command import pick as run_pick

    run_pick(
        PickOptions(
            description=description,
            file=file,
            prompt_file=prompt_file,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            deep=deep,
            good_enough=good_enough,
            need=need,
            quality_target=quality_target,
            local=local,
            no_explore=no_explore,
            no_log=no_log,
            explain_policy=explain_policy,
            task_type=task_type,
            ledger=ledger,
            as_json=as_json,
        )
    )


# ---------------------------------------------------------------- the ledger


def open_for_writing(option: Path | None):
    from tokenroute.storage.sqlite import open_ledger

    return open_ledger(ledger_path(option), create=True)


def open_existing(option: Path | None):
    """The ledger for reading; None when nothing was recorded yet (reading creates nothing)."""
    from tokenroute.storage.sqlite import open_ledger

    return open_ledger(ledger_path(option), create=False)


@app.command()
def record(
    model: Annotated[str | None, typer.Option("--model", "-m", help="The model called.")] = None,
    input_tokens: Annotated[
        int | None,
        typer.Option("--input-tokens", min=0, metavar="N", help="Uncached input tokens."),
    ] = None,
    output_tokens: Annotated[
        int | None,
        typer.Option(
            "--output-tokens", min=0, metavar="N", help="Output tokens, reasoning included."
        ),
    ] = None,
    cache_read: Annotated[
        int | None,
        typer.Option("--cache-read", min=0, metavar="N", help="Input tokens read from cache."),
    ] = None,
    cache_write: Annotated[
        int | None,
        typer.Option(
            "--cache-write", min=0, metavar="N", help="Input tokens written to a 5-minute cache."
        ),
    ] = None,
    cache_write_1h: Annotated[
        int | None,
        typer.Option(
            "--cache-write-1h", min=0, metavar="N", help="Input tokens written to a 1-hour cache."
        ),
    ] = None,
    reasoning_tokens: Annotated[
        int | None,
        typer.Option(
            "--reasoning-tokens", min=0, metavar="N", help="Of the output, reasoning tokens."
        ),
    ] = None,
    task_id: Annotated[
        str | None,
        typer.Option(
            "--task-id",
            metavar="ID",
            envvar="TOKENROUTE_TASK",
            help="The task (default: $TOKENROUTE_TASK, else a new one).",
        ),
    ] = None,
    task_type: Annotated[
        str | None, typer.Option("--task-type", metavar="TYPE", help="e.g. code, extract.")
    ] = None,
    status: Annotated[
        str, typer.Option("--status", metavar="STATUS", help="ok, error, invalid or cancelled.")
    ] = "ok",
    error_kind: Annotated[
        str | None, typer.Option("--error-kind", metavar="KIND", help="e.g. rate_limit.")
    ] = None,
    latency_ms: Annotated[int | None, typer.Option("--latency-ms", min=0, metavar="MS")] = None,
    tags: Annotated[
        list[str] | None, typer.Option("--tag", metavar="TAG", help="A free tag; repeatable.")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", metavar="TIME", help="When the call was made (default: now)."),
    ] = None,
    project: Annotated[
        str | None, typer.Option("--project", metavar="NAME", help="Default: the git root's name.")
    ] = None,
    source_key: Annotated[
        str | None,
        typer.Option("--source-key", metavar="KEY", help="Stores the same call only once."),
    ] = None,
    estimated: Annotated[
        bool, typer.Option("--estimated", help="The token counts are estimates.")
    ] = False,
    batch: Annotated[
        bool, typer.Option("--batch", help="A batch-API call (batch prices).")
    ] = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Log a call made by something else, costed at the price in force when it was made.

    Give the call as flags, or pipe JSON lines on stdin: one call per line with the same
    field names (model, input_tokens, output_tokens, cache_read, cache_write, cache_write_1h,
    reasoning_tokens, task_id, task_type, status, error_kind, latency_ms, tags, timestamp,
    project, source_key, estimated, batch), or a provider's raw `usage` object (OpenAI,
    Anthropic or Gemini) in place of the token fields. Flags given with JSON lines are
    defaults for every line. A bad line is rejected with its number; the good ones are kept.
    """
    from tokenroute import views
    from tokenroute.ledger.calls import CallError, make_call
    from tokenroute.ledger.intake import read_call_lines, record_calls
    from tokenroute.settings import detect_project
    from tokenroute.timewindow import parse_moment

    table = load_table()
    moment = now()
    flags = {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read": cache_read,
        "cache_write": cache_write,
        "cache_write_1h": cache_write_1h,
        "reasoning_tokens": reasoning_tokens,
    }
    text = {
        "task_id": task_id,
        "task_type": task_type,
        "error_kind": error_kind,
        "project": project,
        "source_key": source_key,
    }
    if at is not None:
        parse_moment(at, "--at")  # a bad default is a usage error, not a bad line each
    if model is None:
        if sys.stdin.isatty():
            raise UsageError("give --model and token counts, or pipe JSON lines on stdin")
        defaults = {k: v for k, v in {**flags, **text}.items() if v is not None}
        defaults.update(status=status, estimated=estimated, batch=batch)
        if latency_ms is not None:
            defaults["latency_ms"] = latency_ms
        if tags:
            defaults["tags"] = list(tags)
        if at is not None:
            defaults["timestamp"] = at
        calls, rejected = read_call_lines(sys.stdin.buffer, moment, defaults)
    else:
        try:
            calls = [
                make_call(
                    model=model,
                    buckets={k: v for k, v in flags.items() if v is not None},
                    usage=None,
                    at=at,
                    now=moment,
                    status=status,
                    latency_ms=latency_ms,
                    tags=tuple(tags or ()),
                    estimated=estimated,
                    batch=batch,
                    text=text,
                    at_option="--at",
                )
            ]
        except CallError as exc:
            raise UsageError(str(exc)) from None
        rejected = []
    ledger_db = open_for_writing(ledger)
    try:
        results = record_calls(ledger_db, table, calls, detect_project(Path.cwd()))
    finally:
        ledger_db.close()
    views.show_recorded(results, rejected, as_json=as_json)
    if rejected:
        raise BadInputError(
            f"{len(rejected)} line(s) rejected; the other {len(calls)} were recorded"
        )


@task_app.command("start")
def task_start(
    description: Annotated[str | None, typer.Argument(help="What the task is.")] = None,
    task_type: Annotated[
        str | None, typer.Option("--type", metavar="TYPE", help="e.g. code, extract.")
    ] = None,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Start a task and print its id: export TOKENROUTE_TASK=$(tokenroute task start ...)"""
    from tokenroute import render
    from tokenroute.models import Task, new_task_id
    from tokenroute.settings import detect_project
    from tokenroute.timewindow import stamp

    task = Task(
        id=new_task_id(),
        created_at=stamp(now()),
        type=task_type,
        description=description,
        project=detect_project(Path.cwd()),
    )
    ledger_db = open_for_writing(ledger)
    try:
        ledger_db.add_task(task)
    finally:
        ledger_db.close()
    if as_json:
        render.emit_json({"task": {"id": task.id, "type": task.type, "description": description}})
    else:
        render.emit_lines([task.id])


@task_app.command("end")
def task_end(
    task_id: Annotated[str, typer.Argument(metavar="ID", help="The task id.")],
    success: SuccessOpt = None,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """End a task with its outcome: --success or --failure."""
    set_outcome(task_id, success, ledger, ended=True, as_json=as_json)


@app.command()
def mark(
    task_id: Annotated[str, typer.Argument(metavar="ID", help="The task id.")],
    success: SuccessOpt = None,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Set a task's outcome after the fact: --success or --failure."""
    set_outcome(task_id, success, ledger, ended=False, as_json=as_json)


def set_outcome(
    task_id: str, success: bool | None, ledger: Path | None, *, ended: bool, as_json: bool
) -> None:
    from tokenroute import render
    from tokenroute.storage.sqlite import open_ledger
    from tokenroute.timewindow import stamp

    if success is None:
        raise UsageError("say how the task went: --success or --failure")
    path = ledger_path(ledger)
    ledger_db = open_ledger(path, create=False)
    if ledger_db is None:
        raise NotFoundError(f"no task '{task_id}': there is no ledger at {path} yet")
    outcome = "success" if success else "failure"
    try:
        found = ledger_db.set_outcome(task_id, outcome, "user", stamp(now()) if ended else None)
    finally:
        ledger_db.close()
    if not found:
        raise NotFoundError(f"no task '{task_id}' in {path} (see 'tokenroute log')")
    if as_json:
        render.emit_json({"task": {"id": task_id, "outcome": outcome}})
    else:
        render.say(f"{task_id}: {outcome}")


REPORT_HELP = """Cost per task, per successful task, I/O ratio and retry tax, by group.

\b
Definitions:
  spend            what the attempts in the window cost (an unknown price is
                   never counted as $0: those attempts are counted apart)
  cost per task    each task's spend; mean, median and p95 (nearest rank;
                   above 10,000 tasks, median and p95 come from a uniform
                   sample and are marked ~)
  $/success        the whole cost of the group's tasks (failed tasks and
                   failed attempts included) divided by their successes
  in:out           every input token (uncached, cache read, cache write)
                   per output token
  cache            the share of input tokens read from cache
  retry tax        the share of spend on attempts that did not succeed
                   (errors, invalid output, cancelled): retries and escalations
  failed $         all spend on tasks whose outcome is failure
  frontier $       the same tokens on the newest frontier model of the same
                   provider (base rates, per day)
  cheapest used $  the same tokens on the cheapest model this ledger used for
                   that task type
Spend, attempts, tokens and retry tax count each attempt in its own group;
tasks, outcomes and cost per task count each task once, in the group of its
last attempt (the model that finished it) and the window of its first.

--watch shows today's spend by model and task type, the last attempts and
budget burn, redrawn every --interval seconds until Ctrl-C; --import
claude-code (or codex) re-imports the new log lines before each redraw.

\b
Example:
  tokenroute report --last 30d --by model,task-type
  tokenroute report --since 2026-11-01 --until 2026-11-15 --by day --csv
  tokenroute report --watch --import claude-code
"""


@app.command(help=REPORT_HELP)
def report(
    last: Annotated[
        str | None, typer.Option("--last", metavar="SPAN", help="e.g. 30d, 12h, 2w.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", metavar="DATE", help="From this day (inclusive).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", metavar="DATE", help="To this day (inclusive).")
    ] = None,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            metavar="GROUP",
            help="model, tier, task-type, provider, project, tag, day, week or month; "
            "comma-separated or repeated.",
        ),
    ] = None,
    task_type: Annotated[
        str | None, typer.Option("--task-type", metavar="TYPE", help="Only this task type.")
    ] = None,
    project: Annotated[
        str | None, typer.Option("--project", metavar="NAME", help="Only this project.")
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source", metavar="NAME", help="Only this source: record, run, an importer."
        ),
    ] = None,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
    live: Annotated[
        bool,
        typer.Option("--watch", help="Today's spend, last attempts, budgets; redrawn live."),
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", metavar="SECONDS", help="Seconds between redraws.")
    ] = 5.0,
    count: Annotated[
        int | None, typer.Option("--count", metavar="N", help="Stop after N redraws.")
    ] = None,
    import_from: Annotated[
        list[str] | None,
        typer.Option(
            "--import", metavar="SOURCE", help="Re-import claude-code or codex at each redraw."
        ),
    ] = None,
) -> None:
    if live:
        if as_json or as_csv or by or last or since or until:
            raise UsageError("--watch shows today; it takes no --json, --csv, --by or window")
        _watch_report(interval, count, import_from or [], ledger, task_type, project, source)
        return
    if import_from or count is not None:
        raise UsageError("--import and --count go with --watch")
    from tokenroute import views
    from tokenroute.dispatch.budgets import burns, read_budgets
    from tokenroute.ledger.report import build_report
    from tokenroute.settings import resolve_paths
    from tokenroute.storage.report_queries import ReportReader

    groups = parse_groups(by)
    where = attempt_filter(last, since, until, task_type=task_type, project=project, source=source)
    if as_json and as_csv:
        raise UsageError("choose one of --json and --csv")
    table = load_table()
    budgets = read_budgets(resolve_paths().budgets)
    ledger_db = open_existing(ledger)
    result = None
    try:
        if ledger_db is not None:
            result = build_report(ReportReader(ledger_db.conn), table, groups, where)
        burned = burns(budgets, _spend_from(ledger_db), today())
    finally:
        if ledger_db is not None:
            ledger_db.close()
    views.show_report(result, groups, where, as_json=as_json, as_csv=as_csv, budgets=burned)


def _watch_report(
    interval: float,
    count: int | None,
    sources: list[str],
    ledger: Path | None,
    task_type: str | None,
    project: str | None,
    source: str | None,
) -> None:
    from tokenroute import views
    from tokenroute.dispatch.budgets import burns, read_budgets
    from tokenroute.ledger.report import build_report
    from tokenroute.settings import resolve_paths
    from tokenroute.storage.report_queries import ReportReader
    from tokenroute.watch import captured, watch

    if not 0.2 <= interval <= 3600:
        raise UsageError(f"--interval must be between 0.2 and 3600 seconds (got {interval})")
    if count is not None and count < 1:
        raise UsageError(f"--count must be 1 or more (got {count})")
    importers = [_log_importer(name) for name in sources]
    table = load_table()
    budgets = read_budgets(resolve_paths().budgets)

    def refresh() -> None:
        for source_name, roots, parse in importers:
            _import_quietly(source_name, roots, parse, ledger, table)

    def frame() -> str:
        where = attempt_filter(
            None, today().isoformat(), None, task_type=task_type, project=project, source=source
        )
        ledger_db = open_existing(ledger)
        try:
            if ledger_db is None:
                return f"tokenroute: nothing recorded yet ({now():%H:%M:%S} UTC)\n"
            reader = ReportReader(ledger_db.conn)
            parts = [f"tokenroute report --watch: today, {now():%Y-%m-%d %H:%M:%S} UTC\n"]
            for groups in (["model"], ["task-type"]):
                result = build_report(reader, table, groups, where)
                parts.append(
                    captured(
                        lambda r=result, g=groups: views.show_report(
                            r, g, where, as_json=False, as_csv=False, budgets=[]
                        )
                    )
                )
            recent = ledger_db.recent_attempts(where, 8)
            parts.append(captured(lambda: views.show_log(recent, as_json=False)))
            burned = burns(budgets, _spend_from(ledger_db), today())
        finally:
            if ledger_db is not None:
                ledger_db.close()
        if burned:
            parts.append(captured(lambda: views.show_budgets(burned, as_json=False)))
        return "\n".join(parts)

    watch(frame, interval=interval, count=count, refresh=refresh)


def _log_importer(name: str) -> tuple[str, list[Path], Any]:
    from tokenroute.ledger.importers import claude_code, codex

    formats = {"claude-code": claude_code, "codex": codex}
    if name not in formats:
        raise UsageError(f"--import must be one of {', '.join(formats)} (got '{name}')")
    module = formats[name]
    return module.SOURCE, module.default_roots(os.environ, Path.home()), module.parse_file


def _import_quietly(source: str, roots: list[Path], parse: Any, ledger: Path | None, table):
    from tokenroute.ledger.importers.files import log_files
    from tokenroute.ledger.importers.load import import_files

    store = open_for_writing(ledger)
    try:
        import_files(source, log_files(roots), parse, store, table, now())
    finally:
        store.close()


def parse_groups(values: list[str] | None) -> list[str]:
    from tokenroute.ledger.report import GROUPINGS

    groups = [part.strip() for value in values or () for part in value.split(",") if part.strip()]
    for name in groups:
        if name not in GROUPINGS:
            raise UsageError(f"--by must be among {', '.join(GROUPINGS)} (got '{name}')")
    return list(dict.fromkeys(groups))


def attempt_filter(last, since, until, **fields):
    from tokenroute.models import AttemptFilter
    from tokenroute.timewindow import report_window

    window = report_window(last, since, until, now())
    return AttemptFilter(start=window.start_stamp, end=window.end_stamp, **fields)


@app.command()
def log(
    count: Annotated[
        int, typer.Option("-n", "--count", min=1, metavar="N", help="How many attempts.")
    ] = 20,
    last: Annotated[
        str | None, typer.Option("--last", metavar="SPAN", help="e.g. 30d, 12h, 2w.")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", metavar="DATE")] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="DATE")] = None,
    task_type: Annotated[str | None, typer.Option("--task-type", metavar="TYPE")] = None,
    project: Annotated[str | None, typer.Option("--project", metavar="NAME")] = None,
    source: Annotated[str | None, typer.Option("--source", metavar="NAME")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", metavar="MODEL")] = None,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The most recent attempts in the ledger, newest first."""
    from tokenroute import views

    if model is not None:
        known = load_table().find(model)
        model = known.id if known is not None else model
    where = attempt_filter(
        last, since, until, task_type=task_type, project=project, source=source, model=model
    )
    ledger_db = open_existing(ledger)
    rows = []
    if ledger_db is not None:
        try:
            rows = ledger_db.recent_attempts(where, count)
        finally:
            ledger_db.close()
    views.show_log(rows, as_json=as_json)


@app.command()
def forget(
    before: Annotated[
        str, typer.Option("--before", metavar="DATE", help="Forget text kept before this day.")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say how much would go; delete nothing.")
    ] = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete the prompts, answers and task descriptions kept before DATE (costs stay).

    The deleted text is overwritten in the file, not only unlinked; those conversations
    can no longer be continued with -c."""
    from tokenroute import render

    day = parse_day(before, "--before")
    ledger_db = open_existing(ledger)
    turns = described = 0
    if ledger_db is not None:
        try:
            turns, described = ledger_db.forget_text(day.isoformat(), dry_run=dry_run)
        finally:
            ledger_db.close()
    if as_json:
        body = {"before": day.isoformat(), "turns": turns, "task_descriptions": described}
        render.emit_json({**body, "dry_run": dry_run})
        return
    verb = "would forget" if dry_run else "forgot"
    render.say(
        f"{verb} the text of {turns:,} turn(s) and {described:,} task description(s) "
        f"kept before {day.isoformat()}"
    )


# ---------------------------------------------------------------- completions


@app.command()
def run(
    prompt: Annotated[
        str | None, typer.Argument(help="The prompt (piped stdin comes first, then this).")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="Use this model (or ENDPOINT/MODEL, e.g. ollama/qwen3)."
        ),
    ] = None,
    system: Annotated[str | None, typer.Option("--system", "-s", help="The system prompt.")] = None,
    task: Annotated[
        str | None,
        typer.Option("--task", metavar="TYPE", help="The kind of task, or auto (default)."),
    ] = None,
    tier: TierOpt = None,
    escalate: Annotated[
        bool, typer.Option("--escalate", help="On failure, move up a tier and try again.")
    ] = False,
    local: Annotated[
        bool,
        typer.Option("--local", help="A running local model first (small tasks), then escalate."),
    ] = False,
    retries: Annotated[
        int | None, typer.Option("--retries", min=0, max=10, help="Tries after the first.")
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=0.1, metavar="SECONDS", help="Wait this long for a byte."),
    ] = None,
    deadline: Annotated[
        float | None,
        typer.Option(
            "--deadline", min=0.1, metavar="SECONDS", help="Give up a try after this long in all."
        ),
    ] = None,
    expect: Annotated[
        str | None, typer.Option("--expect", metavar="json", help="Check the answer is JSON.")
    ] = None,
    schema: Annotated[
        Path | None,
        typer.Option("--schema", metavar="FILE", help="Check the answer against a JSON Schema."),
    ] = None,
    max_cost: Annotated[
        str | None,
        typer.Option("--max-cost", metavar="USD", help="Refuse a run expected to cost more."),
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=1, help="Cap the answer's length.")
    ] = None,
    cache: Annotated[
        bool, typer.Option("--cache", help="Ask Anthropic to cache the system prompt.")
    ] = False,
    no_store: Annotated[
        bool,
        typer.Option("--no-store", help="Keep no prompt or answer text, only hashes (no -c)."),
    ] = False,
    no_stream: Annotated[
        bool, typer.Option("--no-stream", help="Print the answer only once it is complete.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the request (key redacted); send nothing.")
    ] = False,
    tags: Annotated[
        list[str] | None, typer.Option("--tag", help="Tag the attempts (repeatable).")
    ] = None,
    continue_last: Annotated[
        bool, typer.Option("--continue", "-c", help="Continue the last conversation.")
    ] = False,
    cid: Annotated[
        str | None, typer.Option("--cid", metavar="ID", help="Continue this conversation.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Nothing on stderr.")] = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send a prompt to the model the task needs; stream the answer; log every attempt.

    Retries 429s (honouring Retry-After), 5xx, timeouts and dropped connections with
    backoff; --escalate moves up a tier when a model keeps failing. stdout holds the
    answer alone. Example: echo "write tests for parse_duration" | tokenroute run --task test
    """
    from decimal import Decimal, InvalidOperation

    from tokenroute import views
    from tokenroute.advisor.policy import load_user_policy
    from tokenroute.dispatch import plan as run_flow
    from tokenroute.dispatch.attempts import RunOptions, dispatch
    from tokenroute.dispatch.budgets import read_budgets
    from tokenroute.dispatch.config import load_config, run_defaults
    from tokenroute.dispatch.endpoints import endpoint_specs
    from tokenroute.dispatch.keys import read_keys
    from tokenroute.dispatch.providers import served_models
    from tokenroute.settings import detect_project, resolve_paths

    check_tier(tier)
    if expect not in (None, "json"):
        raise UsageError(f"--expect takes json (got '{expect}')")
    budget = None
    if max_cost is not None:
        try:
            budget = Decimal(max_cost.removeprefix("$"))
        except InvalidOperation:
            budget = None
        if budget is None or not budget.is_finite() or budget <= 0:
            raise UsageError(
                f"--max-cost must be an amount in USD above 0, e.g. 0.05 (got '{max_cost}')"
            )
    paths = resolve_paths()
    config = load_config(paths.config)
    defaults = run_defaults(config)
    text = run_flow.read_prompt(prompt, sys.stdin)
    table = load_table()
    policy = load_user_policy(paths.policy, paths.cache)
    choice = run_flow.choose(
        text,
        model=model,
        task=task,
        tier=tier,
        escalate=escalate or policy.escalate,
        table=table,
        policy=policy,
        specs=endpoint_specs(config),
        environ=os.environ,
        stored_keys=read_keys(paths.keys),
        day=today(),
        cache=paths.cache,
        need_key=not dry_run,
        local=local,
        served=served_models if local else None,
    )
    chat = run_flow.conversation(lambda: open_existing(ledger), continue_last, cid)
    request = run_flow.build_request(
        text, system=system, max_tokens=max_tokens, cache_system=cache, history=chat.history
    )
    rule = policy.types.get(choice.task_type) if choice.task_type else None
    output_tokens = max_tokens or (rule.output_tokens if rule else 1000)
    project = detect_project(Path.cwd())
    choice, budget_warnings = _keep_to_budgets(
        choice, request, output_tokens, tuple(tags or ()), project, ledger, paths, table, config
    )
    if dry_run:
        expected = run_flow.expected_cost(choice, request, output_tokens, now())
        views.show_dry_run(choice, run_flow.dry_run(choice, request), expected, as_json=as_json)
        return
    options = RunOptions(
        retries=defaults.retries if retries is None else retries,
        timeout=defaults.timeout if timeout is None else timeout,
        deadline=defaults.deadline if deadline is None else deadline,
        retry_base=defaults.retry_base,
        max_wait=defaults.max_wait,
        expect_json=expect == "json" or schema is not None,
        check_json=run_flow.schema_checker(schema) if schema is not None else None,
        max_cost=budget,
        stream=not (as_json or no_stream or expect or schema),
        tags=tuple(tags or ()),
        conversation_id=chat.id,
        history_tokens=run_flow.history_tokens(chat.history) if chat.history else 0,
        prompt_hash=run_flow.text_hash(text),
        context_hash=run_flow.text_hash(system) if system else None,
    )
    talk = (lambda line: None) if quiet else views.notify
    talk(f"-> {choice.why}")
    for warning in budget_warnings:
        talk(f"warning: {warning}")
    task_record, own_task = run_flow.new_task(choice.task_type, project, now())
    store = open_for_writing(ledger)
    try:
        options = options._replace(
            budget_gate=run_flow.budget_gate(
                read_budgets(paths.budgets),
                _spend_from(store),
                task_type=choice.task_type,
                tags=options.tags,
                project=project,
                today=today,
            )
        )
        services = run_flow.make_services(
            store,
            price_revision=table.revision,
            write=run_flow.stdout_writer(),
            notify=talk,
            clock=now,
        )
        try:
            result = dispatch(
                request,
                choice.ladder,
                task_record,
                options,
                services,
                estimated_output=output_tokens,
            )
        except Exception as exc:
            if own_task:
                store.set_outcome(task_record.id, "failure", "run", stamp_now())
            so_far = getattr(exc, "run_so_far", None)
            if as_json and so_far is not None:  # the same object, with the error
                views.show_run(
                    so_far, task_record.id, chat.id, streamed=False, quiet=True, as_json=True,
                    error=exc,
                )  # fmt: skip
            raise
        stored = defaults.store_text and not no_store
        if stored:
            store.add_turn(chat.id, text, result.answer, stamp_now())
        if own_task:
            store.set_outcome(task_record.id, "success", "run", stamp_now())
    finally:
        store.close()
    views.show_run(
        result,
        task_record.id,
        chat.id,
        streamed=options.stream,
        quiet=quiet,
        as_json=as_json,
        stored=stored,
    )


def _keep_to_budgets(choice, request, output_tokens, tags, project, ledger, paths, table, config):
    """The run's choice after the budgets have had their say (refuse, or a cheaper tier)."""
    from tokenroute.dispatch import plan as run_flow
    from tokenroute.dispatch.budgets import read_budgets
    from tokenroute.dispatch.endpoints import endpoint_specs
    from tokenroute.dispatch.keys import read_keys

    budgets = read_budgets(paths.budgets)
    if not budgets:
        return choice, []
    store = open_existing(ledger)
    try:
        return run_flow.enforce_budgets(
            choice,
            budgets,
            _spend_from(store),
            request,
            output_tokens,
            now(),
            tags=tags,
            project=project,
            table=table,
            specs=endpoint_specs(config),
            environ=os.environ,
            stored_keys=read_keys(paths.keys),
        )
    finally:
        if store is not None:
            store.close()


def _spend_from(store):
    """USD spent since a day, per budget scope, from an open ledger (None: nothing yet)."""
    from decimal import Decimal

    def spend(scope, value, since) -> tuple[Decimal, int]:
        if store is None:
            return Decimal(0), 0
        micros, unpriced = store.spend_since(scope, value, since.isoformat())
        return Decimal(micros) / 1_000_000, unpriced

    return spend


def _burns(ledger: Path | None, budgets: list) -> list:
    """Each budget's spend so far, read with the ledger opened once."""
    from tokenroute.dispatch.budgets import burns

    if not budgets:
        return []
    store = open_existing(ledger)
    try:
        return burns(budgets, _spend_from(store), today())
    finally:
        if store is not None:
            store.close()


@budget_app.command("set")
def budget_set(
    daily: Annotated[
        str | None, typer.Option("--daily", metavar="USD", help="Limit per day.")
    ] = None,
    monthly: Annotated[
        str | None, typer.Option("--monthly", metavar="USD", help="Limit per calendar month.")
    ] = None,
    task_type: Annotated[
        str | None, typer.Option("--task-type", metavar="TYPE", help="Only this task type.")
    ] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Only attempts with this tag.")] = None,
    project: Annotated[str | None, typer.Option("--project", help="Only this project.")] = None,
    downgrade: Annotated[
        bool,
        typer.Option("--downgrade/--refuse", help="Over the limit: a cheaper tier, or refuse."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Set a daily and/or monthly limit (days and months in UTC); setting it again replaces it.

    Example: tokenroute budget set --daily 5 --monthly 100 --task-type code --downgrade
    """
    from tokenroute.dispatch.budgets import (
        Budget,
        parse_amount,
        read_budgets,
        replace_budget,
        write_budgets,
    )
    from tokenroute.settings import resolve_paths

    scope, value = _budget_scope(task_type, tag, project)
    if daily is None and monthly is None:
        raise UsageError("give --daily USD, --monthly USD, or both")
    budget = Budget(
        scope,
        value,
        parse_amount(daily, "--daily") if daily is not None else None,
        parse_amount(monthly, "--monthly") if monthly is not None else None,
        "downgrade" if downgrade else "refuse",
    )
    path = resolve_paths().budgets
    write_budgets(path, replace_budget(read_budgets(path), budget))
    _done(
        f"budget for {budget.label} set",
        {
            "budget": {
                "scope": scope,
                "value": value,
                "daily_limit_usd": budget.daily,
                "monthly_limit_usd": budget.monthly,
                "action": budget.action,
            }
        },
        as_json,
    )


def _done(said: str, body: dict, as_json: bool) -> None:
    """A change made: one line of talk on stderr, or with --json its object on stdout."""
    from tokenroute import render

    if as_json:
        render.emit_json(body)
    else:
        render.say(said)


@budget_app.command("list")
def budget_list(ledger: LedgerOpt = None, as_json: JsonOpt = False) -> None:
    """Every budget with what was spent so far today and this month (its burn)."""
    from tokenroute import views
    from tokenroute.dispatch.budgets import read_budgets
    from tokenroute.settings import resolve_paths

    views.show_budgets(_burns(ledger, read_budgets(resolve_paths().budgets)), as_json=as_json)


@budget_app.command("remove")
def budget_remove(
    task_type: Annotated[str | None, typer.Option("--task-type", metavar="TYPE")] = None,
    tag: Annotated[str | None, typer.Option("--tag")] = None,
    project: Annotated[str | None, typer.Option("--project")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove the budget of a scope (no option: the overall one)."""
    from tokenroute.dispatch.budgets import read_budgets, write_budgets
    from tokenroute.settings import resolve_paths

    scope, value = _budget_scope(task_type, tag, project)
    path = resolve_paths().budgets
    budgets = read_budgets(path)
    kept = [b for b in budgets if (b.scope, b.value) != (scope, value)]
    if len(kept) == len(budgets):
        raise NotFoundError("no such budget (see 'tokenroute budget list')")
    write_budgets(path, kept)
    _done("budget removed", {"removed": {"scope": scope, "value": value}}, as_json)


def _budget_scope(task_type: str | None, tag: str | None, project: str | None):
    given = [(s, v) for s, v in (("task_type", task_type), ("tag", tag), ("project", project)) if v]
    if len(given) > 1:
        raise UsageError("a budget covers one of --task-type, --tag or --project, not several")
    if task_type and task_type not in TASK_TYPES:
        raise UsageError(f"--task-type must be one of {', '.join(TASK_TYPES)} (got '{task_type}')")
    return given[0] if given else (None, None)


@app.command()
def doctor(
    network: Annotated[
        bool, typer.Option("--network", help="Also ask each endpoint with a key if it answers.")
    ] = False,
    local: Annotated[
        bool, typer.Option("--local", help="Also ask the local servers (Ollama, llama.cpp, ...).")
    ] = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check that run has what it needs: keys, config, prices, ledger, endpoints.

    Exit code 0 when nothing failed (warnings allowed), 9 when a check failed.
    """
    from tokenroute import views
    from tokenroute.dispatch import doctor as checks
    from tokenroute.dispatch.config import load_config
    from tokenroute.dispatch.endpoints import endpoint_specs, find_key, resolve_endpoint
    from tokenroute.dispatch.keys import read_keys
    from tokenroute.prices.table import STALE_AFTER_DAYS
    from tokenroute.settings import resolve_paths

    paths = resolve_paths()
    found: list[checks.Check] = []
    try:
        config = load_config(paths.config)
        specs = endpoint_specs(config)
        found.append(
            checks.Check(
                "config",
                str(paths.config),
                "ok",
                "found" if paths.config.exists() else "none (defaults)",
            )
        )
    except TokenrouteError as exc:
        found.append(checks.Check("config", str(paths.config), "fail", exc.message))
        config, specs = {}, endpoint_specs({})
    try:
        stored = read_keys(paths.keys)
    except TokenrouteError as exc:
        found.append(checks.Check("keys", str(paths.keys), "fail", exc.message))
        stored = {}
    found += checks.key_checks(specs, os.environ, stored)
    try:
        day = today()
        checked, _ = load_table().staleness(day)
        found.append(checks.price_check(checked, day, STALE_AFTER_DAYS))
    except TokenrouteError as exc:
        found.append(checks.Check("prices", "table", "fail", exc.message))
    found.append(_ledger_check(ledger_path(ledger)))
    if network or local:
        from tokenroute.dispatch.providers.wire import probe

        names = [
            n
            for n, spec in sorted(specs.items())
            if (spec.local and local)
            or (network and not spec.local and find_key(n, spec, os.environ, stored))
        ]
        found += checks.endpoint_checks(
            names,
            lambda n: probe(resolve_endpoint(n, specs, os.environ, stored)),
            local=frozenset(n for n in names if specs[n].local),
        )
    views.show_doctor(found, as_json=as_json)
    if any(c.status == "fail" for c in found):
        raise typer.Exit(ExitCode.CHECK_FAILED)


def _ledger_check(path: Path):
    from tokenroute.dispatch.doctor import Check
    from tokenroute.storage.sqlite import open_ledger

    try:
        store = open_ledger(path, create=False)
    except TokenrouteError as exc:
        return Check("ledger", str(path), "fail", exc.message)
    if store is None:
        return Check("ledger", str(path), "ok", "none yet: created by the first record or run")
    try:
        attempts = store.count_attempts()
    finally:
        store.close()
    return Check("ledger", str(path), "ok", f"{attempts:,} attempts")


ImportPathOpt = Annotated[
    list[Path] | None,
    typer.Option("--path", metavar="DIR", help="Read logs here instead (repeatable)."),
]
SinceOpt = Annotated[
    str | None, typer.Option("--since", metavar="DATE", help="Only calls from this day on.")
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Say what would be added; change nothing.")
]


@import_app.command("claude-code")
def import_claude_code(
    path: ImportPathOpt = None,
    since: SinceOpt = None,
    dry_run: DryRunOpt = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import Claude Code's session logs: each API call once, each session a task.

    Reads ~/.claude/projects and ~/.config/claude/projects (CLAUDE_CONFIG_DIR, a
    comma-separated list, replaces both). A second import reads only what was appended.
    """
    from tokenroute.ledger.importers import claude_code

    _import_logs(
        claude_code.SOURCE,
        path,
        claude_code.default_roots,
        claude_code.parse_file,
        since,
        dry_run,
        ledger,
        as_json,
    )


@import_app.command("codex")
def import_codex(
    path: ImportPathOpt = None,
    since: SinceOpt = None,
    dry_run: DryRunOpt = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import Codex CLI's session logs: each turn's tokens once, each session a task.

    Reads ~/.codex/sessions ($CODEX_HOME/sessions). Cached input is split out of input; a
    running total repeated without new usage counts once. Only appended lines are re-read.
    """
    from tokenroute.ledger.importers import codex

    _import_logs(
        codex.SOURCE, path, codex.default_roots, codex.parse_file, since, dry_run, ledger, as_json
    )


@import_app.command("jsonl")
def import_jsonl(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE...", help="JSON-lines files, as for record.")
    ],
    source: Annotated[
        str, typer.Option("--source", metavar="NAME", help="The source the calls are from.")
    ] = "jsonl",
    since: SinceOpt = None,
    dry_run: DryRunOpt = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import JSON lines in record's format from files, incrementally (only appended lines
    on the next run). A line's source_key, or its timestamp and bytes, count it once.
    """
    from tokenroute.ledger.importers import jsonl

    if not source.strip() or source in ("run", "record"):
        raise UsageError(f"--source must name the tool the calls came from (got '{source}')")
    for path in files:
        if not path.is_file():
            raise BadInputError(f"{path}: no such file")
    _import_logs(
        source.strip(),
        files,
        lambda env, home: [],
        jsonl.parse_file,
        since,
        dry_run,
        ledger,
        as_json,
    )


@import_app.command("llm")
def import_llm(
    path: Annotated[
        Path | None,
        typer.Option("--path", metavar="FILE", help="llm's logs.db (default: llm's own)."),
    ] = None,
    since: SinceOpt = None,
    dry_run: DryRunOpt = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import simonw/llm's logs.db: each logged response with token counts, once.

    Reads the responses table (and the older logs table); LLM_USER_PATH moves the default.
    Only rows added since the last import are read.
    """
    from tokenroute.ledger.importers import llm_logs

    if path is not None and not path.is_file():
        raise BadInputError(f"{path}: no such file (--path)")
    where = path or llm_logs.default_path(os.environ, Path.home())
    _import_logs(
        llm_logs.SOURCE,
        [where],
        lambda env, home: [],
        llm_logs.parse_file,
        since,
        dry_run,
        ledger,
        as_json,
        read=llm_logs.read_rows,
        locate=llm_logs.locate,
    )


def _import_logs(
    source: str,
    given: list[Path] | None,
    default_roots: Any,
    parse: Any,
    since: str | None,
    dry_run: bool,
    ledger: Path | None,
    as_json: bool,
    **reading: Any,
) -> None:
    """Read the logs under `roots` into the ledger and say what came of it."""
    from tokenroute import views
    from tokenroute.ledger.importers.files import log_files
    from tokenroute.ledger.importers.load import import_files

    missing = [str(p) for p in given or [] if not p.exists()]
    if missing:
        raise BadInputError(f"{missing[0]}: no such file or folder (--path)")
    roots = given or default_roots(os.environ, Path.home())
    files = log_files(roots)
    table = load_table()
    store = open_for_writing(ledger) if not dry_run else open_existing(ledger)
    try:
        with views.import_progress(len(files)) as advance:
            summary = import_files(
                source,
                files,
                parse,
                store,
                table,
                now(),
                since=parse_day(since, "--since") if since else None,
                dry_run=dry_run,
                progress=advance,
                **reading,
            )
    finally:
        if store is not None:
            store.close()
    views.show_import_summary(
        summary,
        [str(r) for r in roots],
        dry_run=dry_run,
        as_json=as_json,
        unit="rows" if source == "llm" else "lines",
    )
    if summary.rejected:  # the rest is in; the exit code says some lines were not
        raise typer.Exit(ExitCode.BAD_INPUT)


def stamp_now() -> str:
    from tokenroute.timewindow import stamp

    return stamp(now())


@keys_app.command("set")
def keys_set(
    name: Annotated[str, typer.Argument(help="The endpoint: openai, anthropic, google, ...")],
    as_json: JsonOpt = False,
) -> None:
    """Store a key for NAME (asked for without echo, or piped in). Never printed."""
    from tokenroute.dispatch.config import load_config
    from tokenroute.dispatch.endpoints import endpoint_specs
    from tokenroute.dispatch.keys import set_key
    from tokenroute.settings import resolve_paths

    paths = resolve_paths()
    specs = endpoint_specs(load_config(paths.config))
    if name not in specs:
        raise UsageError(f"no endpoint named '{name}': known are {', '.join(sorted(specs))}")
    if sys.stdin.isatty():
        import getpass

        key = getpass.getpass(f"{name} API key (not shown): ", stream=sys.stderr)
    else:
        key = sys.stdin.readline()
    set_key(paths.keys, name, key)
    _done(
        f"stored the key for {name} in {paths.keys}",
        {"key": {"endpoint": name, "stored_in": str(paths.keys)}},
        as_json,
    )


@keys_app.command("list")
def keys_list(as_json: JsonOpt = False) -> None:
    """Which endpoints have a key, and where it comes from (names only, never keys)."""
    from tokenroute import views
    from tokenroute.dispatch.config import load_config
    from tokenroute.dispatch.endpoints import effective_url, endpoint_specs, key_source
    from tokenroute.dispatch.keys import read_keys
    from tokenroute.dispatch.providers.base import shown_url
    from tokenroute.settings import resolve_paths

    paths = resolve_paths()
    specs = endpoint_specs(load_config(paths.config))
    stored = read_keys(paths.keys)
    rows = []
    for name, spec in sorted(specs.items()):
        source = key_source(name, spec, os.environ, stored)
        if spec.local and source is None:
            source = "not needed (local)"
        url = shown_url(effective_url(spec, os.environ))
        rows.append({"endpoint": name, "key_source": source, "base_url": url})
    views.show_keys(rows, as_json=as_json)


@keys_app.command("remove")
def keys_remove(
    name: Annotated[str, typer.Argument(help="The endpoint whose key to forget.")],
    as_json: JsonOpt = False,
) -> None:
    """Forget the stored key for NAME (environment variables are yours to unset)."""
    from tokenroute.dispatch.keys import remove_key
    from tokenroute.settings import resolve_paths

    if not remove_key(resolve_paths().keys, name):
        raise NotFoundError(f"no stored key for '{name}' (see 'tokenroute keys list')")
    _done(f"removed the key for {name}", {"removed": {"endpoint": name}}, as_json)


@config_app.command("path")
def config_path(as_json: JsonOpt = False) -> None:
    """Print where the config file is (it need not exist yet)."""
    from tokenroute import render
    from tokenroute.settings import resolve_paths

    path = resolve_paths().config
    if as_json:
        render.emit_json({"path": str(path)})
    else:
        sys.stdout.write(f"{path}\n")


@config_app.command("show")
def config_show(as_json: JsonOpt = False) -> None:
    """Show the settings in force: run defaults and every endpoint (no keys)."""
    from tokenroute import render
    from tokenroute.dispatch.config import load_config, run_defaults
    from tokenroute.dispatch.endpoints import effective_url, endpoint_specs
    from tokenroute.dispatch.providers.base import shown_url
    from tokenroute.settings import resolve_paths

    config = load_config(resolve_paths().config)
    shown = {
        **run_defaults(config)._asdict(),
        "endpoints": {
            name: {
                "protocol": spec.protocol,
                "base_url": shown_url(effective_url(spec, os.environ)),
                "local": spec.local,
            }
            for name, spec in sorted(endpoint_specs(config).items())
        },
    }
    if as_json:
        render.emit_json({"config": shown})
        return
    import yaml

    sys.stdout.write(yaml.safe_dump(shown, sort_keys=False))


@config_app.command("edit")
def config_edit() -> None:
    """Open the config file in $EDITOR (created with the defaults when missing)."""
    import shlex
    import subprocess

    from tokenroute.dispatch.config import load_config, write_default_config
    from tokenroute.settings import resolve_paths

    path = resolve_paths().config
    if not path.exists():
        write_default_config(path)
    variable = "VISUAL" if os.environ.get("VISUAL") else "EDITOR"
    editor = os.environ.get(variable) or "vi"
    try:
        command = shlex.split(editor)
        subprocess.run([*command, str(path)], check=False)
    except (OSError, ValueError, IndexError) as exc:
        reason = getattr(exc, "strerror", None) or "not a command line"
        raise UsageError(
            f"cannot start the editor {editor!r} (${variable}): {reason}; set $EDITOR to "
            f"one that is installed, or edit {path} yourself"
        ) from None
    load_config(path)  # say now, not at the next run, if the edit broke it


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
    typer.main.get_command(_app_for(sys.argv[1:])).main(prog_name=PROG)


def _app_for(argv: list[str]) -> typer.Typer:
    """The app with only the command being run, when argv names one: click then builds one
    command instead of all of them (~8 ms of every start-up). Help, completions, and unknown
    names get the whole app, so listings and "did you mean" still see every command."""
    name = next((a for a in argv if not a.startswith("-")), None)
    if name is None:
        return _summary_app()
    if name == "completions":
        return app
    commands = [c for c in app.registered_commands if (c.name or c.callback.__name__) == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if not commands and not groups:
        return app
    only = typer.Typer()
    only.__dict__.update(app.__dict__)
    only.registered_commands, only.registered_groups = commands, groups
    return only


def _summary_app() -> typer.Typer:
    """The app as its own help screen (and --version) needs it: each command's name and
    docstring without its options, whose building is most of `tokenroute --help`'s time."""

    def summary_of(callback: Any) -> Any:
        def stub() -> None:  # pragma: no cover - never invoked: no command word was given
            raise AssertionError("a summary command ran")

        stub.__name__, stub.__doc__ = callback.__name__, callback.__doc__
        return stub

    summary = typer.Typer()
    summary.__dict__.update(app.__dict__)
    summary.registered_commands = [copy.copy(info) for info in app.registered_commands]
    for info in summary.registered_commands:
        info.callback = summary_of(info.callback)
    summary.registered_groups = []
    for group in app.registered_groups:
        empty = typer.Typer()
        empty.__dict__.update(group.typer_instance.__dict__)
        empty.registered_commands, empty.registered_groups = [], []
        summary.registered_groups.append(copy.copy(group))
        summary.registered_groups[-1].typer_instance = empty
    return summary
