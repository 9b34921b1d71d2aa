"""Imports split over worker processes and stored a group of files per transaction: the
ledger must come out the same as from one process storing one file at a time."""

from __future__ import annotations

import contextlib
import multiprocessing
import operator
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import PINNED_DAY
from test_import import GENERATOR, assistant, lines

from tokenroute.ledger.importers import claude_code, load, parallel
from tokenroute.ledger.importers.files import log_files
from tokenroute.storage import bulk
from tokenroute.storage.sqlite import open_ledger

NOW = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Twelve sessions: copies of calls inside a file and across files (a resumed session
    repeats its history), a bad line, an unknown model, a subagent's log."""
    projects = tmp_path / "claude" / "projects"
    for number in range(12):
        folder = projects / f"-home-dev-src-app{number % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        calls = []
        for turn in range(6):
            calls.append(
                assistant(
                    f"msg_{number}_{turn}",
                    f"req_{number}_{turn}",
                    10 + turn,
                    uuid=f"u{number}-{turn}",
                    when=f"2026-11-{10 + number % 9:02d}T1{turn}:00:00Z",
                    sessionId=f"s-{number}",
                )
            )
            calls.append({**calls[-1], "uuid": f"u{number}-{turn}b"})  # a copy
        if number % 4 == 1:  # resumed: repeats the previous session's first call, bigger
            earlier = assistant(f"msg_{number - 1}_0", f"req_{number - 1}_0", 99, uuid=f"r{number}")
            calls.append({**earlier, "sessionId": f"s-{number}"})
        if number == 5:
            calls.append({**calls[0], "message": {**calls[0]["message"], "model": "mystery-1"}})
            calls[-1]["message"]["id"] = "msg_mystery"
        text = lines(*calls)
        if number == 7:
            text += '{"type": "assistant", "usage": oops}\n'
        (folder / f"s-{number}.jsonl").write_text(text)
    sub = projects / "-home-dev-src-app0" / "s-0" / "subagents"
    sub.mkdir(parents=True)
    (sub / "agent-a.jsonl").write_text(
        lines(assistant("msg_sub", "req_sub", 5, uuid="usub", sessionId="s-0", isSidechain=True))
    )
    return projects


def ledger_contents(path: Path, *, split_free: bool = False) -> dict[str, list[tuple]]:
    """Every stored fact but row ids, in a fixed order. `split_free` leaves out what depends
    on where the groups split, as it does on how many imports brought the calls in: a call's
    number in its task (a later group numbers after an earlier one) and when a task was
    first seen (a call stored in an earlier group may have moved to another session since)."""
    conn = sqlite3.connect(path)
    # imports store with SQLite's reference checks off: no reference may be broken
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    left_out = ("id", "attempt") if split_free else ("id",)
    columns = [
        row[1] for row in conn.execute("PRAGMA table_info(attempts)") if row[1] not in left_out
    ]
    created = "NULL" if split_free else "created_at"
    found = {
        "attempts": sorted(
            conn.execute(f"SELECT {', '.join(columns)} FROM attempts").fetchall(), key=repr
        ),
        "tags": sorted(
            conn.execute(
                "SELECT source_key, tag FROM attempt_tags JOIN attempts ON attempts.id = attempt_id"
            ).fetchall()
        ),
        "tasks": sorted(
            conn.execute(
                f"SELECT id, {created}, project, first_at, last_at, attempts, cost_micros, "
                "unpriced, last_model FROM tasks"
            ).fetchall()
        ),
        "positions": sorted(conn.execute("SELECT path, size, offset FROM import_files")),
    }
    for table in ("usage_daily", "tasks_daily", "context_daily"):
        found[table] = sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
    conn.close()
    return found


def same_summary(one: load.ImportSummary, other: load.ImportSummary) -> bool:
    """The same, but for how copies were dropped: a smaller copy met in the same group as
    its bigger one is a duplicate; met in an earlier group, it was stored and is replaced."""
    ignore = {"duplicates", "replaced"}
    mine = {k: v for k, v in one._asdict().items() if k not in ignore}
    theirs = {k: v for k, v in other._asdict().items() if k not in ignore}
    copies = one.duplicates + one.replaced == other.duplicates + other.replaced
    return mine == theirs and copies


