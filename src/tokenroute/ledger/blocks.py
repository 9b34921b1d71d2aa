"""Five-hour usage blocks, as a Claude subscription meters them (and ccusage's `blocks`
shows them): a block starts at the hour of the first call after the last block ended, and
lasts five hours (a call at its very end still belongs to it); a call more than five hours
after the one before starts a new block. The block that holds now is active: its burn rate
(since its first call) projects its end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from tokenroute.storage.usage_hours import HourUsage

BLOCK = timedelta(hours=5)
BUCKETS = (
    "input_tokens", "cache_write_tokens", "cache_write_1h_tokens", "cache_read_tokens",
    "output_tokens", "reasoning_tokens",
)  # fmt: skip


@dataclass
class UsageBlock:
    start: datetime
    first_at: datetime
    last_at: datetime
    attempts: int = 0
    tokens: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BUCKETS, 0))
    cost_micros: int = 0
    unpriced: int = 0
    models: set[str] = field(default_factory=set)
    active: bool = False

    @property
    def end(self) -> datetime:
        return self.start + BLOCK

    @property
    def total_tokens(self) -> int:
        """Every bucket but reasoning (it is part of output)."""
        return sum(v for k, v in self.tokens.items() if k != "reasoning_tokens")

    @property
    def cost(self) -> Decimal | None:
        """What the block cost; None when no call of it has a known price (never $0)."""
        if self.unpriced == self.attempts:
            return None
        return Decimal(self.cost_micros) / 1_000_000


@dataclass(frozen=True)
class Burn:
    """The active block's pace since its first call, and where it ends at that pace."""

    tokens_per_minute: float
    usd_per_hour: Decimal
    minutes_left: float
    projected_tokens: int
    projected_cost: Decimal


def blocks_from_hours(hours: list[HourUsage], now: datetime) -> list[UsageBlock]:
    """The blocks, oldest first, from the hourly sums (in hour order)."""
    blocks: list[UsageBlock] = []
    for hour in hours:
        first, last = _instant(hour.first_at), _instant(hour.last_at)
        current = blocks[-1] if blocks else None
        if current is None or first > current.end or first - current.last_at > BLOCK:
            start = first.replace(minute=0, second=0, microsecond=0)
            current = UsageBlock(start=start, first_at=first, last_at=last)
            blocks.append(current)
        current.last_at = max(current.last_at, last)
        current.attempts += hour.attempts
        for name in BUCKETS:
            current.tokens[name] += getattr(hour, name)
        current.cost_micros += hour.cost_micros
        current.unpriced += hour.unpriced
        current.models.update(m for m in hour.models.split(",") if m)
    if blocks and blocks[-1].start <= now < blocks[-1].end and now - blocks[-1].last_at < BLOCK:
        blocks[-1].active = True
    return blocks


def burn(block: UsageBlock, now: datetime) -> Burn | None:
    """The pace of an active block since its first call; None for a block that is over, or
    one whose calls all fell in the same instant (no pace yet)."""
    if not block.active:
        return None
    minutes = (block.last_at - block.first_at).total_seconds() / 60
    if minutes <= 0:
        return None
    left = max((block.end - now).total_seconds() / 60, 0.0)
    per_minute = block.total_tokens / minutes
    usd_per_minute = (block.cost or Decimal(0)) / Decimal(str(minutes))
    return Burn(
        tokens_per_minute=per_minute,
        usd_per_hour=usd_per_minute * 60,
        minutes_left=left,
        projected_tokens=round(block.total_tokens + per_minute * left),
        projected_cost=(block.cost or Decimal(0)) + usd_per_minute * Decimal(str(left)),
    )


LOOK_BACK = (timedelta(days=1), timedelta(days=4), timedelta(days=8))


def blocks_for_window(
    read_hours: Callable[[datetime | None, datetime | None, bool], list[HourUsage]],
    start: str | None,
    now: datetime,
) -> list[UsageBlock]:
    """The blocks a window from `start` shows: those still running at its start, whole, and
    cut as from the whole history. A block's start depends on every call back to the last
    gap of more than five hours, so the hours before the window are read too (a day, then
    four, then eight) until such a gap comes before `start`; a chain of calls with no such
    gap for eight days is cut there. `read_hours(from, to, sums)` reads [from, to), None:
    open; without sums, only each hour's first and last call (all that cuts blocks).

    A block still running at `start` began at most five hours before it: the hours from
    then on are read whole, those before only to cut the blocks, whose sums are dropped."""
    if start is None:
        return blocks_from_hours(read_hours(None, None, True), now)
    since = _instant(start)
    reached = since - BLOCK
    window = read_hours(reached, None, True)
    earlier: list[HourUsage] = []
    for back in LOOK_BACK:
        earlier = read_hours(since - back, reached, False) + earlier
        reached = since - back
        blocks = blocks_from_hours(earlier + window, now)
        if _settled(blocks, reached, since):
            break
    return [b for b in blocks if b.end > since]


def _settled(blocks: list[UsageBlock], region: datetime, since: datetime) -> bool:
    """Are the blocks read from `region` on cut as the whole history would cut them? Yes
    when a gap of more than five hours opens a block at or before `since`."""
    if not blocks or blocks[0].first_at - region > BLOCK:
        return True
    return any(b.first_at <= since and b.first_at - a.last_at > BLOCK for a, b in pairwise(blocks))


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
