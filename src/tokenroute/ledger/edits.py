"""Changes a user makes to the ledger by hand: tasks started and ended, outcomes set after
the fact, kept text forgotten."""

from __future__ import annotations

from pathlib import Path

from tokenroute.errors import NotFoundError
from tokenroute.models import Task, new_task_id
from tokenroute.storage.sqlite import open_ledger


def start_task(
    path: Path, *, created_at: str, task_type: str | None, description: str | None,
    project: str | None,
) -> Task:  # fmt: skip
    """A new task in the ledger (created with the ledger when there is none yet)."""
    task = Task(
        id=new_task_id(),
        created_at=created_at,
        type=task_type,
        description=description,
        project=project,
    )
    store = open_ledger(path, create=True)
    assert store is not None
    try:
        store.add_task(task)
    finally:
        store.close()
    return task


def set_outcome(path: Path, task_id: str, outcome: str, ended_at: str | None) -> None:
    """The user's verdict on a task; `ended_at` also ends it (task end, not mark)."""
    store = open_ledger(path, create=False)
    if store is None:
        raise NotFoundError(f"no task '{task_id}': there is no ledger at {path} yet")
    try:
        found = store.set_outcome(task_id, outcome, "user", ended_at)
    finally:
        store.close()
    if not found:
        raise NotFoundError(f"no task '{task_id}' in {path} (see 'tokenroute log')")


def forget_text(path: Path, before: str, *, dry_run: bool) -> tuple[int, int]:
    """Turns and task descriptions whose text was deleted (or would be) before a day."""
    store = open_ledger(path, create=False)
    if store is None:
        return 0, 0
    try:
        return store.forget_text(before, dry_run=dry_run)
    finally:
        store.close()
