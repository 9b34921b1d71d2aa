"""The logs each importer reads (Claude Code, Codex, llm, JSON lines), and an import into a
ledger file from start to end: find the files, open the ledger, import, close."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple

from tokenroute.errors import BadInputError, UsageError
from tokenroute.ledger.importers.load import ImportSummary, line_of
from tokenroute.prices.table import PriceTable

Roots = Callable[[Mapping[str, str], Path], list[Path]]  # (environment, home) -> folders


class LogSource(NamedTuple):
    """One importer: its source name in the ledger, where its logs live, how to read them."""

    name: str
    default_roots: Roots
    parse: Any  # load.ParseFile
    read: Any = None  # load.ReadNew; None: new lines of a text file
    locate: Any = None  # where a rejected unit is; None: file and line number
    unit: str = "lines"  # what a file holds: lines of a log, or rows of a database
    parse_rows: Any = None  # load.ParseRows: the format's fast way to the same rows


def agent_log(name: str) -> LogSource:
    """claude-code or codex: a coding agent's session logs (what report --watch can follow)."""
    from tokenroute.ledger.importers import claude_code, codex

    formats = {"claude-code": claude_code, "codex": codex}
    if name not in formats:
        raise UsageError(f"--import must be one of {', '.join(formats)} (got '{name}')")
    module = formats[name]
    return LogSource(
        module.SOURCE,
        module.default_roots,
        module.parse_file,
        parse_rows=getattr(module, "parse_rows", None),
    )


def jsonl_files(source: str) -> LogSource:
    """JSON lines in record's format, from the tool `source` names."""
    from tokenroute.ledger.importers import jsonl

    if not source.strip() or source in ("run", "record"):
        raise UsageError(f"--source must name the tool the calls came from (got '{source}')")
    return LogSource(source.strip(), lambda environ, home: [], jsonl.parse_file)


def llm_database() -> LogSource:
    from tokenroute.ledger.importers import llm_logs

    return LogSource(
        llm_logs.SOURCE,
        lambda environ, home: [llm_logs.default_path(environ, home)],
        llm_logs.parse_file,
        read=llm_logs.read_rows,
        locate=llm_logs.locate,
        unit="rows",
    )


def import_logs(
    source: LogSource,
    roots: Sequence[Path],
    ledger: Path,
    table: PriceTable,
    now: datetime,
    *,
    since: date | None = None,
    dry_run: bool = False,
    progress: Callable[[int], Any] | None = None,
) -> ImportSummary:
    """Import the new part of every log under `roots`; a dry run creates no ledger.

    `progress(files)` gives a context manager yielding a callback per file done."""
    import contextlib

    from tokenroute.ledger.importers.files import log_files
    from tokenroute.ledger.importers.load import import_files
    from tokenroute.storage.sqlite import open_ledger

    files = log_files(list(roots))
    store = open_ledger(ledger, create=not dry_run)
    reading = {
        "read": source.read,
        "locate": source.locate or line_of,
        "parse_rows": source.parse_rows,
    }
    reading = {k: v for k, v in reading.items() if v is not None}
    try:
        bar = progress(len(files)) if progress else contextlib.nullcontext(lambda n: None)
        with bar as advance:
            return import_files(
                source.name, files, source.parse, store, table, now, since=since,
                dry_run=dry_run, progress=advance, **reading,
            )  # fmt: skip
    finally:
        if store is not None:
            store.close()


def existing_roots(given: Sequence[Path]) -> list[Path]:
    """--path folders or files, each of which must exist."""
    missing = [str(p) for p in given if not p.exists()]
    if missing:
        raise BadInputError(f"{missing[0]}: no such file or folder (--path)")
    return list(given)
