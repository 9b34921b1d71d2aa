"""Time: UTC timestamps as the ledger stores them, and the report window a user asks for."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from tokenroute.errors import UsageError

_LAST = re.compile(r"^(\d+)([hdw])$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def stamp(moment: datetime) -> str:
    """UTC ISO-8601 with milliseconds and a Z: sorts as text; SQLite's date functions read it."""
    utc = moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
    return utc.isoformat(timespec="milliseconds") + "Z"


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})?)?$")
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # before any LLM API bill; catches typos


def parse_moment(value: str, option: str) -> datetime:
    """A date or date-time, in UTC (naive values are UTC). Errors name the option."""
    text = value.strip()
    problem = f"{option} must be a date or time like 2025-06-01 or 2025-06-01T14:30:00Z"
    if not _ISO.match(text):
        raise UsageError(f"{problem} (got '{value}')")
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
        moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise UsageError(f"{problem} (got '{value}')") from None
    if moment < EARLIEST:
        raise UsageError(f"{option} must be in 2000 or later (got '{value}')")
    return moment


@dataclass(frozen=True)
class Window:
    """[start, end) in UTC; None means unbounded on that side."""

    start: datetime | None
    end: datetime | None

    @property
    def start_stamp(self) -> str | None:
        return None if self.start is None else stamp(self.start)

    @property
    def end_stamp(self) -> str | None:
        return None if self.end is None else stamp(self.end)


def report_window(last: str | None, since: str | None, until: str | None, now: datetime) -> Window:
    """The window of `--last 30d` or `--since/--until` (dates inclusive); all time by default."""
    if last is not None and (since is not None or until is not None):
        raise UsageError("give either --last or --since/--until, not both")
    if last is not None:
        match = _LAST.match(last.strip())
        if match and len(match.group(1)) > 12:  # more hours than dates hold: all time
            return Window(EARLIEST, None)
        if not match or int(match.group(1)) == 0:
            raise UsageError(f"--last must look like 7d, 30d, 12h or 2w (got {last!r})")
        try:
            return Window(max(now - int(match.group(1)) * _UNITS[match.group(2)], EARLIEST), None)
        except OverflowError:  # --last 1000000000d: further back than dates go
            return Window(EARLIEST, None)
    start = _day_edge(since, "--since", end=False) if since else None
    end = _day_edge(until, "--until", end=True) if until else None
    if start is not None and end is not None and start >= end:
        raise UsageError(f"--since ({since}) is after --until ({until})")
    return Window(start, end)


def _day_edge(value: str, option: str, *, end: bool) -> datetime:
    """A bare date means the whole day: --until 2025-06-01 includes all of June 1st."""
    moment = parse_moment(value, option)
    if len(value.strip()) == 10:  # YYYY-MM-DD: parse_moment accepts no other 10-character form
        day = date.fromisoformat(value.strip())
        if end and day == date.max:  # --until 9999-12-31: the end of time
            return datetime.max.replace(tzinfo=UTC)
        moment = datetime.combine(day + timedelta(days=1) if end else day, time(), UTC)
    return moment