def import_tree(tree: Path, ledger_file: Path, table, **options) -> load.ImportSummary:
    ledger = open_ledger(ledger_file)
    try:
        return load.import_files(
            "claude-code", log_files([tree]), claude_code.parse_file, ledger, table, NOW, **options
        )
    finally:
        ledger.close()


def test_workers_and_groups_store_what_one_process_stores(tree, tmp_path, table, monkeypatch):
    alone = import_tree(tree, tmp_path / "alone.db", table, workers=1)
    assert alone.added == 12 * 6 + 2 and alone.rejected == 1  # +mystery +subagent
    assert alone.unknown_models == ["mystery-1"]
    in_workers = import_tree(tree, tmp_path / "workers.db", table, workers=2)
    assert in_workers == alone
    assert ledger_contents(tmp_path / "workers.db") == ledger_contents(tmp_path / "alone.db")
    # many small transactions, in workers and here: the same again, each call's number aside
    monkeypatch.setattr(load, "GROUP_ROWS", 5)
    grouped = import_tree(tree, tmp_path / "grouped.db", table, workers=1)
    split = import_tree(tree, tmp_path / "split.db", table, workers=2)
    assert split == grouped and same_summary(grouped, alone)
    assert ledger_contents(tmp_path / "split.db") == ledger_contents(tmp_path / "grouped.db")
    assert ledger_contents(tmp_path / "split.db", split_free=True) == ledger_contents(
        tmp_path / "alone.db", split_free=True
    )


def parse_until_the_ninth(path, new_lines, now):
    """Claude Code's parser that fails on the ninth file (module level: workers load it)."""
    if path.name == "s-7.jsonl":  # the ninth in sorted order
        raise RuntimeError("stopped")
    return claude_code.parse_file(path, new_lines, now)


def killed_at_the_ninth(path, new_lines, now):
    """Claude Code's parser whose worker process is killed on the ninth file, as an
    out-of-memory killer would, once the importer has stored a group of the eight before
    it (the test's ledger is beside the tree); never in the test's own process."""
    if path.name == "s-7.jsonl" and multiprocessing.parent_process() is not None:
        ledger = path.parents[3] / "stopped.db"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not stored_positions(ledger):
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGKILL)
    return claude_code.parse_file(path, new_lines, now)


def stored_positions(ledger: Path) -> int:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)) as conn:
            return conn.execute("SELECT COUNT(*) FROM import_files").fetchone()[0]
    except sqlite3.Error:
        return 0


STOPS = [
    pytest.param(parse_until_the_ninth, 1, RuntimeError, "stopped", id="error-here"),
    pytest.param(parse_until_the_ninth, 2, RuntimeError, "stopped", id="error-in-a-worker"),
    pytest.param(
        killed_at_the_ninth,
        2,
        parallel.WorkerGone,
        r"worker process was killed \(signal 9\).*run the import again",
        id="worker-killed",
        marks=pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="no SIGKILL here"),
    ),
]


@pytest.mark.parametrize(("parse", "workers", "error", "message"), STOPS)
def test_a_stop_half_way_loses_nothing_and_repeats_nothing(
    tree, tmp_path, table, monkeypatch, parse, workers, error, message
):
    """A group is stored with its files' positions: after a stop, the next run reads only
    the files whose group was not stored, and the ledger ends as a clean import's. A worker
    that is killed stops the import with a message that says so, and leaves no process."""
    clean = import_tree(tree, tmp_path / "clean.db", table, workers=1)
    files = log_files([tree])
    assert files[8].name == "s-7.jsonl"
    monkeypatch.setattr(load, "GROUP_ROWS", 20)
    stopped = tmp_path / "stopped.db"
    ledger = open_ledger(stopped)
    with pytest.raises(error, match=message):
        load.import_files("claude-code", files, parse, ledger, table, NOW, workers=workers)
    ledger.close()
    assert not multiprocessing.active_children()
    kept = ledger_contents(stopped)
    assert 0 < len(kept["positions"]) < len(files)  # some groups were stored, not all
    again = import_tree(tree, stopped, table, workers=workers)
    assert again.files_read == len(files) - len(kept["positions"])
    assert ledger_contents(stopped, split_free=True) == ledger_contents(
        tmp_path / "clean.db", split_free=True
    )
    assert again.added + len(kept["attempts"]) == clean.added


