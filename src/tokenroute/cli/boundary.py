"""The one error boundary: every failure becomes one line on stderr and an exit code.

Apart from app.py so that pick's fast path (fast_pick.py) can use it without typer, which
alone costs about four times Python's own start-up.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import NoReturn, TypeVar

from tokenroute.errors import ExitCode, Terminated, TokenrouteError

PROG = "tokenroute"
T = TypeVar("T")


def fail(message: str, code: ExitCode, debug: bool) -> NoReturn:
    """One line on stderr and the exit code; the traceback only with --debug."""
    if debug:
        import traceback

        traceback.print_exc()
    from tokenroute.cli.render import printable

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
