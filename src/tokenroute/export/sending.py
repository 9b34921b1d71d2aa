"""`export otlp` from start to end: the attempts the collector has not got yet. Spans go in
batches, each marked as sent once the collector took it; the token and cost metrics of all
of them go in one request, over the interval from the last metrics export to now (delta
intervals that never overlap). Each signal has its own mark, which moves only once the
collector took its data: a failed export is run again and sends from there, so nothing the
collector acknowledged is sent twice. One export per ledger at a time (a lock file)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from tokenroute.errors import ExportError
from tokenroute.export import otlp
from tokenroute.storage import export_rows

BATCH = 2000  # attempts per request: about 2 MB of spans, under collectors' 4 MB default


class Exported(NamedTuple):
    destination: str
    sent: int  # attempts whose spans this run sent
    batches: int
    metrics_of: int  # attempts whose tokens and cost this run's metrics carried
    total: int  # attempts whose spans this destination has been sent, in all
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

    destination = without_secrets(endpoint)
    base = endpoint.rstrip("/")
    send = post or http_post
    store = open_ledger(ledger, create=False)
    if store is None:
        return Exported(destination, 0, 0, 0, 0, [])
    try:
        with _one_at_a_time(store, dry_run):
            spans = _spans(store, destination, base, headers, since, dry_run, now, send, batch)
            metrics_of, points = _metrics(
                store, destination, base, headers, since, dry_run, now, send, batch
            )
        sent, batches, total, payloads = spans
        return Exported(destination, sent, batches, metrics_of, total, payloads + points)
    finally:
        store.close()


def _spans(store, destination, base, headers, since, dry_run, now, send, batch) -> tuple:
    mark = f"{destination} traces"
    last_id, total, _ = export_rows.mark_of(store.conn, mark)
    sent = batches = 0
    payloads: list[dict[str, Any]] = []
    while rows := export_rows.pending(store.conn, last_id, since, batch):
        if dry_run:  # the first request's spans as a sample; the rest only counted
            if not payloads:
                payloads.append({"traces": otlp.as_json(otlp.traces(rows))})
        else:
            message = otlp.traces(rows)
            send(f"{base}/v1/traces", message.SerializeToString(), headers)
            with store.transaction() as conn:
                export_rows.mark_sent(conn, mark, rows[-1]["id"], len(rows), now)
        last_id = rows[-1]["id"]
        sent += len(rows)
        batches += 1
    return sent, batches, total + (0 if dry_run else sent), payloads


def _metrics(store, destination, base, headers, since, dry_run, now, send, batch) -> tuple:
    """Every pending attempt's tokens and cost in one delta interval: from where the last
    metrics export ended (or the first call's time) to now."""
    mark = f"{destination} metrics"
    last_id, _, until_ns = export_rows.mark_of(store.conn, mark)
    totals = otlp.MetricTotals()
    while rows := export_rows.pending(store.conn, last_id, since, batch):
        totals.add(rows)
        last_id = rows[-1]["id"]
    if not totals.attempts:
        return 0, []
    start = until_ns or totals.first_ns
    end = max(otlp.nanos(now), start + 1)
    message = otlp.metrics(totals, start, end)
    if dry_run:
        return totals.attempts, [{"metrics": otlp.as_json(message)}]
    send(f"{base}/v1/metrics", message.SerializeToString(), headers)
    with store.transaction() as conn:
        export_rows.mark_sent(conn, mark, last_id, totals.attempts, now, end)
    return totals.attempts, []


@contextlib.contextmanager
def _one_at_a_time(store, dry_run: bool) -> Iterator[None]:
    """Two exports of one ledger at once would both send what neither has marked yet."""
    if dry_run:
        yield
        return
    with store.only_one("export") as alone:
        if not alone:
            raise ExportError(
                f"another export of {store.path} is running; run this one again when it is done"
            )
        yield
