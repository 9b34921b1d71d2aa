"""What every command reads from where it runs: the clock, the price table in use, the
ledger's path, and the terminal for a question. No typer: pick's fast path uses it too.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tokenroute.errors import BadInputError, UsageError
from tokenroute.taxonomy import TIERS

if TYPE_CHECKING:
    from tokenroute.prices.table import PriceTable
    from tokenroute.storage.identity import Writer
    from tokenroute.storage.location import Location

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


def writer_identity(flag: str | None = None) -> Writer:
    """Who this process records calls as: --user, TOKENROUTE_USER, the config's `user`, or
    the login name; and the host (TOKENROUTE_HOST, or this machine's name)."""
    import getpass
    import socket

    from tokenroute.storage.identity import Writer

    user = flag or os.environ.get("TOKENROUTE_USER") or _configured_user()
    if not user:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no login name (a container's unnamed uid)
            user = None
    return Writer(user or None, os.environ.get("TOKENROUTE_HOST") or socket.gethostname() or None)


def _configured_user() -> str | None:
    from tokenroute.dispatch.config import configured_user, load_config
    from tokenroute.settings import resolve_paths

    return configured_user(load_config(resolve_paths().config))


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
    from tokenroute.cli import render
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


def stamp_now() -> str:
    from tokenroute.timewindow import stamp

    return stamp(now())


def ledger_path(option: str | Path | None, *, broken_config_ok: bool = False) -> Location:
    """The ledger in use: --ledger, else TOKENROUTE_LEDGER, else the config's `ledger:`,
    else the file under the data folder. A postgresql:// URL names a team's database.
    An unreadable config stops the command (its calls could land in the wrong ledger),
    except for doctor, whose job is to say what is wrong with it."""
    from tokenroute.storage.location import ledger_location

    if option is not None:
        return ledger_location(option)
    if os.environ.get("TOKENROUTE_LEDGER"):
        return ledger_location(os.environ["TOKENROUTE_LEDGER"], "TOKENROUTE_LEDGER")
    from tokenroute.settings import resolve_paths

    where = resolve_paths()
    if where.config.exists():
        from tokenroute.dispatch.config import configured_ledger, load_config

        try:
            configured = configured_ledger(load_config(where.config))
        except BadInputError:
            if not broken_config_ok:
                raise
            configured = None
        if configured is not None:
            return ledger_location(configured, f"{where.config}: ledger")
    return where.ledger


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
