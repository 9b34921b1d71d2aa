"""Any tool's calls as JSON lines, in `tokenroute record`'s format, imported incrementally.

A line with a `source_key` is counted once by it. A line without one but with a timestamp is
keyed by a hash of its bytes, so a file that is rewritten (or copied to a new name and
imported again) adds nothing twice; a line with neither is counted each time it is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from tokenroute.ledger.calls import Call, CallError, call_from_line
from tokenroute.ledger.importers.load import Parsed, first_copies

SOURCE = "jsonl"


def parse_file(path: Path, lines: Sequence[tuple[int, bytes]], now: datetime) -> Parsed:
    calls: list[Call] = []
    rejected: list[tuple[int, str]] = []
    for at, raw in lines:
        if not raw.strip():
            continue
        try:
            calls.append(call_from_line(raw, now, {}))
        except CallError as exc:
            rejected.append((at, str(exc)))
    return Parsed(*first_copies(calls), rejected)
