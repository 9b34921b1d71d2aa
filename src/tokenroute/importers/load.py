"""Bring a log format's new lines into the ledger, file by file, each file in one transaction
with its new read position, so an import that stops half way loses nothing and repeats
nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple

from tokenroute.importers.files import Position, line_number, read_new
from tokenroute.pricing import PriceTable
from tokenroute.record import Call, CallError, price_call

MAX_REASONS = 5  # rejected lines named in the summary; the rest are counted


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
    parse: Callable[[bytes, Path, datetime], Call | None],
    ledger: Any,
    table: PriceTable,
    now: datetime,
    *,
    since: date | None = None,
    dry_run: bool = False,
    progress: Callable[[int], None] = lambda n: None,
) -> ImportSummary:
    files_read = lines = added = duplicates = replaced = rejected = 0
    reasons: list[str] = []
    unknown: set[str] = set()
    for path in files:
        stored = ledger.import_position(source, str(path)) if ledger is not None else None
        try:
            chunk = read_new(path, Position(*stored) if stored else None)
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
        best: dict[str, Call] = {}  # source key -> the copy with the most output
        keyless: list[Call] = []
        for at, raw in chunk.lines:
            if not raw.strip():
                continue
            try:
                call = parse(raw, path, now)
            except CallError as exc:
                rejected += 1
                if len(reasons) < MAX_REASONS:
                    reasons.append(f"{path}:{line_number(path, at)}: {exc}")
                continue
            if call is None or (since and call.at.date() < since):
                continue
            key = call.source_key
            if key is None:
                keyless.append(call)
            elif key not in best or call.usage.output > best[key].usage.output:
                duplicates += key in best
                best[key] = call
            else:
                duplicates += 1
        batch = []
        for call in (*best.values(), *keyless):  # priced once per call, not per copy
            priced = price_call(call, table, source=source, project=call.project)
            if priced.attempt.cost_micros is None:
                unknown.add(call.model)
            batch.append((priced.attempt, priced.task))
        if dry_run or ledger is None:
            added += len(batch)
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
