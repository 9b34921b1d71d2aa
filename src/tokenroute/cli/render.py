"""Turn results into text. stdout carries data, stderr carries talk.

On a terminal tables are drawn with rich; in a pipe they are plain aligned columns with no
colour or box characters, so `grep`, `awk` and `cut` work on them. `--json` output always
has a `version` key so scripts can rely on its shape.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, NamedTuple, TextIO

JSON_VERSION = 2  # 2: one vocabulary for tokens and money (see the README)


class Column(NamedTuple):
    header: str
    numeric: bool = False


def emit_json(payload: dict[str, Any], out: TextIO | None = None) -> None:
    stream = out or sys.stdout
    stream.write(json_text({"version": JSON_VERSION, **payload}) + "\n")


def json_text(body: Any) -> str:
    """JSON with every Decimal (money, rates) as a plain number: 0.000063, never 6.3e-05,
    and exact (a float would round it). json cannot be told to write a number as given, so
    each Decimal goes out as a string holding a marker drawn afresh for this call (no text
    from a log can know it), and the marked strings become bare numbers afterwards."""
    import secrets

    mark = f"~{secrets.token_hex(12)}~"

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return mark + _plain_number(value) if value.is_finite() else None
        if hasattr(value, "isoformat"):
            return value.isoformat()
        raise TypeError(f"cannot turn {type(value).__name__} into JSON")

    text = json.dumps(body, indent=2, default=default, ensure_ascii=False)
    if mark not in text:
        return text
    return re.sub(rf'"{mark}(-?[0-9]+(?:\.[0-9]+)?)"', r"\1", text)


def _plain_number(value: Decimal) -> str:
    plain = format(value, "f")
    if "." in plain:
        plain = plain.rstrip("0").rstrip(".")
    return plain if plain not in ("", "-0") else "0"


def printable(text: str) -> str:
    """`text` with every control character shown as an escape: a model or project name
    from a log can hold ESC sequences that would drive the terminal, or a line break."""
    if text.isprintable():
        return text
    import unicodedata

    return "".join(
        repr(ch)[1:-1] if unicodedata.category(ch) == "Cc" or ch in _BIDI else ch for ch in text
    )


# right-to-left overrides and isolates: they reorder what the terminal shows
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def say(message: str) -> None:
    """One line of talk for the user, on stderr."""
    sys.stderr.write(printable(message) + "\n")


def warn(message: str) -> None:
    say(f"tokenroute: warning: {message}")


def emit_table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    out: TextIO | None = None,
) -> None:
    stream = out or sys.stdout
    rows = [[printable(cell) for cell in row] for row in rows]
    if _is_terminal(stream):
        _rich_table(columns, rows, title, stream)
    else:
        if title:
            say(title)  # in a pipe the title is talk: stdout stays rows only
        _plain_table(columns, rows, stream)


def emit_lines(lines: Sequence[str], out: TextIO | None = None) -> None:
    stream = out or sys.stdout
    for line in lines:
        stream.write(printable(line) + "\n")


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _plain_table(columns: Sequence[Column], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    cells = [[c.header for c in columns], *[list(r) for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    for row in cells:
        parts = [
            value.rjust(width) if column.numeric else value.ljust(width)
            for value, width, column in zip(row, widths, columns, strict=True)
        ]
        out.write("  ".join(parts).rstrip() + "\n")


def _rich_table(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], title: str | None, out: TextIO
) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    plain = "NO_COLOR" in os.environ
    console = Console(file=out, highlight=False, no_color=plain)
    table = Table(
        title=title,
        title_justify="left",
        header_style="" if plain else "bold",
        title_style="" if plain else "italic",
    )
    for index, column in enumerate(columns):
        table.add_column(
            column.header, justify="right" if column.numeric else "left", no_wrap=index == 0
        )
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # a name like "[red]x" is no markup
    console.print(table)


def usd_rate(value: Decimal | None) -> str:
    """A price per 1M tokens: $3.00, $0.075, $0.0375."""
    if value is None:
        return "-"
    text = format(value.normalize(), "f")
    whole, _, fraction = text.partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


def usd_amount(value: Decimal | None) -> str:
    """A cost: cents for large amounts, more digits for the fractions of a cent calls cost."""
    if value is None:
        return "unknown"
    if value == 0:
        return "$0"
    if value < 0:  # a saving that is a loss: -$24.27, not $-24.270689
        return "-" + usd_amount(-value)
    places = 2 if value >= 1 else 4 if value >= Decimal("0.01") else 6
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding="ROUND_HALF_UP")
    return f"${rounded:,.{places}f}"


def usd(micros: int | None) -> Decimal | None:
    """The ledger's integer micro-dollars as dollars (None: the price is unknown)."""
    return None if micros is None else Decimal(micros) / 1_000_000


