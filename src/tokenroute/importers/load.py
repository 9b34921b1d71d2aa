"""Bring a log format's new lines into the ledger, file by file, each file in one transaction
with its new read position, so an import that stops half way loses nothing and repeats
nothing.

A format is a function from one file's new lines to `Parsed`: the calls they record (one per
call: the format drops the copies it can see), how many copies it dropped, and the lines it
rejected. The ledger drops copies of calls it already holds, by source key."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple

from tokenroute.importers.files import Chunk, Position, line_number, read_new
from tokenroute.pricing import PriceTable
from tokenroute.record import Call, price_call

MAX_REASONS = 5  # rejected lines named in the summary; the rest are counted


class Parsed(NamedTuple):
    calls: list[Call]
    copies: int  # lines that repeated a call already among `calls`
    rejected: list[tuple[int, str]]  # (byte offset of the line, why)


def first_copies(calls: Sequence[Call]) -> tuple[list[Call], int]:
    """One call per source key (the first copy; keyless calls all kept), and how many
    copies were dropped: for formats whose copies of a call are identical."""
    keyed: dict[str, Call] = {}
    keyless: list[Call] = []
    for call in calls:
        if call.source_key is None:
            keyless.append(call)
        else:
            keyed.setdefault(call.source_key, call)
    kept = [*keyed.values(), *keyless]
    return kept, len(calls) - len(kept)


ParseFile = Callable[[Path, Sequence[tuple[int, Any]], datetime], Parsed]
ReadNew = Callable[[Path, Position | None], Chunk]


def line_of(path: Path, at: int) -> str:
    """Where a rejected line is: file and line number (counted only when one is rejected)."""
    return f"{path}:{line_number(path, at)}"


class ImportSummary(NamedTuple):
    files: int  # log files found
    files_read: int  # of them, with anything new
    lines: int  # complete new lines read
    added: int  # attempts added to the ledger
    duplicates: int  # copies of calls already counted
    replaced: int  # stored copies replaced by one with more output
    rejected: int
    reasons: list[str]  # the first few rejected lines: file:line: why
    unknown_models: list[str]


def import_files(
    source: str,
    files: Sequence[Path],
    parse: ParseFile,
    ledger: Any,
    table: PriceTable,
    now: datetime,
    *,
    since: date | None = None,
    dry_run: bool = False,
    progress: Callable[[int], None] = lambda n: None,
    read: ReadNew = read_new,
    locate: Callable[[Path, int], str] = line_of,
) -> ImportSummary:
    """Import the new part of each file. `read` gives a file's new units (lines, by default)
    from the stored position; `locate` names where a rejected unit is."""
    files_read = lines = added = duplicates = replaced = rejected = 0
    reasons: list[str] = []
    unknown: set[str] = set()
    positions = ledger.import_positions(source) if ledger is not None else {}
    for path in files:
        stored = positions.get(str(path))
        try:
            chunk = read(path, Position(*stored) if stored else None)
        except OSError as exc:
            rejected += 1
            if len(reasons) < MAX_REASONS:
                reasons.append(f"{path}: cannot read: {exc.strerror or exc}")
            progress(1)
            continue
        if not chunk.lines and stored and tuple(chunk.position) == tuple(stored):
            progress(1)
            continue
        files_read += 1
        lines += len(chunk.lines)
        parsed = parse(path, chunk.lines, now)
        duplicates += parsed.copies
        for at, why in parsed.rejected:
            rejected += 1
            if len(reasons) < MAX_REASONS:
                reasons.append(f"{locate(path, at)}: {why}")
        calls = [c for c in parsed.calls if not since or c.at.date() >= since]
        batch = []
        for call in calls:  # priced once per call, not per copy
            priced = price_call(call, table, source=source, project=call.project)
            if priced.attempt.cost_micros is None:
                unknown.add(call.model)
            batch.append((priced.attempt, priced.task))
        if ledger is None:
            added += len(batch)
        elif dry_run:
            new, seen, swapped = ledger.preview_file(batch)
            added, duplicates, replaced = added + new, duplicates + seen, replaced + swapped
        else:
            # with --since the position is not kept: a later full import reads the earlier
            # lines it skipped (the source keys keep the rest from counting twice)
            position = None if since else chunk.position
            new, seen, swapped = ledger.import_file(source, str(path), position, batch)
            added, duplicates, replaced = added + new, duplicates + seen, replaced + swapped
        progress(1)
    return ImportSummary(
        len(files),
        files_read,
        lines,
        added,
        duplicates,
        replaced,
        rejected,
        reasons,
        sorted(unknown),
    )
