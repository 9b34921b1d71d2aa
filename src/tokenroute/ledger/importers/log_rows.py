"""Ledger rows straight from an agent log's fields: what `logged_call`, `price_call` and
`bulk_row` make of a logged call, in a fraction of the time.

A first import prices tens of thousands of calls of a handful of models over a few weeks.
So the price of each (model, day) is looked up once, by the general path itself on that
pair's first call, and kept as a template row; a timestamp already in the ledger's own form
(`2026-11-13T08:47:56.190Z`, what Claude Code writes) is kept as the string it is; and each
later row is the template with the call's own values put in. Anything out of the ordinary
(a timestamp in another form, a count that is not a plain int, text that is not ASCII) goes
the general way, so the checks and their messages are the same. tests/test_log_rows.py
holds the two ways to the same rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from tokenroute.ledger.calls import MAX_TOKENS, Call, price_call
from tokenroute.prices.cost import micros_counter
from tokenroute.prices.table import PricePeriod, PriceTable
from tokenroute.storage.bulk import signed
from tokenroute.storage.identity import Writer
from tokenroute.storage.rows import (
    ROW_COST,
    ROW_PROJECT,
    ROW_SOURCE_KEY,
    ROW_STARTED_AT,
    ROW_TASK_ID,
    ROW_USAGE,
    BulkRow,
    bulk_row,
)
from tokenroute.timewindow import EARLIEST, stamp

# The ledger's own timestamp form; any other is read by parse_moment, the general way.
_LEDGER_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", re.ASCII)  # 0-9 only
_EARLIEST = stamp(EARLIEST)


class _Template(NamedTuple):
    row: tuple[Any, ...]  # the pair's first row: model, provider, tier, revision, source...
    task: tuple[Any, ...]
    cost: Callable[..., int] | None  # of the five counts; None: the price is unknown


class LoggedRow(NamedTuple):
    row: BulkRow | None  # None: made before --since
    unknown_model: str | None  # the model's name when its price is unknown


class RowMaker:
    """Rows of one import's logged calls (one per worker process: the templates are its
    own). The calls of one source must differ only in what `row` is given (model, usage,
    time, task, key, project, tags): the rest of a row is copied from its template."""

    def __init__(
        self,
        table: PriceTable,
        source: str,
        now: datetime,
        since: date | None,
        who: Writer | None = None,
    ):
        """`who`: the importing person, stamped on the templates (resolved by the importing
        process: a worker cannot ask the CLI), so the writer need not stamp each row."""
        self.table, self.source, self.now, self.since = table, source, now, since
        self.who = who
        self._latest = stamp(now + timedelta(days=1))  # a day's slack for clocks
        self._since = since.isoformat() if since else ""
        self._templates: dict[tuple[str, str], _Template] = {}

    def row(
        self,
        *,
        model: Any,
        counts: tuple[Any, Any, Any, Any, Any],
        at: Any,
        task_id: str,
        source_key: str | None,
        project: str | None,
        tags: tuple[str, ...],
        general: Callable[[], Call],
    ) -> LoggedRow:
        """The row of a call whose usage is (input, cache read, 5-minute and 1-hour cache
        writes, output); `general()` makes the same call the checking way."""
        if not (
            type(at) is str
            and _EARLIEST <= at <= self._latest
            and _LEDGER_STAMP.fullmatch(at)
            and type(model) is str
            and model.isascii()
            and model.strip() == model != ""
            and task_id.isascii()
            and (source_key is None or source_key.isascii())
            and (project is None or project.isascii())
            and _plain_counts(counts)
            and all(tag.isascii() for tag in tags)
        ):
            return self._general(general())
        if at[:10] < self._since:  # skipped, once it is known to be a real moment of that day
            if _real_time(at) and _valid_moment(at):
                return LoggedRow(None, None)
            return self._general(general())
        template = self._templates.get((model, at[:10]))
        # the day is a real one (its template's call had it); the time is checked here
        if template is None or not _real_time(at):
            return self._general(general())
        row = list(template.row)
        row[ROW_STARTED_AT], row[ROW_TASK_ID] = at, task_id
        row[ROW_SOURCE_KEY], row[ROW_PROJECT] = source_key, project
        row[ROW_USAGE : ROW_USAGE + 5] = counts
        if template.cost is not None:
            row[ROW_COST] = template.cost(*counts)
        task = (task_id, at, *template.task[2:4], project, *template.task[5:])
        return LoggedRow((tuple(row), task, tags), None if template.cost else model)

    def _general(self, call: Call) -> LoggedRow:
        """The call priced the general way; its row becomes the template of its (model, day)
        when the fast way could have made it."""
        if self.since and call.at.date() < self.since:
            return LoggedRow(None, None)
        priced = price_call(call, self.table, source=self.source, project=call.project)
        row = bulk_row(priced.attempt, priced.task)
        unknown = call.model if priced.attempt.cost_micros is None else None
        started = row[0][ROW_STARTED_AT]
        key = (call.model, started[:10])
        if key not in self._templates and _plain_call(call):
            period = self._period(call.model, started)
            cost = None if period is None else micros_counter(period)
            stamped = row[0] if self.who is None else signed(row[0], self.who)
            self._templates[key] = _Template(stamped, row[1], cost)
        return LoggedRow(row, unknown)

    def _period(self, model: str, started: str) -> PricePeriod | None:
        found = self.table.find_billed(model, None)
        return (
            None if found is None else self.table.period_of(found, date.fromisoformat(started[:10]))
        )


def _plain_call(call: Call) -> bool:
    """A call whose row the fast way can copy: of a task, billed as it reads, no reasoning."""
    return (
        call.task_id is not None
        and call.model_answered is None
        and not call.batch
        and call.usage.reasoning == 0
    )


def _plain_counts(counts: tuple[Any, ...]) -> bool:
    """Whole numbers >= 0 (not bools), with a believable total."""
    given, read, written, written_1h, output = counts
    return (
        type(given) is int
        and type(read) is int
        and type(written) is int
        and type(written_1h) is int
        and type(output) is int
        and given >= 0
        and read >= 0
        and written >= 0
        and written_1h >= 0
        and output >= 0
        and given + read + written + written_1h + output <= MAX_TOKENS
    )


def _valid_moment(at: str) -> bool:
    """A real date and time (the pattern lets through 2026-13-45T99:00:00.000Z)."""
    try:
        datetime.fromisoformat(at)
    except ValueError:
        return False
    return True


def _real_time(at: str) -> bool:
    """The time of a stamp in the ledger's form is a real one (the pattern lets through
    T99:75:61): its digits compared as text."""
    return at[11:13] <= "23" and at[14:16] <= "59" and at[17:19] <= "59"
