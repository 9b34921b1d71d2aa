"""What `report --by block` prints: the five-hour usage blocks, and for the active one its
burn rate and where it ends at that pace."""

from __future__ import annotations

import csv
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tokenroute.cli import render
from tokenroute.cli.render import Column
from tokenroute.cli.views import buckets

if TYPE_CHECKING:
    from tokenroute.ledger.blocks import UsageBlock


CSV_KEYS = (
    "start", "end", "first_at", "last_at", "active", "models", "attempts", *buckets.KEYS[:-1],
    "total_tokens", "cost_usd", "unpriced_attempts",
)  # fmt: skip


def _csv_cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return ",".join(value) if isinstance(value, list) else value


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json(block: UsageBlock, now: datetime) -> dict[str, Any]:
    from tokenroute.ledger.blocks import burn

    pace = burn(block, now)
    return {
        "start": _stamp(block.start),
        "end": _stamp(block.end),
        "first_at": _stamp(block.first_at),
        "last_at": _stamp(block.last_at),
        "active": block.active,
        "models": sorted(block.models),
        "attempts": block.attempts,
        **block.tokens,
        "total_tokens": block.total_tokens,
        "cost_usd": block.cost,
        "unpriced_attempts": block.unpriced,
        "burn_rate": None
        if pace is None
        else {
            "tokens_per_minute": round(pace.tokens_per_minute, 1),
            "cost_usd_per_hour": round(pace.usd_per_hour, 6),
            "minutes_left": round(pace.minutes_left, 1),
            "projected_total_tokens": pace.projected_tokens,
            "projected_cost_usd": round(pace.projected_cost, 6),
        },
    }


def _state(block: UsageBlock, now: datetime) -> str:
    if not block.active:
        return "ended"
    left = int((block.end - now).total_seconds() // 60)
    return f"active, {left // 60}h{left % 60:02d}m left"


def show_blocks(blocks: list[UsageBlock], now: datetime, *, as_json: bool, as_csv: bool) -> None:
    rows = [_json(b, now) for b in blocks]
    if as_json:
        render.emit_json({"blocks": rows})
        return
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(CSV_KEYS)
        for row in rows:
            writer.writerow(_csv_cell(row[key]) for key in CSV_KEYS)
        return
    if not blocks:
        render.say("no usage blocks in this window")
        return
    columns = [
        Column("block start (UTC)"), Column("state"), Column("models"),
        Column("attempts", True), Column("tokens", True), Column("cost", True),
    ]  # fmt: skip
    cells = [
        [
            b.start.strftime("%Y-%m-%d %H:%M"), _state(b, now), ", ".join(sorted(b.models)),
            render.count(b.attempts), render.count(b.total_tokens),
            render.usd_amount(b.cost) + ("+?" if b.unpriced and b.cost is not None else ""),
        ]
        for b in blocks
    ]  # fmt: skip
    render.emit_table(columns, cells, title="Five-hour usage blocks")
    active = rows[-1]["burn_rate"]
    floor = "+?" if rows[-1]["unpriced_attempts"] else ""  # some prices unknown: a lower bound
    if active:
        render.emit_lines(
            [
                "",
                f"Burn rate: {active['tokens_per_minute']:,.0f} tokens/min, "
                f"{render.usd_amount(active['cost_usd_per_hour'])}{floor}/h",
                f"At this pace the block ends at {active['projected_total_tokens']:,} tokens, "
                f"{render.usd_amount(active['projected_cost_usd'])}{floor} "
                f"({active['minutes_left']:.0f} min left)",
            ]
        )