def stored_copy_lookups(ledger) -> list[str]:
    """The keys the ledger is asked about in its search for stored copies, as it runs."""
    asked: list[str] = []

    def seen(statement: str) -> None:
        if "source_key IN (" in statement:
            keys = statement.split("source_key IN (", 1)[1].rsplit(")", 1)[0]
            asked.extend(key.strip(" '") for key in keys.split(","))

    ledger.conn.set_trace_callback(seen)
    return asked


def test_a_first_import_asks_the_ledger_only_about_keys_it_stored_itself(tree, tmp_path, table):
    """In groups of five: every resumed session's copy of an earlier session's call is
    looked up (and replaces it, bigger), and no other key is."""
    clean = import_tree(tree, tmp_path / "clean.db", table, workers=1)
    ledger = open_ledger(tmp_path / "grouped.db")
    asked = stored_copy_lookups(ledger)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(load, "GROUP_ROWS", 5)
        grouped = load.import_files(
            "claude-code", log_files([tree]), claude_code.parse_file, ledger, table, NOW
        )
    ledger.close()
    # s-1, s-5 and s-9 repeat msg_0_0, msg_4_0 and msg_8_0; s-9 is read before s-8, so
    # msg_8_0 is asked about when s-8 brings it again
    assert sorted(asked) == ["msg_0_0", "msg_4_0", "msg_8_0"]
    assert grouped.replaced == 2 and same_summary(grouped, clean)
    assert ledger_contents(tmp_path / "grouped.db", split_free=True) == ledger_contents(
        tmp_path / "clean.db", split_free=True
    )
    # a ledger that holds calls of the source already: every new key is asked about
    later = tmp_path / "later" / "-home-dev-src-app0"
    later.mkdir(parents=True)
    (later / "s-20.jsonl").write_text(
        lines(*(assistant(f"msg_new_{n}", f"req_new_{n}", 3, uuid=f"n{n}") for n in range(3)))
    )
    again = open_ledger(tmp_path / "clean.db")
    asked = stored_copy_lookups(again)
    load.import_files("claude-code", log_files([later]), claude_code.parse_file, again, table, NOW)
    again.close()
    assert sorted(asked) == ["msg_new_0", "msg_new_1", "msg_new_2"]


def test_past_the_keys_it_can_keep_an_import_asks_the_ledger_again(tree, tmp_path, table):
    clean = import_tree(tree, tmp_path / "clean.db", table, workers=1)
    ledger = open_ledger(tmp_path / "capped.db")
    asked = stored_copy_lookups(ledger)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(load, "GROUP_ROWS", 5)
        patch.setattr(bulk.StoredKeys, "LIMIT", 10)
        capped = load.import_files(
            "claude-code", log_files([tree]), claude_code.parse_file, ledger, table, NOW
        )
    ledger.close()
    assert same_summary(capped, clean)
    # ten keys fill it in the first groups: every key stored after that is asked about
    assert len(asked) > clean.added - 20 and "msg_11_0" in asked
    assert ledger_contents(tmp_path / "capped.db", split_free=True) == ledger_contents(
        tmp_path / "clean.db", split_free=True
    )


def their_log(tmp_path: Path, message_id: str) -> Path:
    """Another person's Claude Code folder: one call, with 1 output token, of `message_id`."""
    theirs = tmp_path / "theirs" / "-home-dev-elsewhere"
    theirs.mkdir(parents=True)
    (theirs / "x-1.jsonl").write_text(
        lines(assistant(message_id, f"req-{message_id}", 1, uuid="theirs-1", sessionId="x-1"))
    )
    return theirs.parent


def once_a_group_is_in(mine, then: Callable[[], None]) -> Callable[[int], None]:
    """An import's progress callback that runs `then` once, after its first group is stored
    in the ledger `mine`."""
    done = False

    def after_each_file(_: int) -> None:
        nonlocal done
        if not done and mine.count_attempts():
            done = True
            then()

    return after_each_file


