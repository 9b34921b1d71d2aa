"""`export otlp` from start to end: the attempts the collector has not got yet, in batches,
spans and metrics each with a mark of their own that moves only once the collector took the
batch. A failed batch leaves its mark where it was, so the next run sends from there:
nothing the collector acknowledged is sent twice, nothing is skipped."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from tokenroute.export import otlp
from tokenroute.storage import export_rows

BATCH = 2000  # attempts per request: about 2 MB of spans, under collectors' 4 MB default


class Exported(NamedTuple):
    destination: str
    sent: int  # attempts sent by this run
    batches: int
    total: int  # attempts this destination has been sent, in all
    payloads: list[dict[str, Any]]  # --dry-run: what would be sent, as OTLP JSON


Post = Callable[[str, bytes, Mapping[str, str]], None]


def export_otlp(
    ledger: Path,
    endpoint: str,
    headers: Mapping[str, str],
    *,
    since: str | None,
    dry_run: bool,
    now: str,
    post: Post | None = None,
    batch: int = BATCH,
) -> Exported:
    from tokenroute.export.http import post as http_post
    from tokenroute.export.http import without_secrets
    from tokenroute.storage.sqlite import open_ledger

    send = post or http_post
    destination = without_secrets(endpoint)
    base = endpoint.rstrip("/")
    store = open_ledger(ledger, create=False)
    if store is None:
        return Exported(destination, 0, 0, 0, [])
    sent = batches = 0
    payloads: list[dict[str, Any]] = []
    try:
        totals = []
        # each signal keeps its own mark: spans the collector took are not sent again
        # because their batch's metrics failed, and the other way round
        for signal, build in (("traces", otlp.traces), ("metrics", otlp.metrics)):
            mark = f"{destination} {signal}"
            last_id, total = export_rows.sent_up_to(store.conn, mark)
            count = 0
            while rows := export_rows.pending(store.conn, last_id, since, batch):
                message = build(rows)
                if dry_run:
                    payloads.append({signal: otlp.as_json(message)})
                else:
                    send(f"{base}/v1/{signal}", message.SerializeToString(), headers)
                    with store.transaction() as conn:
                        export_rows.mark_sent(conn, mark, rows[-1]["id"], len(rows), now)
                last_id = rows[-1]["id"]
                count += len(rows)
                batches += signal == "traces"
            sent = max(sent, count)
            totals.append(total + (0 if dry_run else count))
        return Exported(destination, sent, batches, min(totals), payloads)
    finally:
        store.close()
