"""`record`'s workflow: read calls (JSON lines), price them, store them in batches."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from tokenroute.models import Attempt
from tokenroute.pricing import PriceTable
from tokenroute.record import Call, CallError, call_from_json, price_call

BATCH = 500  # attempts per write transaction: short enough to let parallel writers in


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
    stream: TextIO, now: datetime, defaults: Mapping[str, Any]
) -> tuple[list[Call], list[Rejected]]:
    """Every good line as a call; every bad one with its line number and what is wrong."""
    calls, rejected = [], []
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            calls.append(call_from_json(json.loads(line), now, defaults))
        except json.JSONDecodeError as exc:
            rejected.append(Rejected(number, f"not valid JSON: {exc.msg} (column {exc.colno})"))
        except CallError as exc:
            rejected.append(Rejected(number, str(exc)))
    return calls, rejected


def record_calls(
    ledger,
    table: PriceTable,
    calls: Iterable[Call],
    project: str | None,
    *,
    source: str = "record",
) -> list[Recorded]:
    results: list[Recorded] = []
    pending = []
    for call in calls:
        pending.append(price_call(call, table, source=source, project=project))
        if len(pending) >= BATCH:
            results.extend(_store(ledger, pending))
            pending = []
    if pending:
        results.extend(_store(ledger, pending))
    return results


def _store(ledger, priced) -> list[Recorded]:
    stored = ledger.add_attempts([(p.attempt, p.task) for p in priced])
    return [
        Recorded(p.attempt, s.id, s.attempt, p.warnings)
        for p, s in zip(priced, stored, strict=True)
    ]