def count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def tokens_short(value: int | None) -> str:
    """A context window as people say it: 200k, 128k (131,072), 1M (1,048,576)."""
    if value is None:
        return "-"
    for unit, size in (("M", 1_000_000), ("M", 1_048_576), ("k", 1000), ("k", 1024)):
        if value >= size and value % size == 0:
            return f"{value // size}{unit}"
    if value >= 1_000_000:
        return f"{value / 1_000_000:.2f}M"
    return f"{round(value / 1000)}k" if value >= 1000 else str(value)


_BARS = " ▁▂▃▄▅▆▇█"


def spend_chart(daily: Sequence[tuple[Any, Decimal]], *, by_day: bool) -> list[str]:
    """A sparkline of daily spend, on a terminal only: asked for (--by day) or room for it."""
    import shutil

    if not daily or not _is_terminal(sys.stdout):
        return []
    if not by_day and shutil.get_terminal_size().columns < 100:
        return []
    if by_day:
        return ["", "Daily spend", *day_bars(daily, shutil.get_terminal_size().columns)]
    top = max(spend for _, spend in daily) or Decimal(1)
    bars = "".join(_BARS[round(spend / top * (len(_BARS) - 1))] for _, spend in daily)
    first, last = daily[0][0], daily[-1][0]
    return ["", f"Daily spend {first} to {last} (max {usd_amount(top)}/day)", bars]


MAX_BAR_DAYS = 62  # --by day on a terminal: a bar per day for the last two months at most
EIGHTHS = " ▏▎▍▌▋▊▉"


def day_bars(daily: Sequence[tuple[Any, Decimal]], columns: int) -> list[str]:
    """A horizontal bar per day, in eighths of a cell, scaled to the dearest day."""
    shown = list(daily)[-MAX_BAR_DAYS:]
    if not shown:
        return []
    labels = [usd_amount(spend) for _, spend in shown]
    width = max(len(label) for label in labels)
    labels = [label.rjust(width) for label in labels]  # the amounts line up
    room = max(10, columns - 12 - width - 2)
    top = max(spend for _, spend in shown) or Decimal(1)
    lines = []
    for (day, spend), label in zip(shown, labels, strict=True):
        eighths = round(spend / top * room * 8)
        bar = "█" * (eighths // 8) + (EIGHTHS[eighths % 8] if eighths % 8 else "")
        lines.append(f"{day}  {bar.ljust(room)}  {label}")
    return lines


@contextmanager
def progress(total: int, label: str, *, after: float = 1.0) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr for work that outlasts `after` seconds; silent in a pipe or
    for quick work, and rich is imported only once a bar is shown."""
    started = time.monotonic()
    done = 0
    bar: Any = None
    task: Any = None

    def advance(count: int) -> None:
        nonlocal done, bar, task
        done += count
        if bar is None:
            if not sys.stderr.isatty() or time.monotonic() - started < after:
                return
            from rich.console import Console
            from rich.progress import Progress

            bar = Progress(console=Console(stderr=True), transient=True)
            bar.start()
            task = bar.add_task(label, total=total)
        bar.update(task, completed=done)

    try:
        yield advance
    finally:
        if bar is not None:
            bar.stop()


def describe_filters(
    provider: str | None, tier: str | None, models: list[str] | None = None
) -> str:
    """ "of anthropic in tier mid ": the filters a "no model ... had a price" names."""
    parts = [f"of {provider}" if provider else "", f"in tier {tier}" if tier else ""]
    if models:
        parts.append(f"among {', '.join(models)}")
    return "".join(f"{p} " for p in parts if p)
