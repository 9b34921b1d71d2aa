"""`record`'s workflow: the call given as flags, or calls read as JSON lines; priced, then
stored together."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from tokenroute.errors import UsageError
from tokenroute.ledger.calls import (
    MAX_LINE,
    Call,
    CallError,
    call_from_line,
    make_call,
    price_call,
)
from tokenroute.models import Attempt
from tokenroute.prices.table import PriceTable

# record's options that are token counts, and those that are text, as JSON lines name them
BUCKET_OPTIONS = (
    "input_tokens",
    "output_tokens",
    "cache_read",
    "cache_write",
    "cache_write_1h",
    "reasoning_tokens",
)
TEXT_OPTIONS = ("task_id", "task_type", "error_kind", "project", "source_key")


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


def calls_given(
    options: Mapping[str, Any], lines: BinaryIO | None, now: datetime
) -> tuple[list[Call], list[Rejected]]:
    """The call record's flags describe (with --model), else one per JSON line of `lines`,
    where the flags are every line's defaults. `options` holds record's options by name
    (`at` for --at, `tags` for --tag); `lines` is None when stdin is a terminal."""
    from tokenroute.timewindow import parse_moment

    at = options.get("at")
    if at is not None:
        parse_moment(at, "--at")  # a bad default is a usage error, not a bad line each
    buckets = {k: options[k] for k in BUCKET_OPTIONS if options.get(k) is not None}
    text = {k: options.get(k) for k in TEXT_OPTIONS}
    if options.get("model") is None:
        if lines is None:
            raise UsageError("give --model and token counts, or pipe JSON lines on stdin")
        defaults = {**buckets, **{k: v for k, v in text.items() if v is not None}}
        defaults.update(
            status=options["status"], estimated=options["estimated"], batch=options["batch"]
        )
        if options.get("latency_ms") is not None:
            defaults["latency_ms"] = options["latency_ms"]
        if options.get("tags"):
            defaults["tags"] = list(options["tags"])
        if at is not None:
            defaults["timestamp"] = at
        return read_call_lines(lines, now, defaults)
    try:
        call = make_call(
            model=options["model"],
            buckets=buckets,
            usage=None,
            at=at,
            now=now,
            status=options["status"],
            latency_ms=options.get("latency_ms"),
            tags=tuple(options.get("tags") or ()),
            estimated=options["estimated"],
            batch=options["batch"],
            text=text,
            at_option="--at",
        )
    except CallError as exc:
        raise UsageError(str(exc)) from None
    return [call], []


def record_into(
    path: Path, table: PriceTable, calls: Iterable[Call], project: str | None
) -> list[Recorded]:
    """record_calls on the ledger at `path` (created when there is none yet)."""
    from tokenroute.storage.sqlite import open_ledger

    ledger = open_ledger(path, create=True)
    try:
        return record_calls(ledger, table, calls, project)
    finally:
        ledger.close()


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
