"""The typer app: every command in its place, and the boundary each run goes through.

The commands live in commands/, one module per group; each parses its options, calls one
function of its part and renders. Heavy modules (yaml, rich, tiktoken) are imported inside
the commands that need them, so `tokenroute --help` starts fast.
"""

import copy
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from tokenroute import __version__
from tokenroute.cli.boundary import PROG, PipeClosed, fail, guarded, stopped_by_signal
from tokenroute.cli.commands import (
    budget,
    calls,
    compare,
    completions,
    config,
    doctor,
    export,
    imports,
    keys,
    pick,
    prices,
    report,
    run,
)
from tokenroute.errors import ExitCode, UsageError

try:  # typer >= 0.26 vendors click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older typer uses click itself
    from click.exceptions import ClickException

COMMAND_ORDER = (
    "pick",
    "run",
    "compare",
    "prices",
    "estimate",
    "record",
    "task",
    "mark",
    "report",
    "log",
    "forget",
    "import",
    "export",
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


app.command("pick")(pick.pick)
app.command("run")(run.run)
app.command("compare", help=compare.HELP)(compare.compare)
app.add_typer(prices.group, name="prices")
app.command("estimate")(prices.estimate)
app.command("record")(calls.record)
app.add_typer(calls.task_group, name="task")
app.command("mark")(calls.mark)
app.command("report", help=report.HELP)(report.report)
app.command("log")(calls.log)
app.command("forget")(calls.forget)
app.add_typer(imports.group, name="import")
app.add_typer(export.group, name="export")
app.add_typer(budget.group, name="budget")
app.add_typer(keys.group, name="keys")
app.add_typer(config.group, name="config")
app.command("doctor")(doctor.doctor)
app.command("paths")(config.paths)
app.command("completions")(completions.completions)


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
    user: Annotated[
        str | None,
        typer.Option(
            "--user",
            metavar="NAME",
            help="Record calls as made by NAME (default: TOKENROUTE_USER, config, login name).",
        ),
    ] = None,
) -> None:
    """Pick the model a job needs, and learn what each task really cost."""
    from tokenroute.cli.context import writer_identity
    from tokenroute.storage import identity

    if user is not None and not user.strip():
        raise UsageError("--user needs a name (or leave it out: the login name is used)")
    identity.use(lambda: writer_identity(user.strip() if user else None))


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
