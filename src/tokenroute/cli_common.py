"""Command-line helpers that need no argument parser: the error boundary, clocks, the price
table and ledger in use.

They live apart from cli.py so that the fast path for `tokenroute pick` (entry.py) can use
them without importing typer, which alone costs about four times Python's own start-up.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

from tokenroute.errors import ExitCode, Terminated, TokenrouteError, UsageError
from tokenroute.taxonomy import TIERS

if TYPE_CHECKING:
    from tokenroute.prices.table import PriceTable

PROG = "tokenroute"
T = TypeVar("T")


def fail(message: str, code: ExitCode, debug: bool) -> NoReturn:
    """One line on stderr and the exit code; the traceback only with --debug."""
    if debug:
        import traceback

        traceback.print_exc()
    from tokenroute.render import printable

    sys.stderr.write(f"{PROG}: error: {printable(message)}\n")
    sys.exit(code)


class PipeClosed(Exception):
    """stdout's reader went away (typer would turn the BrokenPipeError into exit 1)."""


def guarded(call: Callable[[], T], debug: bool) -> T:
    """Run a command; every failure becomes one line on stderr and a meaningful exit code."""
    _catch_termination()
    if sys.stdout is None:  # `tokenroute log >&-`: no stdout at all, as a closed pipe
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    try:
        result = call()
        sys.stdout.flush()  # a closed pipe shows here, not at exit as a Python warning
        return result
    except TokenrouteError as exc:
        fail(exc.message, exc.exit_code, debug)
    except (BrokenPipeError, PipeClosed):  # `tokenroute log | head -1`: the reader had enough
        _quiet_stdout()
        sys.exit(ExitCode.OK)
    except Terminated as exc:
        _stopped(exc.signum, debug)
    except KeyboardInterrupt:
        fail("interrupted", ExitCode.INTERRUPTED, debug)
    except OSError as exc:  # a file we cannot read or write: say which, and why
        fail(describe_os_error(exc), ExitCode.BAD_INPUT, debug)
    except Exception as exc:
        if type(exc).__module__ == "sqlite3":  # a full disk, a read-only or locked ledger
            fail(f"the ledger cannot be used: {exc}", ExitCode.LEDGER, debug)
        fail(
            f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
            ExitCode.INTERNAL,
            debug,
        )


def describe_os_error(exc: OSError) -> str:
    """'cannot use FILE: Permission denied', naming the file when the error knows it."""
    reason = exc.strerror or str(exc)
    if exc.filename is None:
        return reason
    return f"cannot use {exc.filename}: {reason}"


RECEIVED: list[int] = []  # the signals that stopped this command, for BoundaryGroup


def stopped_by_signal() -> None:
    """After typer turned a Terminated into its exit code 130: say which signal it was."""
    if RECEIVED:
        _stopped(RECEIVED[-1], False)


def _stopped(signum: int, debug: bool) -> NoReturn:
    code = ExitCode.HUNG_UP if signum == signal.SIGHUP else ExitCode.TERMINATED
    fail(f"stopped by {signal.Signals(signum).name}", code, debug)


def _catch_termination() -> None:
    """SIGTERM and SIGHUP end a command as Ctrl-C does (see errors.Terminated)."""

    def stop(signum: int, _frame: object) -> None:
        RECEIVED.append(signum)
        raise Terminated(signum)

    try:
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, stop)
    except ValueError:  # not the main thread (a test runner's worker): leave them be
        pass


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


CLOCK_VARIABLE = "TOKENROUTE_NOW"


def now() -> datetime:
    """The CLI's one clock: the machine's, or the moment TOKENROUTE_NOW names.

    Setting it replays a day (a report "as of" then) and pins every test to a fixed day;
    nothing below the CLI reads the time itself.
    """
    pinned = os.environ.get(CLOCK_VARIABLE)
    if not pinned:
        return datetime.now(UTC)
    from tokenroute.timewindow import parse_moment

    return parse_moment(pinned, CLOCK_VARIABLE)


def today() -> date:
    return now().date()


def parse_day(value: str | None, option: str = "--at") -> date:
    """A YYYY-MM-DD day; without one, today in UTC (the ledger's clock)."""
    if value is None:
        return today()
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} must be a date like 2025-06-01 (got '{value}')") from None


def check_tier(tier: str | None) -> None:
    if tier is not None and tier not in TIERS:
        raise UsageError(f"--tier must be one of {', '.join(TIERS)} (got '{tier}')")


def shipped_tables() -> Path:
    """The shipped tables, or the folder TOKENROUTE_PRICING_DIR names in their place."""
    from tokenroute.prices.table import shipped_dir

    return Path(os.environ.get("TOKENROUTE_PRICING_DIR") or shipped_dir())


def load_table() -> PriceTable:
    """The price table in use, with a warning on stderr when it has gone stale."""
    from tokenroute import render
    from tokenroute.prices import table as pricing
    from tokenroute.settings import resolve_paths

    where = resolve_paths()
    table = pricing.load_price_table(shipped_tables(), where.prices, cache=where.cache)
    day = today()
    checked, model = table.staleness(day)
    age = (day - checked).days
    if age > pricing.STALE_AFTER_DAYS:
        which = f" (that of {model.id})" if model is not None else ""
        fix = "update tokenroute or run 'tokenroute prices import'"
        if model is not None and not model.source.startswith(str(shipped_tables())):
            fix = f"check it and update 'checked' in {model.source}"  # the user's own table
        render.warn(
            f"the oldest price in use{which} was last checked on {checked} ({age} days ago); "
            f"prices may have changed: {fix}"
        )
    return table


def ledger_path(option: Path | None) -> Path:
    from tokenroute.settings import resolve_paths

    return option if option is not None else resolve_paths().ledger


def ask_yes_no(question: str) -> bool:
    """A screening question on the terminal; the prompt goes to stderr, stdout stays data.

    The answer is awaited in short select() slices rather than one blocking read: a Ctrl-C
    that lands between Python's last signal check and the read would otherwise be lost
    until the next key (1 in 10 under load), and pick would seem to ignore it."""
    import select

    while True:
        sys.stderr.write(f"{question} [y/N]: ")
        sys.stderr.flush()
        descriptor = sys.stdin.fileno()
        while not select.select([descriptor], [], [], 0.2)[0]:
            pass  # each pass returns to Python, where a pending SIGINT is raised
        # a terminal gives one line per read; unbuffered, so the next question's select
        # sees what was typed ahead
        line = os.read(descriptor, 4096).decode("utf-8", "replace")
        if not line:  # Ctrl-D: no answer, as Ctrl-C
            sys.stderr.write("\n")
            raise KeyboardInterrupt
        answer = line.strip().lower()
        if answer in ("", "n", "no"):
            return False
        if answer in ("y", "yes"):
            return True
        sys.stderr.write("please answer y or n\n")
