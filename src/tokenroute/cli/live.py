"""A live view, for `tokenroute report --watch`: redrawn every few seconds until Ctrl-C (or
q), after a refresh (re-importing agents' logs, to follow a running session).

On a terminal it is a full-screen rich view redrawn in place (the alternate screen, so the
shell's screen comes back afterwards), with keys: q quits, p pauses. In a pipe the frames
are the same text `report` and `log` print, one after another.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from tokenroute.errors import Terminated

CLEAR = "\x1b[H\x1b[2J"
RESIZE_CHECK = 0.25  # seconds between looks at the terminal's size while waiting


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


def watch_screen(
    read: Callable[[], Any],
    draw: Callable[[Any, bool, int, int], Any],
    *,
    interval: float,
    count: int | None,
) -> None:
    """Full screen: `read()` the figures (refreshing first), `draw(figures, paused, width,
    height)` them, every `interval` seconds; q quits, p pauses (the figures stay as they
    were until p again). Ctrl-C ends it quietly, as in a pipe."""
    from rich.console import Console
    from rich.live import Live

    console = Console(highlight=False, no_color="NO_COLOR" in os.environ or None)
    paused, drawn, figures = False, 0, None
    # --count N ends on its last frame, left on the terminal: no alternate screen then
    live = Live(console=console, screen=count is None, auto_refresh=False, redirect_stderr=False)

    def redraw() -> None:
        live.update(draw(figures, paused, console.width, console.height), refresh=True)

    try:
        with _keys() as key_within, live:
            while count is None or drawn < count:
                if not paused:
                    figures = read()
                redraw()
                drawn += 1
                deadline, size = time.monotonic() + interval, console.size
                while count is None or drawn < count:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    key = key_within(min(left, RESIZE_CHECK))
                    if key == "q":
                        return
                    if key == "p":
                        paused = not paused
                        redraw()
                    elif console.size != size:  # the terminal was resized: fit it now
                        size = console.size
                        redraw()
    except KeyboardInterrupt as exc:
        if isinstance(exc, Terminated):
            raise


@contextlib.contextmanager
def _keys() -> Iterator[Callable[[float], str | None]]:
    """A function that waits up to N seconds for one key (lower-cased) and returns it, or
    None. The terminal is in cbreak mode meanwhile (keys arrive unbuffered, Ctrl-C still
    interrupts) and restored after; with no terminal on stdin it only waits."""
    try:
        import select
        import termios
        import tty
    except ImportError:  # Windows: no keys, only the interval
        termios = None  # type: ignore[assignment]
    if termios is None or sys.stdin is None or not sys.stdin.isatty():  # closed, a pipe
        yield lambda seconds: time.sleep(seconds)
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    try:

        def key_within(seconds: float) -> str | None:
            ready, _, _ = select.select([fd], [], [], seconds)
            if not ready:
                return None
            return os.read(fd, 1).decode("utf-8", "ignore").lower() or None

        yield key_within
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def captured(show: Callable[[], None]) -> str:
    """What a view prints (stdout and stderr, as in a pipe), as text for a frame."""
    both = io.StringIO()  # in the order printed: a table's title (talk) stays above it
    with contextlib.redirect_stdout(both), contextlib.redirect_stderr(both):
        show()
    return both.getvalue()