def test_a_call_stored_by_someone_else_during_an_import_is_found(tree, tmp_path, table):
    """Between two groups another person's import stores a small copy of a call a later
    file of this import holds: it is found and replaced, not taken for a new key."""
    clean = import_tree(tree, tmp_path / "clean.db", table, workers=1)
    theirs = their_log(tmp_path, "msg_11_0")
    path = tmp_path / "shared.db"
    mine, other = open_ledger(path), open_ledger(path)
    files = log_files([tree])
    assert files.index(next(f for f in files if f.name == "s-11.jsonl")) > 3
    after_each_file = once_a_group_is_in(
        mine,
        lambda: load.import_files(
            "claude-code", log_files([theirs]), claude_code.parse_file, other, table, NOW
        ),
    )

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(load, "GROUP_ROWS", 5)
        mixed = load.import_files(
            "claude-code", files, claude_code.parse_file, mine, table, NOW,
            progress=after_each_file,
        )  # fmt: skip
    mine.close()
    other.close()
    conn = sqlite3.connect(path)
    assert conn.execute(
        "SELECT output_tokens, task_id FROM attempts WHERE source_key = 'msg_11_0'"
    ).fetchall() == [(10, "cc-s-11")]
    assert conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == clean.added
    conn.close()
    assert mixed.replaced == 3  # the two resumed copies and the other person's small one
    assert (
        ledger_contents(path, split_free=True)["usage_daily"]
        == ledger_contents(tmp_path / "clean.db", split_free=True)["usage_daily"]
    )


def test_a_newest_row_deleted_by_hand_and_its_id_taken_again_is_still_found(tmp_path, table):
    """The largest id can come back to where this import left it: someone deletes the
    newest attempt by hand, and another person's import gives a small copy of a later call
    that id. The bigger copy is not taken for a new key (and silently not inserted): the
    batch sees a row missing and is stored again, asking the ledger."""
    mine = tmp_path / "mine" / "-home-dev-a"
    mine.mkdir(parents=True)
    (mine / "s-1.jsonl").write_text(
        lines(*(assistant(f"msg_{n}", f"r{n}", 5, uuid=f"a{n}", sessionId="s-1") for n in (1, 2)))
    )
    (mine / "s-2.jsonl").write_text(lines(assistant("msg_x", "rx", 50, uuid="a3", sessionId="s-2")))
    theirs = their_log(tmp_path, "msg_x")
    path = tmp_path / "ledger.db"
    me, other = open_ledger(path), open_ledger(path)

    def delete_the_newest_then_theirs() -> None:
        by_hand = sqlite3.connect(path)
        newest = by_hand.execute("SELECT MAX(id) FROM attempts").fetchone()[0]
        by_hand.execute("DELETE FROM attempts WHERE id = ?", (newest,))
        by_hand.commit()
        by_hand.close()
        load.import_files(
            "claude-code", log_files([theirs]), claude_code.parse_file, other, table, NOW
        )
        assert other.query("SELECT MAX(id) FROM attempts") == [(newest,)]  # taken again

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(load, "GROUP_ROWS", 1)
        summary = load.import_files(
            "claude-code", log_files([mine.parent]), claude_code.parse_file, me, table, NOW,
            progress=once_a_group_is_in(me, delete_the_newest_then_theirs),
        )  # fmt: skip
    me.close()
    other.close()
    assert (summary.added, summary.replaced) == (2, 1)
    conn = sqlite3.connect(path)
    assert conn.execute(
        "SELECT output_tokens, task_id FROM attempts WHERE source_key = 'msg_x'"
    ).fetchall() == [(50, "cc-s-2")]
    conn.close()


def test_workers_only_for_much_to_read(tree, monkeypatch):
    todo = [(path, None) for path in log_files([tree])]
    monkeypatch.delenv(load.WORKERS_VARIABLE, raising=False)
    monkeypatch.setattr(load, "usable_cpus", lambda: 8)
    assert load.workers_for(todo) == 1  # a few KB: starting processes costs more
    monkeypatch.setattr(load, "PARALLEL_FROM_BYTES", 1000)
    assert load.workers_for(todo) == parallel.MAX_WORKERS
    monkeypatch.setattr(load, "usable_cpus", lambda: 1)
    assert load.workers_for(todo) == 1
    monkeypatch.setattr(load, "usable_cpus", lambda: 2)
    assert load.workers_for(todo) == 2
    assert load.workers_for(todo[:1]) == 1  # one file: nothing to share out
    # what was read before does not count
    read = [(path, (path.stat().st_size, 0, path.stat().st_size, "")) for path, _ in todo]
    assert load.workers_for(read) == 1
    # the variable sets the number, but never for files that have not changed
    monkeypatch.setenv(load.WORKERS_VARIABLE, "3")
    assert load.workers_for(todo) == 3
    assert load.workers_for(read) == 1
    assert load.workers_for([*read[:-2], *todo[-2:]]) == 2  # two changed files, two workers
    monkeypatch.setenv(load.WORKERS_VARIABLE, "1")
    assert load.workers_for(todo) == 1


