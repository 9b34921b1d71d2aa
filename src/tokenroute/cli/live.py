"""A live view, for `tokenroute report --watch`: a frame redrawn every few seconds until
Ctrl-C, after a refresh (re-importing agents' logs, to follow a running session).

Each frame is the same text `report` and `log` print in a pipe, so the live view and the
one-off commands never disagree. On a terminal the screen is redrawn in place; in a pipe the
frames follow one another.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
from collections.abc import Callable

from tokenroute.errors import Terminated

CLEAR = "\x1b[H\x1b[2J"


def watch(
    frame: Callable[[], str],
    *,
    interval: float,
    count: int | None,
    refresh: Callable[[], None] = lambda: None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Draw `frame()` every `interval` seconds until Ctrl-C (or `count` frames)."""
    drawn = 0
    try:
        while count is None or drawn < count:
            if drawn:
                sleep(interval)
            refresh()
            text = frame()
            if sys.stdout.isatty():
                sys.stdout.write(CLEAR + text)
            else:
                sys.stdout.write(text + "\n")
            sys.stdout.flush()
            drawn += 1
    except KeyboardInterrupt as exc:  # Ctrl-C, the usual way out of a live view: no error
        if isinstance(exc, Terminated):  # SIGTERM or SIGHUP: the boundary says which
            raise
        sys.stdout.write("\n")


def captured(show: Callable[[], None]) -> str:
    """What a view prints (stdout and stderr, as in a pipe), as text for a frame."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        show()
    return err.getvalue() + out.getvalue()
