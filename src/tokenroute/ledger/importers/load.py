"""Bring a log format's new lines into the ledger.

Each file is read, parsed and priced on its own (in worker processes when there is a lot to
read), and the results are stored in the files' order, a group of files per transaction
together with their new read positions: an import that stops half way loses nothing and
repeats nothing.

A format is a function from one file's new lines to `Parsed`: the calls they record (one per
call: the format drops the copies it can see), how many copies it dropped, and the lines it
rejected. The ledger drops copies of calls it already holds, by source key."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple

from tokenroute.ledger.calls import Call, price_call
from tokenroute.ledger.importers.files import Chunk, Position, line_number, read_new
from tokenroute.ledger.importers.log_rows import RowMaker
from tokenroute.ledger.importers.parallel import (
    MAX_WORKERS,
    WORKERS_VARIABLE,
    in_order,
    usable_cpus,
)
from tokenroute.prices.table import PriceTable
from tokenroute.storage.identity import writer
from tokenroute.storage.rows import BulkRow, bulk_row

MAX_REASONS = 5  # rejected lines named in the summary; the rest are counted
GROUP_ROWS = 20_000  # attempts per transaction: each commit rewrites the pages it touched, and a
# worker parses the next group's files while one is stored
PARALLEL_FROM_BYTES = 32 << 20  # new bytes worth starting worker processes for (~2 s of work)
# What one worker parses while it starts and fills the first group, about: this process reads
# the first files itself meanwhile (measured: 200k lines 1.49 s -> 1.26 s, 1M 6.3 s -> 6.0 s)
HERE_FIRST_BYTES = 64 << 20
# New bytes for an import into a new ledger to build its started_at index once at the end
# rather than row by row (storage/deferred_indexes): as much as is worth starting workers for
BULK_LOAD_FROM_BYTES = PARALLEL_FROM_BYTES
MAX_CONFIGURED_WORKERS = 32  # Windows refuses more than 61


class Parsed(NamedTuple):
    calls: list[Call]
    copies: int  # lines that repeated a call already among `calls`
    rejected: list[tuple[int, str]]  # (byte offset of the line, why)


class ParsedRows(NamedTuple):
    """What a format with its own fast way to rows (`ParseRows`) makes of a file."""

    rows: list[BulkRow]
    copies: int
    rejected: list[tuple[int, str]]
    unknown_models: list[str]


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
# A format's own way from a file's new lines to priced rows (claude-code: a first import reads
# millions of lines); the same rows `ParseFile` and `price_call` would make.
ParseRows = Callable[[Path, Sequence[tuple[int, Any]], RowMaker], ParsedRows]
ReadNew = Callable[[Path, Position | None], Chunk]


def line_of(path: Path, at: int) -> str:
    """Where a rejected line is: file and line number (counted only when one is rejected)."""
    return f"{path}:{line_number(path, at)}"


class Job(NamedTuple):
    """How every file of one import is read: sent once to each worker process."""

    source: str
    parse: ParseFile
    read: ReadNew
    table: PriceTable
    now: datetime
    since: date | None
    parse_rows: ParseRows | None = None
    maker: RowMaker | None = None  # with parse_rows: each worker process gets its own copy


class FileWork(NamedTuple):
    """One file's new calls, priced and ready to store, and what to report about it."""

    path: Path
    changed: bool  # anything new since the last import (or it could not be read)
    position: Position | None  # where the next import starts; None: keep the stored one
    lines: int
    copies: int
    rejected: list[tuple[int, str]]
    rows: list[BulkRow]
    unknown_models: list[str]
    unreadable: str | None  # why the file could not be read


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Python's cyclic garbage collector off while an import builds its rows.

    An import allocates millions of tuples and dicts, none of them in reference cycles, so
    each of the collector's ~1,300 passes over a first import finds nothing, and together
    they cost 10-15% of its time. Plain reference counting still frees everything."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def work_on(job: Job, path: Path, stored: tuple[int, int, int, str] | None) -> FileWork:
    """Read a file's new part, parse it and price its calls (in a worker, or here)."""
    with no_cycle_collection():
        return _work_on(job, path, stored)


