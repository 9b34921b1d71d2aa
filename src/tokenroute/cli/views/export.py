"""What `export otlp` prints: what it sent and where (never a URL's password or a header)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokenroute.cli import render

if TYPE_CHECKING:
    from tokenroute.export.sending import Exported


def show_export(done: Exported, *, dry_run: bool, as_json: bool) -> None:
    if dry_run:
        body = {"destination": done.destination, "attempts": done.sent, "payloads": done.payloads}
        render.emit_json({**body, "dry_run": True})
        return
    if as_json:
        render.emit_json(
            {"destination": done.destination, "sent": done.sent, "batches": done.batches,
             "metrics_of": done.metrics_of, "sent_in_all": done.total}
        )  # fmt: skip
        return
    if not done.sent and not done.metrics_of:
        render.say(f"{done.destination}: nothing new to send ({done.total:,} attempts sent before)")
        return
    if not done.sent:  # the spans were there; the metrics a failed run left behind went now
        render.say(f"{done.destination}: sent the metrics of {done.metrics_of:,} attempts")
        return
    render.say(
        f"{done.destination}: sent {done.sent:,} attempts in {done.batches:,} batch(es) "
        f"({done.total:,} in all)"
    )