def test_the_first_files_are_read_here_while_the_workers_start(tree, monkeypatch):
    todo = [(path, None) for path in log_files([tree])] * 4  # enough for the shares below
    sizes = [path.stat().st_size for path, _ in todo]
    assert new_bytes(todo) == sizes
    assert load.here_first(new_bytes(todo), workers=1) == 0  # no workers: all of it is here anyway
    # as many whole files as fit in the budget, shared between the workers
    monkeypatch.setattr(load, "HERE_FIRST_BYTES", sum(sizes[:3]) + 1)
    assert load.here_first(new_bytes(todo), workers=2) == 3
    monkeypatch.setattr(load, "HERE_FIRST_BYTES", 2 * (sum(sizes[:3]) + 1))
    assert load.here_first(new_bytes(todo), workers=3) == 3
    # never more than this process's share of all of it: a quarter with one worker
    monkeypatch.setattr(load, "HERE_FIRST_BYTES", 1 << 40)
    quarter = load.here_first(new_bytes(todo), workers=2)
    assert sum(sizes[:quarter]) <= sum(sizes) // 4 < sum(sizes[: quarter + 1])
    # a first file bigger than the budget goes to a worker like the rest
    monkeypatch.setattr(load, "HERE_FIRST_BYTES", sizes[0] - 1)
    assert load.here_first(new_bytes(todo), workers=2) == 0
    # only what is new counts: files read before cost nothing
    read = [(path, (path.stat().st_size, 0, path.stat().st_size, "")) for path, _ in todo]
    monkeypatch.setattr(load, "HERE_FIRST_BYTES", sum(sizes[5:8]) + 1)
    assert load.here_first(new_bytes([*read[:5], *todo[5:]]), workers=2) == 5 + 3


def workers_ended() -> bool:
    """No worker process left, once they have had a moment to end."""
    deadline = time.monotonic() + 30
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not multiprocessing.active_children()


def where_it_ran(shared, number):
    """(shared * number, the process it was worked on in)."""
    return shared * number, os.getpid()


def new_bytes(todo):
    return [load.new_bytes(path, stored) for path, stored in todo]


def test_items_worked_on_here_first_come_back_in_order_with_the_rest():
    items = [(n,) for n in range(30)]
    results = list(parallel.in_order(where_it_ran, 3, items, workers=2, here=4))
    assert [value for value, _ in results] == [3 * n for n in range(30)]
    assert {pid for _, pid in results[:4]} == {os.getpid()}
    assert os.getpid() not in {pid for _, pid in results[4:]}
    # an error in one of them is raised at its turn, and the workers are ended
    with pytest.raises(ZeroDivisionError):
        list(parallel.in_order(operator.floordiv, 6, [(1,), (0,), (2,), (3,)], workers=2, here=2))
    assert workers_ended()
    # more than there are: all of them here
    assert list(parallel.in_order(operator.mul, 2, items[:3], workers=2, here=9)) == [0, 2, 4]


def slow_in_a_worker(parent, number):
    """(number, the process it was worked on in); 20 ms when that is a worker, so the
    caller, left waiting, works on the items after it itself."""
    if os.getpid() != parent:
        time.sleep(0.02)
    return number, os.getpid()


