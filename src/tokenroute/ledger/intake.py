"""`record`'s workflow: read calls (JSON lines), price them, store them together."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from tokenroute.ledger.calls import MAX_LINE, Call, CallError, call_from_line, price_call
from tokenroute.models import Attempt
from tokenroute.prices.table import PriceTable


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str


@dataclass(frozen=True)
class Recorded:
    attempt: Attempt
    id: int | None  # None: the same call (source, source_key) was already in the ledger
    number: int | None
    warnings: list[str]


def read_call_lines(
    stream: BinaryIO, now: datetime, defaults: Mapping[str, Any]
) -> tuple[list[Call], list[Rejected]]:
    """Every good line as a call; every bad one with its line number and what is wrong.

    Bytes, line by line: one line that is not UTF-8, or too long, costs only itself. A line
    with no end (`record < /dev/zero`) stops the reading after MAX_SKIP bytes."""
    calls, rejected = [], []
    number = 0
    while True:
        line = stream.readline(MAX_LINE + 1)
        if not line:
            break
        number += 1
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            if _skip_rest(stream):
                rejected.append(Rejected(number, f"the line is over {MAX_LINE:,} bytes"))
                continue
            rejected.append(Rejected(number, f"no line break in {MAX_SKIP:,} bytes: stopped"))
            break
        if not line.strip():
            continue
        try:
            calls.append(call_from_line(line, now, defaults))
        except CallError as exc:
            rejected.append(Rejected(number, str(exc)))
    return calls, rejected


MAX_SKIP = 20_000_000  # bytes of one overlong line read past before giving up


def _skip_rest(stream: BinaryIO) -> bool:
    """Read to the end of an overlong line; False when no end came within MAX_SKIP bytes."""
    skipped = 0
    while skipped < MAX_SKIP:
        chunk = stream.readline(1 << 20)
        if not chunk or chunk.endswith(b"\n"):
            return True
        skipped += len(chunk)
    return False


def record_calls(
    ledger,
    table: PriceTable,
    calls: Iterable[Call],
    project: str | None,
    *,
    source: str = "record",
) -> list[Recorded]:
    """Price every call and store them in one transaction: a `record` killed half way has
    stored nothing, so running it again stores each line once (a line with neither a
    source_key nor a timestamp could not be told apart from a new call)."""
    priced = [price_call(call, table, source=source, project=project) for call in calls]
    return _store(ledger, priced) if priced else []


def _store(ledger, priced) -> list[Recorded]:
    stored = ledger.add_attempts([(p.attempt, p.task) for p in priced])
    return [
        Recorded(p.attempt, s.id, s.attempt, p.warnings)
        for p, s in zip(priced, stored, strict=True)
    ]