def _work_on(job: Job, path: Path, stored: tuple[int, int, int, str] | None) -> FileWork:
    try:
        chunk = job.read(path, Position(*stored) if stored else None)
    except OSError as exc:
        return FileWork(path, True, None, 0, 0, [], [], [], f"cannot read: {exc.strerror or exc}")
    if not chunk.lines and stored and tuple(chunk.position) == tuple(stored):
        return FileWork(path, False, None, 0, 0, [], [], [], None)
    if job.parse_rows is not None and job.maker is not None:
        parsed = job.parse_rows(path, chunk.lines, job.maker)
        rows, unknown = parsed.rows, set(parsed.unknown_models)
    else:
        parsed, rows, unknown = job.parse(path, chunk.lines, job.now), [], set()
        for call in parsed.calls:
            if job.since and call.at.date() < job.since:
                continue
            priced = price_call(call, job.table, source=job.source, project=call.project)
            if priced.attempt.cost_micros is None:
                unknown.add(call.model)
            rows.append(bulk_row(priced.attempt, priced.task))
    # with --since the position is not kept: a later full import reads the earlier lines it
    # skipped (the source keys keep the rest from counting twice)
    position = None if job.since else chunk.position
    return FileWork(
        path,
        True,
        position,
        len(chunk.lines),
        parsed.copies,
        parsed.rejected,
        rows,
        sorted(unknown),
        None,
    )


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
    workers: int | None = None,
    parse_rows: ParseRows | None = None,
) -> ImportSummary:
    """Import the new part of each file. `read` gives a file's new units (lines, by default)
    from the stored position; `locate` names where a rejected unit is. `workers`: processes
    to parse in (by default, as many as help for what there is to read). `parse_rows`: the
    format's fast way to the rows `parse` and pricing would make."""
    files_read = lines = added = duplicates = replaced = rejected = 0
    reasons: list[str] = []
    unknown: set[str] = set()
    stored = ledger.import_positions(source) if ledger is not None else {}
    todo = [(path, stored.get(str(path))) for path in files]
    if workers is None:
        workers = workers_for(todo)
    maker = RowMaker(table, source, now, since, writer()) if parse_rows is not None else None
    job = Job(source, parse, read, table, now, since, parse_rows, maker)
    positions: list[tuple[str, Position]] = []
    rows: list[BulkRow] = []

    def store() -> None:
        nonlocal added, duplicates, replaced
        if positions or rows:
            new, seen, swapped = _store(ledger, source, positions, rows, dry_run=dry_run)
            added, duplicates, replaced = added + new, duplicates + seen, replaced + swapped
        positions.clear()
        rows.clear()

    sizes = [new_bytes(path, stored) for path, stored in todo]
    with no_cycle_collection(), _bulk_load(ledger, sum(sizes), dry_run=dry_run):
        here = here_first(sizes, workers)
        for work in in_order(work_on, job, todo, workers=workers, here=here):
            if work.changed:
                files_read += work.unreadable is None
                lines += work.lines
                duplicates += work.copies
                unknown.update(work.unknown_models)
                problems = [(None, work.unreadable)] if work.unreadable else []
                problems += work.rejected
                for at, why in problems:
                    rejected += 1
                    if len(reasons) < MAX_REASONS:  # located only when named: it reads the file
                        where = str(work.path) if at is None else locate(work.path, at)
                        reasons.append(f"{where}: {why}")
                if work.position is not None:
                    positions.append((str(work.path), work.position))
                rows.extend(work.rows)
                if len(rows) >= GROUP_ROWS:
                    store()
            progress(1)
        store()
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


def workers_for(todo: Sequence[tuple[Path, tuple[int, int, int, str] | None]]) -> int:
    """Processes for this much new data (in_order's `workers`): this one alone for a small
    append (starting workers costs more than they save); one per usable CPU for a first
    import of many files, this one storing while the others parse. TOKENROUTE_IMPORT_WORKERS
    sets the number for any import with two or more files to read."""
    configured = os.environ.get(WORKERS_VARIABLE, "").strip()
    wanted = int(configured) if configured.isdigit() and int(configured) > 0 else None
    if wanted == 1 or len(todo) < 2:
        return 1
    changed = changed_bytes = 0
    for path, stored in todo:
        try:
            size = path.stat().st_size
        except OSError:
            continue  # named when it is read
        if stored is None or size != stored[0]:
            changed += 1
            # a file that shrank is read again whole
            changed_bytes += size if stored is None or size < stored[2] else size - stored[2]
    if changed < 2:
        return 1  # nothing to share out (a quiet re-import, a redraw of --watch)
    if wanted is not None:
        return min(wanted, changed, MAX_CONFIGURED_WORKERS)
    if changed_bytes < PARALLEL_FROM_BYTES:
        return 1
    return min(usable_cpus(), MAX_WORKERS)


def here_first(sizes: Sequence[int], workers: int) -> int:
    """How many of the first files (of these new bytes each) to read in this process while
    the workers start on the rest (in_order's `here`): otherwise it would only wait for the
    first group's files. As many as fit in about the bytes the workers parse while they
    start and fill that group, shared between them, and never more than this process's fair
    share of all."""
    if workers <= 1:
        return 0
    budget = min(HERE_FIRST_BYTES // (workers - 1), sum(sizes) // (2 * workers))
    count = 0
    for size in sizes:
        budget -= size
        if budget < 0:
            break
        count += 1
    return count


def _bulk_load(ledger: Any, to_read: int, *, dry_run: bool) -> AbstractContextManager[None]:
    """The ledger's way of taking a big import (Ledger.bulk_load), or nothing special."""
    if ledger is None or dry_run or to_read < BULK_LOAD_FROM_BYTES:
        return nullcontext()
    return ledger.bulk_load()


def new_bytes(path: Path, stored: tuple[int, int, int, str] | None) -> int:
    """The bytes an import would read of the file (0 for one it cannot see: it is named
    when it is read)."""
    try:
        size = path.stat().st_size
    except OSError:
        return 0
    # a file that shrank is read again whole
    return size if stored is None or size < stored[2] else size - stored[2]


def _store(
    ledger: Any,
    source: str,
    positions: Sequence[tuple[str, Position]],
    rows: Sequence[BulkRow],
    *,
    dry_run: bool,
) -> tuple[int, int, int]:
    """(added, duplicates, replaced) for one group of files, stored together."""
    if ledger is None:  # a dry run without a ledger: everything would be new
        return len(rows), 0, 0
    if dry_run:
        return ledger.preview_rows(rows)
    return ledger.import_rows(source, positions, rows)