def test_items_are_worked_on_here_while_the_workers_are_behind(monkeypatch):
    monkeypatch.setattr(parallel, "AHEAD_PER_WORKER", 2)  # most items wait to be sent
    items = [(n,) for n in range(40)]
    results = list(parallel.in_order(slow_in_a_worker, os.getpid(), items, workers=2))
    assert [number for number, _ in results] == list(range(40))
    here = [number for number, pid in results if pid == os.getpid()]
    assert here and len(here) < 40  # shared: some here, the rest in the worker
    assert workers_ended()
    # one that fails here is raised at its turn, after every result before it
    failing = [(n,) for n in range(1, 40)]
    failing[30] = (0,)
    results = parallel.in_order(operator.floordiv, 60, failing, workers=2)
    assert [next(results) for _ in range(30)] == [60 // n for n in range(1, 31)]
    with pytest.raises(ZeroDivisionError):
        next(results)


WORKED_HERE: list[int] = []


def first_slow_in_a_worker(parent, number):
    """Item 0 takes a second in a worker; the others are done at once, here noted."""
    if os.getpid() != parent:
        time.sleep(1.0 if number == 0 else 0)
    else:
        WORKED_HERE.append(number)
    return number


def test_items_worked_on_here_stay_within_the_window(monkeypatch):
    """While the first result is slow in coming, the caller takes items only up to twice
    the window: the results kept for their turn stay few, whatever the import's size."""
    monkeypatch.setattr(parallel, "AHEAD_PER_WORKER", 2)
    WORKED_HERE.clear()
    results = parallel.in_order(
        first_slow_in_a_worker, os.getpid(), [(n,) for n in range(60)], workers=2
    )
    assert next(results) == 0
    assert len(WORKED_HERE) <= 2 * 2  # twice the window (2), however many items are left
    assert list(results) == list(range(1, 60))


def killed_in_a_worker(parent, number):
    """The worker is killed at its first item; here, items take a moment."""
    if os.getpid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)
    WORKED_HERE.append(number)
    time.sleep(0.01)
    return number


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="no SIGKILL here")
def test_a_worker_killed_while_the_caller_works_on_items_itself_stops_it(monkeypatch):
    monkeypatch.setattr(parallel, "AHEAD_PER_WORKER", 2)
    items = [(n,) for n in range(400)]
    WORKED_HERE.clear()
    with pytest.raises(parallel.WorkerGone, match=r"killed \(signal 9\)"):
        list(parallel.in_order(killed_in_a_worker, os.getpid(), items, workers=2))
    assert len(WORKED_HERE) < 390  # it stopped once the worker was gone, not at the end
    assert not multiprocessing.active_children()


def local_function_for(_shared, number):
    """`number`, but for 2: a function defined in here, which pickle cannot send back."""
    return number if number != 2 else (lambda: number)


def big_then_killed(_shared, number):
    """50 MB for the first item; the worker is killed on the second, most likely while
    still writing the first back (never in the test's own process)."""
    if number == 1 and multiprocessing.parent_process() is not None:
        time.sleep(0.02)  # the first is on its way
        os.kill(os.getpid(), signal.SIGKILL)
    return b"x" * 50_000_000


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="no SIGKILL here")
def test_a_worker_killed_mid_result_stops_the_caller_and_leaves_no_process():
    with pytest.raises(parallel.WorkerGone, match=r"killed \(signal 9\)"):
        for _ in parallel.in_order(big_then_killed, None, [(0,), (1,), (2,)], workers=2):
            pass
    assert not multiprocessing.active_children()


def test_results_come_back_in_order_and_errors_reach_the_caller():
    items = [(n,) for n in range(40)]
    assert list(parallel.in_order(operator.mul, 3, items, workers=2)) == [3 * n for n in range(40)]
    with pytest.raises(ZeroDivisionError) as raised:
        list(parallel.in_order(operator.floordiv, 1, [(1,), (0,), (2,)], workers=2))
    assert "ZeroDivisionError" in str(raised.value.__cause__)  # the worker's traceback
    # a result that cannot travel back fails at its item, rather than never arriving
    results = parallel.in_order(local_function_for, 0, items[:4], workers=2)
    assert [next(results), next(results)] == [0, 1]
    with pytest.raises(Exception, match="pickle"):
        next(results)
    # a caller that stops early leaves no process behind it
    results = parallel.in_order(operator.mul, 2, items, workers=2)
    assert next(results) == 0
    assert multiprocessing.active_children()
    results.close()
    assert workers_ended()


