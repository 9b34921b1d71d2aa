"""`report --top N`: where the money goes. The N tasks, task types and projects with the
most spend, each with its share of the whole, its cost per task and per successful task and
the questions its shape raises; and how much the dearest 5% of tasks took."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from tokenroute.models import AttemptFilter
from tokenroute.storage.top_spend import Concentration, GroupSpend, TaskSpend

if TYPE_CHECKING:
    import sqlite3

TOP_SHARE = 0.05  # "the top 5% of tasks took X% of spend"


class TopTask(NamedTuple):
    task: TaskSpend
    cost: Decimal
    share: float | None  # of the window's spend
    questions: list[str]


class TopGroup(NamedTuple):
    key: str
    tasks: int
    successes: int
    cost: Decimal | None  # None: no task of the group has a known price (never $0)
    share: float | None
    cost_per_task: Decimal | None
    cost_per_success: Decimal | None
    lower_bound: bool = False  # some of its tasks have attempts with no known price


class Top(NamedTuple):
    tasks: list[TopTask]
    task_types: list[TopGroup]
    projects: list[TopGroup]
    spend: Decimal  # the window's, over every task
    concentration: Concentration


def top_spend(path: Path, where: AttemptFilter, n: int) -> Top | None:
    """The window's top spend (None: there is no ledger yet)."""
    from tokenroute.storage.sqlite import open_ledger

    store = open_ledger(path, create=False)
    if store is None:
        return None
    try:
        return read_top(store.conn, where, n)
    finally:
        store.close()


def read_top(conn: sqlite3.Connection, where: AttemptFilter, n: int) -> Top:
    """The window's top spend from an open ledger: the charts pass their own, whose
    gathered window of tasks the groups and the concentration are read from again."""
    from tokenroute.storage import top_spend as queries

    dearest, spread = queries.dearest_tasks(conn, where, n, TOP_SHARE)
    total = Decimal(spread.cost_micros) / 1_000_000
    return Top(
        [_task(t, total) for t in dearest],
        [_group(g, total) for g in queries.top_groups(conn, where, "task-type", n)],
        [_group(g, total) for g in queries.top_groups(conn, where, "project", n)],
        total,
        spread,
    )


def _share(cost: Decimal, total: Decimal) -> float | None:
    return float(cost / total) if total else None


def _task(task: TaskSpend, total: Decimal) -> TopTask:
    cost = Decimal(task.cost_micros) / 1_000_000
    questions = []
    if task.outcome == "failure":
        questions.append("it failed: all of its spend bought nothing")
    if task.failed_attempts:
        questions.append(
            f"{task.failed_attempts} of its {task.attempts} attempts did not succeed (retries, "
            "escalation): would another first model have done it at once?"
        )
    if task.tier == "frontier":
        questions.append("finished on a frontier model: was that tier needed?")
    if task.unpriced:
        questions.append(f"{task.unpriced} attempt(s) have no known price: it cost more")
    return TopTask(task, cost, _share(cost, total), questions)


def _group(group: GroupSpend, total: Decimal) -> TopGroup:
    if group.tasks and group.unknown_tasks == group.tasks:
        return TopGroup(group.key, group.tasks, group.successes or 0, None, None, None, None)
    cost = Decimal(group.cost_micros or 0) / 1_000_000
    per_success = cost / group.successes if group.successes else None
    return TopGroup(
        group.key, group.tasks, group.successes or 0, cost, _share(cost, total),
        cost / group.tasks if group.tasks else Decimal(0), per_success,
        group.unpriced_tasks > 0,
    )  # fmt: skip