def test_the_installed_command_imports_in_worker_processes(tree, tmp_path):
    """Workers are spawned from the real command: each loads the command's script again
    (as `__mp_main__`), which must not run the CLI a second time."""
    script = Path(sys.executable).with_name("tokenroute")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "tokenroute"]
    env = {
        **os.environ,
        "TOKENROUTE_HOME": str(tmp_path / "home"),
        load.WORKERS_VARIABLE: "2",
    }
    done = subprocess.run(
        [*command, "import", "claude-code", "--path", str(tree)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr  # the one bad line
    assert "added 74 attempts" in done.stderr
    assert done.stderr.count("tokenroute: 13 files") == 1  # one summary: workers stayed quiet


@pytest.mark.skipif(not GENERATOR.exists(), reason="../shared/tools is not beside this clone")
def test_generated_tree_the_same_in_workers(tmp_path, table, monkeypatch):
    root = tmp_path / "generated"
    subprocess.run(
        [
            *(sys.executable, str(GENERATOR), "--root", str(root), "--lines", "3000"),
            *("--files", "9", "--seed", "11", "--end-date", PINNED_DAY),
        ],
        check=True,
        capture_output=True,
    )
    alone = import_tree(root / "projects", tmp_path / "alone.db", table, workers=1)
    monkeypatch.setattr(load, "GROUP_ROWS", 300)
    split = import_tree(root / "projects", tmp_path / "split.db", table, workers=2)
    assert same_summary(split, alone) and alone.added > 0
    assert ledger_contents(tmp_path / "split.db", split_free=True) == ledger_contents(
        tmp_path / "alone.db", split_free=True
    )


HELD_CTRL_C = """
import os, signal, time
from tokenroute.ledger.importers import parallel
reached = False
try:
    with parallel._no_interrupts():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # held: nothing is raised in here
        reached = True
except KeyboardInterrupt:
    print("interrupted after" if reached else "interrupted inside")
"""


CTRL_C_AS_WORKERS_START = """
import multiprocessing, operator, signal, time
from multiprocessing.context import SpawnProcess
from tokenroute.ledger.importers import parallel

if __name__ == "__main__":
    start = SpawnProcess.start
    def start_then_ctrl_c(self):
        start(self)
        signal.raise_signal(signal.SIGINT)
    SpawnProcess.start = start_then_ctrl_c
    try:
        list(parallel.in_order(operator.mul, 1, [(n,) for n in range(10)], workers=3))
    except KeyboardInterrupt:
        print("interrupted")
    time.sleep(1)  # a worker left half-started would say so on stderr meanwhile
    print("children:", len(multiprocessing.active_children()))
"""


def test_a_ctrl_c_as_workers_start_ends_them_quietly():
    """The Ctrl-C held back while workers start is raised once they are: the workers are
    ended then, before the queues they were given go away (else each says so on stderr)."""
    done = subprocess.run(
        [sys.executable, "-c", CTRL_C_AS_WORKERS_START],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.split() == ["interrupted", "children:", "0"], done.stderr
    assert "Traceback" not in done.stderr, done.stderr


WORKER_DIES_HOLDING_THE_ITEMS = """
import multiprocessing, operator, os, signal, threading, time
from pathlib import Path
from tokenroute.ledger.importers import parallel

if __name__ == "__main__":
    results = parallel.in_order(operator.mul, 1, [(n,) for n in range(6)], workers=3)
    assert [next(results) for _ in range(6)] == list(range(6))
    time.sleep(0.5)  # both workers wait for an item: one reading the pipe, one for its lock
    reading = [
        child.pid
        for child in multiprocessing.active_children()
        if "pipe" in Path(f"/proc/{child.pid}/wchan").read_text()
    ]
    os.kill(reading[0], signal.SIGKILL)
    threading.Timer(20, lambda: (print("hung", flush=True), os._exit(1))).start()
    print("done" if next(results, "done") == "done" else "more")
    os._exit(0)
"""


@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="needs Linux's /proc")
def test_a_worker_that_dies_once_every_result_is_in_does_not_hang_the_end():
    """The worker reading the items' pipe holds the lock the others wait on: killed there,
    the others never hear there is no more, and are ended after a moment."""
    done = subprocess.run(
        [sys.executable, "-c", WORKER_DIES_HOLDING_THE_ITEMS],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "done", (done.stdout, done.stderr)


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="no signal masks here")
def test_a_ctrl_c_while_workers_start_is_held_not_lost():
    """Workers start with SIGINT blocked (they inherit the mask), and a Ctrl-C that comes
    meanwhile reaches the importer once they are started, rather than being dropped."""
    done = subprocess.run(
        [sys.executable, "-c", HELD_CTRL_C], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "interrupted after", done.stderr
